package guest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	tandem "github.com/tandemlb/tandem/internal/director"
	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// Weights from the checks on the real kernel: an exec check with
// dynamic_weight (keepalived's misc_dynamic: exit 2..255 is weight
// exit-2, 0 the configured weight, 1 down) and a file check (N x weight),
// seen in ipvsadm's table and in tandem status.
func TestTandemDynamicWeight(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	h := addNATDirector(t, l, "198.51.100.11/24")
	dir := t.TempDir()
	code := filepath.Join(dir, "code")
	weight := filepath.Join(dir, "weight")
	script := filepath.Join(dir, "load.sh")
	set := func(path, v string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(v+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(script, []byte("#!/bin/sh\nread c < "+code+"\necho load $c\nexit $c\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	set(code, "12")
	set(weight, "3")
	d := newDirector(t, h, `virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "wrr"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    weight = 5
    check "exec" {
      command        = ["`+script+`"]
      dynamic_weight = true
      interval       = "300ms"
      timeout        = "250ms"
      rise           = 1
      fall           = 1
    }
  }
  real_server "203.0.113.22:80" {
    weight = 1
    check "file" {
      file     = "`+weight+`"
      weight   = 2
      interval = "300ms"
      timeout  = "100ms"
      rise     = 1
      fall     = 1
    }
  }
}
`)
	d.start()
	const web = "TCP 198.51.100.10:80"
	took := d.waitDests(web, "203.0.113.21:80=Masq 10 203.0.113.22:80=Masq 6", 15*time.Second)
	t.Logf("exit 12 and a file of 3 x 2: weights 10 and 6 after %v", took.Round(time.Millisecond))

	status := func() tandem.Status {
		t.Helper()
		out, err := h.Run("tandem", "status", "--json", "-c", d.conf)
		if err != nil {
			t.Fatalf("tandem status: %v\n%s", err, out)
		}
		var st tandem.Status
		if err := json.Unmarshal([]byte(out), &st); err != nil {
			t.Fatalf("tandem status --json: %v\n%s", err, out)
		}
		return st
	}
	st := status()
	if len(st.VirtualServers) != 1 || len(st.VirtualServers[0].RealServers) != 2 {
		t.Fatalf("status: %+v", st.VirtualServers)
	}
	r1, r2 := st.VirtualServers[0].RealServers[0], st.VirtualServers[0].RealServers[1]
	if r1.Weight != 10 || r1.DynamicWeight != 10 || len(r1.Checks) != 1 || r1.Checks[0].Kind != "exec" || r1.Checks[0].LastResult != "up" {
		t.Errorf("status of rs1: %+v", r1)
	}
	if r2.Weight != 6 || r2.DynamicWeight != 6 || len(r2.Checks) != 1 || r2.Checks[0].Kind != "file" {
		t.Errorf("status of rs2: %+v", r2)
	}
	t.Logf("status: rs1 weight %d (%s), rs2 weight %d (%s)", r1.Weight, r1.Checks[0].Reason, r2.Weight, r2.Checks[0].Reason)

	set(code, "0") // up at the configured weight
	set(weight, "0")
	d.waitDests(web, "203.0.113.21:80=Masq 5 203.0.113.22:80=Masq 0", 10*time.Second)
	set(code, "1") // down
	d.waitDests(web, "203.0.113.22:80=Masq 0", 10*time.Second)
	set(code, "22")
	set(weight, "-1") // below 0: down
	d.waitDests(web, "203.0.113.21:80=Masq 20", 10*time.Second)
	st = status()
	if r := st.VirtualServers[0].RealServers[1]; r.Health != "down" || r.Checks[0].LastResult != "down" {
		t.Errorf("rs2 with -1 x 2: %+v", r)
	}
}
