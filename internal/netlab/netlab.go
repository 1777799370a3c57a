//go:build linux

package netlab

import (
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

const (
	// NIC is the name of each host's interface. It does not exist in the
	// root namespace, so a process started there by mistake finds nothing.
	NIC = "lan0"
	// Bridge is the switch's bridge inside the switch namespace.
	Bridge = "br0"
	// netnsDir is where `ip netns` keeps named namespaces.
	netnsDir = "/run/netns"
	// DefaultGrace is how long Close waits after SIGTERM before SIGKILL.
	DefaultGrace = 2 * time.Second
)

var (
	prefixRE = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$`)
	// Host names have no '-', so "<prefix>-<host>" parses back unambiguously
	// and Sweep(p) never matches a lab whose prefix merely starts with p.
	hostRE = regexp.MustCompile(`^[a-z0-9_]{1,15}$`)

	// Prefixes of open labs in this process: a second lab with the same
	// prefix would sweep the first one's namespaces.
	liveMu sync.Mutex
	live   = map[string]bool{}
)

// Allowed address ranges: documentation prefixes and link-local only, never
// the machine's own networks.
var allowed = []netip.Prefix{
	netip.MustParsePrefix("198.51.100.0/24"),
	netip.MustParsePrefix("203.0.113.0/24"),
	netip.MustParsePrefix("2001:db8::/32"),
	netip.MustParsePrefix("fe80::/10"),
}

// Allowed reports whether p lies inside the ranges a lab may use
// (198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32, fe80::/10).
func Allowed(p netip.Prefix) bool {
	for _, a := range allowed {
		if a.Bits() <= p.Bits() && a.Contains(p.Addr()) {
			return true
		}
	}
	return false
}

// Lab is a switch namespace and the hosts attached to it.
type Lab struct {
	Prefix string
	// Grace is how long Close waits for processes after SIGTERM.
	Grace time.Duration
	// Dir receives the output of started processes: t.TempDir() under
	// NewT, else a temporary directory made by the first Start that Close
	// removes.
	Dir string

	sw *Host

	mu     sync.Mutex
	hosts  []*Host
	procs  []*Proc
	ownDir bool
	macs   int // hosts ever added, for their MACs
	closed bool
}

// New makes a lab whose namespaces are "<prefix>-sw" and "<prefix>-<host>".
// The switch namespace holds bridge br0, up, with multicast snooping off so
// that VRRP multicast floods to every port, and IPv6 off so that the switch
// itself sends nothing.
func New(prefix string) (l *Lab, err error) {
	if !prefixRE.MatchString(prefix) {
		return nil, fmt.Errorf("netlab: bad prefix %q: use letters, digits, '_', '.', '-' (at most 64)", prefix)
	}
	liveMu.Lock()
	if live[prefix] {
		liveMu.Unlock()
		return nil, fmt.Errorf("netlab: a lab with prefix %q is already open in this process", prefix)
	}
	live[prefix] = true
	liveMu.Unlock()

	l = &Lab{Prefix: prefix, Grace: DefaultGrace}
	l.sw = &Host{lab: l, Name: "sw", NS: prefix + "-sw", NIC: Bridge, fd: -1}
	defer func() {
		if err != nil {
			_ = l.Close()
			l = nil
		}
	}()
	if err := l.sw.open(); err != nil {
		return l, err
	}
	err = l.sw.Do(func() error {
		return sysctls(map[string]string{
			"net/ipv6/conf/all/disable_ipv6":     "1",
			"net/ipv6/conf/default/disable_ipv6": "1",
		})
	})
	if err != nil {
		return l, fmt.Errorf("netlab: switch sysctls: %w", err)
	}
	off := false
	br := &netlink.Bridge{LinkAttrs: netlink.NewLinkAttrs(), MulticastSnooping: &off}
	br.Name = Bridge
	if err := l.sw.nl.LinkAdd(br); err != nil { // not shared yet
		return l, fmt.Errorf("netlab: add %s in %s: %w", Bridge, l.sw.NS, err)
	}
	for _, name := range []string{"lo", Bridge} {
		if err := l.sw.setUp(name, true); err != nil {
			return l, err
		}
	}
	return l, nil
}

// NewT is New with a prefix made from t.Name() and the process id, and
// Close registered with t.Cleanup. When the test has failed, the output of
// every process started with Host.Start is logged after Close.
func NewT(t testing.TB) *Lab {
	t.Helper()
	staleOnce.Do(sweepStale)
	base := testPrefix(t.Name(), os.Getpid())
	var (
		l   *Lab
		err error
	)
	for i := 1; i <= 100; i++ {
		p := base
		if i > 1 {
			p = fmt.Sprintf("%s-%d", base, i)
		}
		liveMu.Lock()
		taken := live[p]
		liveMu.Unlock()
		if taken {
			continue
		}
		if err = Sweep(p); err != nil {
			t.Fatalf("netlab: removing leftovers of %s: %v", p, err)
		}
		l, err = New(p)
		break
	}
	if l == nil {
		t.Fatalf("netlab: %v", err)
	}
	// Before Close is registered, so the directory outlives it.
	l.Dir = t.TempDir()
	t.Cleanup(func() {
		if err := l.Close(); err != nil {
			t.Errorf("netlab: close: %v", err)
		}
		if t.Failed() {
			l.logOutputs(t)
		}
	})
	return l
}

// testPrefix keeps names readable but bounded; a hash keeps long test names
// that share a beginning apart.
func testPrefix(name string, pid int) string {
	var b strings.Builder
	for _, r := range name {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
			b.WriteRune(r)
		default:
			b.WriteByte('_')
		}
	}
	s := b.String()
	if len(s) > 20 {
		h := fnv.New32a()
		h.Write([]byte(name))
		s = fmt.Sprintf("%s%06x", s[:14], h.Sum32()&0xffffff)
	}
	return fmt.Sprintf("tl-%s-%d", s, pid)
}

var (
	staleOnce sync.Once
	// "tl-<test>-<pid>[-<n>]-<host>", as NewT names them.
	testNSRE = regexp.MustCompile(`^(tl-[A-Za-z0-9_]+-([0-9]+)(?:-[0-9]+)?)-[a-z0-9_]{1,15}$`)
)

// sweepStale removes labs of test processes that no longer exist (killed by
// a timeout, say, before their Cleanup ran). Labs of live processes stay.
func sweepStale() {
	ents, err := os.ReadDir(netnsDir)
	if err != nil {
		return
	}
	done := map[string]bool{}
	for _, e := range ents {
		m := testNSRE.FindStringSubmatch(e.Name())
		if m == nil || done[m[1]] {
			continue
		}
		done[m[1]] = true
		if _, err := os.Stat("/proc/" + m[2]); errors.Is(err, os.ErrNotExist) {
			_ = Sweep(m[1])
		}
	}
}

func (l *Lab) logOutputs(t testing.TB) {
	l.mu.Lock()
	procs := append([]*Proc(nil), l.procs...)
	l.mu.Unlock()
	// The head says how a story began (a loop that then fills the log
	// hides it), the tail how it ended.
	const head, tail = 4 << 10, 12 << 10
	for _, p := range procs {
		out := p.Output()
		if len(out) > head+tail {
			out = fmt.Sprintf("%s\n[... %d bytes ...]\n%s", out[:head], len(out)-head-tail, out[len(out)-tail:])
		}
		t.Logf("netlab: %s: %s:\n%s", p.Host.Name, strings.Join(p.Args[4:], " "), out)
	}
}

// Switch returns the switch namespace as a Host, to run tcpdump on br0 or
// look at the bridge. It has no port: PortDown and the like fail.
func (l *Lab) Switch() *Host { return l.sw }

// Hosts returns the hosts added so far.
func (l *Lab) Hosts() []*Host {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]*Host(nil), l.hosts...)
}

// AddHost makes namespace "<prefix>-<name>" with lo up, IPv6 DAD off, and
// lan0 attached to br0 through a switch port named name; the addresses go on
// lan0 and everything is brought up. Addresses must lie in the ranges that
// Allowed accepts.
func (l *Lab) AddHost(name string, addrs ...netip.Prefix) (*Host, error) {
	if !hostRE.MatchString(name) || name == "sw" || name == "lo" || name == Bridge {
		return nil, fmt.Errorf("netlab: bad host name %q: use 1-15 of a-z, 0-9, '_' (not sw, lo, %s)", name, Bridge)
	}
	for _, a := range addrs {
		if !a.IsValid() || !Allowed(a) {
			return nil, fmt.Errorf("netlab: host %s: address %v is outside 198.51.100.0/24, 203.0.113.0/24, 2001:db8::/32 and fe80::/10", name, a)
		}
	}
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil, errors.New("netlab: lab is closed")
	}
	for _, h := range l.hosts {
		if h.Name == name {
			l.mu.Unlock()
			return nil, fmt.Errorf("netlab: host %s exists", name)
		}
	}
	l.macs++
	h := &Host{
		lab:   l,
		fd:    -1,
		Name:  name,
		NS:    l.Prefix + "-" + name,
		NIC:   NIC,
		port:  name,
		mac:   net.HardwareAddr{0x02, 0x74, 0x6e, 0, byte(l.macs >> 8), byte(l.macs)},
		addrs: append([]netip.Prefix(nil), addrs...),
	}
	// Registered before anything exists, so Close removes it even if this
	// call is interrupted.
	l.hosts = append(l.hosts, h)
	l.mu.Unlock()
	if err := l.buildHost(h); err != nil {
		h.close()
		if h.created {
			err = errors.Join(err, deleteNS(h.NS))
		}
		l.mu.Lock()
		l.hosts = slices.DeleteFunc(l.hosts, func(x *Host) bool { return x == h })
		l.mu.Unlock()
		return nil, err
	}
	return h, nil
}

func (l *Lab) buildHost(h *Host) error {
	if err := h.open(); err != nil {
		return err
	}
	// Before lan0 arrives: a moved-in device takes its settings from
	// "default", and "all" must agree for DAD to be skipped.
	err := h.Do(func() error {
		return sysctls(map[string]string{
			"net/ipv6/conf/all/accept_dad":        "0",
			"net/ipv6/conf/default/accept_dad":    "0",
			"net/ipv6/conf/all/dad_transmits":     "0",
			"net/ipv6/conf/default/dad_transmits": "0",
		})
	})
	if err != nil {
		return fmt.Errorf("netlab: host %s sysctls: %w", h.Name, err)
	}
	if err := l.addPort(h); err != nil {
		return err
	}
	if err := h.addAddrs(); err != nil {
		return err
	}
	for _, step := range []func() error{
		func() error { return h.setUp("lo", true) },
		func() error { return h.setUp(NIC, true) },
		func() error { return l.sw.setUp(h.port, true) },
	} {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

// addPort makes the veth inside the switch namespace and moves the far end
// straight into the host: no interface ever exists in the root namespace.
func (l *Lab) addPort(h *Host) error {
	nl, release, err := l.sw.nlh()
	if err != nil {
		return err
	}
	defer release()
	br, err := nl.LinkByName(Bridge)
	if err != nil {
		return fmt.Errorf("netlab: %s in %s: %w", Bridge, l.sw.NS, err)
	}
	veth := &netlink.Veth{
		LinkAttrs:        netlink.NewLinkAttrs(),
		PeerName:         NIC,
		PeerHardwareAddr: h.mac,
		PeerNamespace:    netlink.NsFd(h.fd),
	}
	veth.Name = h.port
	veth.MasterIndex = br.Attrs().Index
	if err := nl.LinkAdd(veth); err != nil {
		return fmt.Errorf("netlab: add port %s (peer %s in %s): %w", h.port, NIC, h.NS, err)
	}
	return nil
}

// MustAddHost is AddHost that fails t on error.
func (l *Lab) MustAddHost(t testing.TB, name string, addrs ...string) *Host {
	t.Helper()
	ps := make([]netip.Prefix, 0, len(addrs))
	for _, a := range addrs {
		p, err := netip.ParsePrefix(a)
		if err != nil {
			t.Fatalf("netlab: host %s: %v", name, err)
		}
		ps = append(ps, p)
	}
	h, err := l.AddHost(name, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Close stops every process in the lab's namespaces (SIGTERM, SIGKILL after
// Grace) and deletes the namespaces. Calling it again does nothing.
func (l *Lab) Close() error {
	l.mu.Lock()
	if l.closed {
		l.mu.Unlock()
		return nil
	}
	l.closed = true
	hosts := append([]*Host{l.sw}, l.hosts...)
	procs := append([]*Proc(nil), l.procs...)
	l.mu.Unlock()

	var names []string
	for _, h := range hosts {
		if h.created {
			names = append(names, h.NS)
		}
	}
	errs := []error{stopProcesses(names, l.Grace)}
	// Reap what we started so its output is complete.
	for _, p := range procs {
		select {
		case <-p.done:
		case <-time.After(time.Second):
		}
		p.keep()
	}
	l.mu.Lock()
	if l.ownDir {
		errs = append(errs, os.RemoveAll(l.Dir))
	}
	l.mu.Unlock()
	for _, h := range hosts {
		h.close()
		if h.created {
			errs = append(errs, deleteNS(h.NS))
		}
	}
	liveMu.Lock()
	delete(live, l.Prefix)
	liveMu.Unlock()
	return errors.Join(errs...)
}

// Sweep deletes the namespaces a lab with this prefix left behind (a killed
// test or demo) after stopping the processes in them. Only "<prefix>-sw" and
// "<prefix>-<host>" match, never a lab whose prefix merely starts with prefix.
func Sweep(prefix string) error {
	if !prefixRE.MatchString(prefix) {
		return fmt.Errorf("netlab: bad prefix %q", prefix)
	}
	liveMu.Lock()
	open := live[prefix]
	liveMu.Unlock()
	if open {
		return fmt.Errorf("netlab: lab %q is open in this process; Close it instead", prefix)
	}
	ents, err := os.ReadDir(netnsDir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("netlab: %w", err)
	}
	var names []string
	for _, e := range ents {
		rest, ok := strings.CutPrefix(e.Name(), prefix+"-")
		if ok && hostRE.MatchString(rest) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil
	}
	errs := []error{stopProcesses(names, time.Second)}
	for _, n := range names {
		errs = append(errs, deleteNS(n))
	}
	return errors.Join(errs...)
}

// createNS uses ip(8) so that the namespace is set up exactly as
// `ip netns exec` expects it.
func createNS(name string) error {
	out, err := exec.Command("ip", "netns", "add", name).CombinedOutput()
	if err != nil {
		hint := ""
		if strings.Contains(string(out), "File exists") {
			hint = " (left by an earlier run? remove it with netlab.Sweep or ip netns del)"
		}
		return fmt.Errorf("netlab: ip netns add %s: %w: %s%s", name, err, strings.TrimSpace(string(out)), hint)
	}
	return nil
}

// deleteNS is what `ip netns del` does. The kernel frees the namespace and
// its interfaces once no process or open handle holds it any more.
func deleteNS(name string) error {
	p := filepath.Join(netnsDir, name)
	if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("netlab: unmount %s: %w", p, err)
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("netlab: %w", err)
	}
	return nil
}

// sysctls writes /proc/sys entries; called inside a namespace (Do), where
// /proc/sys/net is that namespace's.
func sysctls(kv map[string]string) error {
	for k, v := range kv {
		if err := os.WriteFile(filepath.Join("/proc/sys", k), []byte(v), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// nsHandle opens a namespace by name.
func nsHandle(name string) (netns.NsHandle, error) {
	return netns.GetFromPath(filepath.Join(netnsDir, name))
}
