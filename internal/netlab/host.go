//go:build linux

package netlab

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// ErrNoNeighbor is returned by Neighbor when the table has no usable entry.
var ErrNoNeighbor = errors.New("no neighbour entry")

// Host is one namespace on the lab's switch. Its fields are read-only.
type Host struct {
	Name string // as given to AddHost; also the switch port's name
	NS   string // namespace name, for `ip netns exec NS` or `ip -n NS`
	NIC  string // interface inside the namespace (lan0; br0 for the switch)

	lab     *Lab
	port    string // switch side of the veth; "" for the switch itself
	mac     net.HardwareAddr
	addrs   []netip.Prefix
	created bool // the namespace is ours to delete
	fd      netns.NsHandle

	mu sync.RWMutex // guards nl against Close
	nl *netlink.Handle
}

// open creates the namespace and a netlink handle bound to it.
func (h *Host) open() error {
	if err := createNS(h.NS); err != nil {
		return err
	}
	h.created = true
	fd, err := nsHandle(h.NS)
	if err != nil {
		return fmt.Errorf("netlab: open namespace %s: %w", h.NS, err)
	}
	h.fd = fd
	nl, err := netlink.NewHandleAt(fd, unix.NETLINK_ROUTE)
	if err != nil {
		return fmt.Errorf("netlab: netlink in %s: %w", h.NS, err)
	}
	h.mu.Lock()
	h.nl = nl
	h.mu.Unlock()
	return nil
}

// nlh returns the namespace's netlink handle; Close waits for release.
func (h *Host) nlh() (*netlink.Handle, func(), error) {
	h.mu.RLock()
	if h.nl == nil {
		h.mu.RUnlock()
		return nil, nil, fmt.Errorf("netlab: %s: lab is closed", h.Name)
	}
	return h.nl, h.mu.RUnlock, nil
}

func (h *Host) close() {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.nl != nil {
		h.nl.Close()
		h.nl = nil
	}
	if h.fd >= 0 {
		h.fd.Close()
		h.fd = -1
	}
}

// Path is the namespace's file, for APIs that take one (lvs.OpenKernel).
func (h *Host) Path() string { return filepath.Join(netnsDir, h.NS) }

// MAC is lan0's hardware address: 02:74:6e:00:NN:NN, NN counting hosts, so
// captures are easy to read.
func (h *Host) MAC() net.HardwareAddr { return append(net.HardwareAddr(nil), h.mac...) }

// Prefixes returns the addresses given to AddHost.
func (h *Host) Prefixes() []netip.Prefix { return append([]netip.Prefix(nil), h.addrs...) }

// Command returns a command that runs in the host's namespace through
// `ip netns exec`, which also gives it the namespace's view of /sys. If it
// is started, Close stops it with the rest of the namespace.
func (h *Host) Command(name string, args ...string) *exec.Cmd {
	return h.CommandContext(context.Background(), name, args...)
}

// CommandContext is Command with a context, as exec.CommandContext.
func (h *Host) CommandContext(ctx context.Context, name string, args ...string) *exec.Cmd {
	cmd := exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", h.NS, name}, args...)...)
	// A child left running in the background must not keep Wait (and so
	// Run) waiting for the output pipe to close.
	cmd.WaitDelay = time.Second
	return cmd
}

// Run runs a command in the namespace to completion and returns its
// combined output; the error includes the output.
func (h *Host) Run(name string, args ...string) (string, error) {
	out, err := h.Command(name, args...).CombinedOutput()
	if err != nil {
		return string(out), fmt.Errorf("%s: %s %s: %w: %s", h.Name, name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return string(out), nil
}

// Do runs fn on an OS thread that has entered the host's namespace.
// Sockets and netlink handles opened in fn stay in the namespace after it
// returns. Goroutines that fn starts run elsewhere, in the root namespace;
// fn must not call t.FailNow (it runs on another goroutine).
func (h *Host) Do(fn func() error) error {
	type result struct {
		err      error
		panicked bool
		val      any
	}
	done := make(chan result, 1)
	go func() {
		var r result
		normal := false
		defer func() {
			if !normal {
				if v := recover(); v != nil {
					r.panicked, r.val = true, v
				} else {
					r.err = errors.New("netlab: Do: fn called runtime.Goexit (t.FailNow?)")
				}
			}
			done <- r
		}()
		r.err = h.enter(fn)
		normal = true
	}()
	r := <-done
	if r.panicked {
		panic(r.val)
	}
	return r.err
}

// enter runs fn with the calling goroutine's thread in the namespace. The
// thread is switched back before it is unlocked: letting it die with the
// goroutine is not enough, because Go never ends the main thread (it would
// stay in the lab, and /proc/self/net with it).
func (h *Host) enter(fn func() error) (err error) {
	runtime.LockOSThread()
	orig, err := netns.Get()
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: current namespace: %w", err)
	}
	defer orig.Close()
	target, err := nsHandle(h.NS)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: open namespace %s: %w", h.NS, err)
	}
	defer target.Close()
	if err := netns.Set(target); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("netlab: enter namespace %s: %w", h.NS, err)
	}
	defer func() {
		// On failure the thread stays locked, so no other goroutine
		// runs on it; a non-main thread then ends with the goroutine.
		if netns.Set(orig) == nil {
			runtime.UnlockOSThread()
		} else if err == nil {
			err = fmt.Errorf("netlab: could not leave namespace %s", h.NS)
		}
	}()
	return fn()
}

func (h *Host) setUp(name string, up bool) error {
	nl, release, err := h.nlh()
	if err != nil {
		return err
	}
	defer release()
	link, err := nl.LinkByName(name)
	if err != nil {
		return fmt.Errorf("netlab: %s in %s: %w", name, h.NS, err)
	}
	if up {
		err = nl.LinkSetUp(link)
	} else {
		err = nl.LinkSetDown(link)
	}
	if err != nil {
		return fmt.Errorf("netlab: set %s in %s up=%v: %w", name, h.NS, up, err)
	}
	return nil
}

func (h *Host) addAddrs() error {
	nl, release, err := h.nlh()
	if err != nil {
		return err
	}
	defer release()
	link, err := nl.LinkByName(h.NIC)
	if err != nil {
		return fmt.Errorf("netlab: %s in %s: %w", h.NIC, h.NS, err)
	}
	for _, p := range h.addrs {
		a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := nl.AddrAdd(link, a); err != nil && !errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("netlab: add %v to %s in %s: %w", p, h.NIC, h.NS, err)
		}
	}
	return nil
}

func (h *Host) switchPort() error {
	if h.port == "" {
		return fmt.Errorf("netlab: %s has no switch port", h.Name)
	}
	return nil
}

// Port is the name of the host's switch port (its veth end on the
// bridge), for rules on the switch.
func (h *Host) Port() string { return h.port }

// PortDown sets the host's switch port down: lan0 loses carrier, as if the
// cable were pulled. The host sees NO-CARRIER and keeps its addresses.
func (h *Host) PortDown() error {
	if err := h.switchPort(); err != nil {
		return err
	}
	return h.lab.sw.setUp(h.port, false)
}

// PortUp reverses PortDown.
func (h *Host) PortUp() error {
	if err := h.switchPort(); err != nil {
		return err
	}
	return h.lab.sw.setUp(h.port, true)
}

// LinkDown sets lan0 administratively down inside the host. The kernel
// drops its IPv6 addresses then (keep_addr_on_down is 0), including any VIPs.
func (h *Host) LinkDown() error { return h.setUp(h.NIC, false) }

// LinkUp sets lan0 up and adds back the host's own addresses from AddHost,
// as an OS's network configuration would; VIPs are left to their owner.
func (h *Host) LinkUp() error {
	if err := h.setUp(h.NIC, true); err != nil {
		return err
	}
	return h.addAddrs()
}

// Neighbor returns the hardware address that the host's neighbour table
// (ARP or NDP) holds for ip on lan0, or an error wrapping ErrNoNeighbor.
func (h *Host) Neighbor(ip netip.Addr) (net.HardwareAddr, error) {
	ip = ip.Unmap()
	nl, release, err := h.nlh()
	if err != nil {
		return nil, err
	}
	defer release()
	link, err := nl.LinkByName(h.NIC)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s in %s: %w", h.NIC, h.NS, err)
	}
	family := netlink.FAMILY_V4
	if ip.Is6() {
		family = netlink.FAMILY_V6
	}
	var neighs []netlink.Neigh
	err = retryDump(func() (err error) {
		neighs, err = nl.NeighList(link.Attrs().Index, family)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: neighbours in %s: %w", h.NS, err)
	}
	for _, n := range neighs {
		a, ok := netip.AddrFromSlice(n.IP)
		if !ok || a.Unmap() != ip {
			continue
		}
		if n.State&(netlink.NUD_INCOMPLETE|netlink.NUD_FAILED) != 0 || len(n.HardwareAddr) == 0 {
			return nil, fmt.Errorf("%s: %v: %w (state %s)", h.Name, ip, ErrNoNeighbor, neighState(n.State))
		}
		return n.HardwareAddr, nil
	}
	return nil, fmt.Errorf("%s: %v: %w", h.Name, ip, ErrNoNeighbor)
}

func neighState(s int) string {
	switch {
	case s&netlink.NUD_INCOMPLETE != 0:
		return "INCOMPLETE"
	case s&netlink.NUD_FAILED != 0:
		return "FAILED"
	}
	return fmt.Sprintf("%#x", s)
}

// Addrs returns the addresses on lan0 (br0 for the switch), link-local
// included, in the kernel's order.
func (h *Host) Addrs() ([]netip.Prefix, error) {
	nl, release, err := h.nlh()
	if err != nil {
		return nil, err
	}
	defer release()
	link, err := nl.LinkByName(h.NIC)
	if err != nil {
		return nil, fmt.Errorf("netlab: %s in %s: %w", h.NIC, h.NS, err)
	}
	var list []netlink.Addr
	err = retryDump(func() (err error) {
		list, err = nl.AddrList(link, netlink.FAMILY_ALL)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("netlab: addresses in %s: %w", h.NS, err)
	}
	out := make([]netip.Prefix, 0, len(list))
	for _, a := range list {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip.Unmap(), ones))
	}
	return out, nil
}

// retryDump repeats a netlink dump that the kernel interrupted because the
// table changed meanwhile (likely while VIPs come and go).
func retryDump(f func() error) error {
	var err error
	for range 5 {
		if err = f(); !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
	}
	return err
}

// HTTPGet fetches http://addr+path from inside the host's namespace, on a
// connection made there (an http.Client would dial from other threads, in
// the root namespace), and returns the body of a 200 answer.
func (h *Host) HTTPGet(addr, path string, timeout time.Duration) (string, error) {
	var c net.Conn
	if err := h.Do(func() (err error) { c, err = net.DialTimeout("tcp", addr, timeout); return err }); err != nil {
		return "", fmt.Errorf("%s: GET %s%s: %w", h.Name, addr, path, err)
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(timeout))
	fmt.Fprintf(c, "GET %s HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n", path, addr)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return "", fmt.Errorf("%s: GET %s%s: %w", h.Name, addr, path, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err == nil && resp.StatusCode != http.StatusOK {
		err = errors.New(resp.Status)
	}
	if err != nil {
		return string(body), fmt.Errorf("%s: GET %s%s: %w", h.Name, addr, path, err)
	}
	return string(body), nil
}

// Sysctls sets /proc/sys entries (keys with slashes, such as
// "net/ipv4/ip_forward") in the host's namespace.
func (h *Host) Sysctls(kv map[string]string) error {
	return h.Do(func() error { return sysctls(kv) })
}
