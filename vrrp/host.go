package vrrp

import (
	"bytes"
	"cmp"
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
	// Excluded are held and announced with the VIPs, never in adverts;
	// AddrOptions the options of addresses written as objects.
	Excluded    []netip.Prefix
	AddrOptions map[netip.Addr]AddrOptions
}

// AddrOptions are the options of `ip address add` an address may carry.
type AddrOptions struct {
	Dev           string // another interface than the instance's; "" for its own
	Label         string
	Scope         int // netlink scope; 0 global
	Broadcast     netip.Addr
	NoPrefixRoute bool
	PreferredLft  int // seconds; -1 forever
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
	// ARP sockets of other interfaces that carry IPv4 addresses of the
	// instance (an entry's dev), opened when first needed.
	others map[string]*otherARP

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
	v4, v6 := !o.IPv6, o.IPv6
	for _, p := range o.Excluded { // excluded_ips may be of the other family
		v4, v6 = v4 || p.Addr().Is4(), v6 || p.Addr().Is6()
	}
	if v6 {
		h.na, err = listenNA()
		if err != nil {
			nl.Close()
			return nil, fmt.Errorf("vrrp: ICMPv6 socket for %s (needs CAP_NET_RAW): %w", o.Interface, err)
		}
	}
	if err := h.openOthers(); err != nil {
		h.Close()
		return nil, err
	}
	if !v4 {
		return h, nil
	}
	// Not arp.Dial: it wants an IPv4 address on the interface, which a
	// backup with only VIPs to announce may not have.
	h.arp, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
	if err != nil {
		h.arp = nil
		h.Close()
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
	for _, p := range append(slices.Clip(vips), h.o.Excluded...) {
		dev, a := h.netlinkAddr(p)
		if err := h.addrOn(dev, h.nl.AddrReplace, a); err != nil {
			errs = append(errs, fmt.Errorf("add %s to %s: %w", p, cmp.Or(dev, h.o.Interface), err))
		}
	}
	return errors.Join(errs...)
}

// netlinkAddr is p with its options, and the interface it goes on ("" for
// the instance's own); IPv6 addresses skip duplicate address detection.
func (h *HostEffects) netlinkAddr(p netip.Prefix) (string, *netlink.Addr) {
	a := &netlink.Addr{IPNet: prefixNet(p)}
	if p.Addr().Is6() {
		a.Flags = unix.IFA_F_NODAD
	}
	o, ok := h.o.AddrOptions[p.Addr()]
	if !ok {
		return "", a
	}
	a.Label, a.Scope = o.Label, o.Scope
	if o.Broadcast.IsValid() {
		a.Broadcast = o.Broadcast.AsSlice()
	}
	if o.NoPrefixRoute {
		a.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if o.PreferredLft >= 0 {
		a.PreferedLft, a.ValidLft = o.PreferredLft, 0xffffffff
	}
	if o.Dev == h.o.Interface {
		return "", a
	}
	return o.Dev, a
}

// addrOn changes an address on dev, the instance's interface when "".
func (h *HostEffects) addrOn(dev string, op func(netlink.Link, *netlink.Addr) error, a *netlink.Addr) error {
	if dev == "" {
		return h.addrOp(op, a)
	}
	l, err := h.nl.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("vrrp: interface %s: %w", dev, err)
	}
	return op(l, a)
}

// Remove removes the VIPs; one already gone is not an error.
func (h *HostEffects) Remove(vips []netip.Prefix) error {
	var errs []error
	h.held = without(h.held, vips)
	gone := vips
	if len(h.held) == 0 { // the excluded addresses go with the last VIP
		gone = append(slices.Clip(vips), h.o.Excluded...)
	}
	for _, p := range gone {
		dev, a := h.netlinkAddr(p)
		err := h.addrOn(dev, h.nl.AddrDel, a)
		if err != nil && !errors.Is(err, syscall.EADDRNOTAVAIL) {
			errs = append(errs, fmt.Errorf("remove %s from %s: %w", p, cmp.Or(dev, h.o.Interface), err))
		}
	}
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
	return h.announce(vips, h.o.Repeat)
}

// announce sends n messages for each VIP and excluded address.
func (h *HostEffects) announce(vips []netip.Prefix, n int) error {
	vips = append(slices.Clip(vips), h.o.Excluded...)
	for range n {
		for _, p := range vips {
			if dev, _ := h.netlinkAddr(p); dev != "" {
				if p.Addr().Is4() { // IPv6 ones elsewhere: not announced (the NA socket is this interface's)
					if err := h.garpOn(dev, p.Addr()); err != nil {
						return fmt.Errorf("announce %s on %s: %w", p.Addr(), dev, err)
					}
				}
				continue
			}
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
	return writeGARP(h.arp, h.ifi.HardwareAddr, vip)
}

func writeGARP(c *packet.Conn, mac net.HardwareAddr, vip netip.Addr) error {
	p, err := arp.NewPacket(arp.OperationRequest, mac, vip, ethernet.Broadcast, vip)
	if err != nil {
		return err
	}
	pb, err := p.MarshalBinary()
	if err != nil {
		return err
	}
	f := &ethernet.Frame{Destination: ethernet.Broadcast, Source: mac, EtherType: ethernet.EtherTypeARP, Payload: pb}
	fb, err := f.MarshalBinary()
	if err != nil {
		return err
	}
	_, err = c.WriteTo(fb, &packet.Addr{HardwareAddr: ethernet.Broadcast})
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
	var errs []error
	if h.arp != nil {
		errs = append(errs, h.arp.Close())
	}
	if h.na != nil {
		errs = append(errs, h.na.Close())
	}
	for _, o := range h.others {
		errs = append(errs, o.conn.Close())
	}
	return errors.Join(errs...)
}

type otherARP struct {
	conn *packet.Conn
	mac  net.HardwareAddr
}

// openOthers opens the ARP sockets of the other interfaces that carry
// IPv4 addresses of the instance, with the others (in the caller's
// namespace).
func (h *HostEffects) openOthers() error {
	for a, o := range h.o.AddrOptions {
		if o.Dev == "" || o.Dev == h.o.Interface || !a.Is4() || h.others[o.Dev] != nil {
			continue
		}
		ifi, err := net.InterfaceByName(o.Dev)
		if err != nil {
			return fmt.Errorf("vrrp: interface %s (dev of %s): %w", o.Dev, a, err)
		}
		c, err := packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		if err != nil {
			return fmt.Errorf("vrrp: packet socket on %s (needs CAP_NET_RAW): %w", o.Dev, err)
		}
		if h.others == nil {
			h.others = map[string]*otherARP{}
		}
		h.others[o.Dev] = &otherARP{conn: c, mac: ifi.HardwareAddr}
	}
	return nil
}

// garpOn announces an IPv4 address that lives on another interface, from
// that interface (keepalived announces each address where it is).
func (h *HostEffects) garpOn(dev string, vip netip.Addr) error {
	o := h.others[dev]
	if o == nil {
		return fmt.Errorf("no ARP socket on %s", dev)
	}
	return writeGARP(o.conn, o.mac, vip)
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
