//go:build linux

package chaos

import (
	"context"
	"fmt"
	"maps"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// Addresses: directors 198.51.100.1-8, VIPs 198.51.100.10, .20, ..
// (instance k has .10k, and .10k+1 while a rolling change adds it), real
// servers .51 and .52, the client .200, the attacker .201.
const (
	servicePort = 8080 // every director answers its name here
	rsPort      = 8081 // the real servers' service, health-checked
)

func directorAddr(i int) string { return fmt.Sprintf("198.51.100.%d", i) }
func vipOf(k int) string        { return fmt.Sprintf("198.51.100.%d", 10*k) }
func extraVIPOf(k int) string   { return fmt.Sprintf("198.51.100.%d", 10*k+1) }

// lab is the namespaces, the processes and the model of what each
// director is configured with.
type lab struct {
	nl       *netlab.Lab
	dir      string
	ds       []*director
	rs       []*realServer
	client   *netlab.Host
	attacker *netlab.Host

	mu        sync.Mutex // guards the model below and probes
	instances []int      // configured on every director
	probes    map[string]*probeState
}

// director is one tandem and what it is configured with.
type director struct {
	i         int
	name      string
	host      *netlab.Host
	cfg, sock string
	state     string
	prio      map[int]int  // instance -> priority
	extra     map[int]bool // instance -> carries its extra VIP
	applied   map[int]bool // extra as the running director has it (after its reload)
	has       map[int]bool // instance -> configured here
	proc      *netlab.Proc // nil while down
	started   time.Time
	paused    bool
	base      *resources   // taken a minute into this process's life
	svc       net.Listener // the director's own service (stays when tandem dies)
	testFault string
	tandem    string // the binary
	relay     *relay // between its switch port and the bridge
	ka        bool   // runs keepalived 2.2.7 (VRRP only) instead of tandem
	runs      int
}

type realServer struct {
	host *netlab.Host
	mu   sync.Mutex
	ln   net.Listener
}

type probeState struct {
	lastOK time.Time
	who    string
}

// build makes the lab and writes the first configurations.
func (r *run) build() error {
	o := r.o
	nl, err := netlab.New(fmt.Sprintf("%s%d", o.Prefix, os.Getpid()%100000))
	if err != nil {
		return fmt.Errorf("chaos: lab: %w (run as root, with iproute2 and nft)", err)
	}
	dir, err := os.MkdirTemp("", "tandem-chaos-")
	if err != nil {
		nl.Close()
		return err
	}
	l := &lab{nl: nl, dir: dir, probes: map[string]*probeState{}}
	r.lab = l
	for k := 1; k <= o.Instances; k++ {
		l.instances = append(l.instances, k)
	}
	for i := 1; i <= o.Directors; i++ {
		h, err := nl.AddHost(fmt.Sprintf("d%d", i), netip.MustParsePrefix(directorAddr(i)+"/24"))
		if err != nil {
			return err
		}
		d := &director{i: i, name: h.Name, host: h, cfg: filepath.Join(dir, h.Name+".hcl"),
			sock: filepath.Join(dir, h.Name+".sock"), state: filepath.Join(dir, h.Name+"-state"),
			prio: map[int]int{}, extra: map[int]bool{}, applied: map[int]bool{}, has: map[int]bool{}, testFault: o.TestFault, tandem: o.Tandem,
			ka: i > o.Directors-o.Keepalived}
		if d.ka {
			d.cfg = filepath.Join(dir, h.Name+".conf")
		}
		for _, k := range l.instances {
			d.prio[k] = 200 - 10*((i-k+o.Directors*8)%o.Directors)
			d.has[k] = true
		}
		if d.svc, err = listenIn(h, servicePort, d.name); err != nil {
			return err
		}
		if d.relay, err = newRelay(nl.Switch(), h.Port(), o.Seed+uint64(i)); err != nil {
			return err
		}
		l.ds = append(l.ds, d)
	}
	for i := 1; i <= 2; i++ {
		h, err := nl.AddHost(fmt.Sprintf("rs%d", i), netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/24", 50+i)))
		if err != nil {
			return err
		}
		rs := &realServer{host: h}
		if err := rs.up(); err != nil {
			return err
		}
		l.rs = append(l.rs, rs)
	}
	for _, d := range l.ds {
		if err := d.write(l, r.o, false); err != nil {
			return err
		}
	}
	if l.client, err = nl.AddHost("client", netip.MustParsePrefix("198.51.100.200/24")); err != nil {
		return err
	}
	if l.attacker, err = nl.AddHost("attacker", netip.MustParsePrefix("198.51.100.201/24")); err != nil {
		return err
	}
	for _, h := range nl.Hosts() {
		if err := h.Do(func() error { return txChecksumOff(netlab.NIC) }); err != nil {
			return fmt.Errorf("chaos: %s: %w", h.Name, err)
		}
	}
	return nil
}

// config renders director d's configuration. bad makes it invalid (a
// priority out of range), for the refused-reload fault.
func (d *director) render(l *lab, o Options, bad bool) string {
	if d.ka {
		return d.renderKeepalived(o)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "global {\n  router_id      = %q\n  control_socket = %q\n  state_dir      = %q\n  metrics_listen = \"127.0.0.1:9100\"\n}\n",
		d.name, d.sock, d.state)
	for k := 1; k <= 9; k++ {
		if !d.has[k] {
			continue
		}
		vips := []string{strconv.Quote(vipOf(k) + "/24")}
		if d.extra[k] {
			vips = append(vips, strconv.Quote(extraVIPOf(k)+"/24"))
		}
		prio := d.prio[k]
		if bad && k == 1 {
			prio = 300
		}
		fmt.Fprintf(&b, `
vrrp_instance "vi%d" {
  interface         = "lan0"
  virtual_router_id = %d
  priority          = %d
  advert_interval   = %q
  virtual_ips       = [%s]
}
`, k, 50+k, prio, o.Interval.String(), strings.Join(vips, ", "))
	}
	fmt.Fprintf(&b, `
virtual_server "web" {
  address    = "%s:80"
  protocol   = "tcp"
  forwarding = "nat"
`, vipOf(1))
	for i := range l.rs {
		fmt.Fprintf(&b, `
  real_server "198.51.100.%d:%d" {
    check "tcp" {
      interval = "300ms"
      timeout  = "200ms"
      rise     = 1
      fall     = 1
    }
  }
`, 51+i, rsPort)
	}
	b.WriteString("}\n")
	return b.String()
}

// renderKeepalived is the same director as keepalived.conf: VRRP only,
// with vrrp_skip_check_adv_addr so that a rolling VIP change works as far
// as keepalived 2.2.7 lets it.
func (d *director) renderKeepalived(o Options) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n  vrrp_skip_check_adv_addr\n}\n", d.name)
	for k := 1; k <= 9; k++ {
		if !d.has[k] {
			continue
		}
		fmt.Fprintf(&b, "\nvrrp_instance vi%d {\n  state BACKUP\n  interface lan0\n  virtual_router_id %d\n  priority %d\n  version 3\n  advert_int %s\n  virtual_ipaddress {\n    %s/24\n",
			k, 50+k, d.prio[k], strconv.FormatFloat(o.Interval.Seconds(), 'f', -1, 64), vipOf(k))
		if d.extra[k] {
			fmt.Fprintf(&b, "    %s/24\n", extraVIPOf(k))
		}
		b.WriteString("  }\n}\n")
	}
	return b.String()
}

func (d *director) write(l *lab, o Options, bad bool) error {
	return os.WriteFile(d.cfg, []byte(d.render(l, o, bad)), 0o644)
}

// start runs tandem (or keepalived) on d.
func (d *director) start() error {
	d.runs++
	name, args := d.tandem, []string{"run", "-c", d.cfg, "--ipvs-memory"}
	if d.testFault != "" {
		args = append(args, "--test-fault", d.testFault)
	}
	if d.ka {
		pid := func(kind string) string {
			return filepath.Join(filepath.Dir(d.cfg), fmt.Sprintf("%s-%s-%d.pid", d.name, kind, d.runs))
		}
		name, args = "keepalived", []string{"-n", "-l", "-D", "-P", "-f", d.cfg,
			"-p", pid("keepalived"), "-r", pid("vrrp"), "-c", pid("checkers"), "-b", pid("bfd")}
	}
	p, err := d.host.Start(name, args...)
	if err != nil {
		return err
	}
	d.proc, d.started, d.paused, d.base = p, time.Now(), false, nil
	d.applied = maps.Clone(d.extra)
	return nil
}

// pids are d's processes: tandem, or keepalived's parent and VRRP child.
func (d *director) pids() []int {
	if d.proc == nil {
		return nil
	}
	if !d.ka {
		return []int{d.proc.Process.Pid}
	}
	pids, _ := d.host.PidsNamed("keepalived")
	return pids
}

// signal sends sig to every process of d.
func (d *director) signal(sig syscall.Signal) {
	for _, pid := range d.pids() {
		syscall.Kill(pid, sig)
	}
}

// crash kills d as a crash would: keepalived's processes are stopped
// first, or its parent would tell the child to resign.
func (d *director) crash() error {
	if d.ka {
		d.signal(syscall.SIGSTOP)
		d.signal(syscall.SIGKILL)
	}
	return d.proc.Kill()
}

// cli runs a tandem client command against d's socket.
func (d *director) cli(args ...string) (string, error) {
	cmd := exec.Command(d.tandem, append(args, "--socket", d.sock)...)
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func (l *lab) startAll() error {
	for _, d := range l.ds {
		if err := d.start(); err != nil {
			return err
		}
	}
	return nil
}

// listenIn serves name over HTTP on port inside h's namespace.
func listenIn(h *netlab.Host, port int, name string) (net.Listener, error) {
	var ln net.Listener
	err := h.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", fmt.Sprintf(":%d", port))
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("chaos: service on %s: %w", h.Name, err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprint(w, name)
	}), ReadHeaderTimeout: time.Second}
	go srv.Serve(ln)
	return ln, nil
}

func (rs *realServer) up() error {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ln != nil {
		return nil
	}
	ln, err := listenIn(rs.host, rsPort, rs.host.Name)
	rs.ln = ln
	return err
}

func (rs *realServer) down() {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	if rs.ln != nil {
		rs.ln.Close()
		rs.ln = nil
	}
}

// vips are the VIPs that every director is configured with now, by
// instance: only those have one rightful holder.
func (l *lab) vips() map[string]int {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string]int{}
	for _, k := range l.instances {
		out[vipOf(k)] = k
		all := true
		for _, d := range l.ds {
			all = all && d.applied[k]
		}
		if all {
			out[extraVIPOf(k)] = k
		}
	}
	return out
}

// expected is the director that must hold instance k's VIPs: the live
// one of highest priority (ties: the higher address, RFC 5798 6.4.3).
func (l *lab) expected(k int) string {
	l.mu.Lock()
	defer l.mu.Unlock()
	best, bestPrio := "", -1
	for _, d := range l.ds {
		if d.proc == nil || d.paused || !d.has[k] {
			continue
		}
		if p := d.prio[k]; p >= bestPrio { // in address order: >= lets the higher address win a tie
			best, bestPrio = d.name, p
		}
	}
	return best
}

func (l *lab) isKeepalived(name string) bool {
	for _, d := range l.ds {
		if d.name == name {
			return d.ka
		}
	}
	return false
}

// holders lists the directors that have vip on lan0.
func (l *lab) holders() (map[string][]string, error) {
	out := map[string][]string{}
	for _, d := range l.ds {
		addrs, err := d.host.Addrs()
		if err != nil {
			return nil, err
		}
		for _, a := range addrs {
			out[a.Addr().String()] = append(out[a.Addr().String()], d.name)
		}
	}
	return out, nil
}

// probe asks every VIP's service from the client every 50 ms and records
// the last answer.
func (l *lab) probe(ctx context.Context) {
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		vips := l.vips()
		l.mu.Lock()
		for vip := range l.probes {
			if _, ok := vips[vip]; !ok {
				delete(l.probes, vip) // gone: if it comes back, it starts afresh
			}
		}
		for vip := range vips {
			if l.probes[vip] == nil {
				// A VIP that every director has only now: its gap counts
				// from here, and no director has answered for it yet.
				l.probes[vip] = &probeState{lastOK: time.Now()}
			}
		}
		l.mu.Unlock()
		var wg sync.WaitGroup
		for vip := range vips {
			wg.Add(1)
			go func() {
				defer wg.Done()
				who, err := l.client.HTTPGet(fmt.Sprintf("%s:%d", vip, servicePort), "/", 300*time.Millisecond)
				if err != nil {
					return
				}
				l.mu.Lock()
				if ps := l.probes[vip]; ps != nil {
					ps.lastOK, ps.who = time.Now(), who
				}
				l.mu.Unlock()
			}()
		}
		wg.Wait()
	}
}

func (l *lab) lastAnswer(vip string) (time.Time, string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if ps := l.probes[vip]; ps != nil {
		return ps.lastOK, ps.who
	}
	return time.Time{}, ""
}

// resources of one tandem process.
type resources struct {
	fds, goroutines int
	rss             int64 // kB
}

func (x resources) String() string {
	return fmt.Sprintf("fds %d goroutines %d rss %d kB", x.fds, x.goroutines, x.rss)
}

func (d *director) measure() (resources, error) {
	var x resources
	pid := d.proc.Process.Pid
	fds, err := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	if err != nil {
		return x, err
	}
	x.fds = len(fds)
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return x, err
	}
	for _, line := range strings.Split(string(st), "\n") {
		if v, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			x.rss, _ = strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")), 10, 64)
		}
	}
	body, err := d.host.HTTPGet("127.0.0.1:9100", "/metrics", time.Second)
	if err != nil {
		return x, err
	}
	for _, line := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(line, "go_goroutines "); ok {
			x.goroutines, _ = strconv.Atoi(strings.TrimSpace(v))
		}
	}
	return x, nil
}

// baselineIfDue takes each running director's resources once it has run
// for a minute (or half the run, for short runs): the end is compared
// with it.
func (l *lab) baselineIfDue(r *run) {
	age := min(time.Minute, r.o.Duration/2)
	for _, d := range l.ds {
		if d.ka || d.proc == nil || d.paused || d.base != nil || time.Since(d.started) < age {
			continue
		}
		if x, err := d.measure(); err == nil {
			d.base = &x
		}
	}
}

// final compares each director's resources with its baseline: fds and
// goroutines within a small tolerance, RSS within 1.5x.
func (l *lab) final(r *run) {
	for _, d := range l.ds {
		if d.proc == nil || d.base == nil {
			continue
		}
		x, err := d.measure()
		if err != nil {
			r.violate(false, fmt.Sprintf("%s: resources unreadable at the end: %v", d.name, err))
			continue
		}
		b := *d.base
		r.rep.Resources = append(r.rep.Resources, fmt.Sprintf("%s: baseline %s, end %s", d.name, b, x))
		if x.fds > b.fds+fdSlack {
			r.violate(false, fmt.Sprintf("%s: fds grew from %d to %d", d.name, b.fds, x.fds))
		}
		if x.goroutines > b.goroutines+goroutineSlack {
			r.violate(false, fmt.Sprintf("%s: goroutines grew from %d to %d", d.name, b.goroutines, x.goroutines))
		}
		if float64(x.rss) > 1.5*float64(b.rss) {
			r.violate(false, fmt.Sprintf("%s: RSS grew from %d kB to %d kB", d.name, b.rss, x.rss))
		}
	}
}

// Tolerances of the end-of-run resource check: a check or a control
// connection in flight holds a few of each.
const (
	fdSlack        = 8
	goroutineSlack = 20
)

// finish stops every director gracefully, checks that nothing is left,
// and removes the lab.
func (r *run) finish() {
	l := r.lab
	if l == nil {
		return
	}
	var pids []int
	for _, d := range l.ds {
		if d.proc == nil {
			continue
		}
		if d.paused {
			d.signal(syscall.SIGCONT)
		}
		pids = append(pids, d.pids()...)
		if err := d.proc.Stop(); err != nil {
			r.violate(false, fmt.Sprintf("%s: stop: %v", d.name, err))
		}
	}
	if h, err := l.holders(); err == nil {
		for vip := range l.vips() {
			if len(h[vip]) > 0 {
				r.violate(false, fmt.Sprintf("after every tandem stopped, %s is still on %v", vip, h[vip]))
			}
		}
	}
	for _, d := range l.ds {
		if _, err := os.Stat(d.sock); err == nil && !d.ka {
			r.violate(false, fmt.Sprintf("%s: control socket %s left behind", d.name, d.sock))
		}
	}
	r.teardown()
	for _, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			r.violate(false, fmt.Sprintf("process %d still runs after the run", pid))
		}
	}
	out, _ := exec.Command("ip", "netns", "list").Output()
	if strings.Contains(string(out), l.nl.Prefix+"-") {
		r.violate(false, "namespaces left behind: "+strings.TrimSpace(string(out)))
	}
}

// teardown removes the lab and its files.
func (r *run) teardown() {
	l := r.lab
	if l == nil {
		return
	}
	for _, d := range l.ds {
		if d.svc != nil {
			d.svc.Close()
		}
		if d.relay != nil {
			d.relay.close()
		}
	}
	for _, rs := range l.rs {
		rs.down()
	}
	l.nl.Close()
	os.RemoveAll(l.dir)
}
