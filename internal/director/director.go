// Package director is the daemon: it owns the configuration and wires the
// VRRP instances, their tracking, sync groups and notify hooks.
package director

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"net/netip"
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
	path       string // the configuration, as given
	cfg        *config.Config
	loadedAt   time.Time
	lastReload ReloadStatus
	log        *slog.Logger
	backend    lvs.Backend // injected for tests; nil for the kernel

	links     map[linkKey]*vrrp.Link
	linkRuns  sync.WaitGroup
	instances []*instance // running, in configuration order
	byName    map[string]*instance
	leaving   []*instance // removed or replaced by a reload, stopping

	ipvs    *ipvsSide
	checks  *health.Scheduler
	up      map[string]bool // real server (rsID) -> healthy; owned by Run
	drained map[string]bool // real servers drained by the operator (rsID)

	work        context.Context // ends after the graceful stop
	watchStop   context.CancelFunc
	watched     []string
	linkStates  <-chan vrrp.LinkState
	scripts     chan scriptEvent
	hooks       sync.WaitGroup
	reloads     chan chan error
	ready       bool
	stopping    bool // after SIGTERM: no more reloads
	appliedSeen bool
	metrics     *metrics

	events mailbox // transitions, from the instances' goroutines
}

type linkKey struct {
	name string
	ipv6 bool
}

// instance is the director's view of one VRRP instance; its fields are
// owned by the director's goroutine.
type instance struct {
	cfg         *config.VRRPInstance
	run         *vrrp.Instance
	group       *config.SyncGroup
	faults      map[string]string // what is failing -> why
	silent      bool              // the instance's own link is down
	scriptOK    map[string]bool
	stopScripts context.CancelFunc
	prio        uint8
	notify      chan []string // notify hooks, run in order
	vmac        string        // the macvlan of use_vmac, removed at stop
	started     bool          // has left INIT (readiness)
	leaving     bool
	closed      bool                 // gone has run
	replaceWith *config.VRRPInstance // started once this one has stopped
}

// New prepares the director for cfg: sockets, addresses, instances. It
// starts nothing.
// backend replaces the kernel's IPVS table (tests); nil for the kernel.
func New(path string, cfg *config.Config, log *slog.Logger, backend lvs.Backend) (*Director, error) {
	d := &Director{path: path, cfg: cfg, loadedAt: time.Now(), log: log, backend: backend,
		links: map[linkKey]*vrrp.Link{}, byName: map[string]*instance{}, up: map[string]bool{},
		scripts: make(chan scriptEvent, 64), reloads: make(chan chan error), metrics: newMetrics()}
	d.lastReload = ReloadStatus{OK: true, At: d.loadedAt}
	d.metrics.reloaded(d.lastReload)
	var err error
	if d.ipvs, err = openIPVS(cfg, backend, log); err != nil {
		return nil, err
	}
	if d.drained, err = loadDrained(cfg); err != nil {
		return nil, err
	}
	d.events.signal = make(chan struct{}, 1)
	for _, ic := range cfg.Instances {
		in, err := d.newInstance(ic)
		if err != nil {
			d.close()
			return nil, fmt.Errorf("vrrp_instance %q: %w", ic.Name, err)
		}
		d.instances = append(d.instances, in)
		d.byName[ic.Name] = in
	}
	d.setGroups()
	return d, nil
}

// setGroups points every instance at its sync group.
func (d *Director) setGroups() {
	groupOf := map[string]*config.SyncGroup{}
	for _, g := range d.cfg.SyncGroups {
		for _, n := range g.Instances {
			groupOf[n] = g
		}
	}
	for _, in := range d.instances {
		in.group = groupOf[in.cfg.Name]
	}
}

// instanceConfig is what the vrrp package runs an instance with; src is
// the adverts' source address.
func instanceConfig(ic *config.VRRPInstance, src netip.Addr, realtime bool) vrrp.InstanceConfig {
	return vrrp.InstanceConfig{
		Name: ic.Name, Interface: ic.Interface, VRID: uint8(ic.VRID), Version: ic.Version,
		Priority: uint8(ic.Priority), Interval: ic.AdvertInterval, Preempt: ic.Preempt, PreemptDelay: ic.PreemptDelay,
		VIPs: ic.VirtualIPs, Source: src, UnicastPeers: ic.UnicastPeers, UnicastMinTTL: ic.UnicastMinTTL,
		ChecksumAsV2: ic.V3ChecksumAsV2, Password: ic.Authentication.Password,
		GARPDelay: ic.GARP.MasterDelay, GARPRefresh: ic.GARP.Refresh, GARPRepeat: ic.GARP.MasterRepeat,
		Accept: ic.Accept, UseVMAC: ic.UseVMAC, Realtime: realtime,
	}
}

// advertSource: adverts leave from unicast_source, else from the
// interface's own address (for IPv6 its link-local address, RFC 5798
// 5.1.2.1).
func advertSource(ic *config.VRRPInstance) (netip.Addr, error) {
	if ic.UnicastSource.IsValid() {
		return ic.UnicastSource, nil
	}
	return vrrp.PrimaryAddr(ic.Interface, ic.Family() == config.IPv6, ic.VirtualIPs)
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
		if d.work != nil { // a reload: the others run already
			d.runLink(link)
		}
	}
	src, err := advertSource(ic)
	if err != nil {
		return nil, err
	}
	vmac := ""
	if ic.UseVMAC {
		if vmac, err = vrrp.EnsureVMAC(ic.Interface, uint8(ic.VRID), ipv6); err != nil {
			return nil, err
		}
	}
	cfg := instanceConfig(ic, src, d.cfg.Global.Realtime)
	fx, err := vrrp.NewHostEffects(cfg.HostOptions())
	if err != nil {
		return nil, err
	}
	run, err := vrrp.NewInstance(cfg, link, fx, d.log)
	if err != nil {
		fx.Close()
		return nil, err
	}
	in := &instance{cfg: ic, run: run, faults: map[string]string{}, scriptOK: map[string]bool{}, vmac: vmac,
		prio: uint8(ic.Priority), notify: make(chan []string, 64)}
	run.OnTransition = func(t vrrp.Transition, st vrrp.Status) {
		d.events.put(event{in: in, t: t, st: st})
	}
	run.OnTimerLateness = func(late time.Duration) { d.metrics.lateness.Observe(late.Seconds()) }
	for _, s := range ic.TrackScripts {
		in.scriptOK[s.Name] = true
	}
	return in, nil
}

// start runs an instance: its notify queue, its track scripts and its
// state machine. Faults of interfaces already down come first, so that
// such an instance enters FAULT rather than a short election.
func (d *Director) start(in *instance) {
	for _, n := range append([]string{in.cfg.Interface}, in.cfg.TrackInterfaces...) {
		if !vrrp.LinkUp(n) {
			d.setFault(in, "link "+n, fmt.Sprintf("interface %s is down", n), n == in.cfg.Interface)
		}
	}
	for _, vs := range in.cfg.TrackVirtualServers {
		if up, known := d.ipvs.quorumUp[vs]; known && !up {
			d.setFault(in, "vs "+vs, fmt.Sprintf("virtual server %s lost quorum", vs), false)
		}
	}
	log := d.log.With("instance", in.cfg.Name)
	d.hooks.Go(func() { runNotify(log, in.notify) })
	d.startScripts(in)
	go in.run.Run(d.work)
}

func (d *Director) startScripts(in *instance) {
	ctx, cancel := context.WithCancel(d.work)
	in.stopScripts = cancel
	for _, s := range in.cfg.TrackScripts {
		go vrrp.RunScript(ctx, vrrp.Script{Name: s.Name, Command: s.Command, Interval: s.Interval,
			Timeout: s.Timeout, Rise: s.Rise, Fall: s.Fall}, func(r vrrp.ScriptResult) {
			select {
			case d.scripts <- scriptEvent{in, r}:
			case <-ctx.Done():
			}
		})
	}
}

// stop hands an instance over gracefully and forgets it once it has
// stopped (a reload removed or replaced it).
func (d *Director) stop(in *instance) {
	in.leaving = true
	in.stopScripts()
	in.run.Send(vrrp.Shutdown{})
	d.leaving = append(d.leaving, in)
	d.instances = slices.DeleteFunc(d.instances, func(x *instance) bool { return x == in })
	if d.byName[in.cfg.Name] == in {
		delete(d.byName, in.cfg.Name)
	}
	go func() {
		<-in.run.Done()
		d.events.put(event{in: in, gone: true})
	}()
}

// gone finishes an instance that has stopped, and starts its replacement.
func (d *Director) gone(in *instance) {
	if in.closed {
		return
	}
	in.closed = true
	d.leaving = slices.DeleteFunc(d.leaving, func(x *instance) bool { return x == in })
	close(in.notify)
	if in.vmac != "" {
		if err := vrrp.RemoveVMAC(in.vmac); err != nil {
			d.log.Warn("removing virtual MAC interface", "instance", in.cfg.Name, "interface", in.vmac, "err", err)
		}
	}
	ic := in.replaceWith
	if ic == nil || d.work.Err() != nil {
		return
	}
	nin, err := d.newInstance(ic)
	if err != nil {
		d.applyFailed(fmt.Errorf("vrrp_instance %q: %w", ic.Name, err))
		return
	}
	d.add(nin)
}

// add starts a new instance and puts it in configuration order.
func (d *Director) add(in *instance) {
	d.byName[in.cfg.Name] = in
	d.instances = d.instances[:0]
	for _, ic := range d.cfg.Instances {
		if x := d.byName[ic.Name]; x != nil {
			d.instances = append(d.instances, x)
		}
	}
	d.setGroups()
	d.start(in)
	if err := d.watchLinks(); err != nil {
		d.applyFailed(err)
	}
}

// Instance returns a running instance by name, for status and control.
func (d *Director) Instance(name string) *vrrp.Instance {
	if in := d.byName[name]; in != nil {
		return in.run
	}
	return nil
}

// Reload asks Run to reload the configuration (SIGHUP); the error says
// why a reload was refused.
func (d *Director) Reload(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case d.reloads <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
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
	d.work = work
	if err := d.startMetrics(); err != nil {
		return err
	}
	defer d.stopMetrics()
	// Health and IPVS first, so that track_virtual_servers knows quorum
	// before the instances start.
	d.checks = health.New(health.Options{NewChecker: d.timedChecker})
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
	for _, l := range d.links {
		d.runLink(l)
	}
	if err := d.watchLinks(); err != nil {
		return err
	}
	defer func() { // also when Run fails: every hook queue ends
		for _, in := range append(slices.Clone(d.instances), d.leaving...) {
			if !in.closed {
				in.closed = true
				close(in.notify)
			}
		}
		d.hooks.Wait()
	}()
	for _, in := range d.instances {
		d.start(in)
	}
	d.refreshMetrics()
	d.log.Info("started", "instances", len(d.instances), "router_id", d.cfg.Global.RouterID)
	d.checkReady()

	for {
		select {
		case <-ctx.Done():
			if !d.stopping {
				d.stopping = true
				d.log.Info("stopping: handing over gracefully")
				sdNotify("STOPPING=1")
				for _, in := range append(slices.Clone(d.instances), d.leaving...) {
					in.replaceWith = nil
					in.run.Send(vrrp.Shutdown{})
				}
			}
			if d.allDone() {
				d.drainEvents() // the STOP hooks
				for _, in := range append(slices.Clone(d.instances), d.leaving...) {
					d.gone(in)
				}
				if d.cfg.LVS.FlushOnStop {
					d.ipvs.flush(work, d.log)
				}
				stopWork()
				for _, l := range d.links {
					l.Close()
				}
				d.linkRuns.Wait()
				return nil
			}
			// Wait for the instances, waking on their transitions.
			select {
			case <-d.events.signal:
				d.drainEvents()
			case <-time.After(50 * time.Millisecond):
			}
		case ls, ok := <-d.linkStates:
			if !ok {
				return errors.New("director: interface watch ended")
			}
			d.linkChanged(ls)
		case se := <-d.scripts:
			d.scriptChanged(se)
		case tr := <-d.checks.Transitions():
			d.healthChanged(tr)
		case c := <-calls:
			c.reply <- d.handle(c.req)
		case done := <-d.reloads:
			done <- d.reload()
		case <-d.applied():
			d.appliedSeen = true
			d.checkReady()
		case <-d.events.signal:
			d.drainEvents()
		}
	}
}

// runLink receives a link's adverts; with global { realtime } on a
// SCHED_FIFO thread, so that adverts are not stuck behind other work.
func (d *Director) runLink(l *vrrp.Link) {
	if d.cfg.Global.Realtime {
		d.linkRuns.Go(l.RunRealtime)
	} else {
		d.linkRuns.Go(l.Run)
	}
}

// applied is the reconciler's first-apply signal until it has been seen.
func (d *Director) applied() <-chan struct{} {
	if d.appliedSeen || d.ipvs.rec == nil {
		return nil
	}
	return d.ipvs.rec.Applied()
}

// checkReady tells systemd once every instance has entered its first
// state and the first reconcile has applied.
func (d *Director) checkReady() {
	if d.ready {
		return
	}
	for _, in := range d.instances {
		if !in.started {
			return
		}
	}
	if d.ipvs.rec != nil && !d.appliedSeen {
		return
	}
	d.ready = true
	d.log.Info("ready", "instances", len(d.instances), "virtual_servers", len(d.cfg.VirtualServers))
	sdNotify("READY=1\nSTATUS=" + d.summary())
}

// watchLinks (re)starts the interface watch when the set of watched
// interfaces changed.
func (d *Director) watchLinks() error {
	set := map[string]bool{}
	for _, in := range d.instances {
		set[in.cfg.Interface] = true
		for _, n := range in.cfg.TrackInterfaces {
			set[n] = true
		}
	}
	names := slices.Sorted(maps.Keys(set))
	if d.linkStates != nil && slices.Equal(names, d.watched) {
		return nil
	}
	ctx, cancel := context.WithCancel(d.work)
	ch, err := vrrp.WatchLinks(ctx, names)
	if err != nil {
		cancel()
		return err
	}
	if d.watchStop != nil {
		d.watchStop()
	}
	d.watchStop, d.watched, d.linkStates = cancel, names, ch
	return nil
}

func (d *Director) allDone() bool {
	for _, in := range append(slices.Clone(d.instances), d.leaving...) {
		select {
		case <-in.run.Done():
		default:
			return false
		}
	}
	return true
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
	in  *instance
	res vrrp.ScriptResult
}

// scriptChanged applies keepalived's weight rule: 0 gives FAULT while
// failing; > 0 is added while succeeding; < 0 is added while failing.
func (d *Director) scriptChanged(se scriptEvent) {
	in := se.in
	var ts *config.TrackScript
	for _, s := range in.cfg.TrackScripts {
		if s.Name == se.res.Name {
			ts = s
		}
	}
	if in.leaving || ts == nil { // a result from before a reload
		return
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
	if in.cfg.Priority == vrrp.OwnerPriority {
		return
	}
	if p := effectivePriority(in.cfg, in.scriptOK); p != in.prio {
		in.prio = p
		d.log.Info("priority changed", "instance", in.cfg.Name, "priority", p, "base", in.cfg.Priority)
		in.run.Send(vrrp.SetPriority{Priority: p})
	}
}

// effectivePriority is the base priority plus the weights of the track
// scripts that count now (keepalived's rule), kept within 1..254; the
// address owner stays 255.
func effectivePriority(ic *config.VRRPInstance, ok map[string]bool) uint8 {
	if ic.Priority == vrrp.OwnerPriority {
		return vrrp.OwnerPriority
	}
	p := ic.Priority
	for _, s := range ic.TrackScripts {
		if (s.Weight > 0 && ok[s.Name]) || (s.Weight < 0 && !ok[s.Name]) {
			p += s.Weight
		}
	}
	return uint8(min(max(p, 1), 254))
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

// event is a transition reported by an instance, or its end.
type event struct {
	in   *instance
	t    vrrp.Transition
	st   vrrp.Status
	gone bool // the instance has stopped
}

func (d *Director) drainEvents() {
	for _, ev := range d.events.take() {
		in := ev.in
		if ev.gone {
			d.gone(in)
			continue
		}
		d.metrics.transition(in.cfg.Name, ev.t)
		d.runHook(in, ev)
		if ls := d.cfg.LVSSync; ls != nil && ls.Follow == in.cfg.Name && (!in.leaving || ev.t.To == vrrp.Stop) {
			d.ipvs.follow(ls, ev.t.To, d.log)
		}
		if in.group != nil && !in.leaving {
			d.syncGroup(in, ev)
		}
		if !in.started {
			in.started = true
			d.checkReady()
		}
	}
	d.refreshMetrics()
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
		if other == nil || other == in {
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
