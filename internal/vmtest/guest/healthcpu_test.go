package guest

import (
	"cmp"
	"fmt"
	"maps"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// HealthBenchVar makes TestHealthCPUBesideKeepalived the benchmark of
// make bench-health (500 and 1,000 TCP checks a second and HTTP, three
// alternating pairs of 5 s each; "tcp:500 pairs:5" picks loads and
// pairs); unset, it is CI's short run (one pair of 1 s at 200 TCP checks
// a second: the HTTP case only in the benchmark, for CI's guest time).
const HealthBenchVar = "TANDEM_HEALTH_BENCH"

// checkedHost is a namespace whose 10.x addresses are all local (a
// route of type local), with a TCP listener and an HTTP server on all of
// them: N real servers without N namespaces. It counts what it accepts,
// which is the number of checks made.
type checkedHost struct {
	h                 *netlab.Host
	tcpConns, httpReq atomic.Int64
}

func newCheckedHost(t *testing.T, l *netlab.Lab, name, addr string) *checkedHost {
	t.Helper()
	c := &checkedHost{h: l.MustAddHost(t, name, addr)}
	for _, args := range [][]string{{"link", "set", "lo", "up"}, {"route", "add", "local", "10.0.0.0/16", "dev", "lo"}} {
		if out, err := c.h.Run(vmtest.GuestIP, args...); err != nil {
			t.Fatalf("ip %v: %v: %s", args, err, out)
		}
	}
	var tcp, web net.Listener
	if err := c.h.Do(func() (err error) {
		if tcp, err = net.Listen("tcp", ":80"); err != nil {
			return err
		}
		web, err = net.Listen("tcp", ":8080")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tcp.Close(); web.Close() })
	go func() {
		for {
			conn, err := tcp.Accept()
			if err != nil {
				return
			}
			c.tcpConns.Add(1)
			conn.Close()
		}
	}()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c.httpReq.Add(1)
		w.Write([]byte("ok\n"))
	}), ReadHeaderTimeout: 2 * time.Second}
	srv.SetKeepAlivesEnabled(false)
	go srv.Serve(web)
	t.Cleanup(func() { srv.Close() })
	return c
}

// procCPU is the user+system CPU of pid so far.
func procCPU(pid int) (time.Duration, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:]) // after "pid (comm) "
	ut, _ := strconv.ParseInt(f[11], 10, 64)                 // field 14
	st, _ := strconv.ParseInt(f[12], 10, 64)                 // field 15
	return time.Duration(ut+st) * 10 * time.Millisecond, nil // USER_HZ 100
}

func procRSS(pid int) int64 {
	b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "VmRSS:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			return kb
		}
	}
	return 0
}

// procSwitches is the number of times the threads of pid went off a CPU
// (voluntary and not): how often they slept and woke, the cost the Go
// runtime's idle threads add when they spin, park and wake.
func procSwitches(pid int) int64 {
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	var n int64
	for _, task := range tasks {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, task.Name()))
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.HasSuffix(k, "ctxt_switches") {
				c, _ := strconv.ParseInt(strings.TrimSpace(v), 10, 64)
				n += c
			}
		}
	}
	return n
}

// taskCPU is the user and system CPU of each thread of pid so far.
func taskCPU(pid int) map[string][2]time.Duration {
	out := map[string][2]time.Duration{}
	tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
	for _, task := range tasks {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/stat", pid, task.Name()))
		if err != nil {
			continue
		}
		s := string(b)
		f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
		ut, _ := strconv.ParseInt(f[11], 10, 64)
		st, _ := strconv.ParseInt(f[12], 10, 64)
		out[fmt.Sprint(pid, "/", task.Name())] = [2]time.Duration{time.Duration(ut) * 10 * time.Millisecond, time.Duration(st) * 10 * time.Millisecond}
	}
	return out
}

// clockCost names the guest's clocksource and what reading the clock
// costs there: a checker reads it at every check, and without a clock
// the vDSO can read, each read is a system call.
func clockCost() string {
	src, _ := os.ReadFile("/sys/devices/system/clocksource/clocksource0/current_clocksource")
	const n = 20000
	start := time.Now()
	for range n {
		time.Now()
	}
	return fmt.Sprintf("clocksource %s, time.Now %v a call", strings.TrimSpace(string(src)), time.Since(start)/n)
}

type load struct {
	typ string
	n   int
}

// benchLoads reads a HealthBenchVar of words like "tcp:500 http:500
// pairs:5": the loads to measure (none named: all), and the pairs.
func benchLoads(t *testing.T, v string, pairs *int) []load {
	var loads []load
	for _, f := range strings.Fields(v) {
		k, n, ok := strings.Cut(f, ":")
		num, err := strconv.Atoi(n)
		switch {
		case !ok || err != nil || num < 1:
			t.Fatalf("%s=%q: want 1, or words like tcp:500 http:500 pairs:5", HealthBenchVar, v)
		case k == "pairs":
			*pairs = num
		case k == "tcp" || k == "http":
			loads = append(loads, load{k, num})
		default:
			t.Fatalf("%s=%q: no check type %q (tcp or http)", HealthBenchVar, v, k)
		}
	}
	return loads
}

// healthRun is one measured run of one checker.
type healthRun struct {
	cpu       time.Duration
	checks    int64
	rssKB     int64
	switches  int64 // context switches of all its threads in the window
	threads   int
	user, sys time.Duration
	perThread []time.Duration // CPU of the busiest threads, most first
}

func (r healthRun) perThousand() float64 { return r.cpu.Seconds() * 1000 / float64(r.checks) }

// measure waits until the checker runs steadily, at rate (checks a
// second) or at what the guest allows (a 2-vCPU TCG guest on a busy host
// saturates below it), at most warm (a start under TCG: the
// configuration, the IPVS table, the first round), then measures CPU and
// checks over window.
func measure(t *testing.T, pids func() []int, count func() int64, rate int, warm, window time.Duration) healthRun {
	t.Helper()
	end := time.Now().Add(warm)
	var prev int64 = -1
	for last := count(); time.Now().Before(end); {
		time.Sleep(time.Second)
		n := count()
		d := n - last
		if d >= int64(rate)*8/10 || d > 0 && prev > 0 && d*10 >= prev*9 && d*10 <= prev*11 {
			break // at the rate, or two seconds alike
		}
		prev, last = d, n
	}
	cpu := func() time.Duration {
		var sum time.Duration
		for _, p := range pids() {
			c, err := procCPU(p)
			if err != nil {
				t.Fatalf("CPU of %d: %v", p, err)
			}
			sum += c
		}
		return sum
	}
	switches := func() (n int64) {
		for _, p := range pids() {
			n += procSwitches(p)
		}
		return n
	}
	tasks := func() map[string][2]time.Duration {
		all := map[string][2]time.Duration{}
		for _, p := range pids() {
			maps.Copy(all, taskCPU(p))
		}
		return all
	}
	t0 := tasks()
	c0, n0, s0 := cpu(), count(), switches()
	time.Sleep(window)
	r := healthRun{cpu: cpu() - c0, checks: count() - n0, switches: switches() - s0}
	for k, v := range tasks() {
		was := t0[k]
		u, s := v[0]-was[0], v[1]-was[1]
		r.user, r.sys = r.user+u, r.sys+s
		if u+s > 0 {
			r.perThread = append(r.perThread, u+s)
		}
	}
	slices.SortFunc(r.perThread, func(a, b time.Duration) int { return cmp.Compare(b, a) })
	for _, p := range pids() {
		r.rssKB += procRSS(p)
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", p))
		r.threads += len(tasks)
	}
	return r
}

// The same health checks from tandem and from keepalived's checker
// (Debian's 2.2.7, in the guest with its libraries), one at a time,
// alternating, in the same guest run: the CPU each spends per 1,000
// checks, TCP and HTTP. Asserted: every checker made checks (at least a
// tenth of the rate it was given: the guest saturates below the rate when
// the host is busy); the figures are logged.
func TestHealthCPUBesideKeepalived(t *testing.T) {
	vmtest.NeedVM(t)
	loads, pairs, warm, window := []load{{"tcp", 200}}, 1, 5*time.Second, time.Second
	if v := os.Getenv(HealthBenchVar); v != "" {
		loads, pairs, warm, window = []load{{"tcp", 500}, {"tcp", 1000}, {"http", 500}}, 3, 20*time.Second, 5*time.Second
		if v != "1" {
			if only := benchLoads(t, v, &pairs); len(only) > 0 {
				loads = only
			}
		}
	}
	t.Logf("guest clock: %s", clockCost())
	l := netlab.NewT(t)
	tandemHost := newCheckedHost(t, l, "ht", "198.51.100.11/24")
	kaHost := newCheckedHost(t, l, "hk", "198.51.100.12/24")
	addr := func(i int) string { return fmt.Sprintf("10.0.%d.%d", i/250, 1+i%250) }

	var report []string
	for _, ld := range loads {
		port := 80
		count := func(c *checkedHost) func() int64 { return c.tcpConns.Load }
		if ld.typ == "http" {
			port = 8080
			count = func(c *checkedHost) func() int64 { return c.httpReq.Load }
		}
		var tb strings.Builder
		fmt.Fprintf(&tb, "virtual_server \"bench\" {\n  address = \"198.51.100.10:80\"\n  scheduler = \"rr\"\n  forwarding = \"nat\"\n")
		for i := range ld.n {
			fmt.Fprintf(&tb, "  real_server \"%s:%d\" {\n    initial = \"up\"\n    check %q {\n      interval = \"1s\"\n      timeout = \"900ms\"\n    }\n  }\n", addr(i), port, ld.typ)
		}
		tb.WriteString("}\n")
		dir := t.TempDir()
		var kb strings.Builder
		fmt.Fprintf(&kb, "global_defs {\n  router_id hk\n}\nvirtual_server 198.51.100.10 80 {\n  delay_loop 1\n  lb_algo rr\n  lb_kind NAT\n  protocol TCP\n")
		for i := range ld.n {
			check := "TCP_CHECK {\n      connect_timeout 1\n    }"
			if ld.typ == "http" {
				check = "HTTP_GET {\n      url {\n        path /\n        status_code 200\n      }\n      connect_timeout 1\n    }"
			}
			fmt.Fprintf(&kb, "  real_server %s %d {\n    weight 1\n    %s\n  }\n", addr(i), port, check)
		}
		kb.WriteString("}\n")
		kconf := filepath.Join(dir, "keepalived.conf")
		if err := os.WriteFile(kconf, []byte(kb.String()), 0o644); err != nil {
			t.Fatal(err)
		}

		var tandemRuns, kaRuns []healthRun
		for pair := range pairs {
			d := newDirector(t, tandemHost.h, tb.String())
			d.start()
			tr := measure(t, func() []int { return []int{d.proc.Process.Pid} }, count(tandemHost), ld.n, warm, window)
			if err := d.proc.Stop(); err != nil {
				t.Fatalf("stopping tandem: %v", err)
			}
			kdir := t.TempDir()
			p, err := kaHost.h.Start("/usr/sbin/keepalived", "-n", "-l", "-D", "-C", "-f", kconf,
				"-p", filepath.Join(kdir, "k.pid"), "-c", filepath.Join(kdir, "c.pid"), "-r", filepath.Join(kdir, "v.pid"), "-b", filepath.Join(kdir, "b.pid"))
			if err != nil {
				t.Fatal(err)
			}
			kpids := func() []int {
				pids := []int{p.Process.Pid}
				if b, err := os.ReadFile(filepath.Join(kdir, "c.pid")); err == nil {
					if c, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil {
						pids = append(pids, c)
					}
				}
				return pids
			}
			kr := measure(t, kpids, count(kaHost), ld.n, warm, window)
			if len(kpids()) < 2 {
				t.Fatalf("keepalived's checker did not start:\n%s", p.Output())
			}
			if err := p.Stop(); err != nil {
				t.Logf("stopping keepalived: %v", err)
			}
			t.Logf("%s, %d real servers at 1 s, pair %d: tandem %v CPU (user %v, system %v; by thread %v) for %d checks (%.3f s per 1,000; RSS %d kB; %d threads, %.0f context switches/s), keepalived %v (user %v, system %v; by thread %v) for %d (%.3f s per 1,000; RSS %d kB; %d threads, %.0f context switches/s)",
				ld.typ, ld.n, pair+1, tr.cpu, tr.user, tr.sys, tr.perThread, tr.checks, tr.perThousand(), tr.rssKB, tr.threads, float64(tr.switches)/window.Seconds(),
				kr.cpu, kr.user, kr.sys, kr.perThread, kr.checks, kr.perThousand(), kr.rssKB, kr.threads, float64(kr.switches)/window.Seconds())
			for who, r := range map[string]healthRun{"tandem": tr, "keepalived": kr} {
				if want := int64(float64(ld.n) * window.Seconds() / 10); r.checks < want {
					t.Errorf("%s made %d %s checks in %v, want at least %d", who, r.checks, ld.typ, window, want)
				}
			}
			tandemRuns, kaRuns = append(tandemRuns, tr), append(kaRuns, kr)
		}
		sum := func(rs []healthRun) (s healthRun) {
			for _, r := range rs {
				s.cpu, s.checks, s.switches = s.cpu+r.cpu, s.checks+r.checks, s.switches+r.switches
			}
			return s
		}
		ts, ks := sum(tandemRuns), sum(kaRuns)
		secs := float64(pairs) * window.Seconds()
		report = append(report, fmt.Sprintf("  %s %d/s: tandem %.3f, keepalived %.3f guest CPU-s per 1,000 checks (ratio %.2f; %d pairs of %v); context switches/s tandem %.0f, keepalived %.0f",
			ld.typ, ld.n, ts.perThousand(), ks.perThousand(), ts.perThousand()/ks.perThousand(), pairs, window, float64(ts.switches)/secs, float64(ks.switches)/secs))
	}
	t.Logf("health CPU per check in the guest, %s:\n%s", time.Now().UTC().Format("2006-01-02"), strings.Join(report, "\n"))
}
