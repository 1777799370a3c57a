package guest

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// tandem run as a NAT director on the real kernel: VRRP brings the VIP up,
// HTTP checks put the real servers into the IPVS table, requests alternate
// (rr); a real server that stops answering leaves the table within
// fall x interval + timeout and no request fails after that.
func TestTandemNATWithChecks(t *testing.T) {
	vmtest.NeedVM(t)
	d, client, _, stop2 := natLab(t, "198.51.100.11/24")

	dir := t.TempDir()
	cfg := fmt.Sprintf(`global {
  router_id      = "d"
  control_socket = %q
  state_dir      = %q
}
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]
}
virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "rr"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    check "http" {
      interval = "300ms"
      timeout  = "200ms"
      rise     = 1
      fall     = 2
    }
  }
  real_server "203.0.113.22:80" {
    check "http" {
      interval = "300ms"
      timeout  = "200ms"
      rise     = 1
      fall     = 2
    }
  }
}
`, filepath.Join(dir, "tandem.sock"), dir)
	path := filepath.Join(dir, "d.hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	p, err := d.Start("tandem", "run", "-c", path)
	if err != nil {
		t.Fatal(err)
	}
	table := func() string { // ipvsadm -Ln without its trailing blanks
		out, _ := d.Run("ipvsadm", "-Ln")
		lines := strings.Split(out, "\n")
		for i, line := range lines {
			lines[i] = strings.TrimRight(line, " ")
		}
		return strings.Join(lines, "\n")
	}
	want := strings.Join([]string{
		"TCP  198.51.100.10:80 rr",
		"  -> 203.0.113.21:80              Masq    1      0          0",
		"  -> 203.0.113.22:80              Masq    1      0          0",
	}, "\n")
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("ipvsadm -Ln:\n%s\ntandem:\n%s", table(), p.Output())
		}
	})
	waitFor(t, 10*time.Second, "both real servers in the table", func() bool { return strings.Contains(table(), want) })
	waitFor(t, 5*time.Second, "tandem master", func() bool { return strings.Contains(p.Output(), "(web) Entering MASTER STATE") })

	c := httpClient(client)
	get := func() string {
		resp, err := c.Get("http://198.51.100.10/")
		if err != nil {
			t.Fatalf("request: %v\n%s\n%s", err, table(), p.Output())
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return string(b)
	}
	var got []string
	for range 6 {
		got = append(got, get())
	}
	for i := 1; i < len(got); i++ {
		if got[i] == got[i-1] {
			t.Errorf("rr does not alternate: %v", got)
			break
		}
	}

	stop2()
	stopped := time.Now()
	waitFor(t, 3*time.Second, "rs2 out of the table", func() bool { return !strings.Contains(table(), "203.0.113.22:80") })
	t.Logf("rs2 left the table %v after it stopped (fall 2 x 300ms + 200ms timeout)", time.Since(stopped).Round(10*time.Millisecond))
	for range 6 {
		if g := get(); g != "rs1" {
			t.Errorf("answer from %s after rs2 left", g)
		}
	}
	if !strings.Contains(p.Output(), `vs=web_http rs=203.0.113.22:80 check=http from=up to=down`) {
		t.Errorf("no transition logged:\n%s", p.Output())
	}
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	// IPVS entries stay after a stop (flush_on_stop is off).
	if !strings.Contains(table(), "203.0.113.21:80") {
		t.Errorf("the table went away at stop:\n%s", table())
	}
}
