package main

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// vrrpOptions: N instances spread over links interfaces of a master and a
// backup, adverts every interval, CPU counted over window once settled.
type vrrpOptions struct {
	instances, links int
	interval         time.Duration
	window, settle   time.Duration
	rounds           int
	keepalived       bool
	before           string // another tandem binary (main's) to run too, as "before"
}

// vrrpNode is one daemon of the pair.
type vrrpNode struct {
	host *netlab.Host
	proc *netlab.Proc
}

// cpu is the CPU time of the processes in the node's namespace: the
// daemon and, for keepalived, its VRRP child.
func (n *vrrpNode) cpu() time.Duration { return n.host.CPU() }

// vrrpLab: hosts m (.11) and b (.12) on one switch; with links > 1 each
// also has interfaces vl1.., 10.<k>.0.0/24, on bridges br1.. of the
// switch namespace (veth pairs made there, the far end moved).
type vrrpLab struct {
	lab  *netlab.Lab
	m, b *netlab.Host
	nics []string
}

func newVRRPLab(links int) (l *vrrpLab, err error) {
	lab, err := netlab.New(fmt.Sprintf("tsv-%d", os.Getpid()))
	if err != nil {
		return nil, err
	}
	l = &vrrpLab{lab: lab, nics: []string{netlab.NIC}}
	defer func() {
		if err != nil {
			lab.Close()
		}
	}()
	if l.m, err = lab.AddHost("m", netip.MustParsePrefix("198.51.100.11/24")); err != nil {
		return nil, err
	}
	if l.b, err = lab.AddHost("b", netip.MustParsePrefix("198.51.100.12/24")); err != nil {
		return nil, err
	}
	ip := func(h *netlab.Host, args ...string) error {
		if out, err := h.Run("ip", args...); err != nil {
			return fmt.Errorf("ip %s in %s: %w: %s", strings.Join(args, " "), h.NS, err, out)
		}
		return nil
	}
	sw := lab.Switch()
	for k := 1; k < links; k++ {
		name, br := fmt.Sprintf("vl%d", k), fmt.Sprintf("br%d", k)
		l.nics = append(l.nics, name)
		if err := ip(sw, "link", "add", br, "type", "bridge", "mcast_snooping", "0"); err != nil {
			return nil, err
		}
		if err := ip(sw, "link", "set", br, "up"); err != nil {
			return nil, err
		}
		for last, h := range []*netlab.Host{l.m, l.b} {
			port := fmt.Sprintf("%s-%s", h.Name, name)
			for _, args := range [][]string{
				{"link", "add", port, "type", "veth", "peer", "name", name},
				{"link", "set", name, "netns", h.NS},
				{"link", "set", port, "master", br, "up"},
			} {
				if err := ip(sw, args...); err != nil {
					return nil, err
				}
			}
			if err := ip(h, "addr", "add", fmt.Sprintf("10.%d.0.%d/24", k, 11+last), "dev", name); err != nil {
				return nil, err
			}
			if err := ip(h, "link", "set", name, "up"); err != nil {
				return nil, err
			}
		}
	}
	return l, nil
}

// each calls f for instance j: its interface, VRID and VIP.
func (l *vrrpLab) each(o vrrpOptions, f func(j int, nic string, vrid int, vip string)) {
	per := (o.instances + o.links - 1) / o.links
	for j := range o.instances {
		k, v := j/per, j%per+1
		f(j, l.nics[k], v, fmt.Sprintf("10.%d.%d.%d/32", 100+k, v/250, v%250+1))
	}
}

func (l *vrrpLab) tandemConf(dir, name string, prio int, o vrrpOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global {\n  router_id = %q\n  control_socket = %q\n}\n", name, filepath.Join(dir, name+".sock"))
	l.each(o, func(j int, nic string, vrid int, vip string) {
		fmt.Fprintf(&b, "vrrp_instance \"vi%d\" {\n  interface = %q\n  virtual_router_id = %d\n  priority = %d\n  version = 3\n  advert_interval = %q\n  virtual_ips = [%q]\n}\n",
			j, nic, vrid, prio, o.interval.String(), vip)
	})
	return b.String()
}

func (l *vrrpLab) keepalivedConf(name string, prio int, o vrrpOptions) string {
	var b strings.Builder
	fmt.Fprintf(&b, "global_defs {\n  router_id %s\n  vrrp_skip_check_adv_addr\n}\n", name)
	l.each(o, func(j int, nic string, vrid int, vip string) {
		fmt.Fprintf(&b, "vrrp_instance vi%d {\n  state BACKUP\n  interface %s\n  virtual_router_id %d\n  priority %d\n  version 3\n  advert_int %s\n  virtual_ipaddress {\n    %s\n  }\n}\n",
			j, nic, vrid, prio, strconv.FormatFloat(o.interval.Seconds(), 'f', -1, 64), vip)
	})
	return b.String()
}

// vips counts the host's addresses in 10.100.0.0/14 (the VIPs), on any
// of its interfaces.
func vips(h *netlab.Host) int {
	out, _ := h.Run("ip", "-o", "-4", "addr", "show")
	n := 0
	for line := range strings.Lines(out) {
		f := strings.Fields(line)
		if len(f) < 4 {
			continue
		}
		if p, err := netip.ParsePrefix(f[3]); err == nil && netip.MustParsePrefix("10.100.0.0/14").Contains(p.Addr()) {
			n++
		}
	}
	return n
}

// pairRun starts impl's master and backup, waits until the master holds
// every VIP and the backup none, lets it settle and returns the CPU of
// each over the window, in permille of one core.
func (l *vrrpLab) pairRun(impl, bin, dir string, o vrrpOptions) (master, backup float64, err error) {
	var nodes []*vrrpNode
	defer func() {
		for _, n := range nodes {
			n.proc.Stop()
		}
		// keepalived's VRRP child goes with its parent; wait for it.
		for _, h := range []*netlab.Host{l.m, l.b} {
			for range 50 {
				if pids, _ := h.Pids(); len(pids) == 0 {
					break
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
	}()
	for r, h := range []*netlab.Host{l.m, l.b} {
		prio := 200 - 100*r
		var p *netlab.Proc
		switch impl {
		case "tandem", "before":
			cfg := filepath.Join(dir, h.Name+".hcl")
			if err := os.WriteFile(cfg, []byte(l.tandemConf(dir, h.Name, prio, o)), 0o644); err != nil {
				return 0, 0, err
			}
			p, err = h.Start(bin, "run", "-c", cfg)
		case "keepalived":
			cfg := filepath.Join(dir, h.Name+".conf")
			if err := os.WriteFile(cfg, []byte(l.keepalivedConf(h.Name, prio, o)), 0o644); err != nil {
				return 0, 0, err
			}
			pid := func(k string) string { return filepath.Join(dir, h.Name+"-"+k+".pid") }
			p, err = h.Start("keepalived", "-n", "-l", "-G", "-P", "-f", cfg,
				"-p", pid("main"), "-r", pid("vrrp"), "-c", pid("check"), "-b", pid("bfd"))
		}
		if err != nil {
			return 0, 0, err
		}
		nodes = append(nodes, &vrrpNode{host: h, proc: p})
	}
	deadline := time.Now().Add(60 * time.Second)
	for vips(l.m) != o.instances || vips(l.b) != 0 {
		if time.Now().After(deadline) {
			return 0, 0, fmt.Errorf("%s: not settled after 60 s: master holds %d VIPs, backup %d, want %d and 0\n%s",
				impl, vips(l.m), vips(l.b), o.instances, tail(nodes[0].proc.Output()))
		}
		for _, n := range nodes {
			select {
			case <-n.proc.Done():
				return 0, 0, fmt.Errorf("%s in %s exited: %s", impl, n.host.Name, tail(n.proc.Output()))
			default:
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	time.Sleep(o.settle)
	m0, b0, t0 := nodes[0].cpu(), nodes[1].cpu(), time.Now()
	time.Sleep(o.window)
	m1, b1, t1 := nodes[0].cpu(), nodes[1].cpu(), time.Now()
	if vips(l.m) != o.instances || vips(l.b) != 0 {
		return 0, 0, fmt.Errorf("%s: unstable during the window: master holds %d VIPs, backup %d; the backup's log ends:\n%s",
			impl, vips(l.m), vips(l.b), tail(nodes[1].proc.Output()))
	}
	pm := func(d time.Duration) float64 { return 1000 * float64(d) / float64(t1.Sub(t0)) }
	return pm(m1 - m0), pm(b1 - b0), nil
}

func tail(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	return strings.Join(lines[max(0, len(lines)-15):], "\n")
}

// vrrpBench runs the pairs in alternating rounds (which goes first
// alternates too) and prints each round and the medians.
func vrrpBench(tandem, dir string, o vrrpOptions) error {
	impls := []string{"tandem"}
	if o.before != "" {
		impls = append(impls, "before")
	}
	if o.keepalived {
		impls = append(impls, "keepalived")
	}
	bins := map[string]string{"tandem": tandem, "before": o.before}
	l, err := newVRRPLab(o.links)
	if err != nil {
		return err
	}
	defer l.lab.Close()
	fmt.Printf("VRRP: %d instances on %d interface(s), v3 every %v; CPU over %v after %v settled, permille of one core (%s)\n",
		o.instances, o.links, o.interval, o.window, o.settle, time.Now().UTC().Format("2006-01-02"))
	res := map[string][2][]float64{}
	for r := range o.rounds {
		order := slices.Clone(impls)
		if r%2 == 1 {
			slices.Reverse(order)
		}
		for _, impl := range order {
			m, b, err := l.pairRun(impl, bins[impl], dir, o)
			if err != nil {
				// Said, and the round goes on: a pair that cannot hold
				// this many instances is a result too.
				fmt.Printf("  round %d %-10s failed: %v\n", r+1, impl, err)
				continue
			}
			x := res[impl]
			x[0], x[1] = append(x[0], m), append(x[1], b)
			res[impl] = x
			fmt.Printf("  round %d %-10s master %6.1f  backup %6.1f  sum %6.1f\n", r+1, impl, m, b, m+b)
		}
	}
	med := func(xs []float64) float64 {
		if len(xs) == 0 {
			return 0
		}
		s := slices.Clone(xs)
		slices.Sort(s)
		return s[len(s)/2]
	}
	sum := func(impl string) float64 {
		x := res[impl]
		s := make([]float64, len(x[0]))
		for i := range s {
			s[i] = x[0][i] + x[1][i]
		}
		return med(s)
	}
	fmt.Printf("%-10s %8s %8s %8s\n", "median", "master", "backup", "sum")
	for _, impl := range impls {
		fmt.Printf("%-10s %8.1f %8.1f %8.1f\n", impl, med(res[impl][0]), med(res[impl][1]), sum(impl))
	}
	if o.keepalived && sum("keepalived") > 0 {
		fmt.Printf("ratio tandem/keepalived (sum): %.2f\n", sum("tandem")/sum("keepalived"))
		if o.before != "" {
			fmt.Printf("ratio before/keepalived (sum): %.2f\n", sum("before")/sum("keepalived"))
		}
	}
	return nil
}
