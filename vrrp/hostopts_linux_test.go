package vrrp

import (
	"net"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/mdlayher/arp"
	"github.com/mdlayher/ethernet"
	"github.com/mdlayher/packet"
	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

// Addresses written as objects get their options; one on another
// interface goes there and is announced from there; excluded addresses
// (of either family) come and go with the VIPs, the last VIP's removal
// taking them away.
func TestAddressOptionsAndExcluded(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	lab := netlab.NewT(t)
	a := lab.MustAddHost(t, "a", "198.51.100.11/24", "2001:db8::11/64")
	for _, args := range [][]string{{"link", "add", "lan1", "type", "veth", "peer", "name", "lan1p"}, {"link", "set", "lan1", "up"}, {"link", "set", "lan1p", "up"}} {
		if out, err := a.Run("ip", args...); err != nil {
			t.Fatalf("ip %v: %v %s", args, err, out)
		}
	}
	plain := netip.MustParsePrefix("198.51.100.10/24")
	labelled := netip.MustParsePrefix("198.51.100.20/24")
	other := netip.MustParsePrefix("203.0.113.5/24")
	excluded := netip.MustParsePrefix("2001:db8::99/64")
	o := HostOptions{Interface: netlab.NIC, Repeat: 1, Excluded: []netip.Prefix{excluded},
		AddrOptions: map[netip.Addr]AddrOptions{
			labelled.Addr(): {Label: netlab.NIC + ":x", NoPrefixRoute: true, PreferredLft: 0},
			other.Addr():    {Dev: "lan1", PreferredLft: -1},
		}}
	var fx *HostEffects
	var capture *packet.Conn
	if err := a.Do(func() (err error) {
		if fx, err = NewHostEffects(o); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName("lan1p")
		if err != nil {
			return err
		}
		capture, err = packet.Listen(ifi, packet.Raw, int(ethernet.EtherTypeARP), nil)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer capture.Close()
	if fx.na == nil || fx.arp == nil {
		t.Fatalf("an IPv4 instance with an IPv6 excluded address needs both sockets: arp %v na %v", fx.arp, fx.na)
	}
	vips := []netip.Prefix{plain, labelled, other}
	if err := fx.Add(vips); err != nil {
		t.Fatal(err)
	}
	show, _ := a.Run("ip", "address", "show")
	for _, want := range []string{"inet 198.51.100.10/24 brd 198.51.100.255 scope global secondary lan0",
		"inet 198.51.100.20/24 brd 198.51.100.255 scope global secondary deprecated noprefixroute lan0:x",
		"inet 203.0.113.5/24 brd 203.0.113.255 scope global lan1", "inet6 2001:db8::99/64 scope global nodad"} {
		if !strings.Contains(show, want) {
			t.Errorf("no %q in\n%s", want, show)
		}
	}
	// The address on lan1 is announced on lan1.
	if err := fx.Announce(vips); err != nil && !strings.Contains(err.Error(), "link-local") {
		t.Fatal(err)
	}
	capture.SetReadDeadline(time.Now().Add(2 * time.Second))
	seen := false
	buf := make([]byte, 1500)
	for !seen {
		n, _, err := capture.ReadFrom(buf)
		if err != nil {
			t.Fatalf("no gratuitous ARP for %s on lan1: %v", other.Addr(), err)
		}
		var f ethernet.Frame
		if f.UnmarshalBinary(buf[:n]) != nil {
			continue
		}
		var p arp.Packet
		if p.UnmarshalBinary(f.Payload) == nil && p.SenderIP == other.Addr() && p.TargetIP == other.Addr() {
			seen = true
		}
	}
	// Removing some VIPs keeps the excluded address; the last takes it.
	if err := fx.Remove([]netip.Prefix{plain}); err != nil {
		t.Fatal(err)
	}
	if !hasAddr(t, a, excluded) {
		t.Errorf("%v removed with one VIP of three", excluded)
	}
	if err := fx.Remove([]netip.Prefix{labelled, other}); err != nil {
		t.Fatal(err)
	}
	show, _ = a.Run("ip", "address", "show")
	for _, gone := range []string{"198.51.100.20", "203.0.113.5", "2001:db8::99"} {
		if strings.Contains(show, gone) {
			t.Errorf("%s still there:\n%s", gone, show)
		}
	}
	if err := fx.Close(); err != nil {
		t.Errorf("close: %v", err)
	}
}
