package guest

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// Shared builders of the tandem scenarios: directors running `tandem run`
// from a configuration written by the test, real servers that answer who
// they are, and readers of ipvsadm's views.

// director is one `tandem run` in a lab host, with its own control socket
// and state directory.
type director struct {
	t    *testing.T
	host *netlab.Host
	dir  string
	conf string // path of the configuration
	proc *netlab.Proc
}

// newDirector writes body (everything but the global block) as h's
// configuration; global carries a router_id, a control socket and a
// state directory of the director's own.
func newDirector(t *testing.T, h *netlab.Host, body string) *director {
	t.Helper()
	d := &director{t: t, host: h, dir: t.TempDir()}
	d.conf = filepath.Join(d.dir, h.Name+".hcl")
	d.write(body)
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s: ipvsadm -Ln:\n%s", h.Name, d.ipvsadm("-Ln"))
			if d.proc != nil {
				t.Logf("%s: tandem (%s):\n%s", h.Name, d.proc.Log, d.proc.Output())
			}
		}
	})
	return d
}

// write replaces the configuration (for a restart or a reload).
func (d *director) write(body string) {
	d.t.Helper()
	cfg := fmt.Sprintf("global {\n  router_id      = %q\n  control_socket = %q\n  state_dir      = %q\n}\n%s",
		d.host.Name, filepath.Join(d.dir, "tandem.sock"), d.dir, body)
	if err := os.WriteFile(d.conf, []byte(cfg), 0o644); err != nil {
		d.t.Fatal(err)
	}
}

// start runs tandem; the lab stops it at the end.
func (d *director) start() {
	d.t.Helper()
	p, err := d.host.Start("tandem", "run", "-c", d.conf)
	if err != nil {
		d.t.Fatal(err)
	}
	d.proc = p
}

// kill is a crash: SIGKILL, nothing cleaned up.
func (d *director) kill() {
	d.t.Helper()
	if err := d.proc.Kill(); err != nil {
		d.t.Fatal(err)
	}
}

// output is what tandem logged so far (of the last start).
func (d *director) output() string {
	if d.proc == nil {
		return ""
	}
	return d.proc.Output()
}

// ipvsadm runs ipvsadm in the director's namespace; an error is part of
// the output (the callers compare tables).
func (d *director) ipvsadm(args ...string) string {
	out, err := d.host.Run("ipvsadm", args...)
	if err != nil {
		return out + "\n" + err.Error()
	}
	return out
}

// table is `ipvsadm -Ln` parsed.
func (d *director) table() map[string]*ipvsEntry { return parseIPVSAdm(d.ipvsadm("-Ln")) }

// waitMaster waits until tandem logs that instance became master.
func (d *director) waitMaster(instance string, within time.Duration) {
	d.t.Helper()
	waitFor(d.t, within, d.host.Name+" master of "+instance, func() bool {
		return strings.Contains(d.output(), "("+instance+") Entering MASTER STATE")
	})
}

// dests renders a service's destinations sorted, e.g.
// "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 0"; "absent" without the
// service.
func dests(tab map[string]*ipvsEntry, svc string) string {
	e := tab[svc]
	if e == nil {
		return "absent"
	}
	keys := make([]string, 0, len(e.Dests))
	for k := range e.Dests {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(k + "=" + e.Dests[k])
	}
	return b.String()
}

// waitDests waits until svc's destinations read want (see dests) and
// returns how long that took.
func (d *director) waitDests(svc, want string, within time.Duration) time.Duration {
	d.t.Helper()
	start := time.Now()
	var got string
	end := start.Add(within)
	for {
		got = dests(d.table(), svc)
		if got == want {
			return time.Since(start)
		}
		if time.Now().After(end) {
			d.t.Fatalf("%s: after %v %s is %q, want %q", d.host.Name, within, svc, got, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// stats reads `ipvsadm -Ln --stats` for svc: the service line's Conns,
// InPkts and OutPkts.
func (d *director) stats(svc string) (conns, inPkts, outPkts int64) {
	for _, line := range strings.Split(d.ipvsadm("-Ln", "--stats"), "\n") {
		f := strings.Fields(line)
		if len(f) >= 5 && f[0]+" "+f[1] == svc {
			return parseK(f[2]), parseK(f[3]), parseK(f[4])
		}
	}
	return -1, -1, -1
}

// parseK reads ipvsadm's counters, which abbreviate with K, M, G.
func parseK(s string) int64 {
	mul := int64(1)
	switch {
	case strings.HasSuffix(s, "K"):
		mul, s = 1000, strings.TrimSuffix(s, "K")
	case strings.HasSuffix(s, "M"):
		mul, s = 1000000, strings.TrimSuffix(s, "M")
	case strings.HasSuffix(s, "G"):
		mul, s = 1000000000, strings.TrimSuffix(s, "G")
	}
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return -1
	}
	return n * mul
}

// addRealServer adds a NAT real server: its default route is the
// director's 203.0.113.1 and it ignores redirects.
func addRealServer(t *testing.T, l *netlab.Lab, name, addr string) *netlab.Host {
	t.Helper()
	rs := l.MustAddHost(t, name, addr)
	sysctl(t, rs, "net.ipv4.conf.all.accept_redirects", "0", "net.ipv4.conf.lan0.accept_redirects", "0")
	run(t, rs, "ip", "route", "add", "default", "via", "203.0.113.1")
	return rs
}

// serveWho runs an HTTP server on addr in h's namespace that answers
// "NAME CLIENT-IP" (the source address it saw), until the returned stop
// or the end of the test.
func serveWho(t *testing.T, h *netlab.Host, addr string) (stop func()) {
	t.Helper()
	var ln net.Listener
	err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("%s: listen %s: %v", h.Name, addr, err)
	}
	srv := &http.Server{
		Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			host, _, _ := net.SplitHostPort(r.RemoteAddr)
			io.WriteString(w, h.Name+" "+host)
		}),
		ReadHeaderTimeout: 5 * time.Second,
	}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return func() { srv.Close() }
}

// serveEcho runs a line echo server on addr in h's namespace: every line
// comes back prefixed with h's name.
func serveEcho(t *testing.T, h *netlab.Host, addr string) {
	t.Helper()
	var ln net.Listener
	err := h.Do(func() (err error) {
		ln, err = net.Listen("tcp", addr)
		return err
	})
	if err != nil {
		t.Fatalf("%s: listen %s: %v", h.Name, addr, err)
	}
	var mu sync.Mutex
	var conns []net.Conn
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			mu.Lock()
			conns = append(conns, c)
			mu.Unlock()
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					if _, err := fmt.Fprintf(c, "%s %s\n", h.Name, sc.Text()); err != nil {
						return
					}
				}
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		mu.Lock()
		for _, c := range conns {
			c.Close()
		}
		mu.Unlock()
	})
}

// dial opens a TCP connection from h's namespace.
func dial(h *netlab.Host, addr string, timeout time.Duration) (net.Conn, error) {
	var c net.Conn
	err := h.Do(func() (err error) {
		ctx, cancel := context.WithTimeout(context.Background(), timeout)
		defer cancel()
		c, err = (&net.Dialer{}).DialContext(ctx, "tcp", addr)
		return err
	})
	return c, err
}

// get asks url through c and returns the body.
func get(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return string(b), fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), nil
}

// httpCheck is a check block with the scenarios' short timings.
func httpCheck(interval, timeout string, rise, fall int) string {
	return fmt.Sprintf(`    check "http" {
      interval = %q
      timeout  = %q
      rise     = %d
      fall     = %d
    }
`, interval, timeout, rise, fall)
}
