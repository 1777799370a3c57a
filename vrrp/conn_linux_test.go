package vrrp_test

import (
	"net/netip"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
	"github.com/tandemlb/tandem/vrrp"
)

// A real raw socket in a namespace: an advert from the neighbour arrives
// with TTL 255, its destination, and the kernel's receive time on the
// monotonic clock (master down runs from it).
func TestConnReceiveTime(t *testing.T) {
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	lab := netlab.NewT(t)
	a := lab.MustAddHost(t, "a", "198.51.100.11/24")
	b := lab.MustAddHost(t, "b", "198.51.100.12/24")
	var ca, cb vrrp.Conn
	if err := a.Do(func() (err error) { ca, err = vrrp.Listen(netlab.NIC, false); return err }); err != nil {
		t.Fatal(err)
	}
	defer ca.Close()
	if err := b.Do(func() (err error) { cb, err = vrrp.Listen(netlab.NIC, false); return err }); err != nil {
		t.Fatal(err)
	}
	defer cb.Close()
	src := netip.MustParseAddr("198.51.100.12")
	ad := vrrp.Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(src, vrrp.Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	got := make(chan vrrp.Packet, 1)
	go func() {
		p, err := ca.Recv()
		if err != nil {
			t.Error(err)
		}
		got <- p
	}()
	// A lab that just came up may lose the first packets: send until one
	// arrives. The receiver may be late to read; the stamp says when it
	// arrived.
	sent := time.Now()
	var p vrrp.Packet
	for deadline := time.After(3 * time.Second); !p.Src.IsValid(); {
		if err := cb.Send(raw, src, vrrp.Group4); err != nil {
			t.Fatal(err)
		}
		select {
		case p = <-got:
		case <-time.After(50 * time.Millisecond):
		case <-deadline:
			t.Fatal("no advert received in 3s")
		}
	}
	if p.Src != src || p.Dst != vrrp.Group4 || p.TTL != 255 {
		t.Errorf("packet from %v to %v ttl %d, want %v to %v ttl 255", p.Src, p.Dst, p.TTL, src, vrrp.Group4)
	}
	if p.At.IsZero() || p.At.Before(sent) || time.Since(p.At) > time.Second {
		t.Errorf("receive time %v: want between the first send (%v) and now", p.At, sent)
	}
}
