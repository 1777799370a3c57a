package vrrp

import (
	"errors"
	"log/slog"
	"net"
	"net/netip"
	"testing"
	"time"
)

// flakyConn fails its first read, then delivers one packet, then reports
// itself closed.
type flakyConn struct {
	reads int
	pkt   Packet
}

func (c *flakyConn) Recv() (Packet, error) {
	c.reads++
	switch c.reads {
	case 1:
		return Packet{}, errors.New("recvmsg: no buffer space available")
	case 2:
		return c.pkt, nil
	}
	return Packet{}, net.ErrClosed
}

func (c *flakyConn) Send([]byte, netip.Addr, netip.Addr) error { return nil }
func (c *flakyConn) Close() error                              { return nil }

// A failed read does not end the link: its instances would hear no
// advert again and all become master.
func TestLinkSurvivesReadError(t *testing.T) {
	src := netip.MustParseAddr("198.51.100.12")
	ad := Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(src, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	c := &flakyConn{pkt: Packet{Data: raw, Src: src, Dst: Group4, TTL: HopLimit}}
	link := NewLink("lan0", false, c, slog.New(slog.DiscardHandler))
	ch := make(chan inbound, 1)
	if err := link.attach(51, ch, nil); err != nil {
		t.Fatal(err)
	}
	link.Run()
	select {
	case <-ch:
	default:
		t.Fatalf("the advert after a failed read was not delivered (%d reads)", c.reads)
	}
}
