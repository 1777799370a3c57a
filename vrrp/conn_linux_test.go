package vrrp

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

// connPair is two hosts on a lab's LAN with a raw VRRP socket each, closed
// at the end of the test.
func connPair(t *testing.T) (a, b *netlab.Host, ca, cb Conn) {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	lab := netlab.NewT(t)
	a = lab.MustAddHost(t, "a", "198.51.100.11/24")
	b = lab.MustAddHost(t, "b", "198.51.100.12/24")
	if err := a.Do(func() (err error) { ca, err = Listen(netlab.NIC, false); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ca.Close() })
	if err := b.Do(func() (err error) { cb, err = Listen(netlab.NIC, false); return err }); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cb.Close() })
	return a, b, ca, cb
}

// pairSrc is b's address in connPair.
var pairSrc = netip.MustParseAddr("198.51.100.12")

// sendUntil sends an advert from b every 50 ms until arrived, which waits
// up to the time it is given, reports one: a lab that just came up loses
// its first packets. It fails t after 3 s.
func sendUntil(t *testing.T, cb Conn, arrived func(time.Duration) bool) {
	t.Helper()
	ad := Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(pairSrc, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	for deadline := time.Now().Add(3 * time.Second); ; {
		if err := cb.Send(raw, pairSrc, Group4); err != nil {
			t.Fatal(err)
		}
		if arrived(50 * time.Millisecond) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal("no advert received in 3s")
		}
	}
}

// A real raw socket in a namespace: an advert from the neighbour arrives
// with TTL 255, its destination, and the kernel's receive time on the
// monotonic clock (master down runs from it).
func TestConnReceiveTime(t *testing.T) {
	_, _, ca, cb := connPair(t)
	got := make(chan Packet, 1)
	go func() {
		p, err := ca.Recv()
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	// The receiver may be late to read; the stamp says when it arrived.
	sent := time.Now()
	var p Packet
	sendUntil(t, cb, func(wait time.Duration) bool {
		select {
		case p = <-got:
			return true
		case <-time.After(wait):
			return false
		}
	})
	if p.Src != pairSrc || p.Dst != Group4 || p.TTL != 255 {
		t.Errorf("packet from %v to %v ttl %d, want %v to %v ttl 255", p.Src, p.Dst, p.TTL, pairSrc, Group4)
	}
	if p.At.IsZero() || p.At.Before(sent) || time.Since(p.At) > time.Second {
		t.Errorf("receive time %v: want between the first send (%v) and now", p.At, sent)
	}
}
