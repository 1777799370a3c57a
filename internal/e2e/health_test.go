package e2e

import (
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// serveHTTP runs an HTTP server inside h's namespace on addr until stop.
func serveHTTP(t *testing.T, h *netlab.Host, addr, body string) (stop func()) {
	t.Helper()
	var l net.Listener
	if err := h.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, body) })}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return func() { srv.Close() }
}

// Health checks run in tandem run: transitions are logged with stable
// keys, and a virtual server that loses quorum puts the instance that
// tracks it in FAULT (here without IPVS: this kernel has none).
func TestHealthDrivesTrackedInstance(t *testing.T) {
	lab := newLab(t)
	d1 := lab.MustAddHost(t, "d1", "198.51.100.11/24", "203.0.113.11/24")
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	stop := serveHTTP(t, rs, "203.0.113.21:80", "ok")
	cfg := instanceConfig("d1", 150, `  track_virtual_servers = ["web_http"]`) + `
virtual_server "web_http" {
  address    = "198.51.100.10:80"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    check "http" {
      interval    = "200ms"
      timeout     = "100ms"
      rise        = 1
      fall        = 1
      expect_body = "^ok$"
    }
  }
}
`
	n := startTandem(t, d1, cfg)
	// Until the first result the real server is down (initial = "down"),
	// so the instance starts in FAULT, then leaves it.
	eventually(t, 5*time.Second, "real server up and instance master", func() bool {
		return strings.Contains(n.log(), `vs=web_http rs=203.0.113.21:80 check=http from=down to=up`) && n.entered("web", "MASTER") == 1
	})
	if !strings.Contains(n.log(), "IPVS is not available in this kernel") {
		t.Errorf("no plain word about the missing IPVS:\n%s", n.log())
	}
	stop()
	eventually(t, 3*time.Second, "real server down, quorum lost, instance in FAULT", func() bool {
		l := n.log()
		return strings.Contains(l, `vs=web_http rs=203.0.113.21:80 check=http from=up to=down reason=`) &&
			strings.Contains(l, `msg="quorum lost" vs=web_http`) && n.entered("web", "FAULT") == 2
	})
	if n.hasVIP(vip) {
		t.Error("the VIP stayed in FAULT")
	}
	serveHTTP(t, rs, "203.0.113.21:80", "ok")
	eventually(t, 5*time.Second, "back to master", func() bool { return n.entered("web", "MASTER") == 2 })
}
