package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// State is a VRRP instance's state. INIT, BACKUP and MASTER are RFC 5798's;
// FAULT (a tracked interface, script or service failed) and STOP (shut
// down) are keepalived's, which operators know.
type State int

const (
	Init State = iota
	Backup
	Master
	Fault
	Stop
)

func (s State) String() string {
	switch s {
	case Init:
		return "INIT"
	case Backup:
		return "BACKUP"
	case Master:
		return "MASTER"
	case Fault:
		return "FAULT"
	case Stop:
		return "STOP"
	}
	return fmt.Sprintf("State(%d)", int(s))
}

// OwnerPriority is the priority of the router that owns the virtual IPs.
const OwnerPriority = 255

// Params are the settings the state machine needs from the configuration.
type Params struct {
	Version      int           // 2 or 3
	Priority     uint8         // base priority; 255 is the address owner
	Interval     time.Duration // our Advertisement_Interval
	Preempt      bool
	PreemptDelay time.Duration  // after Start, no preemption for this long
	LocalAddr    netip.Addr     // our primary address, for ties of priority
	GARPDelay    time.Duration  // a second announcement this long after becoming master; 0: none
	GARPRefresh  time.Duration  // re-announce this often while master; 0: never
	VIPs         []netip.Prefix // what AddVIPs, RemoveVIPs and Announce carry
}

// Cause is why a transition happened: a small fixed set, for metric
// labels and for programs. Transition.Reason says it in words.
type Cause int

const (
	CauseNone              Cause = iota
	CauseStart                   // INIT -> BACKUP
	CauseAddressOwner            // priority 255 becomes master at once
	CauseMasterDown              // Master_Down_Timer expired: no advert from the master
	CauseMasterSteppedDown       // the master sent priority 0
	CausePreempt                 // this backup preempted a lower-priority master
	CauseHigherPriority          // this master heard a better one
	CauseFault                   // a tracked interface, script or service failed
	CauseFaultCleared            // the fault went away
	CauseShutdown                // the instance stopped
	CauseHandover                // tandem failover handed the master role over
	CauseSyncGroup               // another member of the sync group moved
)

// Causes are every Cause a transition can carry.
var Causes = []Cause{CauseStart, CauseAddressOwner, CauseMasterDown, CauseMasterSteppedDown, CausePreempt,
	CauseHigherPriority, CauseFault, CauseFaultCleared, CauseShutdown, CauseHandover, CauseSyncGroup}

var causeNames = [...]string{
	CauseNone: "none", CauseStart: "start", CauseAddressOwner: "address_owner", CauseMasterDown: "master_down",
	CauseMasterSteppedDown: "master_stepped_down", CausePreempt: "preempt", CauseHigherPriority: "higher_priority",
	CauseFault: "fault", CauseFaultCleared: "fault_cleared", CauseShutdown: "shutdown", CauseHandover: "handover",
	CauseSyncGroup: "sync_group",
}

// String is the cause in snake_case; stable, for metric labels.
func (c Cause) String() string {
	if c >= 0 && int(c) < len(causeNames) {
		return causeNames[c]
	}
	return fmt.Sprintf("cause_%d", int(c))
}

// Events are what happens to an instance; Step turns each into actions.
type Event interface{ event() }

type (
	// Start leaves INIT (RFC 5798 section 6.4.1).
	Start struct{}
	// Tick tells the machine that the time has reached its Deadline.
	Tick struct{}
	// Received is a valid advert (the runner has applied the receive rules).
	Received struct {
		From     netip.Addr
		Priority uint8
		Interval time.Duration
	}
	// SetPriority changes the effective priority (tracking weights).
	SetPriority struct{ Priority uint8 }
	// FaultOn enters FAULT; Silent when no advert can leave (link down).
	FaultOn struct {
		Reason string
		Silent bool
	}
	// FaultOff leaves FAULT for BACKUP (or MASTER for the owner).
	FaultOff struct{}
	// Shutdown stops the instance; a master hands over gracefully first,
	// and a second Shutdown during the handover finishes it at once.
	Shutdown struct{}
	// Handover makes a master hand over gracefully and stay backup without
	// preempting until Release (tandem failover).
	Handover struct{}
	// Release ends the hold-back of Handover.
	Release struct{}
	// Force moves a BACKUP to MASTER or a MASTER to BACKUP because another
	// member of its sync group moved (keepalived's sync group rule).
	Force struct {
		To     State
		Reason string
	}
	// Claimed: another host sent ARP for one of our VIPs as its own (a
	// router that was master for a moment, unheard). A master announces
	// again, so that clients that followed the other come back.
	Claimed struct{}
)

func (Start) event()       {}
func (Tick) event()        {}
func (Received) event()    {}
func (SetPriority) event() {}
func (FaultOn) event()     {}
func (FaultOff) event()    {}
func (Shutdown) event()    {}
func (Handover) event()    {}
func (Release) event()     {}
func (Force) event()       {}
func (Claimed) event()     {}

// Actions are what the runner must do, in order.
type Action interface{ String() string }

type (
	// SendAdvert sends an advert with this priority.
	SendAdvert struct{ Priority uint8 }
	// AddVIPs puts these virtual IPs on the interface.
	AddVIPs struct{ VIPs []netip.Prefix }
	// RemoveVIPs takes them off.
	RemoveVIPs struct{ VIPs []netip.Prefix }
	// Announce sends a burst of gratuitous ARP / unsolicited NA for them.
	Announce struct{ VIPs []netip.Prefix }
	// Transition reports a change of state, for logs, status and notify.
	// Reason is for people (it may name addresses); Cause for programs.
	Transition struct {
		From, To State
		Cause    Cause
		Reason   string
	}
)

func (a SendAdvert) String() string { return fmt.Sprintf("send advert priority=%d", a.Priority) }
func (a AddVIPs) String() string    { return "add vips " + prefixes(a.VIPs) }
func (a RemoveVIPs) String() string { return "remove vips " + prefixes(a.VIPs) }
func (a Announce) String() string   { return "announce " + prefixes(a.VIPs) }
func (t Transition) String() string {
	return fmt.Sprintf("%s -> %s (%s) cause=%s", t.From, t.To, t.Reason, t.Cause)
}

func prefixes(ps []netip.Prefix) string {
	s := make([]string, len(ps))
	for i, p := range ps {
		s[i] = p.String()
	}
	return strings.Join(s, " ")
}

// Machine is the RFC 5798 section 6 state machine of one instance. It is
// pure: time comes in with each event, and the next moment it needs to be
// woken at is Deadline.
type Machine struct {
	p              Params
	state          State
	prio           uint8 // effective priority
	masterAdverInt time.Duration
	master         netip.Addr // the current master, as far as we know
	started        time.Time
	since          time.Time
	cause          Cause
	reason         string
	heldBack       bool
	fault          *FaultOn // the active fault, if any

	handingOver bool
	handoverTo  State // BACKUP (Handover) or STOP (Shutdown)

	masterDown, adver, garpAgain, garpRefresh, handoverEnd time.Time
	// reclaim: when to announce again after a claim by another host;
	// reclaimed: the last time it did (one reclaim a second at most).
	reclaim, reclaimed time.Time
	// Why master down would fire now.
	downCause  Cause
	downReason string
}

// NewMachine returns a machine in INIT.
func NewMachine(p Params) *Machine {
	return &Machine{p: p, prio: p.Priority, masterAdverInt: p.Interval}
}

// Status is the machine's state for status and metrics.
type Status struct {
	State     State
	Priority  uint8 // effective
	Master    netip.Addr
	Since     time.Time
	Cause     Cause // of the last transition
	Reason    string
	HeldBack  bool
	Handover  bool // a graceful handover is in progress
	AdverInt  time.Duration
	DownTimer time.Duration // the Master_Down_Interval now
}

func (m *Machine) Status() Status {
	return Status{
		State: m.state, Priority: m.prio, Master: m.master, Since: m.since, Cause: m.cause, Reason: m.reason,
		HeldBack: m.heldBack, Handover: m.handingOver, AdverInt: m.masterAdverInt, DownTimer: m.masterDownInterval(),
	}
}

// Deadline is when the machine next needs a Tick; zero when never.
func (m *Machine) Deadline() time.Time {
	var d time.Time
	for _, t := range []time.Time{m.masterDown, m.adver, m.garpAgain, m.garpRefresh, m.handoverEnd, m.reclaim} {
		if !t.IsZero() && (d.IsZero() || t.Before(d)) {
			d = t
		}
	}
	return d
}

// Deciding reports whether a Tick at now would end a wait on other
// routers (the master-down timer or a handover's deadline) rather than
// only send an advert or an announcement: an advert still unread must
// count first then.
func (m *Machine) Deciding(now time.Time) bool {
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	return due(m.masterDown) || due(m.handoverEnd)
}

// Step applies one event at time now and returns the actions to take.
func (m *Machine) Step(now time.Time, ev Event) []Action { return m.StepAppend(nil, now, ev) }

// StepAppend is Step appending the actions to out: a caller that reuses
// out steps without allocating (an advert received, a timer's advert).
func (m *Machine) StepAppend(out []Action, now time.Time, ev Event) []Action {
	switch e := ev.(type) {
	case Start:
		if m.state == Init {
			m.started = now
			// VIPs of ours left by a crash go before we enter backup.
			m.removeVIPs(m.p.VIPs, &out)
			m.leaveInit(now, CauseStart, "start", &out)
		}
	case Tick:
		m.tick(now, &out)
	case Received:
		m.received(now, e, &out)
	case SetPriority:
		m.setPriority(now, e.Priority, &out)
	case FaultOn:
		m.faultOn(now, e, &out)
	case FaultOff:
		if m.fault != nil {
			m.fault = nil
			if m.state == Fault {
				m.leaveInit(now, CauseFaultCleared, "fault cleared", &out)
			}
		}
	case Shutdown:
		m.shutdown(now, &out)
	case Handover:
		if m.state == Master && m.prio != OwnerPriority && !m.handingOver {
			m.heldBack = true
			m.beginHandover(now, Backup, &out)
		}
	case Release:
		m.heldBack = false
	case Claimed:
		if m.state == Master && !m.handingOver && m.reclaim.IsZero() {
			// A moment later, so that the rest of the other's burst is
			// answered too; then once more after a second (a delayed
			// burst, as keepalived's garp_master_delay sends).
			m.reclaim = maxTime(now.Add(reclaimDelay), m.reclaimed.Add(time.Second))
		}
	case Force:
		switch {
		case e.To == Master && m.state == Backup && !m.heldBack:
			m.becomeMaster(now, CauseSyncGroup, e.Reason, &out)
		case e.To == Backup && m.state == Master && !m.handingOver && m.prio != OwnerPriority:
			m.becomeBackup(now, CauseSyncGroup, e.Reason, &out)
		}
	}
	return out
}

// leaveInit is the start-up rule (6.4.1), also used when a fault clears.
func (m *Machine) leaveInit(now time.Time, cause Cause, reason string, out *[]Action) {
	if m.fault != nil {
		m.enter(now, Fault, CauseFault, m.fault.Reason, out)
		return
	}
	if m.prio == OwnerPriority {
		m.becomeMaster(now, CauseAddressOwner, "address owner", out)
		return
	}
	m.masterAdverInt = m.p.Interval
	m.becomeBackup(now, cause, reason, out)
}

// owner: priority 255, whose VIPs are its interface's own addresses. They
// were there before tandem and stay after it: never removed, only
// announced (and added, should they be missing).
func (m *Machine) owner() bool { return m.p.Priority == OwnerPriority }

func (m *Machine) addVIPs(vips []netip.Prefix, out *[]Action) {
	if len(vips) > 0 {
		*out = append(*out, AddVIPs{slices.Clone(vips)})
	}
}

func (m *Machine) removeVIPs(vips []netip.Prefix, out *[]Action) {
	if len(vips) > 0 && !m.owner() {
		*out = append(*out, RemoveVIPs{slices.Clone(vips)})
	}
}

func (m *Machine) announce(vips []netip.Prefix, out *[]Action) {
	if len(vips) > 0 {
		*out = append(*out, Announce{slices.Clone(vips)})
	}
}

func (m *Machine) enter(now time.Time, to State, cause Cause, reason string, out *[]Action) {
	*out = append(*out, Transition{From: m.state, To: to, Cause: cause, Reason: reason})
	m.state, m.since, m.cause, m.reason = to, now, cause, reason
	if to != Master {
		m.adver, m.garpAgain, m.garpRefresh, m.reclaim = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	}
	if to != Backup {
		m.masterDown = time.Time{}
	}
}

func (m *Machine) becomeMaster(now time.Time, cause Cause, reason string, out *[]Action) {
	// The VIPs and their announcement go first, then the advert (as
	// keepalived does): clients come back a little sooner, and the other
	// routers learn of the new master within the same moment.
	m.addVIPs(m.p.VIPs, out)
	m.announce(m.p.VIPs, out)
	*out = append(*out, SendAdvert{m.prio})
	m.master = m.p.LocalAddr
	m.enter(now, Master, cause, reason, out)
	m.adver = now.Add(m.p.Interval)
	if m.p.GARPDelay > 0 {
		m.garpAgain = now.Add(m.p.GARPDelay)
	}
	if m.p.GARPRefresh > 0 {
		m.garpRefresh = now.Add(m.p.GARPRefresh)
	}
}

func (m *Machine) becomeBackup(now time.Time, cause Cause, reason string, out *[]Action) {
	if m.state == Master {
		m.removeVIPs(m.p.VIPs, out)
	}
	if m.state != Backup {
		m.enter(now, Backup, cause, reason, out)
	}
	m.masterDown = now.Add(m.masterDownInterval())
	m.downCause, m.downReason = CauseMasterDown, "master down timer expired"
}

// skew is Skew_Time in microseconds, as keepalived computes it: v3 scales
// with the master's interval (RFC 5798), v2 is (256-Priority)/256 s
// (RFC 3768).
func (m *Machine) skew() time.Duration {
	base := time.Second
	if m.p.Version == 3 {
		base = m.masterAdverInt
	}
	return time.Duration((256-int64(m.prio))*base.Microseconds()/256) * time.Microsecond
}

// reclaimDelay gathers a claimant's burst of gratuitous ARP into one
// answer.
const reclaimDelay = 50 * time.Millisecond

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func (m *Machine) masterDownInterval() time.Duration { return 3*m.masterAdverInt + m.skew() }

func (m *Machine) preempting(now time.Time) bool {
	return m.p.Preempt && !m.heldBack && !now.Before(m.started.Add(m.p.PreemptDelay))
}

func (m *Machine) tick(now time.Time, out *[]Action) {
	due := func(t time.Time) bool { return !t.IsZero() && !now.Before(t) }
	if due(m.handoverEnd) {
		m.finishHandover(now, "no advert from a new master", out)
	}
	if due(m.masterDown) {
		m.becomeMaster(now, m.downCause, m.downReason, out)
	}
	if due(m.adver) {
		*out = append(*out, SendAdvert{m.prio})
		m.adver = m.adver.Add(m.p.Interval)
		if !m.adver.After(now) { // woken late: do not send a burst to catch up
			m.adver = now.Add(m.p.Interval)
		}
	}
	if due(m.garpAgain) {
		m.announce(m.p.VIPs, out)
		m.garpAgain = time.Time{}
	}
	if due(m.reclaim) {
		m.announce(m.p.VIPs, out)
		*out = append(*out, SendAdvert{m.prio}) // and tell the other router, if it still believes it is master
		m.adver = now.Add(m.p.Interval)
		m.reclaim, m.reclaimed = time.Time{}, now
		if m.garpAgain.IsZero() {
			m.garpAgain = now.Add(time.Second)
		}
	}
	if due(m.garpRefresh) {
		m.announce(m.p.VIPs, out)
		m.garpRefresh = now.Add(m.p.GARPRefresh)
	}
}

func (m *Machine) received(now time.Time, r Received, out *[]Action) {
	switch m.state {
	case Backup:
		switch {
		case r.Priority == 0:
			// 6.4.2: the master stepped down; take over after Skew_Time.
			m.masterDown = now.Add(m.skew())
			m.downCause, m.downReason = CauseMasterSteppedDown, fmt.Sprintf("master %s stepped down (priority 0)", r.From)
		case !m.preempting(now) || r.Priority >= m.prio:
			if m.p.Version == 3 {
				m.masterAdverInt = r.Interval
			}
			m.master = r.From
			m.masterDown = now.Add(m.masterDownInterval())
			m.downCause, m.downReason = CauseMasterDown, "master down timer expired"
		default:
			// Preempt: let the master-down timer run out.
			m.downCause, m.downReason = CausePreempt, fmt.Sprintf("preempting %s (priority %d < %d)", r.From, r.Priority, m.prio)
		}
	case Master:
		switch {
		case m.handingOver:
			if r.Priority > 0 {
				m.master = r.From
				if m.p.Version == 3 {
					m.masterAdverInt = r.Interval
				}
				m.finishHandover(now, fmt.Sprintf("handed over to %s", r.From), out)
			}
		case m.prio == OwnerPriority && r.Priority != 0:
			// The owner keeps the addresses whatever others say.
		case r.Priority == 0:
			*out = append(*out, SendAdvert{m.prio})
			m.adver = now.Add(m.p.Interval)
		case (r.Priority > m.prio || (r.Priority == m.prio && r.From.Compare(m.p.LocalAddr) > 0)) && !noStepDown.Load():
			if m.p.Version == 3 {
				m.masterAdverInt = r.Interval
			}
			m.master = r.From
			// One last advert of ours: if the winner never heard us (a
			// healed split brain), it re-announces and the clients that
			// followed us go back to it.
			*out = append(*out, SendAdvert{m.prio})
			m.becomeBackup(now, CauseHigherPriority, fmt.Sprintf("higher priority advert from %s (priority %d)", r.From, r.Priority), out)
		default:
			// Another master of lower rank: a healed split brain. Assert
			// ourselves at once so that clients that followed it return.
			*out = append(*out, SendAdvert{m.prio})
			m.announce(m.p.VIPs, out)
			m.adver = now.Add(m.p.Interval)
		}
	}
}

func (m *Machine) setPriority(now time.Time, p uint8, out *[]Action) {
	if m.p.Priority == OwnerPriority || p == m.prio || p == 0 {
		return
	}
	m.prio = p
	if m.state == Master && !m.handingOver {
		// Tell backups now: one of them may have to preempt.
		*out = append(*out, SendAdvert{m.prio})
		m.adver = now.Add(m.p.Interval)
	}
}

func (m *Machine) faultOn(now time.Time, f FaultOn, out *[]Action) {
	m.fault = &f
	switch m.state {
	case Master:
		if !f.Silent {
			*out = append(*out, SendAdvert{0})
		}
		m.removeVIPs(m.p.VIPs, out)
		m.handingOver, m.handoverEnd = false, time.Time{}
		m.enter(now, Fault, CauseFault, f.Reason, out)
	case Backup:
		m.enter(now, Fault, CauseFault, f.Reason, out)
	case Fault:
		m.reason = f.Reason
	}
}

func (m *Machine) shutdown(now time.Time, out *[]Action) {
	switch {
	case m.state == Master && m.handingOver:
		m.finishHandover(now, "shutdown", out)
		if m.state != Stop {
			m.enter(now, Stop, CauseShutdown, "shutdown", out)
		}
	case m.state == Master:
		m.beginHandover(now, Stop, out)
	case m.state != Stop:
		m.enter(now, Stop, CauseShutdown, "shutdown", out)
	}
}

// beginHandover sends priority 0 and keeps the VIPs until the new master's
// first advert, at most the slowest backup's skew plus one interval.
func (m *Machine) beginHandover(now time.Time, to State, out *[]Action) {
	*out = append(*out, SendAdvert{0})
	m.handingOver, m.handoverTo = true, to
	m.adver, m.garpAgain, m.garpRefresh = time.Time{}, time.Time{}, time.Time{}
	slowest := time.Duration(255*m.p.Interval.Microseconds()/256) * time.Microsecond
	if m.p.Version == 2 {
		slowest = 255 * time.Second / 256
	}
	m.handoverEnd = now.Add(slowest + m.p.Interval)
}

func (m *Machine) finishHandover(now time.Time, reason string, out *[]Action) {
	m.handingOver, m.handoverEnd = false, time.Time{}
	if m.handoverTo == Stop {
		m.removeVIPs(m.p.VIPs, out)
		m.enter(now, Stop, CauseShutdown, "shutdown: "+reason, out)
		return
	}
	m.becomeBackup(now, CauseHandover, "failover: "+reason, out)
}
