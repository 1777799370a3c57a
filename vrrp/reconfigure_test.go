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

func recf(prio uint8, f func(*Params)) Reconfigure { return Reconfigure{Params: with(prio, f)} }

// Reconfigure on the fake clock: a reload keeps the state and the timers;
// only what changed shows in the actions.
func TestReconfigureConformance(t *testing.T) {
	down100 := 3609375 * time.Microsecond
	master := []step{
		{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
		{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired)"), down100 + time.Second},
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
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{2 * time.Second, recf(100, nil), nil, time.Second + down100},
		}},
		{"master whose VIPs changed: the new set, installed; no advert, no announce of all, no new election", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{vip20, vip10} }), []string{"set vips [198.51.100.20/24 198.51.100.10/24] installed=true"}, down100 + time.Second},
		)},
		{"VIPs in another order are the same set", with(100, func(p *Params) { p.VIPs = []netip.Prefix{vip10, vip20} }), []step{
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
			{time.Second, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{vip20, vip10} }), nil, down100},
		}},
		{"backup whose VIPs changed: recorded only, and added with the new set when it becomes master", with(100, nil), []step{
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
			{time.Second, recf(100, func(p *Params) { p.VIPs = []netip.Prefix{vip20} }), []string{"set vips [198.51.100.20/24] installed=false"}, down100},
			{down100, nil, append(toMaster, "BACKUP -> MASTER (master down timer expired)"), 0},
		}},
		{"master whose base priority drops: an advert at once with it (a backup may preempt), then every interval", with(100, nil), append(slices.Clone(master),
			step{at, recf(80, nil), []string{"send advert priority=80"}, at + time.Second},
			step{at + 100*ms, adv(peer, 90, time.Second), []string{"send advert priority=80", "remove vips", "MASTER -> BACKUP (higher priority advert from 198.51.100.12 (priority 90))"}, 0},
		)},
		{"the effective priority given wins over the base (base 100 + tracking -30)", with(100, nil), append(slices.Clone(master),
			step{at, Reconfigure{Params: with(120, nil), Priority: 90}, []string{"send advert priority=90"}, at + time.Second},
		)},
		{"an effective priority equal to the running one: nothing", with(100, nil), append(slices.Clone(master),
			step{at, Reconfigure{Params: with(120, nil), Priority: 100}, nil, down100 + time.Second},
		)},
		{"backup whose priority rises above its master's, preempt on: it takes over when its timer runs out", with(100, nil), []step{
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{1500 * ms, recf(200, nil), nil, time.Second + down100},
			{2 * time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{time.Second + down100, nil, []string{"add vips", "announce", "send advert priority=200", "BACKUP -> MASTER (preempting 198.51.100.12 (priority 150 < 200))"}, 0},
		}},
		{"backup with preempt turned off: a lower-priority master is followed", with(100, nil), []step{
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
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
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
			{time.Second, adv(peer, 150, time.Second), nil, time.Second + down100},
			{1500 * ms, recf(100, func(p *Params) { p.Interval = 100 * ms }), nil, time.Second + down100},
			{2 * time.Second, adv(peer, 150, time.Second), nil, 2*time.Second + down100},
		}},
		{"v2 backup runs on its own new interval from the next advert", Params{Version: 2, Priority: 100, Interval: time.Second, Preempt: true, LocalAddr: local}, []step{
			{0, Start{}, []string{"INIT -> BACKUP (start)"}, down100},
			{time.Second, Reconfigure{Params: Params{Version: 2, Priority: 100, Interval: 2 * time.Second, Preempt: true, LocalAddr: local}}, nil, down100},
			{2 * time.Second, adv(peer, 150, 2*time.Second), nil, 2*time.Second + 6609375*time.Microsecond},
		}},
		{"master: garp refresh turned on starts from now, turned off stops; the delayed burst goes with master_delay 0", with(100, nil), append(slices.Clone(master),
			step{at, recf(100, func(p *Params) { p.GARPRefresh = 500 * ms }), nil, at + 500*ms},
			step{at + 500*ms, nil, []string{"announce"}, down100 + time.Second},
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
			step{down100 + 2*time.Second, nil, []string{"send advert priority=100", "announce"}, down100 + 3*time.Second},
		)},
		{"the machine refuses a move to the owner's priority (the runner reports it)", with(100, nil), append(slices.Clone(master),
			step{at, recf(255, nil), nil, down100 + time.Second},
		)},
		{"during a graceful handover: the VIPs are still installed, no advert for a new priority", with(100, nil), append(slices.Clone(master),
			step{4 * time.Second, Shutdown{}, []string{"send advert priority=0"}, 0},
			step{4*time.Second + 10*ms, recf(80, func(p *Params) { p.VIPs = []netip.Prefix{vip20} }), []string{"set vips [198.51.100.20/24] installed=true"}, 0},
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
	err := a.inst.Reconfigure(cfg, 0)
	if !errors.Is(err, ErrNeedsRestart) {
		t.Fatalf("err = %v, want ErrNeedsRestart", err)
	}
	for _, name := range []string{"virtual_router_id", "version", "use_vmac"} {
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
	// go); the master adds and announces only the new one.
	for _, n := range []*node{b, a} {
		cfg := n.inst.fixed
		cfg.VIPs = []netip.Prefix{vip10, vip20}
		cfg.Password = ""
		if err := n.inst.Reconfigure(cfg, 0); err != nil {
			t.Fatal(err)
		}
	}
	time.Sleep(500 * time.Millisecond) // adverts with the new list: nobody moves
	if state(a) != Master || state(b) != Backup || !a.inst.Status().Since.Equal(since) {
		t.Fatalf("after the VIP change: a=%v b=%v", state(a), state(b))
	}
	if got := a.fx.logString(); got != "remove,add,announce,set [198.51.100.10/24 198.51.100.20/24] installed" {
		t.Errorf("a's effects: %s", got)
	}
	if got := b.fx.logString(); got != "remove,set [198.51.100.10/24 198.51.100.20/24] recorded" {
		t.Errorf("b's effects: %s", got)
	}
	if drops := b.link.Drops()[ReasonAddrList]; drops != 0 {
		t.Errorf("b dropped %d adverts for their address list", drops)
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
