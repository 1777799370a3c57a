package guest

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// stoppableServer is serveName with a stop.
func stoppableServer(t *testing.T, h *netlab.Host, addr string) (stop func()) {
	t.Helper()
	var ln net.Listener
	if err := h.Do(func() (err error) { ln, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatalf("%s: listen %s: %v", h.Name, addr, err)
	}
	srv := &http.Server{
		Handler:           http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, h.Name) }),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return func() { srv.Close() }
}

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
	l := netlab.NewT(t)
	d := l.MustAddHost(t, "d", "198.51.100.11/24", "203.0.113.1/24")
	rs1 := l.MustAddHost(t, "rs1", "203.0.113.21/24")
	rs2 := l.MustAddHost(t, "rs2", "203.0.113.22/24")
	client := l.MustAddHost(t, "client", "198.51.100.2/24")
	sysctl(t, d, "net.ipv4.ip_forward", "1",
		"net.ipv4.conf.all.send_redirects", "0", "net.ipv4.conf.lan0.send_redirects", "0")
	for _, rs := range []*netlab.Host{rs1, rs2} {
		sysctl(t, rs, "net.ipv4.conf.all.accept_redirects", "0", "net.ipv4.conf.lan0.accept_redirects", "0")
		run(t, rs, "ip", "route", "add", "default", "via", "203.0.113.1")
	}
	stoppableServer(t, rs1, "203.0.113.21:80")
	stop2 := stoppableServer(t, rs2, "203.0.113.22:80")

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
