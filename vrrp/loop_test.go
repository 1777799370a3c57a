package vrrp

import (
	"log/slog"
	"net/netip"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/announce"
	"github.com/tandemlb/tandem/internal/netlab"
)

// countConn counts what is sent; it allocates nothing.
type countConn struct {
	memConn
	sent int
}

func (c *countConn) Send([]byte, netip.Addr, netip.Addr) error { c.sent++; return nil }

// loopInstance is an instance on link, started and taken by the link's
// loop as Run would hand it over, the test's goroutine playing the loop.
func loopInstance(t *testing.T, link *Link, addr string, prio uint8) *Instance {
	t.Helper()
	cfg := InstanceConfig{Name: "web", Interface: "lan0", VRID: 51, Version: 3, Priority: prio, Interval: 100 * time.Millisecond,
		Preempt: true, VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}, Source: netip.MustParseAddr(addr)}
	i, err := NewInstance(cfg, link, &announce.Fake{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	i.step(Start{})
	if !link.lp.adopt(i) {
		t.Fatal("the loop refused the instance")
	}
	link.lp.requests()
	if !i.inLoop || link.lp.vrid[51] != i {
		t.Fatal("the loop did not take the instance")
	}
	return i
}

// A backup's advert path in the loop (parse into the loop's Advert, the
// receive rules, the machine's step, the status) allocates nothing.
func TestLoopReceiveAllocs(t *testing.T) {
	link := NewLink("lan0", false, &countConn{}, slog.New(slog.DiscardHandler))
	i := loopInstance(t, link, "198.51.100.12", 100)
	master := netip.MustParseAddr("198.51.100.11")
	ad := Advert{Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(master, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	p := Packet{Data: raw, Src: master, Dst: Group4, TTL: HopLimit}
	link.lp.packet(link, p) // the first one changes the status (the master's address)
	before := i.AdvertsRecv.Load()
	var down time.Time
	n := testing.AllocsPerRun(200, func() {
		p.At = time.Now()
		link.lp.packet(link, p)
		down = i.m.Deadline()
	})
	if n != 0 {
		t.Errorf("receiving an advert allocates %v times", n)
	}
	if got := i.AdvertsRecv.Load() - before; got < 200 {
		t.Errorf("%d adverts reached the machine, want 200 or more", got)
	}
	if st := i.Status(); st.State != Backup || st.Master != master {
		t.Errorf("%v under %v, want BACKUP under %v", st.State, st.Master, master)
	}
	if want := p.At.Add(i.m.masterDownInterval()); !down.Equal(want) {
		t.Errorf("master down at %v, want %v (from the receive time)", down, want)
	}
	// A flood's bad adverts are counted and dropped without a message
	// formatted for each.
	bad := p
	bad.Data = raw[:5]
	before = link.Drops()[ReasonTruncated]
	if n := testing.AllocsPerRun(100, func() { link.lp.packet(link, bad) }); n != 0 {
		t.Errorf("dropping a truncated advert allocates %v times", n)
	}
	if got := link.Drops()[ReasonTruncated] - before; got < 100 {
		t.Errorf("%d truncated adverts counted, want 100 or more", got)
	}
}

// A master's advert timer in the loop (the step, the advert's bytes, the
// batch and its flush) allocates nothing.
func TestLoopSendAllocs(t *testing.T) {
	c := &countConn{}
	link := NewLink("lan0", false, c, slog.New(slog.DiscardHandler))
	i := loopInstance(t, link, "198.51.100.11", OwnerPriority) // master at once
	link.lp.flush(link, nil)
	if i.Status().State != Master || c.sent != 1 {
		t.Fatalf("%v, %d adverts sent; want MASTER and 1", i.Status().State, c.sent)
	}
	n := testing.AllocsPerRun(200, func() {
		link.lp.timers(link, nil, i.m.Deadline())
		link.lp.flush(link, nil)
	})
	if n != 0 {
		t.Errorf("sending an advert allocates %v times", n)
	}
	if c.sent < 200 || i.AdvertsSent.Load() != uint64(c.sent) {
		t.Errorf("%d sent, %d counted; want 200 or more, the same", c.sent, i.AdvertsSent.Load())
	}
}

// Adverts due within a tenth of their interval of a pass leave with it, at
// their own deadline's time (their phase stays); a master-down timer is
// never run early.
func TestLoopCoalesces(t *testing.T) {
	c := &countConn{}
	link := NewLink("lan0", false, c, slog.New(slog.DiscardHandler))
	a := loopInstance(t, link, "198.51.100.11", OwnerPriority)
	cfg := a.fixed
	cfg.VRID, cfg.Name = 52, "b"
	b, err := NewInstance(cfg, link, &announce.Fake{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(5 * time.Millisecond)
	b.step(Start{})
	link.lp.adopt(b)
	link.lp.requests()
	cfg.VRID, cfg.Name, cfg.Priority = 53, "backup", 100
	bk, err := NewInstance(cfg, link, &announce.Fake{}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	bk.step(Start{})
	link.lp.adopt(bk)
	link.lp.requests()
	link.lp.flush(link, nil)
	c.sent = 0
	da, db, down := a.m.Deadline(), b.m.Deadline(), bk.m.Deadline()
	if d := db.Sub(da); d < 5*time.Millisecond || d > 10*time.Millisecond {
		t.Fatalf("b's advert %v after a's", d)
	}
	link.lp.timers(link, nil, da)
	if len(link.lp.out) != 2 {
		t.Errorf("%d adverts in the pass, want a's and b's", len(link.lp.out))
	}
	link.lp.flush(link, nil)
	if got, want := b.m.Deadline(), db.Add(100*time.Millisecond); !got.Equal(want) {
		t.Errorf("b's next advert at %v, want %v (its own phase)", got, want)
	}
	// A pass with adverts just before the backup's master down does not
	// run it; one at it does.
	link.lp.timers(link, nil, down.Add(-time.Millisecond))
	if len(link.lp.out) == 0 {
		t.Fatal("no advert in the pass")
	}
	link.lp.flush(link, nil)
	if bk.Status().State != Backup {
		t.Error("master down ran early")
	}
	link.lp.timers(link, nil, down)
	if bk.Status().State != Master {
		t.Errorf("%v at master down, want MASTER", bk.Status().State)
	}
}

// The batch goes out of a real socket in one sendmmsg with the source and
// interface of each advert, and the loop's read takes it in, allocating
// nothing either way.
func TestLoopSocketAllocs(t *testing.T) {
	_, _, ca, cb := connPair(t)
	rx, tx := ca.(*conn), cb.(*conn)
	ad := Advert{Version: 3, VRID: 51, Priority: 100, Interval: 100 * time.Millisecond,
		Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	raw, err := ad.Marshal(pairSrc, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	link := NewLink(netlab.NIC, false, rx, slog.New(slog.DiscardHandler))
	msgs := []outMsg{{raw, pairSrc, Group4}, {raw, pairSrc, Group4}}
	got := 0
	receive := func() {
		for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
			if n, err := rx.readNow(); err != nil {
				t.Fatal(err)
			} else if n == 0 {
				continue
			}
			for {
				p, ok := rx.nextPacket(time.Now())
				if !ok {
					break
				}
				if p.Src != pairSrc || p.TTL != HopLimit || p.At.IsZero() || p.Dst != Group4 {
					t.Fatalf("received %+v", p)
				}
				link.lp.packet(link, p) // no instance: a foreign VRID
				got++
			}
			return
		}
	}
	// The lab may lose the first packets while it comes up.
	for try := 0; got == 0 && try < 30; try++ {
		tx.sendBatch(msgs[:1])
		receive()
	}
	if got == 0 {
		t.Fatal("no advert received")
	}
	got = 0
	n := testing.AllocsPerRun(50, func() {
		if sent := tx.sendBatch(msgs); sent != len(msgs) {
			t.Fatalf("sendmmsg sent %d of %d", sent, len(msgs))
		}
		receive()
	})
	if n != 0 {
		t.Errorf("a batch out and in allocates %v times", n)
	}
	if got < 50 {
		t.Errorf("%d adverts received in 51 batches of 2", got)
	}
	if d := link.Drops()[ReasonForeignVRID]; d == 0 {
		t.Error("the foreign VRID was not counted")
	}
}

// The loop's timers, as the instance's own (TestAdvertInSocketBeatsTimer,
// TestAdvertBehindBacklogBeatsTimer): the master's advert still unread when
// master down is due, alone or behind a backlog of bad adverts that keeps
// the reader past the deadline, counts before the timer.
func TestLoopAdvertBeatsTimer(t *testing.T) {
	for _, backlog := range []int{0, 10} {
		lan := &memNet{}
		mc := lan.conn("198.51.100.12")
		link := NewLink("lan0", false, slowConn{mc, 2 * time.Millisecond}, slog.New(slog.DiscardHandler))
		t.Cleanup(func() { link.Close() })
		i := loopInstance(t, link, "198.51.100.12", 100)
		i.pendingWait = 10 * time.Second // the bound is not what is tested
		deadline := i.m.Deadline()
		master := netip.MustParseAddr("198.51.100.11")
		a := Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
		good, err := a.Marshal(master, Group4, true)
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(deadline) + 5*time.Millisecond)
		at := deadline.Add(-10 * time.Millisecond)
		for range backlog {
			mc.q <- Packet{Data: good[:5], Src: master, Dst: Group4, TTL: 255, At: at} // truncated
		}
		mc.q <- Packet{Data: good, Src: master, Dst: Group4, TTL: 255, At: at}
		go func() { time.Sleep(20 * time.Millisecond); link.pump() }()
		link.lp.timers(link, nil, time.Now())
		if st := i.Status(); st.State != Backup || st.Master != master {
			t.Errorf("backlog %d: after the timer with the master's advert unread: %v (master %v), want BACKUP under %v", backlog, st.State, st.Master, master)
		}
	}
}
