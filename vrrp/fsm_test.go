package vrrp

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

// Conformance tests in the style of holo's: timed events in, the exact
// actions out, on a fake clock. Each case names the rule it checks.

var (
	local = netip.MustParseAddr("198.51.100.11")
	peer  = netip.MustParseAddr("198.51.100.12") // greater than local
	low   = netip.MustParseAddr("198.51.100.2")  // smaller than local
	t0    = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
)

type step struct {
	at   time.Duration // since t0
	ev   Event         // nil: Tick at `at`
	want []string      // actions, rendered
	next time.Duration // expected Deadline - t0 after the step; -1: none; 0: not checked
}

func v3(prio uint8) Params {
	return Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: prio, Interval: time.Second, Preempt: true, LocalAddr: local, GARPDelay: 5 * time.Second}
}

func adv(from netip.Addr, prio uint8, iv time.Duration) Received {
	return Received{From: from, Priority: prio, Interval: iv}
}

const ms = time.Millisecond

var toMaster = []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=100"}

func runSteps(t *testing.T, p Params, steps []step) {
	t.Helper()
	m := NewMachine(p)
	for i, s := range steps {
		ev := s.ev
		if ev == nil {
			ev = Tick{}
		}
		acts := m.Step
		if r, ok := ev.(reconf); ok {
			acts = func(now time.Time, _ Event) []Action { return m.Reconfigure(now, r.p, r.prio) }
		}
		var got []string
		for _, a := range acts(t0.Add(s.at), ev) {
			got = append(got, a.String())
		}
		if !slices.Equal(got, s.want) {
			t.Fatalf("step %d (%T at %v):\n got %q\nwant %q", i, ev, s.at, got, s.want)
		}
		switch d := m.Deadline(); {
		case s.next == -1 && !d.IsZero():
			t.Fatalf("step %d: deadline %v, want none", i, d.Sub(t0))
		case s.next > 0 && d.Sub(t0) != s.next:
			t.Fatalf("step %d: deadline %v, want %v", i, d.Sub(t0), s.next)
		}
	}
}

func TestConformance(t *testing.T) {
	down100 := 3609375 * time.Microsecond // 3 x 1s + (256-100) x 1s / 256, in µs
	cases := []struct {
		rule  string
		p     Params
		steps []step
	}{
		{"6.4.1 startup: a non-owner becomes backup with Master_Down_Timer = 3 x interval + skew", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
		}},
		{"6.4.1 startup: the owner (255) becomes master at once", v3(255), []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, time.Second},
		}},
		{"6.4.2 master down timer: backup becomes master, sends an advert and announces", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), down100 + time.Second},
		}},
		{"6.4.2 advert of higher priority resets Master_Down_Timer", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
		}},
		{"6.4.2 advert with priority 0: Master_Down_Timer = Skew_Time", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 0, time.Second), nil, time.Second + 609375*time.Microsecond},
			{time.Second + 609375*time.Microsecond, nil, append(toMaster, "BACKUP -> MASTER (master 198.51.100.12 stepped down (priority 0)) cause=master_stepped_down"), 0},
		}},
		{"6.4.2 preempt: a lower-priority advert is discarded, the timer runs out", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 50, time.Second), nil, down100},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (preempting 198.51.100.12 (priority 50 < 100)) cause=preempt"), 0},
		}},
		{"6.4.2 preempt = false: a lower-priority advert resets the timer", Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 100, Interval: time.Second, LocalAddr: local}, []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 50, time.Second), nil, time.Second + down100},
		}},
		{"6.4.2 v3 learns Master_Adver_Interval from the master's advert", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			// 3 x 200ms + 156 x 200ms / 256 = 721.875ms
			{time.Second, adv(peer, 150, 200*ms), nil, time.Second + 721875*time.Microsecond},
		}},
		{"6.4.2 v2 skew is (256-Priority)/256 s whatever the interval (RFC 3768)", Params{VIPs: []netip.Prefix{vip10}, Version: 2, Priority: 100, Interval: 2 * time.Second, Preempt: true, LocalAddr: local}, []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 6609375 * time.Microsecond},
		}},
		{"6.1 skew in microseconds, not truncated to centiseconds (priority 254, 10ms)", Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 254, Interval: 10 * ms, Preempt: true, LocalAddr: local}, []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 30078 * time.Microsecond},
		}},
		{"6.4.3 Adver_Timer: the master sends an advert every interval", v3(255), []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, time.Second},
			{time.Second, nil, []string{"send advert priority=255"}, 2 * time.Second},
			{2*time.Second + 300*ms, nil, []string{"send advert priority=255"}, 3 * time.Second},
			// Woken very late: one advert, not a burst.
			{4*time.Second + 500*ms, nil, []string{"send advert priority=255"}, 5 * time.Second},
			{5 * time.Second, nil, []string{"announce 198.51.100.10/24"}, 5500 * ms},
			{5500 * ms, nil, []string{"send advert priority=255"}, 6500 * ms},
		}},
		{"6.4.3 master hears priority 0: sends an advert at once", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{down100 + 400*ms, adv(peer, 0, time.Second), []string{"send advert priority=100"}, down100 + 1400*ms},
		}},
		{"6.4.3 master hears a higher priority: becomes backup, removes the VIPs (after one last advert, so that a winner that never heard it re-announces)", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, adv(low, 200, time.Second), []string{"send advert priority=100", "remove vips 198.51.100.10/24", "MASTER -> BACKUP (higher priority advert from 198.51.100.2 (priority 200)) cause=higher_priority"}, 4*time.Second + down100},
		}},
		{"6.4.3 equal priority: the greater primary address wins", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, adv(peer, 100, time.Second), []string{"send advert priority=100", "remove vips 198.51.100.10/24", "MASTER -> BACKUP (higher priority advert from 198.51.100.12 (priority 100)) cause=higher_priority"}, 0},
		}},
		{"split brain: a master hearing a lower-ranked master re-announces at once", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, adv(low, 100, time.Second), []string{"send advert priority=100", "announce 198.51.100.10/24"}, 5 * time.Second},
			{4*time.Second + 500*ms, adv(peer, 50, time.Second), []string{"send advert priority=100", "announce 198.51.100.10/24"}, 5*time.Second + 500*ms},
		}},
		{"owner: its VIPs are its interface's own addresses: nothing cleaned up at start, and a fault and a shutdown leave them", v3(255), []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, time.Second},
			{500 * ms, FaultOn{Reason: "interface lan0 is down", Silent: true}, []string{"MASTER -> FAULT (interface lan0 is down) cause=fault"}, -1},
			{time.Second, FaultOff{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "FAULT -> MASTER (address owner) cause=address_owner"}, 2 * time.Second},
			{3 * time.Second, Shutdown{}, []string{"send advert priority=0"}, 3*time.Second + 1996093*time.Microsecond},
			{3*time.Second + 1996093*time.Microsecond, nil, []string{"MASTER -> STOP (shutdown: no advert from a new master) cause=shutdown"}, -1},
		}},
		{"owner: discards adverts, even of the same priority from a greater address", v3(255), []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, 0},
			{500 * ms, adv(peer, 255, time.Second), nil, time.Second},
		}},
		{"garp: a second burst master_delay after becoming master, then refresh", Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 255, Interval: time.Second, LocalAddr: local, GARPDelay: 2500 * ms, GARPRefresh: 4 * time.Second}, []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, time.Second},
			{time.Second, nil, []string{"send advert priority=255"}, 2 * time.Second},
			{2 * time.Second, nil, []string{"send advert priority=255"}, 2500 * ms},
			{2500 * ms, nil, []string{"announce 198.51.100.10/24"}, 3 * time.Second},
			{3 * time.Second, nil, []string{"send advert priority=255"}, 4 * time.Second},
			{4 * time.Second, nil, []string{"send advert priority=255", "announce 198.51.100.10/24"}, 5 * time.Second},
		}},
		{"claimed: another host's ARP for our VIP makes the master announce again, a moment later and once more after a second, at most once a second", Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 255, Interval: time.Second, LocalAddr: local}, []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, time.Second},
			{300 * ms, Claimed{}, nil, 350 * ms},
			{320 * ms, Claimed{}, nil, 350 * ms}, // the same burst
			{350 * ms, nil, []string{"announce 198.51.100.10/24", "send advert priority=255"}, 1350 * ms},
			{1350 * ms, nil, []string{"send advert priority=255", "announce 198.51.100.10/24"}, 2350 * ms},
			{1360 * ms, Claimed{}, nil, 1410 * ms},
			{1410 * ms, nil, []string{"announce 198.51.100.10/24", "send advert priority=255"}, 2410 * ms},
			{1500 * ms, Claimed{}, nil, 2410 * ms}, // within a second of the last: at 2410
			{2410 * ms, nil, []string{"send advert priority=255", "announce 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255"}, 3410 * ms},
		}},
		{"claimed: a backup ignores claims", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, Claimed{}, nil, down100},
		}},
		{"preempt_delay: no preemption until the delay after start has passed", Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 100, Interval: time.Second, Preempt: true, PreemptDelay: 10 * time.Second, LocalAddr: local}, []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 50, time.Second), nil, time.Second + down100},
			{9 * time.Second, adv(peer, 50, time.Second), nil, 9*time.Second + down100},
			{10 * time.Second, adv(peer, 50, time.Second), nil, 9*time.Second + down100},
			{9*time.Second + down100, nil, append(toMaster, "BACKUP -> MASTER (preempting 198.51.100.12 (priority 50 < 100)) cause=preempt"), 0},
		}},
		{"shutdown of a master: priority 0, VIPs kept until the new master's advert", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, Shutdown{}, []string{"send advert priority=0"}, 4*time.Second + 1996093*time.Microsecond},
			{4*time.Second + 10*ms, adv(peer, 0, time.Second), nil, 0}, // another leaver: not a new master
			{4*time.Second + 20*ms, adv(low, 50, time.Second), []string{"remove vips 198.51.100.10/24", "MASTER -> STOP (shutdown: handed over to 198.51.100.2) cause=shutdown"}, -1},
		}},
		{"shutdown of a master with no backup: VIPs removed after skew(1) + interval", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, Shutdown{}, []string{"send advert priority=0"}, 0},
			{4*time.Second + 1996093*time.Microsecond, nil, []string{"remove vips 198.51.100.10/24", "MASTER -> STOP (shutdown: no advert from a new master) cause=shutdown"}, -1},
		}},
		{"a second shutdown during the handover finishes it at once", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, Shutdown{}, []string{"send advert priority=0"}, 0},
			{4*time.Second + 5*ms, Shutdown{}, []string{"remove vips 198.51.100.10/24", "MASTER -> STOP (shutdown: shutdown) cause=shutdown"}, -1},
		}},
		{"shutdown of a backup: stop, nothing to remove", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{time.Second, Shutdown{}, []string{"BACKUP -> STOP (shutdown) cause=shutdown"}, -1},
		}},
		{"failover: hand over, stay backup without preempting until release", v3(200), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{3218750 * time.Microsecond, nil, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=200", "BACKUP -> MASTER (master down timer expired) cause=master_down"}, 0},
			{5 * time.Second, Handover{}, []string{"send advert priority=0"}, 0},
			{5*time.Second + 30*ms, adv(peer, 100, time.Second), []string{"remove vips 198.51.100.10/24", "MASTER -> BACKUP (failover: handed over to 198.51.100.12) cause=handover"}, 0},
			{6 * time.Second, adv(peer, 100, time.Second), nil, 6*time.Second + 3218750*time.Microsecond},
			{7 * time.Second, Release{}, nil, 0},
			{7 * time.Second, adv(peer, 100, time.Second), nil, 6*time.Second + 3218750*time.Microsecond},
			{6*time.Second + 3218750*time.Microsecond, nil, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=200", "BACKUP -> MASTER (preempting 198.51.100.12 (priority 100 < 200)) cause=preempt"}, 0},
		}},
		{"failover: refused by the owner and by a backup", v3(255), []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, 0},
			{time.Second, Handover{}, nil, 0},
		}},
		{"fault while master: priority 0 (unless the link is down) and VIPs removed; cleared: backup", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, FaultOn{Reason: "track_script nginx failed"}, []string{"send advert priority=0", "remove vips 198.51.100.10/24", "MASTER -> FAULT (track_script nginx failed) cause=fault"}, -1},
			{5 * time.Second, adv(peer, 150, time.Second), nil, -1},
			{6 * time.Second, FaultOff{}, []string{"FAULT -> BACKUP (fault cleared) cause=fault_cleared"}, 6*time.Second + down100},
			{7 * time.Second, FaultOn{Reason: "lan0 down", Silent: true}, []string{"BACKUP -> FAULT (lan0 down) cause=fault"}, -1},
		}},
		{"fault before start: start enters FAULT", v3(100), []step{
			{0, FaultOn{Reason: "lan0 down", Silent: true}, nil, -1},
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> FAULT (lan0 down) cause=fault"}, -1},
			{time.Second, FaultOff{}, []string{"FAULT -> BACKUP (fault cleared) cause=fault_cleared"}, time.Second + down100},
		}},
		{"sync group: forced to master from backup, and back to backup", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{time.Second, Force{To: Master, Reason: "sync group pair: gateway became MASTER"}, append(toMaster, "BACKUP -> MASTER (sync group pair: gateway became MASTER) cause=sync_group"), 2 * time.Second},
			{time.Second + 500*ms, Force{To: Master, Reason: "again"}, nil, 0},
			{1600 * ms, Force{To: Backup, Reason: "sync group pair: gateway became BACKUP"}, []string{"remove vips 198.51.100.10/24", "MASTER -> BACKUP (sync group pair: gateway became BACKUP) cause=sync_group"}, 1600*ms + down100},
		}},
		{"priority change while master: an advert at once, so a backup can preempt", v3(100), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, 0},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), 0},
			{4 * time.Second, SetPriority{80}, []string{"send advert priority=80"}, 5 * time.Second},
			{4*time.Second + 100*ms, adv(peer, 90, time.Second), []string{"send advert priority=80", "remove vips 198.51.100.10/24", "MASTER -> BACKUP (higher priority advert from 198.51.100.12 (priority 90)) cause=higher_priority"}, 0},
		}},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) { runSteps(t, c.p, c.steps) })
	}
}

// Every cause has a stable snake_case name, for metric labels, and the
// status keeps the cause of the last transition.
func TestCauses(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range Causes {
		name := c.String()
		if seen[name] || name == "none" || strings.Trim(name, "abcdefghijklmnopqrstuvwxyz_") != "" {
			t.Errorf("cause %d: name %q", int(c), name)
		}
		seen[name] = true
	}
	m := NewMachine(v3(100))
	if c := m.Status().Cause; c != CauseNone {
		t.Errorf("in INIT: cause %v", c)
	}
	m.Step(t0, Start{})
	m.Step(t0.Add(time.Second), adv(peer, 0, time.Second))
	m.Step(m.Deadline(), Tick{})
	if st := m.Status(); st.State != Master || st.Cause != CauseMasterSteppedDown || st.Reason != "master 198.51.100.12 stepped down (priority 0)" {
		t.Errorf("status %v %v %q", st.State, st.Cause, st.Reason)
	}
}

// The whole story of a pair on one clock: two machines exchange adverts
// through a lossless "wire"; the higher priority wins, and when it stops
// gracefully the other takes over within its skew time.
func TestPairElection(t *testing.T) {
	a := NewMachine(Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 150, Interval: 100 * ms, Preempt: true, LocalAddr: peer})
	b := NewMachine(Params{VIPs: []netip.Prefix{vip10}, Version: 3, Priority: 100, Interval: 100 * ms, Preempt: true, LocalAddr: local})
	type node struct {
		m    *Machine
		addr netip.Addr
		vips bool
	}
	nodes := []*node{{a, peer, false}, {b, local, false}}
	now := t0
	var log []string
	var deliver func(from *node, acts []Action)
	deliver = func(from *node, acts []Action) {
		for _, act := range acts {
			switch x := act.(type) {
			case SendAdvert:
				for _, n := range nodes {
					if n != from {
						deliver(n, n.m.Step(now, Received{From: from.addr, Priority: x.Priority, Interval: 100 * ms}))
					}
				}
			case AddVIPs:
				from.vips = true
			case RemoveVIPs:
				from.vips = false
			case Transition:
				log = append(log, fmt.Sprintf("%v %s %s", now.Sub(t0), from.addr, x))
			}
		}
	}
	for _, n := range nodes {
		deliver(n, n.m.Step(now, Start{}))
	}
	runUntil := func(end time.Time) {
		for {
			next := time.Time{}
			var who *node
			for _, n := range nodes {
				if d := n.m.Deadline(); !d.IsZero() && (next.IsZero() || d.Before(next)) {
					next, who = d, n
				}
			}
			if who == nil || next.After(end) {
				now = end
				return
			}
			now = next
			deliver(who, who.m.Step(now, Tick{}))
		}
	}
	runUntil(t0.Add(2 * time.Second))
	if !nodes[0].vips || nodes[1].vips || a.Status().State != Master || b.Status().State != Backup {
		t.Fatalf("after election: a=%v b=%v\n%s", a.Status().State, b.Status().State, strings.Join(log, "\n"))
	}
	deliver(nodes[0], a.Step(now, Shutdown{}))
	runUntil(now.Add(time.Second))
	if a.Status().State != Stop || b.Status().State != Master || nodes[0].vips || !nodes[1].vips {
		t.Fatalf("after handover: a=%v b=%v\n%s", a.Status().State, b.Status().State, strings.Join(log, "\n"))
	}
	// b took over Skew_Time (156 x 100ms / 256 = 60.937ms) after a's
	// priority-0 advert, and a let go at b's first advert, at once.
	handover := strings.Join(log[len(log)-2:], "\n")
	if !strings.Contains(handover, "2.060937s 198.51.100.11 BACKUP -> MASTER (master 198.51.100.12 stepped down (priority 0))") ||
		!strings.Contains(handover, "2.060937s 198.51.100.12 MASTER -> STOP (shutdown: handed over to 198.51.100.11)") {
		t.Fatalf("handover:\n%s", strings.Join(log, "\n"))
	}
}
