package vrrp

import (
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// listConn delivers its packets, then reports itself closed.
type listConn struct{ pkts []Packet }

func (c *listConn) Recv() (Packet, error) {
	if len(c.pkts) == 0 {
		return Packet{}, net.ErrClosed
	}
	p := c.pkts[0]
	c.pkts = c.pkts[1:]
	return p, nil
}

func (c *listConn) Send([]byte, netip.Addr, netip.Addr) error { return nil }
func (c *listConn) Close() error                              { return nil }

// A multicast advert with a TTL other than 255 is dropped and counted by
// the link, never handed to the instance: a flood of them used to fill
// the instance's queue, and a real advert behind them was dropped as
// "overflow" (41 in one bench/flood run).
func TestLinkDropsBadTTLBeforeInstance(t *testing.T) {
	src := netip.MustParseAddr("198.51.100.66")
	ad := Advert{Version: 3, VRID: 51, Priority: 254, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(src, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	c := &listConn{}
	for range 100 {
		c.pkts = append(c.pkts, Packet{Data: raw, Src: src, Dst: Group4, TTL: 64})
	}
	link := NewLink("lan0", false, c, slog.New(slog.DiscardHandler))
	ch := make(chan inbound, 1)
	if err := link.attach(51, ch, nil); err != nil {
		t.Fatal(err)
	}
	link.Run()
	d := link.Drops()
	if len(ch) != 0 || d[ReasonTTL] != 100 || d[ReasonOverflow] != 0 {
		t.Fatalf("%d handed to the instance; drops ttl %d, overflow %d (want 0, 100, 0)", len(ch), d[ReasonTTL], d[ReasonOverflow])
	}
}

// A burst on a real socket arrives whole, each packet with its TTL,
// destination and receive time, and the kernel dropped none of it (the
// buffer holds a burst between batched reads).
func TestConnBurst(t *testing.T) {
	_, _, ca, cb := connPair(t)
	ad := Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(pairSrc, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	// The lab's first packets may be lost: wait for one through.
	got := make(chan Packet, 4096)
	go func() {
		for {
			p, err := ca.Recv()
			if err != nil {
				close(got)
				return
			}
			got <- p
		}
	}()
	sendUntil(t, cb, func(wait time.Duration) bool {
		select {
		case <-got:
			return true
		case <-time.After(wait):
			return false
		}
	})
	time.Sleep(100 * time.Millisecond)
	for len(got) > 0 {
		<-got
	}
	const n = 2000
	for range n {
		if err := cb.Send(raw, pairSrc, Group4); err != nil {
			t.Fatal(err)
		}
	}
	for i := range n {
		select {
		case p := <-got:
			if p.TTL != HopLimit || p.Dst != Group4 || p.Src != pairSrc || p.At.IsZero() || len(p.Data) != len(raw) {
				t.Fatalf("packet %d: TTL %d dst %v src %v at %v, %d bytes", i, p.TTL, p.Dst, p.Src, p.At, len(p.Data))
			}
		case <-time.After(3 * time.Second):
			t.Fatalf("%d of %d packets received; the kernel dropped %d", i, n, ca.(*conn).socketDrops())
		}
	}
	if d := ca.(*conn).socketDrops(); d != 0 {
		t.Errorf("the kernel dropped %d packets", d)
	}
}
