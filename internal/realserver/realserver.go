//go:build linux

// Package realserver prepares a Linux machine as an LVS real server for
// direct routing (DR) or IP tunnelling (TUN), as `tandem realserver` does:
//
//   - dr: each VIP as a host address (/32, /128) on lo;
//   - tun: each VIP on the fallback tunnel device (tunl0 for IPv4, ip6tnl0
//     for IPv6), up, with rp_filter 0 on tunl0;
//   - both, for IPv4 VIPs: net.ipv4.conf.all.arp_ignore = 1 and
//     arp_announce = 2 (and on the device holding the VIPs), so that the
//     machine never answers ARP for a VIP nor uses one as an ARP source.
//
// Prepare is idempotent: it reports what it changed and what it found
// already set. The previous value of every sysctl it changes is kept in a
// small state file, and Undo removes the VIPs and puts those values back
// once the last recorded VIP is gone. Without a state file Undo restores
// the kernel defaults (0) and says so.
package realserver

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/tandemlb/tandem/internal/statefile"
)

// Mode is how the directors forward to this real server.
type Mode string

const (
	DR  Mode = "dr"
	TUN Mode = "tun"
)

// DefaultStateDir is where the state file lives unless Options.StateDir says
// otherwise.
const DefaultStateDir = "/var/lib/tandem"

// StateFile is the state file's name inside the state directory.
const StateFile = "realserver.json"

// Devices that hold the VIPs.
const (
	loDev   = "lo"
	tun4Dev = "tunl0"   // ipip's fallback device
	tun6Dev = "ip6tnl0" // ip6_tunnel's fallback device
)

// Options say what to do.
type Options struct {
	VIPs     []netip.Addr
	Mode     Mode
	StateDir string // DefaultStateDir when empty
	// SysctlRoot is /proc/sys unless set (tests).
	SysctlRoot string
	// Out receives one line per thing looked at: changed or already set.
	Out io.Writer
}

// ParseVIPs parses "IP[,IP]" values as flags give them; a prefix length
// is refused (the VIP always goes on as a host address).
func ParseVIPs(vals []string) ([]netip.Addr, error) {
	var out []netip.Addr
	for _, v := range vals {
		for _, s := range strings.Split(v, ",") {
			s = strings.TrimSpace(s)
			if s == "" {
				continue
			}
			a, err := netip.ParseAddr(s)
			if err != nil {
				return nil, fmt.Errorf("--vip %q: not an IP address (write it without a prefix length): %w", s, err)
			}
			if a.Zone() != "" || a.IsUnspecified() || a.IsMulticast() || a.IsLoopback() {
				return nil, fmt.Errorf("--vip %q: not usable as a virtual IP", s)
			}
			a = a.Unmap()
			if !slices.Contains(out, a) {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

// ParseMode accepts "dr" and "tun".
func ParseMode(s string) (Mode, error) {
	switch m := Mode(strings.ToLower(s)); m {
	case DR, TUN:
		return m, nil
	}
	return "", fmt.Errorf("--mode must be dr or tun, not %q", s)
}

// state is the file that remembers what Prepare did.
type state struct {
	// VIPs added (or found) by Prepare and not undone yet.
	VIPs []stateVIP `json:"vips"`
	// Sysctls maps a sysctl (dotted name) to the value it had before
	// tandem first changed it.
	Sysctls map[string]string `json:"sysctls"`
	// Up lists the tunnel devices Prepare set up (Undo sets them down).
	Up []string `json:"up,omitempty"`
}

type stateVIP struct {
	Addr   netip.Addr `json:"addr"`
	Mode   Mode       `json:"mode"`
	Device string     `json:"device"`
}

type runner struct {
	o     Options
	nl    *netlink.Handle
	st    state
	path  string
	found bool // a state file existed
}

func newRunner(o Options) (*runner, error) {
	if o.StateDir == "" {
		o.StateDir = DefaultStateDir
	}
	if o.SysctlRoot == "" {
		o.SysctlRoot = "/proc/sys"
	}
	if o.Out == nil {
		o.Out = io.Discard
	}
	// Route only: without arguments NewHandle also opens XFRM and
	// netfilter sockets, which fail where those modules are not loaded.
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("netlink: %w", err)
	}
	r := &runner{o: o, nl: nl, path: filepath.Join(o.StateDir, StateFile), st: state{Sysctls: map[string]string{}}}
	b, err := os.ReadFile(r.path)
	switch {
	case err == nil:
		if err := json.Unmarshal(b, &r.st); err != nil {
			nl.Close()
			return nil, fmt.Errorf("state file %s is damaged (remove it to start afresh): %w", r.path, err)
		}
		if r.st.Sysctls == nil {
			r.st.Sysctls = map[string]string{}
		}
		r.found = true
	case errors.Is(err, os.ErrNotExist):
	default:
		nl.Close()
		return nil, fmt.Errorf("reading the state file: %w", err)
	}
	return r, nil
}

func (r *runner) close() { r.nl.Close() }

func (r *runner) say(format string, args ...any) { fmt.Fprintf(r.o.Out, format+"\n", args...) }

func (r *runner) save() error {
	if len(r.st.VIPs) == 0 && len(r.st.Up) == 0 && len(r.st.Sysctls) == 0 {
		if err := os.Remove(r.path); err != nil && !errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("removing the state file: %w", err)
		}
		return nil
	}
	if err := os.MkdirAll(r.o.StateDir, 0o755); err != nil {
		return fmt.Errorf("state directory: %w", err)
	}
	b, err := json.MarshalIndent(r.st, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding the state: %w", err)
	}
	// Atomic and synced: the file is what --undo needs to put the host
	// back, a crash must leave the old one or the new one.
	return statefile.WriteFile(r.path, append(b, '\n'), 0o644)
}

// device is where a VIP goes in a mode.
func device(m Mode, a netip.Addr) string {
	switch {
	case m == DR:
		return loDev
	case a.Is4():
		return tun4Dev
	default:
		return tun6Dev
	}
}

// Prepare makes the machine a real server for opts.VIPs in opts.Mode.
func Prepare(opts Options) error {
	if len(opts.VIPs) == 0 {
		return errors.New("no VIP given (--vip IP[,IP])")
	}
	if _, err := ParseMode(string(opts.Mode)); err != nil {
		return err
	}
	r, err := newRunner(opts)
	if err != nil {
		return err
	}
	defer r.close()
	err = r.prepare()
	// Whatever got done is recorded, even after a failure, so that Undo
	// can take it back.
	if serr := r.save(); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

func (r *runner) prepare() error {
	any4 := false
	for _, a := range r.o.VIPs {
		dev := device(r.o.Mode, a)
		if a.Is4() {
			any4 = true
		}
		if i := r.recorded(a); i >= 0 && r.st.VIPs[i].Device != dev {
			return fmt.Errorf("VIP %v was prepared on %s (mode %s); undo that first (tandem realserver --vip %v --mode %s --undo)",
				a, r.st.VIPs[i].Device, r.st.VIPs[i].Mode, a, r.st.VIPs[i].Mode)
		}
		link, err := r.link(dev)
		if err != nil {
			return err
		}
		if err := r.addVIP(link, a); err != nil {
			return err
		}
		if r.recorded(a) < 0 {
			r.st.VIPs = append(r.st.VIPs, stateVIP{Addr: a, Mode: r.o.Mode, Device: dev})
		}
		if err := r.save(); err != nil {
			return err
		}
	}
	var devs []string
	for _, a := range r.o.VIPs {
		if d := device(r.o.Mode, a); a.Is4() && !slices.Contains(devs, d) {
			devs = append(devs, d)
		}
	}
	if any4 {
		for _, name := range append([]string{"all"}, devs...) {
			if err := r.set("net.ipv4.conf."+name+".arp_ignore", "1"); err != nil {
				return err
			}
			if err := r.set("net.ipv4.conf."+name+".arp_announce", "2"); err != nil {
				return err
			}
		}
	} else {
		r.say("ARP sysctls: not needed (no IPv4 VIP)")
	}
	if r.o.Mode == TUN && slices.Contains(devs, tun4Dev) {
		if err := r.set("net.ipv4.conf."+tun4Dev+".rp_filter", "0"); err != nil {
			return err
		}
		// The kernel checks the larger of "all" and the device's value:
		// strict (1) on "all" would drop every decapsulated packet, whose
		// source is routed through the uplink. Loose (2) lets them in.
		if v, err := r.get("net.ipv4.conf.all.rp_filter"); err == nil && v == "1" {
			if err := r.set("net.ipv4.conf.all.rp_filter", "2"); err != nil {
				return err
			}
		}
	}
	return nil
}

func (r *runner) recorded(a netip.Addr) int {
	return slices.IndexFunc(r.st.VIPs, func(v stateVIP) bool { return v.Addr == a })
}

// link returns the device, making the tunnel device exist and be up.
func (r *runner) link(dev string) (netlink.Link, error) {
	l, err := r.nl.LinkByName(dev)
	var nf netlink.LinkNotFoundError
	if err != nil && !errors.As(err, &nf) {
		return nil, fmt.Errorf("looking up %s: %w", dev, err)
	}
	if err != nil {
		if dev == loDev {
			return nil, fmt.Errorf("no lo device: %w", err)
		}
		// Asking for the link kind loads ipip / ip6_tunnel, whose module
		// creates the fallback device itself: EEXIST then is success.
		var nlk netlink.Link
		if dev == tun4Dev {
			nlk = &netlink.Iptun{LinkAttrs: netlink.LinkAttrs{Name: dev}}
		} else {
			nlk = &netlink.Ip6tnl{LinkAttrs: netlink.LinkAttrs{Name: dev}}
		}
		if err := r.nl.LinkAdd(nlk); err != nil && !errors.Is(err, unix.EEXIST) {
			mod := "ipip"
			if dev == tun6Dev {
				mod = "ip6_tunnel"
			}
			return nil, fmt.Errorf("creating %s (is the %s module available? modprobe %s): %w", dev, mod, mod, err)
		}
		if l, err = r.nl.LinkByName(dev); err != nil {
			return nil, fmt.Errorf("looking up %s after creating it: %w", dev, err)
		}
		r.say("%s: created", dev)
	}
	if l.Attrs().Flags&net.FlagUp == 0 {
		if err := r.nl.LinkSetUp(l); err != nil {
			return nil, fmt.Errorf("setting %s up: %w", dev, err)
		}
		r.say("%s: set up", dev)
		if dev != loDev && !slices.Contains(r.st.Up, dev) {
			r.st.Up = append(r.st.Up, dev)
		}
	}
	return l, nil
}

func hostAddr(a netip.Addr) *netlink.Addr {
	na := &netlink.Addr{IPNet: &net.IPNet{IP: a.AsSlice(), Mask: net.CIDRMask(a.BitLen(), a.BitLen())}}
	if a.Is6() {
		na.Flags = unix.IFA_F_NODAD
	}
	return na
}

func (r *runner) hasAddr(l netlink.Link, a netip.Addr) (bool, error) {
	fam := netlink.FAMILY_V4
	if a.Is6() {
		fam = netlink.FAMILY_V6
	}
	var list []netlink.Addr
	var err error
	for range 5 {
		if list, err = r.nl.AddrList(l, fam); !errors.Is(err, netlink.ErrDumpInterrupted) {
			break
		}
	}
	if err != nil {
		return false, fmt.Errorf("addresses of %s: %w", l.Attrs().Name, err)
	}
	for _, x := range list {
		if b, ok := netip.AddrFromSlice(x.IP); ok && b.Unmap() == a {
			return true, nil
		}
	}
	return false, nil
}

func (r *runner) addVIP(l netlink.Link, a netip.Addr) error {
	name := l.Attrs().Name
	p := netip.PrefixFrom(a, a.BitLen())
	has, err := r.hasAddr(l, a)
	if err != nil {
		return err
	}
	if has {
		r.say("%s: %v already there", name, p)
		return nil
	}
	if err := r.nl.AddrAdd(l, hostAddr(a)); err != nil && !errors.Is(err, unix.EEXIST) {
		return fmt.Errorf("adding %v to %s: %w", p, name, err)
	}
	r.say("%s: added %v", name, p)
	return nil
}

func (r *runner) sysctlPath(name string) string {
	return filepath.Join(r.o.SysctlRoot, strings.ReplaceAll(name, ".", "/"))
}

func (r *runner) get(name string) (string, error) {
	b, err := os.ReadFile(r.sysctlPath(name))
	if err != nil {
		return "", fmt.Errorf("reading %s: %w", name, err)
	}
	return strings.TrimSpace(string(b)), nil
}

func (r *runner) write(name, val string) error {
	if err := os.WriteFile(r.sysctlPath(name), []byte(val), 0o644); err != nil {
		return fmt.Errorf("setting %s = %s: %w", name, val, err)
	}
	return nil
}

// set sets a sysctl and remembers the value it had before tandem's first
// change.
func (r *runner) set(name, val string) error {
	old, err := r.get(name)
	if err != nil {
		return err
	}
	if old == val {
		r.say("%s = %s already", name, val)
		return nil
	}
	if err := r.write(name, val); err != nil {
		return err
	}
	if _, ok := r.st.Sysctls[name]; !ok {
		r.st.Sysctls[name] = old
	}
	r.say("%s = %s (was %s)", name, val, old)
	return r.save()
}

// Undo removes opts.VIPs (all recorded VIPs when none is given) from
// where Prepare put them; once no recorded VIP is left it restores the
// sysctls Prepare changed and sets down the tunnel devices it set up.
func Undo(opts Options) error {
	if opts.Mode != "" {
		if _, err := ParseMode(string(opts.Mode)); err != nil {
			return err
		}
	}
	r, err := newRunner(opts)
	if err != nil {
		return err
	}
	defer r.close()
	err = r.undo()
	if serr := r.save(); serr != nil {
		err = errors.Join(err, serr)
	}
	return err
}

func (r *runner) undo() error {
	vips := r.o.VIPs
	if len(vips) == 0 {
		for _, v := range r.st.VIPs {
			vips = append(vips, v.Addr)
		}
		if len(vips) == 0 && !r.found {
			return fmt.Errorf("no VIP given and no state file %s: name the VIPs with --vip", r.path)
		}
	}
	var errs []error
	for _, a := range vips {
		dev := ""
		if i := r.recorded(a); i >= 0 {
			dev = r.st.VIPs[i].Device
		} else if r.o.Mode != "" {
			dev = device(r.o.Mode, a)
		} else {
			dev = device(DR, a)
		}
		if err := r.delVIP(dev, a); err != nil {
			errs = append(errs, err)
			continue
		}
		if i := r.recorded(a); i >= 0 {
			r.st.VIPs = slices.Delete(r.st.VIPs, i, i+1)
		}
	}
	if len(errs) > 0 {
		return errors.Join(errs...)
	}
	if len(r.st.VIPs) > 0 {
		var left []string
		for _, v := range r.st.VIPs {
			left = append(left, v.Addr.String())
		}
		r.say("sysctls kept: VIPs %s are still prepared", strings.Join(left, ", "))
		return nil
	}
	if !r.found {
		r.say("no state file %s: restoring the ARP sysctls to the kernel defaults (0)", r.path)
		for _, n := range []string{"all", loDev, tun4Dev} {
			for _, k := range []string{"arp_ignore", "arp_announce"} {
				name := "net.ipv4.conf." + n + "." + k
				if _, err := os.Stat(r.sysctlPath(name)); err != nil {
					continue // no such device
				}
				r.st.Sysctls[name] = "0"
			}
		}
	}
	names := make([]string, 0, len(r.st.Sysctls))
	for n := range r.st.Sysctls {
		names = append(names, n)
	}
	slices.Sort(names)
	for _, n := range names {
		want := r.st.Sysctls[n]
		cur, err := r.get(n)
		if errors.Is(err, os.ErrNotExist) {
			delete(r.st.Sysctls, n) // the device is gone
			continue
		}
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if cur == want {
			r.say("%s = %s already", n, want)
		} else if err := r.write(n, want); err != nil {
			errs = append(errs, err)
			continue
		} else {
			r.say("%s = %s (restored, was %s)", n, want, cur)
		}
		delete(r.st.Sysctls, n)
	}
	for _, dev := range slices.Clone(r.st.Up) {
		l, err := r.nl.LinkByName(dev)
		if err == nil {
			if err := r.nl.LinkSetDown(l); err != nil {
				errs = append(errs, fmt.Errorf("setting %s down: %w", dev, err))
				continue
			}
			r.say("%s: set down", dev)
		}
		r.st.Up = slices.DeleteFunc(r.st.Up, func(s string) bool { return s == dev })
	}
	return errors.Join(errs...)
}

func (r *runner) delVIP(dev string, a netip.Addr) error {
	p := netip.PrefixFrom(a, a.BitLen())
	l, err := r.nl.LinkByName(dev)
	if err != nil {
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			r.say("%s: %v not there (no %s device)", dev, p, dev)
			return nil
		}
		return fmt.Errorf("looking up %s: %w", dev, err)
	}
	has, err := r.hasAddr(l, a)
	if err != nil {
		return err
	}
	if !has {
		r.say("%s: %v not there", dev, p)
		return nil
	}
	if err := r.nl.AddrDel(l, hostAddr(a)); err != nil && !errors.Is(err, unix.EADDRNOTAVAIL) {
		return fmt.Errorf("removing %v from %s: %w", p, dev, err)
	}
	r.say("%s: removed %v", dev, p)
	return nil
}
