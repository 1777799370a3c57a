package vrrp

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"sync/atomic"
	"syscall"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/ndp"
	"github.com/mdlayher/packet"
	"github.com/tandemlb/tandem/internal/announce"
	"github.com/vishvananda/netlink"
	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// HostOptions make an instance's HostEffects, complete at construction
// (InstanceConfig.HostOptions builds them).
type HostOptions struct {
	Interface string  // where the VIPs live
	IPv6      bool    // announce with unsolicited NA, else gratuitous ARP
	Repeat    int     // messages per VIP in each Announce
	Filter    *Filter // accept = false; nil: no filter
}

// Filter is RFC 5798's Accept_Mode off: while VIPs are held, packets from
// Ingress to them are dropped, by an nftables chain named after Key
// (unique per instance: interface, family and VRID). Apply, set by the
// owner of tandem's nftables tables, puts the VIPs held in force and
// returns once the kernel has them.
type Filter struct {
	Ingress string
	Key     string
	Apply   func(key, ingress string, held []netip.Addr) error
}

// HostEffects hold an instance's VIPs on a real interface, through
// netlink, and announce them through an AF_PACKET socket (ARP) or an
// ICMPv6 socket (NA). It is the instance's announce.Announcer.
//
// NewHostEffects opens every socket, the netlink handle included, in the
// caller's network namespace: what the instance's goroutine does with
// them later stays there, whatever thread it runs on (tests run several
// namespaces in one process).
type HostEffects struct {
	o    HostOptions
	ifi  *net.Interface
	nl   *netlink.Handle  // kept open: a takeover adds its VIPs without a socket setup or a name lookup
	arp  *packet.Conn     // nil for IPv6
	na   *ipv6.PacketConn // nil for IPv4
	src  netip.Addr       // IPv6: the NAs' link-local source, found when first needed
	held []netip.Prefix   // what Add put here and Remove has not taken away: the filter's addresses

	// For WatchClaims, on its own goroutine: the VIPs held and our MAC.
	heldSet atomic.Pointer[map[netip.Addr]bool]
	ownMAC  atomic.Pointer[net.HardwareAddr]
}

var _ announce.Announcer = (*HostEffects)(nil)

// NewHostEffects opens the sockets of o. It does not wait for anything:
// an IPv6 interface without a link-local address yet (a link that just
// came up) gets one before its first announcement, or that announcement
// fails and the next tries again.
func NewHostEffects(o HostOptions) (*HostEffects, error) {
	ifi, err := net.InterfaceByName(o.Interface)
	if err != nil {
		return nil, fmt.Errorf("vrrp: interface %s: %w", o.Interface, err)
	}
	nl, err := netlink.NewHandle(unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("vrrp: netlink socket: %w", err)
	}
	h := &HostEffects{o: o, ifi: ifi, nl: nl}
	h.setHeld()
	h.ownMAC.Store(&ifi.HardwareAddr)
	if o.IPv6 {
		h.na, err = listenNA()
		if err != nil {
			nl.Close()
			return nil, fmt.Errorf("vrrp: ICMPv6 socket for %s (needs CAP_NET_RAW): %w", o.Interface, err)
		}
		return h, nil
	}
	// Not arp.Dial: it wants an IPv4 address on the interface, which a
	// backup with only VIPs to announce may not have.
	h.arp, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		nl.Close()
		return nil, fmt.Errorf("vrrp: packet socket on %s (needs CAP_NET_RAW): %w", o.Interface, err)
	}
	return h, nil
}

// listenNA opens an ICMPv6 socket that only sends: bound to no address
// (the source is chosen per message), receiving nothing.
func listenNA() (*ipv6.PacketConn, error) {
	c, err := icmp.ListenPacket("ip6:ipv6-icmp", "::")
	if err != nil {
		return nil, err
	}
	pc := c.IPv6PacketConn()
	var none ipv6.ICMPFilter
	none.SetAll(true)
	if err := firstErr(
		pc.SetHopLimit(ndp.HopLimit),
		pc.SetMulticastHopLimit(ndp.HopLimit),
		pc.SetChecksum(true, 2), // the kernel fills in the ICMPv6 checksum
		pc.SetICMPFilter(&none),
	); err != nil {
		c.Close()
		return nil, err
	}
	return pc, nil
}

// link names the interface by its index, so that netlink does not look
// it up by name on every change.
func (h *HostEffects) link() netlink.Link {
	return &netlink.Device{LinkAttrs: netlink.LinkAttrs{Index: h.ifi.Index, Name: h.o.Interface}}
}

// addrOp runs an address change; if the interface was re-created (a new
// index), it looks the interface up again and retries once.
func (h *HostEffects) addrOp(op func(netlink.Link, *netlink.Addr) error, a *netlink.Addr) error {
	err := op(h.link(), a)
	if !errors.Is(err, syscall.ENODEV) {
		return err
	}
	l, lerr := h.nl.LinkByName(h.o.Interface) // through the handle: in its namespace
	if lerr != nil {
		return fmt.Errorf("vrrp: interface %s: %w", h.o.Interface, lerr)
	}
	ifi := *h.ifi
	ifi.Index, ifi.HardwareAddr = l.Attrs().Index, l.Attrs().HardwareAddr
	h.ifi, h.src = &ifi, netip.Addr{}
	h.ownMAC.Store(&ifi.HardwareAddr)
	return op(h.link(), a)
}

// Add adds the VIPs; IPv6 ones without duplicate address detection,
// which would hold a taken-over address back for a second.
func (h *HostEffects) Add(vips []netip.Prefix) error {
	var errs []error
	h.held = append(h.held, without(vips, h.held)...)
	h.setHeld()
	if h.o.Filter != nil { // before the VIPs: no moment without the filter
		errs = append(errs, h.filter())
	}
	for _, p := range vips {
		a := &netlink.Addr{IPNet: prefixNet(p)}
		if p.Addr().Is6() {
			a.Flags = unix.IFA_F_NODAD
		}
		if err := h.addrOp(h.nl.AddrReplace, a); err != nil {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", p, h.o.Interface, err))
		}
	}
	return errors.Join(errs...)
}

// Remove removes the VIPs; one already gone is not an error.
func (h *HostEffects) Remove(vips []netip.Prefix) error {
	var errs []error
	for _, p := range vips {
		err := h.addrOp(h.nl.AddrDel, &netlink.Addr{IPNet: prefixNet(p)})
		if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, h.o.Interface, err))
		}
	}
	h.held = without(h.held, vips)
	h.setHeld()
	if h.o.Filter != nil {
		errs = append(errs, h.filter())
	}
	return errors.Join(errs...)
}

// filter hands the VIPs held to the accept = false filter's owner (the
// director's nftables reconciler): it drops traffic from the ingress
// interface to them, and removes the instance's chain when none is held.
// (A policy rule cannot do it: the local table is looked up first.)
func (h *HostEffects) filter() error {
	if h.o.Filter.Apply == nil {
		return errors.New("accept = false: no nftables owner to write the filter (a bug: the director sets Filter.Apply)")
	}
	vips := make([]netip.Addr, len(h.held))
	for i, p := range h.held {
		vips[i] = p.Addr()
	}
	if err := h.o.Filter.Apply(h.o.Filter.Key, h.o.Filter.Ingress, vips); err != nil {
		return fmt.Errorf("accept = false filter: %w", err)
	}
	return nil
}

// Announce sends repeat gratuitous ARP requests (broadcast, sender =
// target = VIP, as keepalived does) or unsolicited NAs to all nodes. The
// first failure ends the burst: the next ones would fail alike.
func (h *HostEffects) Announce(vips []netip.Prefix) error {
	for range h.o.Repeat {
		for _, p := range vips {
			var err error
			if p.Addr().Is6() {
				err = h.sendNA(p.Addr())
			} else {
				err = h.sendGARP(p.Addr())
			}
			if err != nil {
				return fmt.Errorf("announce %s on %s: %w", p.Addr(), h.o.Interface, err)
			}
		}
	}
	return nil
}

func (h *HostEffects) sendGARP(vip netip.Addr) error {
	if h.arp == nil {
		return errors.New("no ARP socket: the instance is IPv6")
	}
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
	if h.na == nil {
		return errors.New("no ICMPv6 socket: the instance is IPv4")
	}
	if !h.src.IsValid() {
		src, err := h.linkLocal()
		if err != nil {
			return err
		}
		h.src = src
	}
	b, err := ndp.MarshalMessage(&ndp.NeighborAdvertisement{
		Override:      true,
		TargetAddress: vip,
		Options:       []ndp.Option{&ndp.LinkLayerAddress{Direction: ndp.Target, Addr: h.ifi.HardwareAddr}},
	})
	if err != nil {
		return err
	}
	cm := &ipv6.ControlMessage{HopLimit: ndp.HopLimit, Src: h.src.AsSlice(), IfIndex: h.ifi.Index}
	if _, err := h.na.WriteTo(b, cm, &net.IPAddr{IP: allNodes.AsSlice()}); err != nil {
		h.src = netip.Addr{} // it may have gone: look again next time
		return err
	}
	return nil
}

// linkLocal is the interface's usable link-local address, the source of
// NAs (RFC 4861 section 7.2.6 sends them from an address of the
// interface; routers and hosts expect the link-local one).
func (h *HostEffects) linkLocal() (netip.Addr, error) {
	addrs, err := h.nl.AddrList(h.link(), netlink.FAMILY_V6)
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of %s: %w", h.o.Interface, err)
	}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP)
		if ok && ip.IsLinkLocalUnicast() && a.Flags&(unix.IFA_F_TENTATIVE|unix.IFA_F_DADFAILED) == 0 {
			return ip, nil
		}
	}
	return netip.Addr{}, fmt.Errorf("%s has no link-local IPv6 address yet: neighbour advertisements need one as their source (is IPv6 on, and the link up?)", h.o.Interface)
}

func (h *HostEffects) setHeld() {
	m := map[netip.Addr]bool{}
	for _, p := range h.held {
		m[p.Addr()] = true
	}
	h.heldSet.Store(&m)
}

// WatchClaims reads the interface's ARP traffic until Close and calls
// claimed for every ARP packet from another MAC whose sender address is
// a VIP held here: another router that took our VIP for a moment (it
// missed our adverts) moved the clients with its gratuitous ARP, and if
// its adverts were lost too nothing else tells us. IPv4 only (IPv6
// instances have no ARP socket; it returns at once).
func (h *HostEffects) WatchClaims(claimed func(vip netip.Addr, mac net.HardwareAddr)) {
	if h.arp == nil {
		return
	}
	buf := make([]byte, 128)
	var f ethernet.Frame
	var p arp.Packet
	for {
		n, _, err := h.arp.ReadFrom(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) || errors.Is(err, os.ErrClosed) {
				return
			}
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				continue
			}
			return // closed under us, in any spelling
		}
		if f.UnmarshalBinary(buf[:n]) != nil || p.UnmarshalBinary(f.Payload) != nil {
			continue
		}
		vip := p.SenderIP
		if !(*h.heldSet.Load())[vip] || bytes.Equal(p.SenderHardwareAddr, *h.ownMAC.Load()) {
			continue
		}
		claimed(vip, slices.Clone(p.SenderHardwareAddr))
	}
}

func (h *HostEffects) Close() error {
	h.nl.Close()
	if h.arp != nil {
		return h.arp.Close()
	}
	if h.na != nil {
		return h.na.Close()
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
