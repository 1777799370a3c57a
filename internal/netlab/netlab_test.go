//go:build linux

package netlab

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/vishvananda/netlink"
)

func need(t *testing.T, cmds ...string) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	for _, c := range cmds {
		testenv.NeedCommand(t, c)
	}
}

// pair makes hosts a (.1, ::1) and b (.2, ::2).
func pair(t *testing.T) (*Lab, *Host, *Host) {
	l := NewT(t)
	a := l.MustAddHost(t, "a", "198.51.100.1/24", "2001:db8::1/64")
	b := l.MustAddHost(t, "b", "198.51.100.2/24", "2001:db8::2/64")
	return l, a, b
}

func ping(h *Host, to string, wait string) error {
	_, err := h.Run("ping", "-n", "-c1", "-W", wait, to)
	return err
}

// eventually retries f for up to d.
func eventually(d time.Duration, f func() error) error {
	deadline := time.Now().Add(d)
	for {
		err := f()
		if err == nil || time.Now().After(deadline) {
			return err
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func TestPing(t *testing.T) {
	need(t, "ping")
	t.Parallel()
	_, a, b := pair(t)
	for _, c := range []struct {
		from *Host
		to   string
	}{{a, "198.51.100.2"}, {b, "198.51.100.1"}, {a, "2001:db8::2"}, {b, "2001:db8::1"}} {
		if err := ping(c.from, c.to, "2"); err != nil {
			t.Error(err)
		}
	}
}

func TestNeighbor(t *testing.T) {
	need(t, "ping")
	t.Parallel()
	_, a, b := pair(t)
	for _, ip := range []string{"198.51.100.2", "2001:db8::2"} {
		addr := netip.MustParseAddr(ip)
		if _, err := a.Neighbor(addr); !errors.Is(err, ErrNoNeighbor) {
			t.Errorf("Neighbor(%s) before any traffic: err %v, want ErrNoNeighbor", ip, err)
		}
		if err := ping(a, ip, "2"); err != nil {
			t.Fatal(err)
		}
		mac, err := a.Neighbor(addr)
		if err != nil {
			t.Fatal(err)
		}
		if mac.String() != b.MAC().String() {
			t.Errorf("a's entry for %s is %s, want b's MAC %s", ip, mac, b.MAC())
		}
	}
}

func TestPortDown(t *testing.T) {
	need(t, "ping")
	t.Parallel()
	_, a, b := pair(t)
	if err := ping(a, "198.51.100.2", "2"); err != nil {
		t.Fatal(err)
	}
	if err := b.PortDown(); err != nil {
		t.Fatal(err)
	}
	if err := ping(a, "198.51.100.2", "0.3"); err == nil {
		t.Error("ping got through a port that is down")
	}
	if err := b.PortUp(); err != nil {
		t.Fatal(err)
	}
	if err := eventually(3*time.Second, func() error { return ping(a, "198.51.100.2", "0.3") }); err != nil {
		t.Errorf("no ping after PortUp: %v", err)
	}
}

func TestLinkDownUpKeepsAddresses(t *testing.T) {
	need(t, "ping")
	t.Parallel()
	_, a, b := pair(t)
	if err := b.LinkDown(); err != nil {
		t.Fatal(err)
	}
	if err := ping(a, "2001:db8::2", "0.3"); err == nil {
		t.Error("ping got through a link that is down")
	}
	if err := b.LinkUp(); err != nil {
		t.Fatal(err)
	}
	got, err := b.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range b.Prefixes() {
		if !slices.Contains(got, p) {
			t.Errorf("after LinkUp, %v missing from %v", p, got)
		}
	}
	if err := eventually(3*time.Second, func() error { return ping(a, "2001:db8::2", "0.3") }); err != nil {
		t.Errorf("no ping after LinkUp: %v", err)
	}
}

func TestAddrs(t *testing.T) {
	need(t)
	t.Parallel()
	l := NewT(t)
	h := l.MustAddHost(t, "h", "203.0.113.5/24", "2001:db8:1::5/64")
	got, err := h.Addrs()
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"203.0.113.5/24", "2001:db8:1::5/64"} {
		if !slices.Contains(got, netip.MustParsePrefix(want)) {
			t.Errorf("Addrs() = %v, missing %s", got, want)
		}
	}
	hasLL := slices.ContainsFunc(got, func(p netip.Prefix) bool { return p.Addr().IsLinkLocalUnicast() })
	if !hasLL {
		t.Errorf("Addrs() = %v, no link-local address", got)
	}
}

func TestAddHostRejects(t *testing.T) {
	need(t)
	t.Parallel()
	l := NewT(t)
	for _, c := range []struct{ name, addr string }{
		{"x", "192.0.2.9/24"},
		{"x", "fd00::9/64"},
		{"x", "10.0.0.1/8"},
		{"x", "198.51.0.0/16"}, // wider than the allowed /24
		{"sw", "198.51.100.9/24"},
		{"has-dash", "198.51.100.9/24"},
		{"muchtoolongname1", "198.51.100.9/24"},
	} {
		if _, err := l.AddHost(c.name, netip.MustParsePrefix(c.addr)); err == nil {
			t.Errorf("AddHost(%q, %s) succeeded", c.name, c.addr)
		}
	}
	if _, err := os.Stat("/run/netns/" + l.Prefix + "-x"); !os.IsNotExist(err) {
		t.Errorf("a rejected host left a namespace behind: %v", err)
	}
	l.MustAddHost(t, "ok")
	if _, err := l.AddHost("ok"); err == nil {
		t.Error("a second host with the same name was accepted")
	}

	// A namespace the lab did not make is neither used nor removed.
	foreign := l.Prefix + "-foreign"
	if err := createNS(foreign); err != nil {
		t.Fatal(err)
	}
	defer deleteNS(foreign)
	if _, err := l.AddHost("foreign"); err == nil || !strings.Contains(err.Error(), "earlier run") {
		t.Errorf("AddHost over an existing namespace: err %v, want a hint about leftovers", err)
	}
	if _, err := os.Stat("/run/netns/" + foreign); err != nil {
		t.Errorf("the failed AddHost removed a namespace it did not make: %v", err)
	}
	if len(l.Hosts()) != 1 {
		t.Errorf("Hosts() = %v after failed AddHosts, want only ok", l.Hosts())
	}
}

func TestDo(t *testing.T) {
	need(t)
	t.Parallel()
	l := NewT(t)
	h := l.MustAddHost(t, "h", "198.51.100.7/24")
	var names []string
	err := h.Do(func() error {
		ifs, err := net.Interfaces()
		for _, i := range ifs {
			names = append(names, i.Name)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"lan0", "lo"}) {
		t.Errorf("interfaces in the namespace: %v, want [lan0 lo]", names)
	}
	if _, err := net.InterfaceByName("lan0"); err == nil {
		t.Error("lan0 is visible in the root namespace after Do")
	}
	sentinel := errors.New("x")
	if err := h.Do(func() error { return sentinel }); err != sentinel {
		t.Errorf("Do returned %v, want fn's error", err)
	}
}

func TestStartOutput(t *testing.T) {
	need(t)
	t.Parallel()
	l := NewT(t)
	h := l.MustAddHost(t, "h")
	p, err := h.Start("sh", "-c", "echo out; echo err >&2; cat /sys/class/net/lan0/address")
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Wait(); err != nil {
		t.Fatalf("%v: %s", err, p.Output())
	}
	// /sys is the namespace's: ip netns exec remounts it.
	for _, want := range []string{"out\n", "err\n", h.MAC().String()} {
		if !strings.Contains(p.Output(), want) {
			t.Errorf("output %q lacks %q", p.Output(), want)
		}
	}
}

// Close stops processes however they were started and removes every
// namespace.
func TestCloseKillsAndDeletes(t *testing.T) {
	need(t, "sleep")
	t.Parallel()
	l, err := New(testPrefix(t.Name(), os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	h, err := l.AddHost("h", netip.MustParsePrefix("198.51.100.1/24"))
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.Start("sleep", "300")
	if err != nil {
		t.Fatal(err)
	}
	raw := h.Command("sleep", "300")
	if err := raw.Start(); err != nil {
		t.Fatal(err)
	}
	// ip(8) enters the namespace just after Start returns.
	err = eventually(2*time.Second, func() error {
		if pids, err := h.Pids(); err != nil || len(pids) != 2 {
			return fmt.Errorf("Pids() = %v, %v; want the two sleeps", pids, err)
		}
		return nil
	})
	if err != nil {
		t.Error(err)
	}
	// Not yet in the namespace when Close starts.
	late := h.Command("sleep", "300")
	if err := late.Start(); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Close took %v for processes that die on SIGTERM", d)
	}
	select {
	case <-p.Done():
	default:
		t.Error("Start'ed sleep still running after Close")
	}
	if err := raw.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("Command'ed sleep: Wait() = %v, want killed by SIGTERM", err)
	}
	if err := late.Wait(); err == nil || !strings.Contains(err.Error(), "terminated") {
		t.Errorf("sleep started just before Close: Wait() = %v, want killed by SIGTERM", err)
	}
	for _, ns := range []string{h.NS, l.Prefix + "-sw"} {
		if _, err := os.Stat("/run/netns/" + ns); !os.IsNotExist(err) {
			t.Errorf("namespace %s still there after Close (%v)", ns, err)
		}
	}
	if err := l.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}

// Sweep cleans up after a run that never closed its lab, and leaves a lab
// whose prefix only starts with the swept one alone.
func TestSweep(t *testing.T) {
	need(t, "sleep")
	t.Parallel()
	prefix := testPrefix(t.Name(), os.Getpid())
	left, err := New(prefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { left.Close() })
	h, err := left.AddHost("h")
	if err != nil {
		t.Fatal(err)
	}
	sleeper := h.Command("sleep", "300")
	if err := sleeper.Start(); err != nil {
		t.Fatal(err)
	}
	other, err := New(prefix + "-x")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if _, err := other.AddHost("h"); err != nil {
		t.Fatal(err)
	}

	if err := Sweep(other.Prefix); err == nil {
		t.Error("Sweep of a lab open in this process succeeded")
	}
	if err := Sweep(prefix); err == nil {
		t.Error("Sweep of a lab open in this process succeeded")
	}
	liveMu.Lock()
	delete(live, prefix) // as if this process had died
	liveMu.Unlock()
	if err := Sweep(prefix); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{prefix + "-sw", prefix + "-h"} {
		if _, err := os.Stat("/run/netns/" + ns); !os.IsNotExist(err) {
			t.Errorf("%s survived Sweep (%v)", ns, err)
		}
	}
	if err := sleeper.Wait(); err == nil {
		t.Error("the sleep in the swept lab exited cleanly; want killed")
	}
	for _, ns := range []string{prefix + "-x-sw", prefix + "-x-h"} {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			t.Errorf("Sweep(%q) removed %s: %v", prefix, ns, err)
		}
	}
	if err := left.Close(); err != nil {
		t.Errorf("Close after Sweep: %v", err)
	}
}

// Nothing in the root namespace changes while a lab lives or after it is
// gone.
func TestRootNamespaceUntouched(t *testing.T) {
	need(t)
	before := rootState(t)
	l, err := New(testPrefix(t.Name(), os.Getpid()))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	for i, n := range []string{"a", "b"} {
		_, err := l.AddHost(n,
			netip.MustParsePrefix(fmt.Sprintf("198.51.100.%d/24", i+1)),
			netip.MustParsePrefix(fmt.Sprintf("2001:db8::%d/64", i+1)))
		if err != nil {
			t.Fatal(err)
		}
	}
	if during := rootState(t); during != before {
		t.Errorf("root namespace changed by the lab:\nbefore:\n%s\nduring:\n%s", before, during)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
	if after := rootState(t); after != before {
		t.Errorf("root namespace changed after Close:\nbefore:\n%s\nafter:\n%s", before, after)
	}
}

// rootState describes the root namespace's links and addresses, leaving
// out what changes on its own (counters, neighbour state).
func rootState(t *testing.T) string {
	t.Helper()
	links, err := netlink.LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	for _, l := range links {
		a := l.Attrs()
		fmt.Fprintf(&b, "%d %s %s %s flags=%v master=%d mtu=%d\n", a.Index, a.Name, l.Type(), a.HardwareAddr, a.Flags, a.MasterIndex, a.MTU)
		addrs, err := netlink.AddrList(l, netlink.FAMILY_ALL)
		if err != nil {
			t.Fatal(err)
		}
		for _, ad := range addrs {
			fmt.Fprintf(&b, "  %s\n", ad.IPNet)
		}
	}
	return b.String()
}

// NewT removes labs whose test process died without cleaning up.
func TestSweepStale(t *testing.T) {
	need(t, "true")
	t.Parallel()
	gone := exec.Command("true")
	if err := gone.Run(); err != nil {
		t.Fatal(err)
	}
	deadPrefix := testPrefix(t.Name(), gone.Process.Pid)
	dead, err := New(deadPrefix)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { dead.Close() })
	if _, err := dead.AddHost("h"); err != nil {
		t.Fatal(err)
	}
	alive := NewT(t)
	alive.MustAddHost(t, "h")

	liveMu.Lock()
	delete(live, deadPrefix) // as if its process had died
	liveMu.Unlock()
	sweepStale()
	for _, ns := range []string{deadPrefix + "-sw", deadPrefix + "-h"} {
		if _, err := os.Stat("/run/netns/" + ns); !os.IsNotExist(err) {
			t.Errorf("stale %s survived (%v)", ns, err)
		}
	}
	for _, ns := range []string{alive.Prefix + "-sw", alive.Prefix + "-h"} {
		if _, err := os.Stat("/run/netns/" + ns); err != nil {
			t.Errorf("live lab's %s was swept: %v", ns, err)
		}
	}
}

// Stop escalates to SIGKILL for a process that ignores SIGTERM, and Close
// does the same for what such a process left behind.
func TestProcStop(t *testing.T) {
	need(t, "sh", "sleep")
	t.Parallel()
	l := NewT(t)
	l.Grace = 200 * time.Millisecond
	h := l.MustAddHost(t, "h")
	p, err := h.Start("sh", "-c", `trap "" TERM; echo ready; sleep 300; echo unreachable`)
	if err != nil {
		t.Fatal(err)
	}
	if err := eventually(2*time.Second, func() error {
		if !strings.Contains(p.Output(), "ready") {
			return errors.New("no output")
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := p.Stop(); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < l.Grace || d > l.Grace+time.Second {
		t.Errorf("Stop took %v, want a little over the grace %v", d, l.Grace)
	}
	if err := p.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
		t.Errorf("Wait() = %v, want killed", err)
	}
	if pids, _ := h.Pids(); len(pids) != 1 {
		t.Errorf("Pids() = %v, want the orphaned sleep", pids)
	}
	if err := l.Close(); err != nil {
		t.Fatal(err)
	}
}

func TestDoPanics(t *testing.T) {
	need(t)
	t.Parallel()
	h := NewT(t).MustAddHost(t, "h")
	defer func() {
		if v := recover(); v != "boom" {
			t.Errorf("recovered %v, want the panic from fn", v)
		}
	}()
	h.Do(func() error { panic("boom") })
}
