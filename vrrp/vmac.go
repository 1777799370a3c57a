package vrrp

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"

	"github.com/vishvananda/netlink"
)

// With use_vmac the VIPs live on a macvlan whose MAC is the virtual router
// MAC of RFC 5798 section 7.3, so clients keep the same ARP entry across a
// failover. Adverts still leave from the base interface (keepalived's
// vmac_xmit_base); gratuitous ARP and NA leave from the macvlan.

// VMACName is the macvlan of a VRID: vrrp.51, or vrrp6.51 for IPv6.
func VMACName(vrid uint8, ipv6 bool) string {
	if ipv6 {
		return fmt.Sprintf("vrrp6.%d", vrid)
	}
	return fmt.Sprintf("vrrp.%d", vrid)
}

// VMAC is the virtual router MAC: 00:00:5e:00:01:VRID (02 for IPv6).
func VMAC(vrid uint8, ipv6 bool) net.HardwareAddr {
	if ipv6 {
		return net.HardwareAddr{0, 0, 0x5e, 0, 2, vrid}
	}
	return net.HardwareAddr{0, 0, 0x5e, 0, 1, vrid}
}

// EnsureVMAC creates the macvlan of vrid on base (private mode, so that
// frames from the same MAC elsewhere are not filtered), or adopts one left
// by an earlier run, and brings it up. The base stops answering ARP for
// addresses it does not carry (arp_ignore=1) and stops using them as the
// sender of its own requests (arp_announce=2), or it would tie the VIPs to
// its own MAC.
func EnsureVMAC(base string, vrid uint8, ipv6 bool) (string, error) {
	name := VMACName(vrid, ipv6)
	parent, err := netlink.LinkByName(base)
	if err != nil {
		return "", fmt.Errorf("vrrp: interface %s: %w", base, err)
	}
	l, err := netlink.LinkByName(name)
	if err == nil && l.Attrs().ParentIndex != parent.Attrs().Index {
		return "", fmt.Errorf("vrrp: %s already exists on another interface; VRID %d can use a virtual MAC on one interface only", name, vrid)
	}
	if err != nil {
		mv := &netlink.Macvlan{
			LinkAttrs: netlink.LinkAttrs{Name: name, ParentIndex: parent.Attrs().Index, HardwareAddr: VMAC(vrid, ipv6)},
			Mode:      netlink.MACVLAN_MODE_PRIVATE,
		}
		if err := netlink.LinkAdd(mv); err != nil {
			return "", fmt.Errorf("vrrp: creating %s on %s (needs the macvlan driver): %w", name, base, err)
		}
		if l, err = netlink.LinkByName(name); err != nil {
			return "", err
		}
	}
	for _, s := range []struct{ path, val string }{
		{"ipv4/conf/" + base + "/arp_ignore", "1"},
		// ARP requests of the base must not claim a VIP as their sender,
		// which would point clients at the base's MAC.
		{"ipv4/conf/" + base + "/arp_announce", "2"},
		{"ipv4/conf/" + name + "/arp_ignore", "1"},
		{"ipv4/conf/" + name + "/accept_local", "1"},
		{"ipv4/conf/" + name + "/rp_filter", "0"},
		{"ipv6/conf/" + name + "/accept_dad", "0"},
	} {
		if err := os.WriteFile(filepath.Join("/proc/sys/net", s.path), []byte(s.val), 0o644); err != nil && !errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("vrrp: sysctl %s: %w", s.path, err)
		}
	}
	if err := netlink.LinkSetUp(l); err != nil {
		return "", fmt.Errorf("vrrp: bringing %s up: %w", name, err)
	}
	return name, nil
}

// RemoveVMAC deletes the macvlan; one already gone is not an error.
func RemoveVMAC(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	return netlink.LinkDel(l)
}
