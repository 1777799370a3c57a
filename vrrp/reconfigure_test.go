package vrrp

import (
	"errors"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	vip10 = netip.MustParsePrefix("198.51.100.10/24")
	vip20 = netip.MustParsePrefix("198.51.100.20/24")
)

// with returns v3(prio) with the VIPs set and f applied.
func with(prio uint8, f func(*Params)) Params {
	p := v3(prio)
	p.VIPs = []netip.Prefix{vip10}
	if f != nil {
		f(&p)
	}
	return p
}

// reconf is a step that calls Machine.Reconfigure (it is no event).
type reconf struct {
	p    Params
	prio uint8
}

func (reconf) event() {}

func recf(prio uint8, f func(*Params)) reconf { return reconf{p: with(prio, f)} }

// Reconfigure on the fake clock: a reload keeps the state and the timers;
// only what changed shows in the actions.
func TestReconfigureConformance(t *testing.T) {
	down100 := 3609375 * time.Microsecond
	master := []step{
		{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
		{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired) cause=master_down"), down100 + time.Second},
	}
	at := down100 + 300*ms // a moment into the master's advert interval
	cases := []struct {
		rule  string
		p     Params
		steps []step
	}{
		{"unchanged master: nothing at all, the advert timer keeps its time", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, nil), nil, down100 + time.Second},
			step{down100 + time.Second, nil, []string{"send advert priority=100"}, down100 + 2*time.Second},
		)},
		{"unchanged backup: nothing, Master_Down_Timer keeps running", with(100, nil), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{2 * time.Second, recf(100, nil), nil, time.Second + down100},
		}},
		{"master whose VIPs changed: the new one added and announced; no advert, no announce of all, no new election", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{vip20, vip10} }), []string{"add vips 198.51.100.20/24", "announce 198.51.100.20/24"}, down100 + time.Second},
		)},
		{"master whose VIPs changed: the dropped ones go first (a prefix length changed), then the new ones come", with(100, func(p *Params) { p.VIPs = []netip.Prefix{vip10, vip20} }), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24 198.51.100.20/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{down100, nil, []string{"add vips 198.51.100.10/24 198.51.100.20/24", "announce 198.51.100.10/24 198.51.100.20/24", "send advert priority=100", "BACKUP -> MASTER (master down timer expired) cause=master_down"}, 0},
			{at, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{netip.MustParsePrefix("198.51.100.10/32")} }),
				[]string{"remove vips 198.51.100.10/24 198.51.100.20/24", "add vips 198.51.100.10/32", "announce 198.51.100.10/32"}, down100 + time.Second},
		}},
		{"owner whose VIPs changed: they are its own addresses; the dropped one stays, the new one is added", with(255, nil), []step{
			{0, Start{}, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=255", "INIT -> MASTER (address owner) cause=address_owner"}, time.Second},
			{500 * ms, recf(255, func(p *Params) { p.VIPs = []netip.Prefix{vip20} }), []string{"add vips 198.51.100.20/24", "announce 198.51.100.20/24"}, time.Second},
		}},
		{"VIPs in another order are the same set", with(100, func(p *Params) { p.VIPs = []netip.Prefix{vip10, vip20} }), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24 198.51.100.20/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{vip20, vip10} }), nil, down100},
		}},
		{"backup whose VIPs changed: recorded only, and added with the new set when it becomes master", with(100, nil), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{vip20} }), nil, down100},
			{down100, nil, []string{"add vips 198.51.100.20/24", "announce 198.51.100.20/24", "send advert priority=100", "BACKUP -> MASTER (master down timer expired) cause=master_down"}, 0},
		}},
		{"master whose base priority drops: an advert at once with it (a backup may preempt), then every interval", with(100, nil), append(slices.Clone(master),
			step{at, recf(80, nil), []string{"send advert priority=80"}, at + time.Second},
			step{at + 100*ms, adv(peer, 90, time.Second), []string{"send advert priority=80", "remove vips 198.51.100.10/24", "MASTER -> BACKUP (higher priority advert from 198.51.100.12 (priority 90)) cause=higher_priority"}, 0},
		)},
		{"the effective priority given wins over the base (base 100 + tracking -30)", with(100, nil), append(slices.Clone(master),
			step{at, reconf{with(120, nil), 90}, []string{"send advert priority=90"}, at + time.Second},
		)},
		{"an effective priority equal to the running one: nothing", with(100, nil), append(slices.Clone(master),
			step{at, reconf{with(120, nil), 100}, nil, down100 + time.Second},
		)},
		{"backup whose priority rises above its master's, preempt on: it takes over when its timer runs out", with(100, nil), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{1500 * ms, recf(200, nil), nil, time.Second + down100},
			{2 * time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{time.Second + down100, nil, []string{"add vips 198.51.100.10/24", "announce 198.51.100.10/24", "send advert priority=200", "BACKUP -> MASTER (preempting 198.51.100.12 (priority 150 < 200)) cause=preempt"}, 0},
		}},
		{"backup with preempt turned off: a lower-priority master is followed", with(100, nil), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, recf(100, func(p *Params) { p.Preempt = false }), nil, down100},
			{2 * time.Second, adv(peer, 50, time.Second), nil, 2*time.Second + down100},
		}},
		{"master whose interval shortens: the next advert comes within the new interval", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.Interval = 100 * ms }), nil, at + 100*ms},
			step{at + 100*ms, nil, []string{"send advert priority=100"}, at + 200*ms},
		)},
		{"master whose interval lengthens: the pending advert keeps its time, then the new spacing", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.Interval = 2 * time.Second }), nil, down100 + time.Second},
			step{down100 + time.Second, nil, []string{"send advert priority=100"}, down100 + 3*time.Second},
		)},
		{"v3 backup keeps the interval learned from its master", with(100, nil), []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{1500 * ms, recf(100, func(p *Params) { p.Interval = 100 * ms }), nil, time.Second + down100},
			{2 * time.Second, adv(peer, 150, time.Second), nil, 2*time.Second + down100},
		}},
		{"v2 backup runs on its own new interval from the next advert", Params{VIPs: []netip.Prefix{vip10}, Version: 2, Priority: 100, Interval: time.Second, Preempt: true, LocalAddr: local}, []step{
			{0, Start{}, []string{"remove vips 198.51.100.10/24", "INIT -> BACKUP (start) cause=start"}, down100},
			{time.Second, reconf{p: Params{VIPs: []netip.Prefix{vip10}, Version: 2, Priority: 100, Interval: 2 * time.Second, Preempt: true, LocalAddr: local}}, nil, down100},
			{2 * time.Second, adv(peer, 150, 2*time.Second), nil, 2*time.Second + 6609375*time.Microsecond},
		}},
		{"master: garp refresh turned on starts from now, turned off stops; the delayed burst goes with master_delay 0", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.GARPRefresh = 500 * ms }), nil, at + 500*ms},
			step{at + 500*ms, nil, []string{"announce 198.51.100.10/24"}, down100 + time.Second},
			step{at + 600*ms, recf(100, func(p *Params) { p.GARPDelay = 0 }), nil, down100 + time.Second},
			step{down100 + time.Second, nil, []string{"send advert priority=100"}, down100 + 2*time.Second},
			step{down100 + 2*time.Second, nil, []string{"send advert priority=100"}, down100 + 3*time.Second},
			step{down100 + 3*time.Second, nil, []string{"send advert priority=100"}, down100 + 4*time.Second},
			step{down100 + 4*time.Second, nil, []string{"send advert priority=100"}, down100 + 5*time.Second},
			step{down100 + 5*time.Second, nil, []string{"send advert priority=100"}, down100 + 6*time.Second},
		)},
		{"master: a new garp master_delay moves the pending second burst", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.GARPDelay = 2 * time.Second }), nil, down100 + time.Second},
			step{down100 + time.Second, nil, []string{"send advert priority=100"}, down100 + 2*time.Second},
			step{down100 + 2*time.Second, nil, []string{"send advert priority=100", "announce 198.51.100.10/24"}, down100 + 3*time.Second},
		)},
		{"the machine refuses a move to the owner's priority (the runner reports it)", with(100, nil), append(slices.Clone(master),
			step{at, recf(255, nil), nil, down100 + time.Second},
		)},
		{"during a graceful handover: the VIPs are still installed, no advert for a new priority", with(100, nil), append(slices.Clone(master),
			step{4 * time.Second, Shutdown{}, []string{"send advert priority=0"}, 0},
			step{4*time.Second + 10*ms, recf(80, func(p *Params) { p.VIPs = []netip.Prefix{vip20} }), []string{"remove vips 198.51.100.10/24", "add vips 198.51.100.20/24", "announce 198.51.100.20/24"}, 0},
		)},
	}
	for _, c := range cases {
		t.Run(c.rule, func(t *testing.T) { runSteps(t, c.p, c.steps) })
	}
}

func TestReconfigureRefusesFixedSettings(t *testing.T) {
	lan := &memNet{}
	a := startNode(t, lan, "198.51.100.11", 150, nil)
	waitFor(t, "a master", func() bool { return state(a) == Master })
	cfg := a.inst.fixed
	cfg.VRID, cfg.Version, cfg.Interval = 52, 2, time.Second
	cfg.UseVMAC = true
	cfg.Accept = !cfg.Accept // the filter of the host effects
	cfg.GARPRepeat++         // their burst size
	err := a.inst.Reconfigure(cfg, 0)
	if !errors.Is(err, ErrNeedsRestart) {
		t.Fatalf("err = %v, want ErrNeedsRestart", err)
	}
	for _, name := range []string{"virtual_router_id", "version", "use_vmac", "accept", "garp.master_repeat"} {
		if !strings.Contains(err.Error(), name) {
			t.Errorf("%q does not name %s", err, name)
		}
	}
	if strings.Contains(err.Error(), "interval") {
		t.Errorf("%q names the interval, which can change", err)
	}
	cfg = a.inst.fixed
	cfg.Priority = 255
	if err := a.inst.Reconfigure(cfg, 0); !errors.Is(err, ErrNeedsRestart) {
		t.Errorf("to the owner's priority: err = %v", err)
	}
	owner := InstanceConfig{Priority: OwnerPriority}
	if ch := fixedChanges(&owner, &InstanceConfig{Priority: OwnerPriority, Accept: true}); len(ch) != 0 {
		t.Errorf("accept of an owner, which never filters, needs %v", ch)
	}
	if got := a.inst.Status().Priority; got != 150 {
		t.Errorf("priority %d after refused changes", got)
	}
}

// A pair on the in-memory LAN reloaded in place: the master keeps its
// state while its VIPs and priority change; the backup takes over only
// when the master's new priority is below its own.
func TestInstanceReconfigureInPlace(t *testing.T) {
	lan := &memNet{}
	a := startNode(t, lan, "198.51.100.11", 150, nil)
	b := startNode(t, lan, "198.51.100.12", 100, nil)
	waitFor(t, "a master", func() bool { return state(a) == Master && state(b) == Backup })
	since := a.inst.Status().Since

	// Both get a second VIP, the backup first (as a reload of both would
	// go); the master adds and announces only the new one. What each did
	// is read as soon as Reconfigure returns (it has been carried out
	// then): later, a starved machine may hold an election of its own.
	ca, cb, announced := len(a.fx.Calls()), len(b.fx.Calls()), a.inst.Announcements.Load()
	for _, n := range []*node{b, a} {
		cfg := n.inst.fixed
		cfg.VIPs = []netip.Prefix{vip10, vip20}
		cfg.Password = ""
		if err := n.inst.Reconfigure(cfg, 0); err != nil {
			t.Fatal(err)
		}
	}
	if got := strings.Join(a.fx.Calls()[ca:], ","); got != "add 198.51.100.20/24,announce 198.51.100.20/24" {
		t.Errorf("a's effects: %s", got)
	}
	if !a.fx.Holds(vip10) || !a.fx.Holds(vip20) {
		t.Errorf("a holds:\n%s", a.fx)
	}
	if n := a.inst.Announcements.Load() - announced; n != 1 {
		t.Errorf("a counted %d announcements, want 1 (one per Announce action)", n)
	}
	if got := b.fx.Calls()[cb:]; len(got) != 0 {
		t.Errorf("b's effects: %q", got)
	}
	// An advert a sent just before its change may still be on its way
	// to b (b changed first): it arrives within this wait.
	time.Sleep(20 * time.Millisecond)
	inFlight, _ := b.inst.AddrListMismatch()
	time.Sleep(500 * time.Millisecond) // adverts with the new list: nobody moves
	if state(a) != Master || state(b) != Backup || !a.inst.Status().Since.Equal(since) {
		t.Fatalf("after the VIP change: a=%v b=%v", state(a), state(b))
	}
	if n, m := b.inst.AddrListMismatch(); n != inFlight || n > 1 {
		t.Errorf("b saw %d adverts with another address list (%d in flight), the last %+v", n, inFlight, m)
	}

	// The master's priority drops below the backup's, base 150 -> 120
	// with tracking -30: the backup preempts it.
	cfg := a.inst.fixed
	cfg.VIPs = []netip.Prefix{vip10, vip20}
	cfg.Priority = 120
	if err := a.inst.Reconfigure(cfg, 90); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "b master", func() bool { return state(b) == Master && state(a) == Backup })
	if st := a.inst.Status(); st.Priority != 90 {
		t.Errorf("a's effective priority %d", st.Priority)
	}
}
