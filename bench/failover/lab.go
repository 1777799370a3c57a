package main

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// The lab: two directors and a client on one switch, 198.51.100.0/24 only.
const (
	vipText   = "198.51.100.10"
	vipPrefix = "198.51.100.10/24"
	d1Addr    = "198.51.100.11"
	d2Addr    = "198.51.100.12"
	echoPort  = 7
	vrid      = 51
	prio1     = 150
	prio2     = 100
	labPrefix = "tfb" // namespaces tfb-<pid>-sw, tfb-<pid>-d1...
)

var (
	vip      = netip.MustParseAddr(vipText)
	d1AddrIP = netip.MustParseAddr(d1Addr)
	d2AddrIP = netip.MustParseAddr(d2Addr)
)

// interval is one advert setting, the same for both implementations.
type interval struct {
	Key     string // for -only: 10ms, 100ms, 1s
	Label   string // in the table
	Version int
	Every   time.Duration
}

var intervals = []interval{
	{"10ms", "v3 10ms", 3, 10 * time.Millisecond},
	{"100ms", "v3 100ms", 3, 100 * time.Millisecond},
	{"1s", "v2 1s", 2, time.Second},
}

// masterDown is RFC 5798's Master_Down_Interval for a backup of priority
// prio (RFC 3768's for v2: Skew_Time in whole seconds' fractions).
func (iv interval) masterDown(prio int) time.Duration {
	base := iv.Every
	if iv.Version == 2 {
		base = time.Second
	}
	return 3*iv.Every + time.Duration(256-prio)*base/256
}

// bench is the lab and what lives in it for the whole program.
type bench struct {
	lab            *netlab.Lab
	d1, d2, client *netlab.Host
	dir            string // configs, pid files, control sockets
	tandemBin      string
	every          time.Duration // probe spacing
	probeRT        bool          // the prober thread runs SCHED_FIFO
	kaSyslog       bool          // keepalived without -G
	daemonRT       int           // > 0: daemons run SCHED_FIFO at this priority
	realtime       bool          // tandem: global { realtime = true }
	tandemEnv      []string      // extra environment for tandem
	responders     []*responder
	adverts        *capture // VRRP as the client sees it
}

// sweepStale removes labs of earlier runs of this program that died
// without closing theirs (their pid is gone).
func sweepStale() {
	re := regexp.MustCompile(`^(` + labPrefix + `-([0-9]+))-[a-z0-9_]+$`)
	ents, _ := os.ReadDir("/run/netns")
	done := map[string]bool{}
	for _, e := range ents {
		m := re.FindStringSubmatch(e.Name())
		if m == nil || done[m[1]] {
			continue
		}
		done[m[1]] = true
		if _, err := os.Stat("/proc/" + m[2]); errors.Is(err, os.ErrNotExist) {
			if err := netlab.Sweep(m[1]); err != nil {
				fmt.Fprintf(os.Stderr, "failover: removing the leftovers of %s: %v\n", m[1], err)
			}
		}
	}
}

func newBench(dir, tandemBin, logDir string, every time.Duration) (b *bench, err error) {
	sweepStale()
	lab, err := netlab.New(fmt.Sprintf("%s-%d", labPrefix, os.Getpid()))
	if err != nil {
		return nil, err
	}
	b = &bench{lab: lab, dir: dir, tandemBin: tandemBin, every: every}
	defer func() {
		if err != nil {
			b.Close()
			b = nil
		}
	}()
	if logDir != "" {
		lab.Dir = logDir
	}
	add := func(name, addr string) (*netlab.Host, error) {
		return lab.AddHost(name, netip.MustParsePrefix(addr))
	}
	if b.d1, err = add("d1", d1Addr+"/24"); err != nil {
		return b, err
	}
	if b.d2, err = add("d2", d2Addr+"/24"); err != nil {
		return b, err
	}
	if b.client, err = add("client", "198.51.100.100/24"); err != nil {
		return b, err
	}
	for i, h := range []*netlab.Host{b.d1, b.d2} {
		r, err := startResponder(h, byte(i+1), vip, echoPort)
		if err != nil {
			return b, err
		}
		b.responders = append(b.responders, r)
	}
	if b.adverts, err = startCapture(b.client); err != nil {
		return b, err
	}
	b.adverts.reset()
	return b, nil
}

func (b *bench) Close() error {
	if b.adverts != nil {
		b.adverts.Close()
	}
	for _, r := range b.responders {
		r.Close()
	}
	return b.lab.Close()
}

// probe starts a probe session from the client to the VIP.
func (b *bench) probe(budget time.Duration) (*session, error) {
	return startProbe(b.client, netip.AddrPortFrom(vip, echoPort), b.every, budget, b.probeRT)
}

// node is one director daemon, tandem or keepalived, that can be started
// again after a crash or stop.
type node struct {
	impl   string // "tandem" or "keepalived"
	host   *netlab.Host
	cfg    string
	bin    string
	dir    string
	proc   *netlab.Proc
	starts int
	syslog bool     // keepalived: leave syslog on (no -G)
	rtPrio int      // > 0: run under chrt -f rtPrio
	env    []string // tandem: extra environment (KEY=VALUE)
}

func (b *bench) newNode(impl string, h *netlab.Host, prio int, iv interval) (*node, error) {
	n := &node{impl: impl, host: h, dir: b.dir, bin: b.tandemBin, syslog: b.kaSyslog, rtPrio: b.daemonRT, env: b.tandemEnv}
	var text string
	switch impl {
	case "tandem":
		n.cfg = filepath.Join(b.dir, h.Name+".hcl")
		text = fmt.Sprintf(`global {
  router_id      = %q
  control_socket = %q
  realtime       = %v
}

vrrp_instance "web" {
  interface         = %q
  virtual_router_id = %d
  priority          = %d
  version           = %d
  advert_interval   = %q
  virtual_ips       = [%q]
}
`, h.Name, filepath.Join(b.dir, h.Name+".sock"), b.realtime, netlab.NIC, vrid, prio, iv.Version, iv.Every.String(), vipPrefix)
	case "keepalived":
		n.cfg = filepath.Join(b.dir, h.Name+".conf")
		text = fmt.Sprintf(`global_defs {
  router_id %s
}

vrrp_instance web {
  state BACKUP
  interface %s
  virtual_router_id %d
  priority %d
  version %d
  advert_int %s
  virtual_ipaddress {
    %s
  }
}
`, h.Name, netlab.NIC, vrid, prio, iv.Version, strconv.FormatFloat(iv.Every.Seconds(), 'f', -1, 64), vipPrefix)
	default:
		return nil, fmt.Errorf("unknown implementation %q", impl)
	}
	if err := os.WriteFile(n.cfg, []byte(text), 0o644); err != nil {
		return nil, err
	}
	return n, nil
}

func (n *node) pidFile(kind string) string {
	return filepath.Join(n.dir, fmt.Sprintf("%s-%s-%d.pid", n.host.Name, kind, n.starts))
}

func (n *node) start() error {
	n.starts++
	var err error
	start := n.host.Start
	if n.rtPrio > 0 {
		// chrt execs the daemon: the pid stays the same.
		start = func(name string, args ...string) (*netlab.Proc, error) {
			return n.host.Start("chrt", append([]string{"-f", strconv.Itoa(n.rtPrio), name}, args...)...)
		}
	}
	switch n.impl {
	case "tandem":
		if len(n.env) > 0 {
			// env(1) execs tandem: the pid stays the same.
			n.proc, err = start("env", append(slices.Clone(n.env), n.bin, "run", "-c", n.cfg)...)
			break
		}
		n.proc, err = start(n.bin, "run", "-c", n.cfg)
	case "keepalived":
		args := []string{"-n", "-l", "-D", "-P", "-f", n.cfg,
			"-p", n.pidFile("main"), "-r", n.pidFile("vrrp"), "-c", n.pidFile("check"), "-b", n.pidFile("bfd")}
		if !n.syslog {
			// Without a syslog daemon (/dev/log), syslog(3) falls back to
			// /dev/console, whose writes take ~4 ms a line here and stall
			// the whole VM; -l already logs to stderr.
			args = append(args, "-G")
		}
		n.proc, err = start("keepalived", args...)
	}
	return err
}

// log is what the running (or last) process printed.
func (n *node) log() string {
	if n.proc == nil {
		return ""
	}
	return n.proc.Output()
}

var enteringRE = regexp.MustCompile(`\) Entering ([A-Z]+) STATE`)

// state is the last state the log entered ("" if none yet).
func (n *node) state() string {
	m := enteringRE.FindAllStringSubmatch(n.log(), -1)
	if len(m) == 0 {
		return ""
	}
	return m[len(m)-1][1]
}

func (n *node) exited() bool {
	if n.proc == nil {
		return true
	}
	select {
	case <-n.proc.Done():
		return true
	default:
		return false
	}
}

// vrrpPid is keepalived's VRRP child, from its pid file.
func (n *node) vrrpPid() (int, error) {
	b, err := os.ReadFile(n.pidFile("vrrp"))
	if err != nil {
		return 0, fmt.Errorf("%s: keepalived's VRRP child: %w", n.host.Name, err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("%s: keepalived's VRRP pid file: %w", n.host.Name, err)
	}
	if !n.owns(pid) {
		return 0, fmt.Errorf("%s: pid %d is not keepalived in this namespace", n.host.Name, pid)
	}
	return pid, nil
}

// owns reports whether pid runs in the node's namespace and is its
// implementation's binary: a check before signalling a pid from a file.
func (n *node) owns(pid int) bool {
	pids, err := n.host.Pids()
	if err != nil || !slices.Contains(pids, pid) {
		return false
	}
	cmd, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return false
	}
	name := "keepalived"
	if n.impl == "tandem" {
		name = filepath.Base(n.bin)
	}
	return strings.Contains(string(cmd), name)
}

// crasher prepares a node failure as far as the daemon is concerned:
// SIGKILL, and for keepalived of both the VRRP child and the parent
// (SIGKILL of the parent alone makes the child send priority 0). The
// parent is stopped first so that it cannot respawn the child. The pid
// lookup happens here, before the timed moment, so that both
// implementations go down equally fast.
func (n *node) crasher() (func() error, error) {
	if n.impl == "tandem" {
		return func() error { return n.proc.Process.Signal(syscall.SIGKILL) }, nil
	}
	child, err := n.vrrpPid()
	if err != nil {
		return nil, err
	}
	return func() error {
		if err := n.proc.Process.Signal(syscall.SIGSTOP); err != nil {
			return err
		}
		if err := syscall.Kill(child, syscall.SIGKILL); err != nil {
			return err
		}
		return n.proc.Process.Signal(syscall.SIGKILL)
	}, nil
}

// term asks for a graceful stop and does not wait.
func (n *node) term() error { return n.proc.Process.Signal(syscall.SIGTERM) }

// waitExit waits up to d for the process to end, then kills it.
func (n *node) waitExit(d time.Duration) error {
	select {
	case <-n.proc.Done():
		return nil
	case <-time.After(d):
	}
	n.kill()
	return fmt.Errorf("%s: %s still running %v after the signal; killed", n.host.Name, n.impl, d)
}

// kill ends the daemon and whatever of it is left in the namespace.
func (n *node) kill() {
	if n.proc != nil && !n.exited() {
		_ = n.proc.Kill()
	}
	n.killLeftovers()
}

// stop stops the daemon gracefully (SIGKILL after the lab's grace).
func (n *node) stop() {
	if n.proc != nil && !n.exited() {
		_ = n.proc.Stop()
	}
	n.killLeftovers()
}

// killLeftovers ends processes of this node's daemon still in the
// namespace (a keepalived child whose parent died).
func (n *node) killLeftovers() {
	pids, _ := n.host.Pids()
	for _, pid := range pids {
		if n.owns(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	}
	end := time.Now().Add(2 * time.Second)
	for time.Now().Before(end) {
		pids, _ := n.host.Pids()
		if !slices.ContainsFunc(pids, n.owns) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// cpuTime is the CPU time used so far by the processes in the node's
// namespace (the daemon and its children), with their threads and the
// context switches of all those threads.
func (n *node) cpuTime() (cpu time.Duration, threads, volCS, involCS int) {
	pids, _ := n.host.Pids()
	for _, pid := range pids {
		if !n.owns(pid) {
			continue
		}
		c, th := procCPU(pid)
		cpu += c
		threads += th
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		for _, t := range tasks {
			status, _ := os.ReadFile(fmt.Sprintf("/proc/%d/task/%s/status", pid, t.Name()))
			for line := range strings.Lines(string(status)) {
				k, v, _ := strings.Cut(line, ":")
				x, _ := strconv.Atoi(strings.TrimSpace(v))
				switch k {
				case "voluntary_ctxt_switches":
					volCS += x
				case "nonvoluntary_ctxt_switches":
					involCS += x
				}
			}
		}
	}
	return cpu, threads, volCS, involCS
}

// procCPU is a process's CPU time (all its threads) and thread count,
// from /proc/PID/stat; "self" for this process.
func procCPU[P int | string](pid P) (time.Duration, int) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%v/stat", pid))
	if err != nil {
		return 0, 0
	}
	// Fields after the command name, which is in parentheses.
	_, rest, ok := strings.Cut(string(b), ") ")
	if !ok {
		return 0, 0
	}
	f := strings.Fields(rest)
	if len(f) < 18 {
		return 0, 0
	}
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	st, _ := strconv.ParseInt(f[12], 10, 64) // stime, field 15
	th, _ := strconv.Atoi(f[17])             // num_threads, field 20
	return time.Duration(ut+st) * time.Second / clockTicks, th
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat times (100 on Linux).
const clockTicks = 100

// hasVIP reports whether the VIP is on the host's lan0.
func hasVIP(h *netlab.Host) bool {
	addrs, err := h.Addrs()
	if err != nil {
		return false
	}
	return slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == vip })
}

// clearVIP removes a VIP that a crashed daemon left behind.
func clearVIP(h *netlab.Host) {
	if hasVIP(h) {
		_, _ = h.Run("ip", "addr", "del", vipPrefix, "dev", netlab.NIC)
	}
}

// tail returns the last lines of a log, for error messages.
func tail(s string, lines int) string {
	l := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// sleepCtx sleeps for d or until ctx ends.
func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// waitSettled waits until d1 is MASTER and holds the VIP alone, d2 is
// BACKUP, and the client's probes get steady answers from d1; then it
// waits settle more (past the neighbour table's locktime).
func (b *bench) waitSettled(ctx context.Context, d1, d2 *node, within, settle time.Duration) error {
	end := time.Now().Add(within)
	for {
		if d1.exited() {
			return fmt.Errorf("d1's %s exited:\n%s", d1.impl, tail(d1.log(), 20))
		}
		if d2.exited() {
			return fmt.Errorf("d2's %s exited:\n%s", d2.impl, tail(d2.log(), 20))
		}
		if d1.state() == "MASTER" && d2.state() == "BACKUP" && hasVIP(b.d1) && !hasVIP(b.d2) {
			break
		}
		if time.Now().After(end) {
			return fmt.Errorf("after %v: d1 %s (VIP %v), d2 %s (VIP %v); want d1 MASTER alone\nd1:\n%s\nd2:\n%s",
				within, d1.state(), hasVIP(b.d1), d2.state(), hasVIP(b.d2), tail(d1.log(), 10), tail(d2.log(), 10))
		}
		if err := sleepCtx(ctx, 20*time.Millisecond); err != nil {
			return err
		}
	}
	for try := 0; ; try++ {
		ok, why, err := b.steadyFromD1(300 * time.Millisecond)
		if err != nil {
			return err
		}
		if ok {
			break
		}
		if try == 20 {
			return fmt.Errorf("the client gets no steady answers from d1: %s", why)
		}
		if err := sleepCtx(ctx, 100*time.Millisecond); err != nil {
			return err
		}
	}
	return sleepCtx(ctx, settle)
}

// steadyFromD1 probes for d and checks that d1 answered every probe of
// its second half.
func (b *bench) steadyFromD1(d time.Duration) (bool, string, error) {
	s, err := b.probe(d)
	if err != nil {
		return false, "", err
	}
	if err := s.Wait(); err != nil {
		return false, "", err
	}
	sent, replies := s.snapshot()
	if len(sent) < 10 {
		return false, fmt.Sprintf("only %d probes sent", len(sent)), nil
	}
	half := uint32(len(sent) / 2)
	got := map[uint32]bool{}
	for _, r := range replies {
		if r.from != 1 {
			return false, fmt.Sprintf("d%d answered", r.from), nil
		}
		got[r.seq] = true
	}
	for seq := half; seq < uint32(len(sent)); seq++ {
		if !got[seq] {
			return false, fmt.Sprintf("probe %d of %d unanswered", seq, len(sent)), nil
		}
	}
	return true, "", nil
}
