package e2e

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/director"
	"github.com/tandemlb/tandem/internal/netlab"
)

// hookLog is a file that notify hooks append their arguments to.
type hookLog string

// argv is a hook that appends "WHAT ARGS..." as one line.
func (f hookLog) argv(what string) string {
	return fmt.Sprintf(`["/bin/sh", "-c", "echo %s \"$@\" >> %s", "hook"]`, what, f)
}

func (f hookLog) lines() []string {
	data, _ := os.ReadFile(string(f))
	s := strings.TrimSpace(string(data))
	if s == "" {
		return nil
	}
	return strings.Split(s, "\n")
}

// Real-server notify hooks run with VS RS appended, quorum hooks with the
// virtual server's name, each on its transition; at SIGTERM
// notify_on_stop runs the down hooks of the servers that are up and
// quorum_down.
func TestRealServerAndQuorumHooks(t *testing.T) {
	lab := newLab(t)
	d1 := lab.MustAddHost(t, "d1", "198.51.100.11/24", "203.0.113.11/24")
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	stop := serveHTTP(t, rs, "203.0.113.21:80", "ok")
	log := hookLog(filepath.Join(t.TempDir(), "hooks"))
	cfg := instanceConfig("d1", 150, "") + fmt.Sprintf(`
virtual_server "web_http" {
  address        = "198.51.100.10:80"
  forwarding     = "nat"
  notify_on_stop = true
  notify {
    quorum_up   = %s
    quorum_down = %s
  }
  real_server "203.0.113.21:80" {
    check "http" {
      interval = "200ms"
      timeout  = "100ms"
      rise     = 1
      fall     = 1
    }
    notify {
      up   = %s
      down = %s
    }
  }
  real_server "203.0.113.22:80" {
    check "tcp" {
      interval = "200ms"
      timeout  = "100ms"
    }
    notify {
      down = %s
    }
  }
}
`, log.argv("quorum_up"), log.argv("quorum_down"), log.argv("up"), log.argv("down"), log.argv("down"))
	n := startTandem(t, d1, cfg)
	want := []string{"up web_http 203.0.113.21:80", "quorum_up web_http"}
	same := func(want []string) func() bool {
		return func() bool { return strings.Join(log.lines(), "\n") == strings.Join(want, "\n") }
	}
	what := func(want []string) func() string {
		return func() string { return fmt.Sprintf("hooks ran %q, want %q\n%s", log.lines(), want, n.log()) }
	}
	eventuallyf(t, 5*time.Second, what(want), same(want))
	stop()
	want = append(want, "down web_http 203.0.113.21:80", "quorum_down web_http")
	eventuallyf(t, 5*time.Second, what(want), same(want))
	serveHTTP(t, rs, "203.0.113.21:80", "ok")
	want = append(want, "up web_http 203.0.113.21:80", "quorum_up web_http")
	eventuallyf(t, 5*time.Second, what(want), same(want))
	// 203.0.113.22 never came up: no hook for it, now or at the stop.
	if err := n.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	want = append(want, "down web_http 203.0.113.21:80", "quorum_down web_http")
	if !same(want)() {
		t.Fatal(what(want)())
	}
}

// countingServer answers HTTP on addr in h and counts requests by the
// client's address.
func countingServer(t *testing.T, h *netlab.Host, addr string) func(from string) int {
	t.Helper()
	var l net.Listener
	if err := h.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	seen := map[string]int{}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		host, _, _ := net.SplitHostPort(r.RemoteAddr)
		mu.Lock()
		seen[host]++
		mu.Unlock()
		fmt.Fprint(w, "ok")
	})}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	return func(from string) int { mu.Lock(); defer mu.Unlock(); return seen[from] }
}

// ha_suspend: on a pair, only the director that is MASTER for the
// virtual server's address checks its real servers; the backup's checks
// pause (status says suspended) and resume when it takes over.
func TestHASuspendOnBackupPair(t *testing.T) {
	lab := newLab(t)
	d1 := lab.MustAddHost(t, "d1", "198.51.100.11/24", "203.0.113.11/24")
	d2 := lab.MustAddHost(t, "d2", "198.51.100.12/24", "203.0.113.12/24")
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	requests := countingServer(t, rs, "203.0.113.21:80")
	vs := `
virtual_server "web_http" {
  address    = "198.51.100.10:80"
  forwarding = "nat"
  ha_suspend = true
  real_server "203.0.113.21:80" {
    check "http" {
      interval = "100ms"
      timeout  = "80ms"
      rise     = 1
      fall     = 1
    }
  }
}
`
	n1 := startTandem(t, d1, instanceConfig("d1", 150, "")+vs)
	eventually(t, 5*time.Second, "d1 MASTER", func() bool { return n1.entered("web", "MASTER") == 1 })
	n2 := startTandem(t, d2, instanceConfig("d2", 100, "")+vs)
	eventually(t, 5*time.Second, "d2 BACKUP", func() bool { return n2.entered("web", "BACKUP") == 1 })
	eventually(t, 3*time.Second, "d1 checks", func() bool { return requests("203.0.113.11") >= 3 })
	before := requests("203.0.113.12")
	time.Sleep(time.Second)
	if got := requests("203.0.113.12") - before; got != 0 {
		t.Errorf("the backup d2 checked %d times in a second under ha_suspend", got)
	}
	if got := requests("203.0.113.12"); got != 0 {
		t.Errorf("the backup d2 checked %d times since it started", got)
	}
	if st := nodeStatus(t, n2); len(st.VirtualServers) != 1 || !st.VirtualServers[0].Suspended {
		t.Errorf("d2's status does not say suspended: %+v", st.VirtualServers)
	}
	if err := n1.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "d2 MASTER", func() bool { return n2.entered("web", "MASTER") == 1 })
	eventually(t, 3*time.Second, "d2 checks once it holds the VIP", func() bool { return requests("203.0.113.12") >= 3 })
	if st := nodeStatus(t, n2); st.VirtualServers[0].Suspended {
		t.Errorf("d2 is MASTER and still suspended")
	}
}

// status asks n's daemon for its status.
func nodeStatus(t *testing.T, n *node) *director.Status {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := director.Call(ctx, fmt.Sprintf("/run/tandem-e2e-%s-%d.sock", n.host.Name, os.Getpid()), director.Request{Op: "status"})
	if err != nil || resp.Status == nil {
		t.Fatalf("status of %s: %v", n.host.Name, err)
	}
	return resp.Status
}
