package e2e

import (
	"bufio"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/director"
	"github.com/tandemlb/tandem/internal/netlab"
)

// serveSMTP answers SMTP checks inside h's namespace on addr until stop.
func serveSMTP(t *testing.T, h *netlab.Host, addr string) (stop func()) {
	t.Helper()
	var l net.Listener
	if err := h.Do(func() (err error) { l, err = net.Listen("tcp", addr); return err }); err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				c.SetDeadline(time.Now().Add(5 * time.Second))
				c.Write([]byte("220 rs1 ESMTP\r\n"))
				r := bufio.NewReader(c)
				for {
					line, err := r.ReadString('\n')
					if err != nil {
						return
					}
					switch {
					case strings.HasPrefix(line, "EHLO lb1.example.org"):
						c.Write([]byte("250-rs1\r\n250 8BITMIME\r\n"))
					case strings.HasPrefix(line, "QUIT"):
						c.Write([]byte("221 bye\r\n"))
						return
					default:
						c.Write([]byte("500 what\r\n"))
					}
				}
			}()
		}
	}()
	t.Cleanup(func() { l.Close() })
	return func() { l.Close() }
}

// The checks of the health-breadth work in tandem run: smtp (with
// retries and a source address) and ping against a real server in its
// namespace, exec with dynamic_weight; tandem status shows each check's
// kind, last result with its reason, and retries; the weight asked for
// is the real server's.
func TestHealthBreadthInTandemRun(t *testing.T) {
	lab := newLab(t)
	d1 := lab.MustAddHost(t, "d1", "198.51.100.11/24", "203.0.113.11/24")
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	stop := serveSMTP(t, rs, "203.0.113.21:25")
	script := filepath.Join(t.TempDir(), "load.sh")
	if err := os.WriteFile(script, []byte("#!/bin/sh\necho load 12\nexit 12\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg := instanceConfig("d1", 150, "") + `
virtual_server "mail" {
  address    = "198.51.100.10:25"
  forwarding = "nat"
  real_server "203.0.113.21:25" {
    check "smtp" {
      interval       = "300ms"
      timeout        = "200ms"
      rise           = 1
      fall           = 1
      retries        = 1
      retry_delay    = "50ms"
      helo_name      = "lb1.example.org"
      source_address = "203.0.113.11"
    }
    check "ping" {
      interval = "300ms"
      timeout  = "200ms"
      rise     = 1
      fall     = 1
    }
  }
  real_server "203.0.113.22:25" {
    weight = 5
    check "exec" {
      command        = ["` + script + `"]
      dynamic_weight = true
      interval       = "300ms"
      timeout        = "250ms"
      rise           = 1
      fall           = 1
    }
  }
}
`
	n := startTandem(t, d1, cfg)
	eventually(t, 10*time.Second, "both real servers up", func() bool {
		l := n.log()
		return strings.Contains(l, `vs=mail rs=203.0.113.21:25 check=`) && strings.Contains(l, `from=down to=up`) &&
			strings.Contains(l, `vs=mail rs=203.0.113.22:25 check=exec from=down to=up`)
	})
	// The log line comes before the table is recomputed: wait for it.
	var st director.VSStatus
	eventually(t, 5*time.Second, "rs2 at weight 10 in status", func() bool {
		st = mailStatus(t)
		return st.RealServers[1].Weight == 10
	})
	r1, r2 := st.RealServers[0], st.RealServers[1]
	if r1.Health != "up" || len(r1.Checks) != 2 || r1.Checks[0].Kind != "smtp" || r1.Checks[1].Kind != "ping" ||
		r1.Checks[0].Retries != 1 || r1.Checks[0].LastResult != "up" || !strings.Contains(r1.Checks[0].Reason, "smtp: banner 220, EHLO 250") ||
		r1.Checks[1].LastResult != "up" || !strings.Contains(r1.Checks[1].Reason, "ping: echo reply") {
		t.Errorf("rs1 status: %+v", r1)
	}
	if r2.Health != "up" || r2.Weight != 10 || r2.DynamicWeight != 10 || !strings.Contains(r2.Checks[0].Reason, "exec: exit 12: weight 10") {
		t.Errorf("rs2 status (exit 12 is weight 10): %+v", r2)
	}
	text, _ := tandemCLI(t, "d1", "status")
	if !strings.Contains(text, "check smtp") || !strings.Contains(text, "retries 1") || !strings.Contains(text, "check ping") {
		t.Errorf("tandem status lists no checks:\n%s", text)
	}

	stop()
	eventually(t, 10*time.Second, "rs1 down after both attempts", func() bool {
		return strings.Contains(n.log(), `vs=mail rs=203.0.113.21:25 check=smtp from=up to=down reason="smtp: connect: connection refused (2 attempts)"`)
	})
	r1 = mailStatus(t).RealServers[0]
	if r1.Health != "down" || r1.Checks[0].LastResult != "down" || r1.Checks[0].Attempts != 2 || r1.Checks[1].LastResult != "up" {
		t.Errorf("rs1 after the SMTP server stopped: %+v", r1)
	}
}

func mailStatus(t *testing.T) director.VSStatus {
	t.Helper()
	out, code := tandemCLI(t, "d1", "status", "--json")
	var st director.Status
	if code != 0 || json.Unmarshal([]byte(out), &st) != nil || len(st.VirtualServers) != 1 || len(st.VirtualServers[0].RealServers) != 2 {
		t.Fatalf("tandem status --json: exit %d\n%s", code, out)
	}
	return st.VirtualServers[0]
}
