package vrrp

import (
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/announce"
)

// memNet is a LAN of fake Conns at the message level: a multicast reaches
// every other member, a unicast the member with that address.
type memNet struct {
	mu      sync.Mutex
	members []*memConn
	blocked map[netip.Addr]bool // sender cut off (its "port" down)
}

type memConn struct {
	net  *memNet
	addr netip.Addr
	q    chan Packet
	once sync.Once
	done chan struct{}
}

func (n *memNet) conn(addr string) *memConn {
	c := &memConn{net: n, addr: netip.MustParseAddr(addr), q: make(chan Packet, 256), done: make(chan struct{})}
	n.mu.Lock()
	n.members = append(n.members, c)
	n.mu.Unlock()
	return c
}

func (n *memNet) block(addr netip.Addr, on bool) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.blocked == nil {
		n.blocked = map[netip.Addr]bool{}
	}
	n.blocked[addr] = on
}

// inject delivers raw bytes to every member, as if from src.
func (n *memNet) inject(b []byte, src, dst netip.Addr, ttl int) {
	n.mu.Lock()
	defer n.mu.Unlock()
	for _, m := range n.members {
		m.q <- Packet{Data: b, Src: src, Dst: dst, TTL: ttl}
	}
}

func (c *memConn) Recv() (Packet, error) {
	select {
	case p := <-c.q:
		return p, nil
	case <-c.done:
		return Packet{}, net.ErrClosed
	}
}

func (c *memConn) Send(b []byte, src, dst netip.Addr) error {
	c.net.mu.Lock()
	defer c.net.mu.Unlock()
	if c.net.blocked[c.addr] {
		return nil
	}
	for _, m := range c.net.members {
		if m != c && (dst.IsMulticast() || m.addr == dst) {
			m.q <- Packet{Data: slices.Clone(b), Src: src, Dst: dst, TTL: HopLimit}
		}
	}
	return nil
}

func (c *memConn) pending() bool { return len(c.q) > 0 }

func (c *memConn) Close() error { c.once.Do(func() { close(c.done) }); return nil }

// calls renders the announcer's calls in order, comma-separated.
func calls(f *announce.Fake) string { return strings.Join(f.Calls(), ",") }

func holds(f *announce.Fake) bool { return len(f.Held()) > 0 }

type node struct {
	inst *Instance
	link *Link
	fx   *announce.Fake
}

func startNode(t *testing.T, n *memNet, addr string, prio uint8, mod func(*InstanceConfig)) *node {
	t.Helper()
	return startNodeWith(t, n, addr, prio, mod, nil)
}

// startNodeWith calls before on the instance before it runs.
func startNodeWith(t *testing.T, n *memNet, addr string, prio uint8, mod func(*InstanceConfig), before func(*Instance)) *node {
	t.Helper()
	cfg := InstanceConfig{
		Name: "web", Interface: "lan0", VRID: 51, Version: 3, Priority: prio, Interval: 100 * time.Millisecond,
		Preempt: true, VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")},
		Source: netip.MustParseAddr(addr), UnicastMinTTL: 255,
	}
	if mod != nil {
		mod(&cfg)
	}
	log := slog.New(slog.DiscardHandler)
	link := NewLink("lan0", false, n.conn(addr), log)
	fx := &announce.Fake{}
	inst, err := NewInstance(cfg, link, fx, log)
	if err != nil {
		t.Fatal(err)
	}
	if before != nil {
		before(inst)
	}
	go link.Run()
	ctx := t.Context()
	go inst.Run(ctx)
	t.Cleanup(func() { link.Close(); <-inst.Done() })
	return &node{inst, link, fx}
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func state(n *node) State { return n.inst.Status().State }

func TestInstancesElectAndHandOver(t *testing.T) {
	lan := &memNet{}
	a := startNode(t, lan, "198.51.100.11", 150, nil)
	b := startNode(t, lan, "198.51.100.12", 100, nil)
	waitFor(t, "a master", func() bool { return state(a) == Master && state(b) == Backup })
	time.Sleep(500 * time.Millisecond) // several adverts: nobody moves
	if state(a) != Master || state(b) != Backup || !holds(a.fx) || holds(b.fx) {
		t.Fatalf("unstable: a=%v b=%v", state(a), state(b))
	}
	if n := b.inst.AdvertsRecv.Load(); n < 3 {
		t.Errorf("b received %d adverts", n)
	}
	a.inst.Send(Shutdown{})
	waitFor(t, "handover", func() bool { return state(b) == Master && state(a) == Stop })
	if holds(a.fx) || !holds(b.fx) {
		t.Errorf("VIPs after handover: a=%v b=%v", holds(a.fx), holds(b.fx))
	}
	// Repeats squeezed: on a starved machine b may become master before
	// a's first advert reaches it, and a re-announces on hearing it.
	if got := strings.Join(slices.Compact(a.fx.Calls()), ","); got != "remove 198.51.100.10/24,add 198.51.100.10/24,announce 198.51.100.10/24,remove 198.51.100.10/24" {
		t.Errorf("a's effects: %s", got)
	}
}

func TestInstanceFailoverOnSilenceAndPreemptBack(t *testing.T) {
	lan := &memNet{}
	a := startNode(t, lan, "198.51.100.11", 150, nil)
	b := startNode(t, lan, "198.51.100.12", 100, nil)
	waitFor(t, "a master", func() bool { return state(a) == Master && state(b) == Backup })
	lan.block(a.inst.fixed.Source, true) // a's adverts no longer arrive
	waitFor(t, "b master", func() bool { return state(b) == Master })
	lan.block(a.inst.fixed.Source, false)
	// a hears b (lower) and re-asserts; b hears a (higher) and steps back.
	waitFor(t, "a master again", func() bool { return state(a) == Master && state(b) == Backup })
	if holds(b.fx) {
		t.Error("b kept the VIPs")
	}
}

func TestInstanceDropsBadAdverts(t *testing.T) {
	lan := &memNet{}
	b := startNode(t, lan, "198.51.100.12", 100, func(c *InstanceConfig) {
		c.UnicastPeers = []netip.Addr{netip.MustParseAddr("198.51.100.11")}
	})
	good := Advert{Version: 3, VRID: 51, Priority: 200, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	peer, self := netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")
	enc := func(a Advert, src, dst netip.Addr) []byte {
		x, err := a.Marshal(src, dst, true)
		if err != nil {
			t.Fatal(err)
		}
		return x
	}
	with := func(f func(*Advert)) Advert { a := good; a.Addrs = slices.Clone(good.Addrs); f(&a); return a }
	stranger := netip.MustParseAddr("198.51.100.66")
	cases := []struct {
		reason string
		b      []byte
		src    netip.Addr
		ttl    int
	}{
		{ReasonTruncated, enc(good, peer, self)[:6], peer, 255},
		{ReasonChecksum, func() []byte { x := enc(good, peer, self); x[7] ^= 1; return x }(), peer, 255},
		{ReasonForeignVRID, enc(with(func(a *Advert) { a.VRID = 52 }), peer, self), peer, 255},
		{ReasonVersionDiff, enc(with(func(a *Advert) { a.Version = 2; a.Interval = time.Second }), peer, self), peer, 255},
		{ReasonPeer, enc(good, stranger, self), stranger, 255},
		{ReasonTTL, enc(good, peer, self), peer, 64},
	}
	for _, c := range cases {
		before := b.link.Drops()[c.reason]
		lan.inject(c.b, c.src, self, c.ttl)
		waitFor(t, c.reason+" counted", func() bool { return b.link.Drops()[c.reason] == before+1 })
	}
	// None of them changed anything: b became master by itself and stays.
	waitFor(t, "b master", func() bool { return state(b) == Master })
	if n := b.inst.AdvertsRecv.Load(); n != 0 {
		t.Errorf("%d bad adverts reached the state machine", n)
	}
	// A good one from the peer, of higher priority, is obeyed.
	lan.inject(enc(good, peer, self), peer, self, 255)
	waitFor(t, "b backup", func() bool { return state(b) == Backup })
}

// An advert whose virtual IPs differ from ours (the other director has a
// VIP-list change this one has not) is accepted, counted and remembered,
// as RFC 9568 allows: dropping it made both directors master while the
// change was rolled out (issue 12). Strict v2 keeps RFC 3768's drop.
func TestAddrListMismatchAccepted(t *testing.T) {
	peer, self := netip.MustParseAddr("198.51.100.11"), netip.MustParseAddr("198.51.100.12")
	other := []netip.Addr{netip.MustParseAddr("198.51.100.10"), netip.MustParseAddr("198.51.100.20")}
	for _, v := range []int{2, 3} {
		lan := &memNet{}
		b := startNode(t, lan, self.String(), 100, func(c *InstanceConfig) {
			c.Version = v
			if v == 2 {
				c.Interval = time.Second
			}
		})
		a := Advert{Version: v, VRID: 51, Priority: 200, Interval: b.inst.fixed.Interval, Addrs: other}
		x, err := a.Marshal(peer, Group4, v == 3)
		if err != nil {
			t.Fatal(err)
		}
		lan.inject(x, peer, Group4, 255)
		waitFor(t, "the advert counted as a mismatch", func() bool { n, _ := b.inst.AddrListMismatch(); return n == 1 })
		if n := b.inst.AdvertsRecv.Load(); n != 1 {
			t.Errorf("v%d: %d adverts reached the machine, want 1", v, n)
		}
		if st := b.inst.Status(); st.State != Backup || st.Master != peer {
			t.Errorf("v%d: %v under %v, want BACKUP under %v", v, st.State, st.Master, peer)
		}
		if _, m := b.inst.AddrListMismatch(); m.From != peer || !slices.Equal(m.Addrs, other) {
			t.Errorf("v%d: last mismatch %+v", v, m)
		}
	}
	r := Rules{Version: 2, Interval: time.Second, VIPs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}, MinTTL: 255, DropAddrList: true}
	a := Advert{Version: 2, VRID: 51, Priority: 200, Interval: time.Second, Addrs: other}
	if got := r.Check(a, Packet{Src: peer, Dst: Group4, TTL: 255}); got != ReasonAddrList {
		t.Errorf("strict v2: %q, want %q", got, ReasonAddrList)
	}
	a.Addrs = []netip.Addr{other[0], other[0]}
	if !r.AddrListDiffers(a) {
		t.Error("a repeated address hides a missing one")
	}
	if n := testing.AllocsPerRun(100, func() { r.AddrListDiffers(a) }); n != 0 {
		t.Errorf("comparing address lists allocates %v times", n)
	}
}

// The realtime loop (its own SCHED_FIFO thread when allowed, else a
// warning and the normal loop) elects and hands over the same way, and
// both loops count their timer firings.
func TestInstancesRealtime(t *testing.T) {
	for _, rt := range []bool{false, true} {
		t.Run(fmt.Sprint("realtime=", rt), func(t *testing.T) {
			lan := &memNet{}
			mod := func(c *InstanceConfig) { c.Realtime = rt }
			a := startNode(t, lan, "198.51.100.11", 150, mod)
			var observed atomic.Int64
			b := startNodeWith(t, lan, "198.51.100.12", 100, mod, func(i *Instance) {
				i.OnTimerLateness = func(time.Duration) { observed.Add(1) }
			})
			waitFor(t, "a master", func() bool { return state(a) == Master && state(b) == Backup })
			cfg := b.inst.fixed
			cfg.Priority = 200
			if err := b.inst.Reconfigure(cfg, 0); err != nil {
				t.Fatal(err)
			}
			waitFor(t, "b master by preemption", func() bool { return state(b) == Master && state(a) == Backup })
			b.inst.Send(Shutdown{})
			waitFor(t, "handover", func() bool { return state(a) == Master && state(b) == Stop })
			n := b.inst.TimerFirings.Load()
			if n == 0 || observed.Load() != int64(n) {
				t.Errorf("b's timer: %d firings, %d observed", n, observed.Load())
			}
			if late := time.Duration(b.inst.TimerLatenessLast.Load()); late < 0 || late > time.Second {
				t.Errorf("b's last lateness %v", late)
			}
		})
	}
}

// lateBackup is a backup whose loop does not run (the test calls
// timerFired itself), just past its master-down deadline, and the advert
// of the master it missed.
type lateBackup struct {
	i        *Instance
	lan      *memNet
	link     *Link
	deadline time.Time
	master   netip.Addr
	advert   Advert
	wire     []byte
}

func newLateBackup(t *testing.T) *lateBackup {
	t.Helper()
	lb := &lateBackup{lan: &memNet{}, master: netip.MustParseAddr("198.51.100.11")}
	log := slog.New(slog.DiscardHandler)
	cfg := InstanceConfig{Name: "web", Interface: "lan0", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond,
		Preempt: true, VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}, Source: netip.MustParseAddr("198.51.100.12")}
	lb.link = NewLink("lan0", false, lb.lan.conn("198.51.100.12"), log)
	t.Cleanup(func() { lb.link.Close() })
	var err error
	if lb.i, err = NewInstance(cfg, lb.link, &announce.Fake{}, log); err != nil {
		t.Fatal(err)
	}
	lb.i.step(Start{})
	if st := lb.i.Status().State; st != Backup {
		t.Fatalf("after start: %v", st)
	}
	lb.deadline = lb.i.m.Deadline()
	lb.advert = Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	if lb.wire, err = lb.advert.Marshal(lb.master, Group4, true); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(lb.deadline) + 5*time.Millisecond)
	return lb
}

// stillBackup fails t unless the instance follows the master.
func (lb *lateBackup) stillBackup(t *testing.T, when string) {
	t.Helper()
	if st := lb.i.Status(); st.State != Backup || st.Master != lb.master {
		t.Errorf("%s: %v (master %v), want BACKUP under %v", when, st.State, st.Master, lb.master)
	}
}

// A backup held up past its master-down deadline with the master's advert
// already queued stays backup: the queued advert counts before the timer.
func TestQueuedAdvertBeatsLateTimer(t *testing.T) {
	lb := newLateBackup(t)
	lb.i.in <- inbound{a: lb.advert, p: Packet{Data: lb.wire, Src: lb.master, Dst: Group4, TTL: 255, At: lb.deadline.Add(-time.Millisecond)}}
	lb.i.timerFired(lb.deadline)
	lb.stillBackup(t, "after a late timer with the master's advert queued")
}

// An advert still in the socket when the master-down timer fires (the
// link's reader is behind) counts first: before Link.Pending, the backup
// became master although the master had spoken in time.
func TestAdvertInSocketBeatsTimer(t *testing.T) {
	lb := newLateBackup(t)
	lb.i.pendingWait = 10 * time.Second // the bound is not what is tested
	lb.lan.inject(lb.wire, lb.master, Group4, 255)
	if !lb.link.Pending() {
		t.Fatal("an unread packet is not pending")
	}
	go func() { time.Sleep(20 * time.Millisecond); lb.link.Run() }()
	lb.i.timerFired(lb.deadline)
	lb.stillBackup(t, "after the timer with the master's advert in the socket")
}

// slowConn is a memConn whose reader takes a while per packet.
type slowConn struct {
	*memConn
	per time.Duration
}

func (c slowConn) Recv() (Packet, error) {
	time.Sleep(c.per)
	return c.memConn.Recv()
}

// A backlog of bad adverts in front of the master's (a flood) keeps the
// link's reader behind the master-down deadline: the backup waits for the
// reader to get past it. Before, it waited 5 ms at most and became master
// (the chaos run with keepalived: two tandem masters during a burst).
func TestAdvertBehindBacklogBeatsTimer(t *testing.T) {
	lan := &memNet{}
	log := slog.New(slog.DiscardHandler)
	cfg := InstanceConfig{Name: "web", Interface: "lan0", VRID: 51, Version: 3, Priority: 100, Interval: 100 * time.Millisecond,
		Preempt: true, VIPs: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/24")}, Source: netip.MustParseAddr("198.51.100.12")}
	mc := lan.conn("198.51.100.12")
	link := NewLink("lan0", false, slowConn{mc, 2 * time.Millisecond}, log)
	t.Cleanup(func() { link.Close() })
	i, err := NewInstance(cfg, link, &announce.Fake{}, log)
	if err != nil {
		t.Fatal(err)
	}
	i.step(Start{})
	deadline := i.m.Deadline()
	master := netip.MustParseAddr("198.51.100.11")
	a := Advert{Version: 3, VRID: 51, Priority: 150, Interval: 100 * time.Millisecond, Addrs: []netip.Addr{netip.MustParseAddr("198.51.100.10")}}
	good, err := a.Marshal(master, Group4, true)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Until(deadline) + 5*time.Millisecond)
	at := deadline.Add(-10 * time.Millisecond)
	for range 10 {
		mc.q <- Packet{Data: good[:5], Src: master, Dst: Group4, TTL: 255, At: at} // truncated
	}
	mc.q <- Packet{Data: good, Src: master, Dst: Group4, TTL: 255, At: at}
	go link.Run()
	i.timerFired(deadline)
	if st := i.Status(); st.State != Backup || st.Master != master {
		t.Errorf("after the timer with the master's advert behind a backlog: %v (master %v), want BACKUP under %v", st.State, st.Master, master)
	}
}

// The host effects follow from the instance's configuration: the
// macvlan with use_vmac, the accept filter (never for the owner), the
// burst size.
func TestHostOptions(t *testing.T) {
	base := InstanceConfig{Interface: "lan0", VRID: 51, Priority: 100, GARPRepeat: 5,
		VIPs: []netip.Prefix{netip.MustParsePrefix("2001:db8::10/64")}}
	cases := []struct {
		mod  func(*InstanceConfig)
		want HostOptions
	}{
		{func(c *InstanceConfig) { c.Accept = true }, HostOptions{Interface: "lan0", IPv6: true, Repeat: 5}},
		{nil, HostOptions{Interface: "lan0", IPv6: true, Repeat: 5, Filter: &Filter{Ingress: "lan0", Key: "lan0_ipv6_51"}}},
		{func(c *InstanceConfig) { c.UseVMAC = true }, HostOptions{Interface: "vrrp6.51", IPv6: true, Repeat: 5, Filter: &Filter{Ingress: "lan0", Key: "lan0_ipv6_51"}}},
		{func(c *InstanceConfig) { c.Priority = OwnerPriority }, HostOptions{Interface: "lan0", IPv6: true, Repeat: 5}},
	}
	for i, c := range cases {
		cfg := base
		if c.mod != nil {
			c.mod(&cfg)
		}
		got := cfg.HostOptions()
		if !reflect.DeepEqual(got, c.want) {
			t.Errorf("case %d: %+v (filter %+v), want %+v (filter %+v)", i, got, got.Filter, c.want, c.want.Filter)
		}
	}
}
