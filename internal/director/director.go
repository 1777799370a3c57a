// Package director is the daemon: it owns the configuration and wires the
// VRRP instances, their tracking, sync groups and notify hooks.
package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/health"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// Director runs one director's configuration.
type Director struct {
	path     string // the configuration, as given
	cfg      *config.Config
	loadedAt time.Time
	log      *slog.Logger

	links     map[linkKey]*vrrp.Link
	instances []*instance
	byName    map[string]*instance

	ipvs   *ipvsSide
	checks *health.Scheduler
	up     map[string]bool // real server (rsID) -> healthy; owned by Run

	events mailbox // transitions, from the instances' goroutines
}

type linkKey struct {
	name string
	ipv6 bool
}

// instance is the director's view of one VRRP instance; its fields are
// owned by the director's goroutine.
type instance struct {
	cfg      *config.VRRPInstance
	run      *vrrp.Instance
	group    *config.SyncGroup
	faults   map[string]string // what is failing -> why
	silent   bool              // the instance's own link is down
	scriptOK map[string]bool
	prio     uint8
	notify   chan []string // notify hooks, run in order
	vmac     string        // the macvlan of use_vmac, removed at stop
}

// New prepares the director for cfg: sockets, addresses, instances. It
// starts nothing.
// backend replaces the kernel's IPVS table (tests); nil for the kernel.
func New(path string, cfg *config.Config, log *slog.Logger, backend lvs.Backend) (*Director, error) {
	d := &Director{path: path, cfg: cfg, loadedAt: time.Now(), log: log, links: map[linkKey]*vrrp.Link{}, byName: map[string]*instance{},
		up: map[string]bool{}}
	var err error
	if d.ipvs, err = openIPVS(cfg, backend, log); err != nil {
		return nil, err
	}
	d.events.signal = make(chan struct{}, 1)
	groupOf := map[string]*config.SyncGroup{}
	for _, g := range cfg.SyncGroups {
		for _, n := range g.Instances {
			groupOf[n] = g
		}
	}
	for _, ic := range cfg.Instances {
		in, err := d.newInstance(ic)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("vrrp_instance %q: %w", ic.Name, err)
		}
		in.group = groupOf[ic.Name]
		d.instances = append(d.instances, in)
		d.byName[ic.Name] = in
	}
	return d, nil
}

func (d *Director) newInstance(ic *config.VRRPInstance) (*instance, error) {
	ipv6 := ic.Family() == config.IPv6
	key := linkKey{ic.Interface, ipv6}
	link, ok := d.links[key]
	if !ok {
		conn, err := vrrp.Listen(ic.Interface, ipv6)
		if err != nil {
			return nil, err
		}
		link = vrrp.NewLink(ic.Interface, ipv6, conn, d.log)
		d.links[key] = link
	}
	// Adverts leave from unicast_source, else from the interface's own
	// address (for IPv6 its link-local address, RFC 5798 5.1.2.1).
	src := ic.UnicastSource
	var err error
	if !src.IsValid() {
		if src, err = vrrp.PrimaryAddr(ic.Interface, ipv6, ic.VirtualIPs); err != nil {
			return nil, err
		}
	}
	vipLink, vmac := ic.Interface, ""
	if ic.UseVMAC {
		if vmac, err = vrrp.EnsureVMAC(ic.Interface, uint8(ic.VRID), ipv6); err != nil {
			return nil, err
		}
		vipLink = vmac
	}
	fx, err := vrrp.NewHostEffects(vipLink, ic.VirtualIPs, ic.GARP.MasterRepeat)
	if err != nil {
		return nil, err
	}
	fx.Filter = !ic.Accept && ic.Priority != vrrp.OwnerPriority
	fx.Ingress, fx.Key = ic.Interface, fmt.Sprintf("%s_%s_%d", ic.Interface, ic.Family(), ic.VRID)
	run, err := vrrp.NewInstance(vrrp.InstanceConfig{
		Name: ic.Name, Interface: ic.Interface, VRID: uint8(ic.VRID), Version: ic.Version,
		Priority: uint8(ic.Priority), Interval: ic.AdvertInterval, Preempt: ic.Preempt, PreemptDelay: ic.PreemptDelay,
		VIPs: ic.VirtualIPs, Source: src, UnicastPeers: ic.UnicastPeers, UnicastMinTTL: ic.UnicastMinTTL,
		ChecksumAsV2: ic.V3ChecksumAsV2, Password: ic.Authentication.Password,
		GARPDelay: ic.GARP.MasterDelay, GARPRefresh: ic.GARP.Refresh,
	}, link, fx, d.log)
	if err != nil {
		fx.Close()
		return nil, err
	}
	in := &instance{cfg: ic, run: run, faults: map[string]string{}, scriptOK: map[string]bool{}, vmac: vmac,
		prio: uint8(ic.Priority), notify: make(chan []string, 64)}
	run.OnTransition = func(t vrrp.Transition, st vrrp.Status) {
		d.events.put(event{instance: ic.Name, t: t, st: st})
	}
	for _, s := range ic.TrackScripts {
		in.scriptOK[s.Name] = true
	}
	return in, nil
}

// Instance returns a running instance by name, for status and control.
func (d *Director) Instance(name string) *vrrp.Instance {
	if in := d.byName[name]; in != nil {
		return in.run
	}
	return nil
}

// Run runs until ctx ends, then hands the masters over gracefully and
// returns when every instance has stopped.
func (d *Director) Run(ctx context.Context) error {
	defer d.close()
	ctl, err := listenControl(d.cfg.Global.ControlSocket)
	if err != nil {
		return err
	}
	defer os.Remove(d.cfg.Global.ControlSocket)
	defer ctl.Close()
	calls := make(chan controlCall)
	go serveControl(ctl, calls)

	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	// Health and IPVS first, so that track_virtual_servers knows quorum
	// before the instances start.
	d.checks = health.New(health.Options{})
	defer d.checks.Close()
	var kernel lvs.Table
	if d.ipvs.backend != nil {
		if kernel, err = d.ipvs.backend.Table(); err != nil {
			return err
		}
	}
	if err := d.startChecks(kernel); err != nil {
		return err
	}
	d.ipvs.run(work)
	d.reapply()
	var wg sync.WaitGroup
	for _, l := range d.links {
		wg.Go(l.Run)
	}

	watched := map[string]bool{}
	for _, in := range d.instances {
		watched[in.cfg.Interface] = true
		for _, n := range in.cfg.TrackInterfaces {
			watched[n] = true
		}
	}
	linkStates, err := vrrp.WatchLinks(work, slices.Sorted(maps.Keys(watched)))
	if err != nil {
		return err
	}
	// Initial faults before the instances start, so that an interface
	// that is already down gives FAULT rather than a short election.
	for _, in := range d.instances {
		for _, n := range append([]string{in.cfg.Interface}, in.cfg.TrackInterfaces...) {
			if !vrrp.LinkUp(n) {
				d.setFault(in, "link "+n, fmt.Sprintf("interface %s is down", n), n == in.cfg.Interface)
			}
		}
	}
	scripts := make(chan scriptEvent, 64)
	var hooks sync.WaitGroup
	defer hooks.Wait()
	for _, in := range d.instances {
		defer close(in.notify) // after the STOP hooks are queued
		hooks.Go(func() { runNotify(d.log.With("instance", in.cfg.Name), in.notify) })
		for _, s := range in.cfg.TrackScripts {
			go vrrp.RunScript(work, vrrp.Script{Name: s.Name, Command: s.Command, Interval: s.Interval,
				Timeout: s.Timeout, Rise: s.Rise, Fall: s.Fall}, func(r vrrp.ScriptResult) {
				select {
				case scripts <- scriptEvent{in.cfg.Name, r}:
				case <-work.Done():
				}
			})
		}
		go in.run.Run(work)
	}
	d.log.Info("started", "instances", len(d.instances), "router_id", d.cfg.Global.RouterID)

	stopping := false
	for {
		select {
		case <-ctx.Done():
			if !stopping {
				stopping = true
				d.log.Info("stopping: handing over gracefully")
				for _, in := range d.instances {
					in.run.Send(vrrp.Shutdown{})
				}
			}
			if d.allDone() {
				d.drainEvents() // the STOP hooks
				d.removeVMACs()
				if d.cfg.LVS.FlushOnStop {
					d.ipvs.flush(work, d.log)
				}
				stopWork()
				for _, l := range d.links {
					l.Close()
				}
				wg.Wait()
				return nil
			}
			// Wait for the instances, waking on their transitions.
			select {
			case <-d.events.signal:
				d.drainEvents()
			case <-time.After(50 * time.Millisecond):
			}
		case ls, ok := <-linkStates:
			if !ok {
				return errors.New("director: interface watch ended")
			}
			d.linkChanged(ls)
		case se := <-scripts:
			d.scriptChanged(se)
		case tr := <-d.checks.Transitions():
			d.healthChanged(tr)
		case c := <-calls:
			c.reply <- d.handle(c.req)
		case <-d.events.signal:
			d.drainEvents()
		}
	}
}

func (d *Director) allDone() bool {
	for _, in := range d.instances {
		select {
		case <-in.run.Done():
		default:
			return false
		}
	}
	return true
}

func (d *Director) removeVMACs() {
	for _, in := range d.instances {
		if in.cfg.UseVMAC {
			if err := vrrp.RemoveVMAC(in.vmac); err != nil {
				d.log.Warn("removing virtual MAC interface", "instance", in.cfg.Name, "interface", in.vmac, "err", err)
			}
		}
	}
}

func (d *Director) close() {
	for _, l := range d.links {
		l.Close()
	}
}

func (d *Director) linkChanged(ls vrrp.LinkState) {
	for _, in := range d.instances {
		own := in.cfg.Interface == ls.Name
		if !own && !slices.Contains(in.cfg.TrackInterfaces, ls.Name) {
			continue
		}
		key := "link " + ls.Name
		if ls.Up {
			d.clearFault(in, key)
		} else {
			d.setFault(in, key, fmt.Sprintf("interface %s is down", ls.Name), own)
		}
	}
}

type scriptEvent struct {
	instance string
	res      vrrp.ScriptResult
}

// scriptChanged applies keepalived's weight rule: 0 gives FAULT while
// failing; > 0 is added while succeeding; < 0 is added while failing.
func (d *Director) scriptChanged(se scriptEvent) {
	in := d.byName[se.instance]
	var ts *config.TrackScript
	for _, s := range in.cfg.TrackScripts {
		if s.Name == se.res.Name {
			ts = s
		}
	}
	in.scriptOK[ts.Name] = se.res.OK
	d.log.Info("track_script changed", "instance", in.cfg.Name, "script", ts.Name, "ok", se.res.OK, "reason", se.res.Why)
	if ts.Weight == 0 {
		if se.res.OK {
			d.clearFault(in, "script "+ts.Name)
		} else {
			d.setFault(in, "script "+ts.Name, fmt.Sprintf("track_script %s failed: %s", ts.Name, se.res.Why), false)
		}
		return
	}
	d.updatePriority(in)
}

func (d *Director) updatePriority(in *instance) {
	base := in.cfg.Priority
	if base == vrrp.OwnerPriority {
		return
	}
	p := base
	for _, s := range in.cfg.TrackScripts {
		ok := in.scriptOK[s.Name]
		if (s.Weight > 0 && ok) || (s.Weight < 0 && !ok) {
			p += s.Weight
		}
	}
	p = min(max(p, 1), 254)
	if uint8(p) != in.prio {
		in.prio = uint8(p)
		d.log.Info("priority changed", "instance", in.cfg.Name, "priority", p, "base", base)
		in.run.Send(vrrp.SetPriority{Priority: uint8(p)})
	}
}

func (d *Director) setFault(in *instance, key, why string, silent bool) {
	_, had := in.faults[key]
	in.faults[key] = why
	if silent {
		in.silent = true
	}
	if !had && len(in.faults) == 1 {
		in.run.Send(vrrp.FaultOn{Reason: why, Silent: in.silent})
	}
}

func (d *Director) clearFault(in *instance, key string) {
	if _, had := in.faults[key]; !had {
		return
	}
	delete(in.faults, key)
	if key == "link "+in.cfg.Interface {
		in.silent = false
	}
	if len(in.faults) == 0 {
		in.run.Send(vrrp.FaultOff{})
	}
}

// event is a transition reported by an instance.
type event struct {
	instance string
	t        vrrp.Transition
	st       vrrp.Status
}

func (d *Director) drainEvents() {
	for _, ev := range d.events.take() {
		in := d.byName[ev.instance]
		d.runHook(in, ev)
		if ls := d.cfg.LVSSync; ls != nil && ls.Follow == in.cfg.Name {
			d.ipvs.follow(ls, ev.t.To, d.log)
		}
		if in.group != nil {
			d.syncGroup(in, ev)
		}
	}
}

// runHook queues the instance's notify command for the new state, with
// keepalived's arguments appended: INSTANCE NAME STATE PRIORITY.
func (d *Director) runHook(in *instance, ev event) {
	n := in.cfg.Notify
	argv := map[vrrp.State][]string{vrrp.Master: n.Master, vrrp.Backup: n.Backup, vrrp.Fault: n.Fault, vrrp.Stop: n.Stop}[ev.t.To]
	if len(argv) == 0 {
		return
	}
	argv = append(slices.Clone(argv), "INSTANCE", in.cfg.Name, ev.t.To.String(), fmt.Sprint(ev.st.Priority))
	select {
	case in.notify <- argv:
	default:
		d.log.Warn("notify queue full; hook skipped", "instance", in.cfg.Name, "to", ev.t.To.String())
	}
}

// syncGroup makes the other members of in's group follow its change.
func (d *Director) syncGroup(in *instance, ev event) {
	g := in.group
	why := fmt.Sprintf("sync group %s: %s is %s", g.Name, in.cfg.Name, ev.t.To)
	for _, name := range g.Instances {
		other := d.byName[name]
		if other == in {
			continue
		}
		key := "group " + in.cfg.Name
		switch ev.t.To {
		case vrrp.Master, vrrp.Backup:
			d.clearFault(other, key)
			other.run.Send(vrrp.Force{To: ev.t.To, Reason: why})
		case vrrp.Fault:
			// Only a fault of its own spreads: two members must not hold
			// each other in FAULT.
			if ownFault(in) {
				d.setFault(other, key, why, false)
			}
		}
	}
}

func ownFault(in *instance) bool {
	for k := range in.faults {
		if !strings.HasPrefix(k, "group ") {
			return true
		}
	}
	return false
}

// mailbox is an unbounded queue: instances put without ever blocking,
// the director takes everything on a signal.
type mailbox struct {
	mu     sync.Mutex
	items  []event
	signal chan struct{}
}

func (m *mailbox) put(e event) {
	m.mu.Lock()
	m.items = append(m.items, e)
	m.mu.Unlock()
	select {
	case m.signal <- struct{}{}:
	default:
	}
}

func (m *mailbox) take() []event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.items
	m.items = nil
	return out
}
