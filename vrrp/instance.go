package vrrp

import (
	"context"
	"fmt"
	"log/slog"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/sys/unix"
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
	GARPDelay     time.Duration
	GARPRefresh   time.Duration
	// UseVMAC is not used by the instance (the director gives it the
	// macvlan's Effects); Reconfigure refuses to change it in place.
	UseVMAC bool
	// Realtime runs the instance's timer and state machine on an OS
	// thread of its own at SCHED_FIFO priority (global { realtime }).
	Realtime bool
}

// IPv6 reports whether the instance's VIPs are IPv6.
func (c *InstanceConfig) IPv6() bool { return len(c.VIPs) > 0 && c.VIPs[0].Addr().Is6() }

// inbound is a parsed advert on its way from a Link to an instance.
type inbound struct {
	a Advert
	p Packet
}

// Instance runs one state machine in its own goroutine: adverts from its
// Link, events from the director and its own timer go in; the machine's
// actions come out as packets, address changes and announcements.
type Instance struct {
	fixed InstanceConfig // as created; read by any goroutine, never written
	cfg   InstanceConfig // owned by Run (Reconfigure changes it there)
	m     *Machine
	rules Rules
	link  *Link
	fx    Effects
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
	Announcements atomic.Uint64
	// Timer lateness (tandem_vrrp_timer_lateness_seconds): per firing,
	// from the deadline to the machine running it. Nanoseconds.
	TimerFirings      atomic.Uint64
	TimerLatenessSum  atomic.Int64
	TimerLatenessLast atomic.Int64
	// OnTimerLateness, if set before Run, gets each firing's lateness in
	// the instance's goroutine (a histogram's Observe); it must not block.
	OnTimerLateness func(time.Duration)

	dropLogged map[string]time.Time // owned by Run
	prevVIPs   []netip.Prefix       // owned by Run: the VIPs before a Reconfigure

	wakeMu sync.RWMutex // wakeFD is not closed while written
	wakeFD int          // the realtime loop's eventfd; -1: none
}

// NewInstance prepares an instance on link; Run starts it.
func NewInstance(cfg InstanceConfig, link *Link, fx Effects, log *slog.Logger) (*Instance, error) {
	if cfg.IPv6() != link.IPv6 {
		return nil, fmt.Errorf("vrrp: instance %s: VIP family differs from link %s", cfg.Name, link.Name)
	}
	cfg.VIPs = slices.Clone(cfg.VIPs)
	cfg.UnicastPeers = slices.Clone(cfg.UnicastPeers)
	i := &Instance{
		fixed:  cfg,
		cfg:    cfg,
		m:      NewMachine(paramsOf(&cfg)),
		rules:  rulesOf(&cfg),
		link:   link,
		fx:     fx,
		log:    log.With("instance", cfg.Name, "vrid", cfg.VRID),
		in:     make(chan inbound, 64),
		events: make(chan Event, 16),
		done:   make(chan struct{}),

		dropLogged: map[string]time.Time{},
		wakeFD:     -1,
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
	// VIPs of ours left by a crash go before we enter backup.
	if err := i.fx.RemoveVIPs(); err != nil {
		i.log.Warn("removing stale VIPs", "err", err)
	}
	efd := -1
	if i.fixed.Realtime {
		var err error
		if efd, err = unix.Eventfd(0, unix.EFD_NONBLOCK|unix.EFD_CLOEXEC); err != nil {
			i.log.Warn("realtime: eventfd failed, running at normal priority", "err", err)
		} else {
			defer func() {
				i.wakeMu.Lock()
				i.wakeFD = -1
				unix.Close(efd)
				i.wakeMu.Unlock()
			}()
		}
	}
	rt := efd >= 0 && lockRealtime(i.log)
	t, err := newTimerFD(!rt)
	if err != nil {
		i.log.Warn("timerfd failed, using a Go timer (up to 1 ms late)", "err", err)
		i.runGoTimer(ctx)
		return
	}
	defer t.Close()
	i.step(Start{})
	if rt {
		i.runRealtime(ctx, t, efd)
		return
	}
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
	i.step(Start{})
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
	for pending := true; pending; {
		select {
		case msg := <-i.in:
			i.receive(msg)
		default:
			pending = false
		}
	}
	if d := i.m.Deadline(); d.IsZero() || now.Before(d) {
		return
	}
	i.step(Tick{})
}

// receive applies the receive rules to an advert and steps the machine.
func (i *Instance) receive(msg inbound) {
	if reason := i.rules.Check(msg.a, msg.p); reason != "" {
		i.link.drop(reason)
		i.logDrop(reason, msg)
		return
	}
	i.AdvertsRecv.Add(1)
	at := msg.p.At
	if at.IsZero() {
		at = time.Now()
	}
	i.stepAt(at, Received{From: msg.p.Src, Priority: msg.a.Priority, Interval: msg.a.Interval})
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
	switch e := ev.(type) {
	case reconfig:
		i.applyReconfig(e)
	case Reconfigure:
		// It would leave the receive rules and adverts behind.
		i.log.Error("vrrp.Reconfigure sent as an event is ignored; call Instance.Reconfigure")
	default:
		i.step(ev)
	}
}

func (i *Instance) step(ev Event) { i.stepAt(time.Now(), ev) }

// stepAt steps the machine with the time the event happened.
func (i *Instance) stepAt(now time.Time, ev Event) {
	for _, act := range i.m.Step(now, ev) {
		switch a := act.(type) {
		case SendAdvert:
			i.sendAdvert(a.Priority)
		case AddVIPs:
			if err := i.fx.AddVIPs(); err != nil {
				i.log.Error("adding VIPs failed; check that the interface exists and tandem has CAP_NET_ADMIN", "err", err)
			}
		case RemoveVIPs:
			if err := i.fx.RemoveVIPs(); err != nil {
				i.log.Error("removing VIPs failed", "err", err)
			}
		case SetVIPs:
			if a.Installed && hasNew(i.prevVIPs, a.VIPs) {
				i.Announcements.Add(1) // the new ones are announced
			}
			if err := i.fx.SetVIPs(a.VIPs, a.Installed); err != nil {
				i.log.Error("changing VIPs failed; check that the interface exists and tandem has CAP_NET_ADMIN", "err", err)
			}
		case Announce:
			i.Announcements.Add(1)
			if err := i.fx.Announce(); err != nil {
				i.log.Warn("announcing VIPs failed", "err", err)
			}
		case Transition:
			st := i.m.Status()
			i.status.Store(&st)
			// keepalived's line, which people grep for, then ours.
			i.log.Info(fmt.Sprintf("(%s) Entering %s STATE", i.cfg.Name, a.To), "from", a.From.String(), "to", a.To.String(), "reason", a.Reason, "priority", st.Priority)
			if i.OnTransition != nil {
				i.OnTransition(a, st)
			}
		}
	}
	st := i.m.Status()
	i.status.Store(&st)
}

func (i *Instance) sendAdvert(prio uint8) {
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
	for _, dst := range dsts {
		b, err := a.Marshal(i.cfg.Source, dst, !i.cfg.ChecksumAsV2)
		if err == nil {
			err = i.link.conn.Send(b, i.cfg.Source, dst)
		}
		if err != nil {
			i.log.Warn("sending advert failed", "to", dst, "err", err)
			continue
		}
		i.AdvertsSent.Add(1)
	}
}
