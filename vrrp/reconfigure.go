package vrrp

import (
	"errors"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
	"time"
)

// ErrNeedsRestart is wrapped by Instance.Reconfigure when a setting cannot
// change in place: stop the instance and start a new one.
var ErrNeedsRestart = errors.New("the instance must be restarted (stopped and started again) to apply it")

// errStopped: the instance is no longer running.
var errStopped = errors.New("vrrp: the instance has stopped")

// Reconfigure replaces the machine's parameters in place at time now, as
// a reload does: the state and the running timers stay (no new election,
// no announcement, no VIP flap when nothing that matters changed). A
// master (one handing over included: it still holds them) removes the
// VIPs dropped, adds the new ones and announces only those; in any other
// state the new set waits for the next time as master.
//
// prio is the effective priority to run with (the base in p.Priority
// plus the tracking weights, as for SetPriority); 0 means p.Priority. A
// change of effective priority follows the rules of SetPriority (a master
// tells the backups at once and keeps sending). Version and LocalAddr
// cannot change, nor can the priority move to or from 255 (the address
// owner): Instance.Reconfigure refuses those, and the machine keeps its
// old values if given them.
func (m *Machine) Reconfigure(now time.Time, p Params, prio uint8) []Action {
	var out []Action
	old := m.p
	p.Version, p.LocalAddr = old.Version, old.LocalAddr
	if (old.Priority == OwnerPriority) != (p.Priority == OwnerPriority) {
		p.Priority, prio = old.Priority, m.prio
	}
	if prio == 0 {
		prio = p.Priority
	}
	p.VIPs = slices.Clone(p.VIPs)
	m.p = p
	if m.state == Master {
		// Dropped ones first: an address whose prefix length changed
		// would otherwise stay twice.
		m.removeVIPs(without(old.VIPs, p.VIPs), &out)
		added := without(p.VIPs, old.VIPs)
		m.addVIPs(added, &out)
		m.announce(added, &out)
	}
	if p.Interval != old.Interval {
		// v2 runs on its own interval; a v3 backup keeps the one it
		// learned from its master until the next advert.
		if p.Version == 2 || m.state != Backup {
			m.masterAdverInt = p.Interval
		}
		if m.state == Master && !m.adver.IsZero() {
			if next := now.Add(p.Interval); next.Before(m.adver) {
				m.adver = next
			}
		}
	}
	if m.state == Master && !m.handingOver {
		switch {
		case p.GARPDelay == 0:
			m.garpAgain = time.Time{}
		case !m.garpAgain.IsZero() && p.GARPDelay != old.GARPDelay:
			m.garpAgain = later(m.since.Add(p.GARPDelay), now)
		}
		switch {
		case p.GARPRefresh == 0:
			m.garpRefresh = time.Time{}
		case m.garpRefresh.IsZero() || now.Add(p.GARPRefresh).Before(m.garpRefresh):
			m.garpRefresh = now.Add(p.GARPRefresh)
		}
	}
	m.setPriority(now, prio, &out)
	return out
}

// without is a's prefixes that b does not have, in a's order.
func without(a, b []netip.Prefix) []netip.Prefix {
	var out []netip.Prefix
	for _, p := range a {
		if !slices.Contains(b, p) {
			out = append(out, p)
		}
	}
	return out
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

// paramsOf is the machine's part of an instance's configuration.
func paramsOf(cfg *InstanceConfig) Params {
	return Params{
		Version: cfg.Version, Priority: cfg.Priority, Interval: cfg.Interval,
		Preempt: cfg.Preempt, PreemptDelay: cfg.PreemptDelay, LocalAddr: cfg.Source,
		GARPDelay: cfg.GARPDelay, GARPRefresh: cfg.GARPRefresh, VIPs: slices.Clone(cfg.VIPs),
	}
}

// rulesOf is the receive checks' part of an instance's configuration.
func rulesOf(cfg *InstanceConfig) Rules {
	vips := make([]netip.Addr, len(cfg.VIPs))
	for i, p := range cfg.VIPs {
		vips[i] = p.Addr()
	}
	slices.SortFunc(vips, netip.Addr.Compare)
	vips = slices.Compact(vips)
	return Rules{Version: cfg.Version, Interval: cfg.Interval, Password: cfg.Password,
		VIPs: vips, Peers: slices.Clone(cfg.UnicastPeers), MinTTL: cfg.UnicastMinTTL, DropAddrList: cfg.Strict}
}

// fixedChanges names the settings of next that differ from cur and cannot
// change in place.
func fixedChanges(cur, next *InstanceConfig) []string {
	var out []string
	add := func(changed bool, name string) {
		if changed {
			out = append(out, name)
		}
	}
	add(cur.Interface != next.Interface, "interface")
	add(cur.VRID != next.VRID, "virtual_router_id")
	add(cur.Version != next.Version, "version")
	add(cur.IPv6() != next.IPv6(), "address family (virtual_ips)")
	add(cur.UseVMAC != next.UseVMAC, "use_vmac")
	add(cur.filter() != next.filter(), "accept")
	add(cur.GARPRepeat != next.GARPRepeat, "garp.master_repeat")
	add(!slices.Equal(cur.Excluded, next.Excluded) || !maps.Equal(cur.AddrOptions, next.AddrOptions), "excluded_ips or virtual IP options")
	add(cur.Source != next.Source, "unicast_source (the adverts' source address)")
	add((cur.Priority == OwnerPriority) != (next.Priority == OwnerPriority), "priority to or from 255 (address owner)")
	return out
}

// reconfig is Instance.Reconfigure's request to the instance's goroutine.
type reconfig struct {
	cfg  InstanceConfig
	prio uint8
	done chan struct{}
}

func (reconfig) event() {}

// Reconfigure applies cfg to the running instance in its own goroutine,
// without leaving its state: priority, advert interval, preempt,
// preempt_delay, GARP delay and refresh, password, authentication hmac
// (keys, active key: rotation), unicast peers, unicast
// min TTL, checksum form and the VIPs. A master whose VIPs changed adds
// the new ones, removes the dropped ones and announces only the new ones;
// any other state records them for its next time as master.
//
// effective is the priority to run with now: cfg.Priority plus the
// tracking weights, as the director sends with SetPriority; 0 means
// cfg.Priority (no tracking). A master whose effective priority changes
// sends an advert at once (a backup may preempt it).
//
// Interface, VRID, version, family, use_vmac, accept, garp.master_repeat
// (the last three are the host effects', made with the instance), the
// source address, a move to or from priority 255 cannot change in place:
// the error names them and wraps ErrNeedsRestart, and nothing is applied. It returns
// when the change is applied, or with an error if the instance has
// stopped; it blocks until Run has started.
func (i *Instance) Reconfigure(cfg InstanceConfig, effective uint8) error {
	if ch := fixedChanges(&i.fixed, &cfg); len(ch) > 0 {
		return fmt.Errorf("vrrp: instance %s: %s cannot change in place: %w", i.fixed.Name, strings.Join(ch, ", "), ErrNeedsRestart)
	}
	cfg.Name = i.fixed.Name
	if cfg.Realtime != i.fixed.Realtime {
		// Not worth a failover: it applies when the instance next starts.
		i.log.Warn("realtime changes when the instance is next started (tandem restart)", "realtime", i.fixed.Realtime)
		cfg.Realtime = i.fixed.Realtime
	}
	if cfg.HMAC != nil {
		// Checked here, so that a bad key is this call's error.
		if _, err := newHMACState(*cfg.HMAC, len(cfg.UnicastPeers)); err != nil {
			return fmt.Errorf("vrrp: instance %s: %w", i.fixed.Name, err)
		}
	}
	cfg.VIPs = slices.Clone(cfg.VIPs)
	cfg.UnicastPeers = slices.Clone(cfg.UnicastPeers)
	r := reconfig{cfg: cfg, prio: effective, done: make(chan struct{})}
	select {
	case i.events <- r:
		i.wake()
	case <-i.done:
		return fmt.Errorf("vrrp: instance %s: %w", i.fixed.Name, errStopped)
	}
	select {
	case <-r.done:
		return nil
	case <-i.done:
		select {
		case <-r.done:
			return nil
		default:
			return fmt.Errorf("vrrp: instance %s: %w", i.fixed.Name, errStopped)
		}
	}
}

// applyReconfig runs in the instance's goroutine.
func (i *Instance) applyReconfig(r reconfig) {
	defer close(r.done)
	switch {
	case r.cfg.HMAC == nil:
		i.auth = nil
	case i.auth == nil:
		i.auth, _ = newHMACState(*r.cfg.HMAC, len(r.cfg.UnicastPeers)) // checked by Reconfigure
	case !i.auth.cfg.Equal(r.cfg.HMAC) || len(r.cfg.UnicastPeers) != len(i.cfg.UnicastPeers):
		// Key rotation: the senders' sequences and ours carry over.
		i.auth, _ = i.auth.reconfigured(*r.cfg.HMAC, len(r.cfg.UnicastPeers))
	}
	i.cfg = r.cfg
	i.adv = advertWire{} // marshalled again from the new settings
	i.rules = rulesOf(&i.cfg)
	i.log.Info("reconfigured", "priority", r.cfg.Priority, "effective_priority", r.prio, "interval", r.cfg.Interval, "vips", len(r.cfg.VIPs))
	i.do(i.m.Reconfigure(time.Now(), paramsOf(&i.cfg), r.prio))
}
