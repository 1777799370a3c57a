package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemlb/tandem/internal/announce"
)

// InstanceConfig is what one instance runs with (the director builds it
// from the configuration).
type InstanceConfig struct {
	Name          string
	Interface     string
	VRID          uint8
	Version       int
	Priority      uint8
	Interval      time.Duration
	Preempt       bool
	PreemptDelay  time.Duration
	VIPs          []netip.Prefix
	Source        netip.Addr // adverts' source: unicast_source or the primary address
	UnicastPeers  []netip.Addr
	UnicastMinTTL int
	ChecksumAsV2  bool
	Password      string
	// HMAC signs and verifies adverts as keepalived 2.4's auth_hmac; nil
	// for none. Password and HMAC are never both set.
	HMAC *HMACConfig
	// Strict is keepalived's vrrp_strict: v2 adverts whose VIPs differ
	// are dropped (RFC 3768); the rest is the configuration's.
	Strict bool
	// GARPLowerPrioDelay: a master that receives a lower-priority advert
	// announces its VIPs again this long after (0: never), sending
	// GARPLowerPrioRepeat messages per VIP (0: GARPRepeat).
	GARPLowerPrioDelay  time.Duration
	GARPLowerPrioRepeat int
	// StartupDelay holds the instance in INIT this long after Run starts
	// (global { startup_delay }): adverts heard meanwhile are ignored,
	// events wait. Not a setting Reconfigure changes.
	StartupDelay time.Duration
	GARPDelay    time.Duration
	GARPRefresh  time.Duration
	// GARPRepeat is the messages per VIP in each announcement
	// (garp.master_repeat), and Accept is RFC 5798's Accept_Mode (the
	// configuration's accept): false filters traffic to the VIPs while
	// master, except for the address owner. Both are the host effects'
	// (HostOptions); Reconfigure refuses to change them in place.
	GARPRepeat int
	Accept     bool
	// UseVMAC: the VIPs live on the macvlan of the VRID (EnsureVMAC).
	// Reconfigure refuses to change it in place.
	UseVMAC bool
	// Realtime runs the instance's timer and state machine on an OS
	// thread of its own at SCHED_FIFO priority (global { realtime }).
	Realtime bool

	// Excluded are addresses held and announced with the VIPs but not
	// carried in adverts (excluded_ips; either family); AddrOptions the
	// options of VIPs and excluded addresses written as objects. Both
	// are the host effects'; Reconfigure refuses to change them in place.
	Excluded    []netip.Prefix
	AddrOptions map[netip.Addr]AddrOptions
}

// IPv6 reports whether the instance's VIPs are IPv6.
func (c *InstanceConfig) IPv6() bool {
	if len(c.VIPs) == 0 { // an instance that only elects (for a BGP announcement)
		return c.Source.Is6()
	}
	return c.VIPs[0].Addr().Is6()
}

// filter: accept = false filters, but not for the owner, whose VIPs are
// its own addresses.
func (c *InstanceConfig) filter() bool { return !c.Accept && c.Priority != OwnerPriority }

// HostOptions are the host effects of the instance: its VIPs on its
// interface, or on the VRID's macvlan with UseVMAC.
func (c *InstanceConfig) HostOptions() HostOptions {
	o := HostOptions{Interface: c.Interface, IPv6: c.IPv6(), Repeat: c.GARPRepeat, Excluded: c.Excluded, AddrOptions: c.AddrOptions}
	if c.UseVMAC {
		o.Interface = VMACName(c.VRID, c.IPv6())
	}
	if c.filter() {
		fam := "ipv4"
		if c.IPv6() {
			fam = "ipv6"
		}
		o.Filter = &Filter{Ingress: c.Interface, Key: fmt.Sprintf("%s_%s_%d", c.Interface, fam, c.VRID)}
	}
	return o
}

// inbound is a parsed advert on its way from a Link to an instance.
type inbound struct {
	a Advert
	p Packet
}

// Instance runs one state machine in its own goroutine: adverts from its
// Link, events from the director and its own timer go in; the machine's
// actions come out as packets, and as calls of its Announcer (address
// changes and announcements).
type Instance struct {
	fixed InstanceConfig // as created; read by any goroutine, never written
	cfg   InstanceConfig // owned by Run (Reconfigure changes it there)
	m     *Machine
	rules Rules
	link  *Link
	fx    announce.Announcer
	log   *slog.Logger

	in     chan inbound
	events chan Event
	done   chan struct{}

	// OnTransition is called in the instance's goroutine after each change
	// of state; it must not block.
	OnTransition func(Transition, Status)

	status        atomic.Pointer[Status]
	AdvertsSent   atomic.Uint64
	AdvertsRecv   atomic.Uint64
	Announcements atomic.Uint64 // Announce actions carried out
	Claims        atomic.Uint64 // ARP from other hosts for VIPs held here
	// Timer lateness (tandem_vrrp_timer_lateness_seconds): per firing,
	// from the deadline to the machine running it. Nanoseconds.
	TimerFirings      atomic.Uint64
	TimerLatenessSum  atomic.Int64
	TimerLatenessLast atomic.Int64
	// OnTimerLateness, if set before Run, gets each firing's lateness in
	// the instance's goroutine (a histogram's Observe); it must not block.
	OnTimerLateness func(time.Duration)

	auth *hmacState // nil: no authentication hmac; owned by Run
	// lowerGARP is set while a lower-priority announcement is due (Run's).
	lowerGARP *time.Timer

	mismatches   atomic.Uint64
	lastMismatch atomic.Pointer[Mismatch]

	dropLogged  map[string]time.Time // owned by Run
	pendingWait time.Duration

	wakeMu sync.RWMutex // wakeFD is not closed while written
	wakeFD int          // the realtime loop's eventfd; -1: none

	// lp is the link's loop once it runs the instance (loop.go): wake
	// tells it, and the adverts go out with its batch. queued: the loop
	// has the instance on its list of those with events.
	lp       atomic.Pointer[loop]
	queued   atomic.Bool
	inLoop   bool          // owned by the loop (the loop's goroutine reads it)
	stopped  chan struct{} // the loop saw the machine reach STOP
	released chan struct{} // the loop let go of the instance (release)

	acts []Action   // the machine's actions, reused (owned by the runner)
	adv  advertWire // the adverts' bytes, kept while nothing changes
}

// advertWire is an instance's adverts as sent, for one priority: the
// bytes change only with it or the configuration.
type advertWire struct {
	ok    bool
	prio  uint8
	dsts  []netip.Addr
	bytes [][]byte // per destination; nil: marshalling failed (err)
	err   error
}

// NewInstance prepares an instance on link whose VIPs fx holds (a
// HostEffects made with cfg.HostOptions()); Run starts it.
func NewInstance(cfg InstanceConfig, link *Link, fx announce.Announcer, log *slog.Logger) (*Instance, error) {
	if cfg.IPv6() != link.IPv6 {
		return nil, fmt.Errorf("vrrp: instance %s: VIP family differs from link %s", cfg.Name, link.Name)
	}
	cfg.VIPs = slices.Clone(cfg.VIPs)
	cfg.UnicastPeers = slices.Clone(cfg.UnicastPeers)
	i := &Instance{
		pendingWait: pendingWait,
		fixed:       cfg,
		cfg:         cfg,
		m:           NewMachine(paramsOf(&cfg)),
		rules:       rulesOf(&cfg),
		link:        link,
		fx:          fx,
		log:         log.With("instance", cfg.Name, "vrid", cfg.VRID),
		in:          make(chan inbound, 64),
		events:      make(chan Event, 16),
		done:        make(chan struct{}),

		dropLogged: map[string]time.Time{},
		wakeFD:     -1,
		stopped:    make(chan struct{}),
		released:   make(chan struct{}),
	}
	if cfg.HMAC != nil {
		h, err := newHMACState(*cfg.HMAC, len(cfg.UnicastPeers))
		if err != nil {
			return nil, fmt.Errorf("vrrp: instance %s: %w", cfg.Name, err)
		}
		i.auth = h
	}
	st := i.m.Status()
	i.status.Store(&st)
	if err := link.attach(cfg.VRID, i.in, i.wake); err != nil {
		return nil, fmt.Errorf("vrrp: instance %s: %w", cfg.Name, err)
	}
	return i, nil
}

// Name is the instance's name.
func (i *Instance) Name() string { return i.fixed.Name }

// Status is a snapshot, safe from any goroutine.
func (i *Instance) Status() Status { return *i.status.Load() }

// Send queues an event (priority change, fault, shutdown, handover...).
func (i *Instance) Send(ev Event) {
	select {
	case i.events <- ev:
		i.wake()
	case <-i.done:
	}
}

// Done is closed when Run has returned.
func (i *Instance) Done() <-chan struct{} { return i.done }

// Run is the instance's loop. It returns when the machine has reached
// STOP after a Shutdown event, or at once when ctx ends (VIPs left as
// they are: a crash-like exit that a restart cleans up).
//
// The deadline is a timerfd (timer_linux.go). With cfg.Realtime the loop
// runs on an OS thread of its own at SCHED_FIFO (realtime_linux.go).
func (i *Instance) Run(ctx context.Context) {
	defer close(i.done)
	defer i.link.detach(i.fixed.VRID)
	defer i.fx.Close()
	if !i.startupDelay(ctx) {
		return
	}
	if w, ok := i.fx.(claimWatcher); ok {
		go w.WatchClaims(i.claimed()) // ends when Run closes fx
	}
	if i.fixed.Realtime && i.realtime(ctx) {
		return
	}
	// use_vmac instances keep their own goroutine: in the link's loop,
	// TestUseVMAC's backup missed the new master's adverts 1 run in 8
	// (not understood yet; 0 in 10 on their own).
	if lp := i.link.lp; lp != nil && !i.fixed.UseVMAC && lp.adopt(i) {
		select {
		case <-ctx.Done():
			lp.release(i)
			return
		case <-i.stopped:
			return
		case <-lp.exited:
			// The link closed under a running instance: it goes on
			// alone, as it would have before (timers, no adverts heard).
			if ctx.Err() != nil {
				return
			}
		}
	}
	t, err := newTimerFD(true)
	if err != nil {
		i.log.Warn("timerfd failed, using a Go timer (up to 1 ms late)", "err", err)
		i.runGoTimer(ctx)
		return
	}
	defer t.Close()
	for {
		if i.m.state == Stop {
			return
		}
		if err := t.arm(i.m.Deadline()); err != nil {
			i.log.Error("arming the VRRP timer failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case msg := <-i.in:
			i.receive(msg)
		case ev := <-i.events:
			i.handleEvent(ev)
		case <-t.C:
			i.timerFired(t.fired())
		}
	}
}

// runGoTimer is Run's loop on a Go timer, if no timerfd can be had.
func (i *Instance) runGoTimer(ctx context.Context) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		if i.m.state == Stop {
			return
		}
		d := i.m.Deadline()
		if d.IsZero() {
			timer.Stop()
		} else {
			timer.Reset(time.Until(d))
		}
		select {
		case <-ctx.Done():
			return
		case msg := <-i.in:
			i.receive(msg)
		case ev := <-i.events:
			i.handleEvent(ev)
		case <-timer.C:
			i.timerFired(d)
		}
	}
}

// timerFired runs the machine's timers that were due at deadline (zero:
// a stale wake-up), and records how late it got here.
func (i *Instance) timerFired(deadline time.Time) {
	now := time.Now()
	if deadline.IsZero() || now.Before(deadline) {
		return // stale or early: the loop arms the timer again
	}
	late := now.Sub(deadline)
	i.TimerFirings.Add(1)
	i.TimerLatenessSum.Add(int64(late))
	i.TimerLatenessLast.Store(int64(late))
	if i.OnTimerLateness != nil {
		i.OnTimerLateness(late)
	}
	// Adverts that arrived while this goroutine was held up count first:
	// a stall must not turn into a spurious election.
	i.drainInbound()
	// Before giving up on the other routers, let the link's reader catch
	// up with the deadline (it is behind: a busy machine, or a backlog of
	// bad adverts in front of the master's): an advert received before the
	// deadline counts. Bounded, for the reader may never catch up.
	if i.m.Deciding(now) && i.behind(deadline) {
		wait := time.NewTimer(i.pendingWait)
		for waiting := true; waiting && i.behind(deadline); {
			select {
			case msg := <-i.in:
				i.receive(msg)
				i.drainInbound()
			case <-wait.C:
				waiting = false
			}
		}
		wait.Stop()
	}
	if d := i.m.Deadline(); d.IsZero() || now.Before(d) {
		return
	}
	i.step(Tick{})
}

// claimWatcher is an Announcer that reports other hosts claiming the
// VIPs it holds (HostEffects, through ARP).
type claimWatcher interface {
	WatchClaims(claimed func(vip netip.Addr, mac net.HardwareAddr))
}

// claimed returns the watcher's callback: count, log (at most every 10 s)
// and tell the machine, never blocking the watcher.
func (i *Instance) claimed() func(netip.Addr, net.HardwareAddr) {
	var logged time.Time
	return func(vip netip.Addr, mac net.HardwareAddr) {
		i.Claims.Add(1)
		if time.Since(logged) >= 10*time.Second {
			logged = time.Now()
			i.log.Warn("another host claims a virtual IP of this master (a router that missed our adverts?): announcing again",
				"vip", vip, "mac", mac.String())
		}
		select {
		case i.events <- Claimed{}:
			i.wake()
		default:
		}
	}
}

// behind reports whether packets received before deadline may still be
// on their way from the socket to this instance.
func (i *Instance) behind(deadline time.Time) bool {
	return i.link.Pending() && i.link.Reached().Before(deadline)
}

// pendingWait bounds timerFired's wait for the link's reader
// (Instance.pendingWait; tests lengthen it). A failover under a flood of
// bad adverts may come this much later.
const pendingWait = 50 * time.Millisecond

func (i *Instance) drainInbound() {
	for {
		select {
		case msg := <-i.in:
			i.receive(msg)
		default:
			return
		}
	}
}

// receive applies the receive rules to an advert and steps the machine.
func (i *Instance) receive(msg inbound) {
	reason := i.rules.Check(msg.a, msg.p)
	if reason == "" || reason == ReasonInterval || reason == ReasonAddrList {
		// An advert that fails authentication is counted as that, before
		// what its contents say.
		if r := i.checkAuth(&msg); r != "" {
			reason = r
		}
	}
	if reason != "" {
		i.link.drop(reason)
		i.logDrop(reason, msg)
		return
	}
	i.AdvertsRecv.Add(1)
	if i.rules.AddrListDiffers(msg.a) {
		i.addrListDiffers(msg)
	}
	at := msg.p.At
	if at.IsZero() {
		at = time.Now()
	}
	i.stepAt(at, Received{From: msg.p.Src, Priority: msg.a.Priority, Interval: msg.a.Interval})
	i.lowerPriority(msg.a.Priority)
}

// checkAuth verifies a signed advert; an instance without authentication
// hmac drops signed ones, as keepalived without auth_hmac does.
func (i *Instance) checkAuth(msg *inbound) string {
	if i.auth == nil {
		if msg.a.Signed {
			return ReasonAuth
		}
		return ""
	}
	return i.auth.verify(&msg.a, msg.p.Data, msg.p.Src, time.Now())
}

// Mismatch is the last accepted advert whose virtual IPs were not this
// instance's: one director has a VIP-list change the other has not yet.
type Mismatch struct {
	From  netip.Addr
	Addrs []netip.Addr
	At    time.Time
}

// AddrListMismatch is how many accepted adverts carried other virtual IPs
// than ours, and the last of them.
func (i *Instance) AddrListMismatch() (uint64, Mismatch) {
	n := i.mismatches.Load()
	if p := i.lastMismatch.Load(); p != nil {
		return n, *p
	}
	return n, Mismatch{}
}

func (i *Instance) addrListDiffers(msg inbound) {
	i.mismatches.Add(1)
	i.lastMismatch.Store(&Mismatch{From: msg.p.Src, Addrs: slices.Clone(msg.a.Addrs), At: time.Now()})
	if time.Since(i.dropLogged[ReasonAddrList]) < 10*time.Second {
		return
	}
	i.dropLogged[ReasonAddrList] = time.Now()
	i.log.Warn("advert's virtual IPs differ from this instance's: accepted (RFC 9568), but give both directors the same virtual_ips",
		"from", msg.p.Src, "theirs", msg.a.Addrs, "ours", i.rules.VIPs)
}

// logDrop logs a dropped advert at most every 10 s per reason.
func (i *Instance) logDrop(reason string, msg inbound) {
	if time.Since(i.dropLogged[reason]) < 10*time.Second {
		return
	}
	i.dropLogged[reason] = time.Now()
	i.log.Warn("dropped advert", "reason", reason, "from", msg.p.Src, "advert", msg.a.String(), "ttl", msg.p.TTL)
}

func (i *Instance) handleEvent(ev Event) {
	if r, ok := ev.(reconfig); ok {
		i.applyReconfig(r)
		return
	}
	if _, ok := ev.(lowerPrioGARP); ok {
		i.lowerPriorityGARP()
		return
	}
	i.step(ev)
}

func (i *Instance) step(ev Event) { i.stepAt(time.Now(), ev) }

// stepAt steps the machine with the time the event happened.
func (i *Instance) stepAt(now time.Time, ev Event) {
	i.acts = i.m.StepAppend(i.acts[:0], now, ev)
	i.do(i.acts)
}

// do carries out the machine's actions, in order.
func (i *Instance) do(acts []Action) {
	for _, act := range acts {
		switch a := act.(type) {
		case SendAdvert:
			i.sendAdvert(a.Priority)
		case AddVIPs:
			if err := i.fx.Add(a.VIPs); err != nil {
				i.log.Error("adding VIPs failed; check that the interface exists and tandem has CAP_NET_ADMIN", "err", err)
			}
		case RemoveVIPs:
			if err := i.fx.Remove(a.VIPs); err != nil {
				i.log.Error("removing VIPs failed", "err", err)
			}
		case Announce:
			i.Announcements.Add(1)
			if err := i.fx.Announce(a.VIPs); err != nil {
				i.log.Warn("announcing VIPs failed", "err", err)
			}
		case Transition:
			st := i.m.Status()
			i.status.Store(&st)
			// keepalived's line, which people grep for, then ours.
			i.log.Info(fmt.Sprintf("(%s) Entering %s STATE", i.cfg.Name, a.To), "from", a.From.String(), "to", a.To.String(),
				"reason", a.Reason, "cause", a.Cause.String(), "priority", st.Priority)
			if i.OnTransition != nil {
				i.OnTransition(a, st)
			}
		}
	}
	i.storeStatus()
}

// storeStatus publishes the machine's status when it changed (a copy
// for each advert would be an allocation each).
func (i *Instance) storeStatus() {
	if st := i.m.Status(); st != *i.status.Load() {
		p := new(Status)
		*p = st
		i.status.Store(p)
	}
}

// wire returns the adverts' bytes for prio, marshalling them again only
// when the priority or the configuration changed.
func (i *Instance) wire(prio uint8) *advertWire {
	w := &i.adv
	if w.ok && w.prio == prio {
		return w
	}
	a := Advert{Version: i.cfg.Version, VRID: i.cfg.VRID, Priority: prio, Interval: i.cfg.Interval,
		AuthType: authType(i.cfg.Password), Password: i.cfg.Password}
	for _, p := range i.cfg.VIPs {
		a.Addrs = append(a.Addrs, p.Addr())
	}
	dsts := i.cfg.UnicastPeers
	if len(dsts) == 0 {
		dsts = []netip.Addr{Group4}
		if i.cfg.IPv6() {
			dsts = []netip.Addr{Group6}
		}
	}
	// New slices: a batch not yet sent may hold the old ones.
	*w = advertWire{ok: true, prio: prio, dsts: dsts, bytes: make([][]byte, len(dsts))}
	for k, dst := range dsts {
		if w.bytes[k], w.err = a.Marshal(i.cfg.Source, dst, !i.cfg.ChecksumAsV2); w.err != nil {
			w.bytes = nil
			break
		}
	}
	return w
}

func (i *Instance) sendAdvert(prio uint8) {
	w := i.wire(prio)
	signed := i.auth != nil && i.auth.signs()
	var seq uint64
	if signed {
		seq = i.auth.nextSeq(time.Now()) // one sequence for every peer's copy, as keepalived
	}
	for k, dst := range w.dsts {
		err := w.err
		if err == nil {
			b := w.bytes[k]
			if signed {
				b = i.auth.sign(slices.Clip(b), i.cfg.Source, dst, seq)
			}
			if i.inLoop {
				// Out with the other adverts of this pass (one sendmmsg).
				i.lp.Load().queue(i, b, i.cfg.Source, dst)
				continue
			}
			err = i.link.conn.Send(b, i.cfg.Source, dst)
		}
		if err != nil {
			i.log.Warn("sending advert failed", "to", dst, "err", err)
			continue
		}
		i.AdvertsSent.Add(1)
	}
}
