package vrrp

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os/exec"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Effects are an instance's side effects on its host: the runner calls
// them for the machine's actions. Tests use a recording fake.
type Effects interface {
	AddVIPs() error
	RemoveVIPs() error
	// Announce sends one burst of gratuitous ARP (IPv4) or unsolicited
	// neighbour advertisements (IPv6) for every VIP.
	Announce() error
	// SetVIPs replaces the VIP set that the other methods act on
	// (Reconfigure). Installed: the instance holds the VIPs now, so the
	// new ones are added and announced and the dropped ones removed;
	// otherwise the set is only recorded.
	SetVIPs(vips []netip.Prefix, installed bool) error
	Close() error
}

// HostEffects changes the real interface through netlink, and announces
// through an AF_PACKET socket (ARP) or an ICMPv6 socket (NA).
type HostEffects struct {
	ifname string
	vips   []netip.Prefix
	repeat int
	// Filter: accept = false (RFC 5798 Accept_Mode off): while master,
	// packets from Ingress to the VIPs are dropped, by a chain named after
	// Key (unique per instance: interface, family and VRID).
	Filter  bool
	Ingress string
	Key     string

	ifi *net.Interface
	nl  *netlink.Handle // kept open: a takeover adds its VIPs without a socket setup or a name lookup
	arp *packet.Conn    // nil for IPv6
	ndp *ndp.Conn       // nil for IPv4
}

// NewHostEffects prepares the effects of an instance whose VIPs live on
// ifname; each Announce sends repeat messages per VIP.
func NewHostEffects(ifname string, vips []netip.Prefix, repeat int) (*HostEffects, error) {
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		return nil, fmt.Errorf("vrrp: interface %s: %w", ifname, err)
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("vrrp: netlink socket: %w", err)
	}
	h := &HostEffects{ifname: ifname, vips: vips, repeat: repeat, ifi: ifi, nl: nl}
	if len(vips) > 0 && vips[0].Addr().Is6() {
		// NA leaves from the interface's link-local address, which a
		// link that just came up may take a moment to get.
		for try := 0; ; try++ {
			h.ndp, _, err = ndp.Listen(ifi, ndp.LinkLocal)
			if err == nil || try == 20 {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if err != nil {
			nl.Close()
			return nil, fmt.Errorf("vrrp: ICMPv6 socket on %s (needs a link-local address and CAP_NET_RAW): %w", ifname, err)
		}
		return h, nil
	}
	// Not arp.Dial: it wants an IPv4 address on the interface, which a
	// backup with only VIPs to announce may not have.
	h.arp, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("vrrp: packet socket on %s (needs CAP_NET_RAW): %w", ifname, err)
	}
	return h, nil
}

// link names the interface by its index, so that netlink does not look
// it up by name on every change.
func (h *HostEffects) link() netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: h.ifi.Index, Name: h.ifname}}
}

// addrOp runs an address change; if the interface was re-created (a new
// index), it looks the interface up again and retries once.
func (h *HostEffects) addrOp(op func(netlink.Link, *netlink.Addr) error, a *netlink.Addr) error {
	err := op(h.link(), a)
	if !errors.Is(err, syscall.ENODEV) {
		return err
	}
	ifi, ierr := net.InterfaceByName(h.ifname)
	if ierr != nil {
		return fmt.Errorf("vrrp: interface %s: %w", h.ifname, ierr)
	}
	h.ifi = ifi
	return op(h.link(), a)
}

// AddVIPs adds every VIP; IPv6 ones without duplicate address detection,
// which would hold a taken-over address back for a second.
func (h *HostEffects) AddVIPs() error {
	var errs []error
	if h.Filter { // before the VIPs: no moment without the filter
		if err := h.filter(true); err != nil {
			errs = append(errs, err)
		}
	}
	for _, p := range h.vips {
		a := &netlink.Addr{IPNet: prefixNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.addrOp(h.nl.AddrReplace, a); err != nil {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", p, h.ifname, err))
		}
	}
	return errors.Join(errs...)
}

// filter adds or removes the accept = false rules: an nftables chain of
// the instance that drops traffic from the ingress interface to its VIPs.
// (A policy rule cannot do it: the local table is looked up first.)
func (h *HostEffects) filter(on bool) error {
	chain := "accept_" + strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, h.Key)
	var b strings.Builder
	fmt.Fprintf(&b, "add table inet tandem\nadd chain inet tandem %s { type filter hook input priority filter; }\nflush chain inet tandem %s\n", chain, chain)
	if on {
		for _, p := range h.vips {
			fam := "ip"
			if p.Addr().Is6() {
				fam = "ip6"
			}
			fmt.Fprintf(&b, "add rule inet tandem %s iifname %q %s daddr %s drop\n", chain, h.Ingress, fam, p.Addr())
		}
	} else {
		fmt.Fprintf(&b, "delete chain inet tandem %s\n", chain)
	}
	cmd := exec.Command("nft", "-f", "-")
	cmd.Stdin = strings.NewReader(b.String())
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("accept = false needs nftables (the nft program, Debian package nftables): %w: %s", err, strings.TrimSpace(string(out)))
	}
	return nil
}

// RemoveVIPs removes every VIP; one already gone is not an error.
func (h *HostEffects) RemoveVIPs() error {
	var errs []error
	for _, p := range h.vips {
		err := h.addrOp(h.nl.AddrDel, &netlink.Addr{IPNet: prefixNet(p)})
		if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, h.ifname, err))
		}
	}
	if h.Filter {
		if err := h.filter(false); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// SetVIPs replaces the VIPs; when installed, it changes the interface
// by the difference only, so that the VIPs kept never flap.
func (h *HostEffects) SetVIPs(vips []netip.Prefix, installed bool) error {
	old := h.vips
	h.vips = slices.Clone(vips)
	if !installed {
		return nil
	}
	var added, dropped []netip.Prefix
	for _, p := range vips {
		if !slices.Contains(old, p) {
			added = append(added, p)
		}
	}
	for _, p := range old {
		if !slices.Contains(vips, p) {
			dropped = append(dropped, p)
		}
	}
	var errs []error
	if h.Filter { // rewrites the chain for the new set, before adding
		if err := h.filter(true); err != nil {
			errs = append(errs, err)
		}
	}
	del := func(p netip.Prefix) {
		err := h.addrOp(h.nl.AddrDel, &netlink.Addr{IPNet: prefixNet(p)})
		if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, h.ifname, err))
		}
	}
	// An address whose prefix length changed goes first, or it would stay
	// twice.
	for _, p := range dropped {
		if slices.ContainsFunc(added, func(a netip.Prefix) bool { return a.Addr() == p.Addr() }) {
			del(p)
		}
	}
	for _, p := range added {
		a := &netlink.Addr{IPNet: prefixNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.addrOp(h.nl.AddrReplace, a); err != nil {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", p, h.ifname, err))
		}
	}
	for _, p := range dropped {
		if !slices.ContainsFunc(added, func(a netip.Prefix) bool { return a.Addr() == p.Addr() }) {
			del(p)
		}
	}
	errs = append(errs, h.announce(added))
	return errors.Join(errs...)
}

// Announce sends repeat gratuitous ARP requests (broadcast, sender =
// target = VIP, as keepalived does) or unsolicited NAs to all nodes.
func (h *HostEffects) Announce() error { return h.announce(h.vips) }

func (h *HostEffects) announce(vips []netip.Prefix) error {
	var errs []error
	for range h.repeat {
		for _, p := range vips {
			var err error
			if h.ndp != nil {
				err = h.sendNA(p.Addr())
			} else {
				err = h.sendGARP(p.Addr())
			}
			if err != nil {
				errs = append(errs, fmt.Errorf("announce %s on %s: %w", p.Addr(), h.ifname, err))
			}
		}
	}
	return errors.Join(errs...)
}

func (h *HostEffects) sendGARP(vip netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, h.ifi.HardwareAddr, vip, ethernet.Broadcast, vip)
	if err != nil {
		return err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: h.ifi.HardwareAddr, EtherType: ethernet.EtherTypeARP, Payload: pb}
	fb, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = h.arp.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
	return err
}

var allNodes = netip.MustParseAddr("ff02::1")

func (h *HostEffects) sendNA(vip netip.Addr) error {
	na := &ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: h.ifi.HardwareAddr}},
	}
	return h.ndp.WriteTo(na, nil, allNodes)
}

func (h *HostEffects) Close() error {
	h.nl.Close()
	if h.arp != nil {
		return h.arp.Close()
	}
	if h.ndp != nil {
		return h.ndp.Close()
	}
	return nil
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// PrimaryAddr is the interface's first address of the family that is not
// one of vips: the source of adverts and the tie-breaker of equal
// priorities. For IPv6 it is the link-local address (RFC 5798 5.1.2.1).
func PrimaryAddr(ifname string, ipv6 bool, vips []netip.Prefix) (netip.Addr, error) {
	l, err := netlink.LinkByName(ifname)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp: interface %s: %w", ifname, err)
	}
	fam := netlink.FAMILY_V4
	if ipv6 {
		fam = netlink.FAMILY_V6
	}
	addrs, err := netlink.AddrList(l, fam)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("vrrp: addresses of %s: %w", ifname, err)
	}
	isVIP := func(a netip.Addr) bool {
		for _, v := range vips {
			if v.Addr() == a {
				return true
			}
		}
		return false
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if !ok || isVIP(ip.Unmap()) || (ipv6 && !ip.IsLinkLocalUnicast()) {
			continue
		}
		return ip.Unmap(), nil
	}
	kind := "IPv4"
	if ipv6 {
		kind = "link-local IPv6"
	}
	return netip.Addr{}, fmt.Errorf("vrrp: %s has no %s address of its own (other than the VIPs); give it one, or set unicast_source", ifname, kind)
}
