// Package director is the daemon's wiring. It feeds what happens (an
// interface's state, a track script's verdict, a real server's health, a
// VRRP transition, a reload, a control request) to the policy
// (internal/policy), which decides, and carries the policy's actions out
// on the VRRP instances, the hook queues, the IPVS table and the sync
// daemon. It decides nothing itself.
package director

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/alert"
	"github.com/tandemlb/tandem/internal/policy"
	"github.com/tandemlb/tandem/internal/track"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// Director runs one director's configuration.
type Director struct {
	path       string // the configuration, as given
	log        *slog.Logger
	loadedAt   time.Time
	startedAt  time.Time // Run began: global { startup_delay } counts from it
	lastReload ReloadStatus
	release    *time.Timer // releaseMemory after the last of a burst of reloads

	pol      *policy.Policy
	runs     map[policy.ID]*run // the VRRP instances, running or stopping
	links    map[linkKey]*vrrp.Link
	linkRuns sync.WaitGroup
	watch    linkWatch
	scripts  *track.Scripts[policy.ID]
	trackers *track.Trackers[policy.ID] // track_file, track_process
	hooks    *hooks
	alerts   *alert.Sender // nil without an alert block
	alertCfg *config.Alert
	lvs      *lvsSide
	host     hostSide // routes, rules and addresses of tandem's own
	fifo     *notifyFIFO
	bgp      *bgpSide
	fullnat  *fullnatSide
	metrics  *metrics
	events   mailbox // transitions and ends, from the instances' goroutines
	reloads  chan chan error
	recent   recent // the last transitions, for status

	// Control requests (socket and status page) reach Run through calls
	// until serving ends.
	calls   chan controlCall
	serving context.Context

	work  context.Context // ends after the graceful stop
	ready bool
}

// New prepares the director for cfg: sockets, addresses, instances. It
// starts nothing. backend replaces the kernel's IPVS table (tests); nil
// for the kernel.
func New(path string, cfg *config.Config, log *slog.Logger, backend lvs.Backend) (*Director, error) {
	d := &Director{path: path, log: log, loadedAt: time.Now(), runs: map[policy.ID]*run{},
		links: map[linkKey]*vrrp.Link{}, reloads: make(chan chan error), metrics: newMetrics()}
	d.lastReload = ReloadStatus{OK: true, At: d.loadedAt}
	d.metrics.reloaded(d.lastReload)
	d.events.signal = make(chan struct{}, 1)
	d.fifo = newNotifyFIFO(d.metrics.reg, log)
	d.host.metrics(d.metrics.reg)
	var err error
	if d.lvs, err = openLVS(cfg, backend, log); err != nil {
		return nil, err
	}
	d.bgp = newBGPSide(cfg, log)
	d.fullnat = &fullnatSide{log: log, memory: backend != nil}
	if err := d.fullnat.set(nil, cfg, d.lvs.ctl != nil); err != nil {
		log.Error("fullnat: the source NAT is not in place; fullnat services do not work until this is fixed (tandem retries at each reconcile and reload)", "err", err)
	}
	var creates []policy.Action
	d.pol, creates = policy.New(cfg)
	for _, a := range creates {
		if err := d.create(a.(policy.Create)); err != nil {
			d.closeLinks()
			return nil, err
		}
	}
	return d, nil
}

func (d *Director) cfg() *config.Config { return d.pol.Config() }

// Run runs until ctx ends, then hands the masters over gracefully and
// returns when every instance has stopped.
func (d *Director) Run(ctx context.Context) error {
	defer d.closeLinks()
	ctl, err := listenControl(d.cfg().Global.ControlSocket)
	if err != nil {
		return err
	}
	defer os.Remove(d.cfg().Global.ControlSocket)
	defer ctl.Close()
	serving, stopServing := context.WithCancel(context.Background())
	defer stopServing() // pending requests are answered "stopping", never left hanging
	d.calls, d.serving = make(chan controlCall), serving
	go serveControl(serving, ctl, d.calls, d.log)

	work, stopWork := context.WithCancel(context.Background())
	defer stopWork()
	d.work, d.startedAt = work, time.Now()
	d.scripts = track.NewScripts[policy.ID](work)
	defer d.scripts.Close()
	d.trackers = track.NewTrackers[policy.ID](work, func(err error) { d.log.Warn("tracking", "err", err) })
	defer d.trackers.Close()
	d.hooks = newHooks(d.log)
	defer d.hooks.close() // the STOP hooks finish
	if err := d.fifo.open(d.cfg().Global.NotifyFIFO); err != nil {
		return err
	}
	if err := setIdentity(&d.cfg().Global); err != nil {
		return err
	}
	defer d.fifo.close()
	d.startAlerts(d.cfg())
	defer func() { d.alerts.Close(d.alertWait()) }() // the STOP transitions go out, or at most one timeout is waited
	if err := d.startMetrics(); err != nil {
		return err
	}
	defer d.stopMetrics()
	// Health and IPVS first, so that track_virtual_servers knows quorum
	// before the instances start.
	if err := d.lvs.start(work, d.metrics.checkTimes); err != nil {
		return err
	}
	defer d.lvs.close()
	// Before anything is announced: the lo addresses a crash left.
	d.bgp.cleanLeftovers()
	if err := d.bgp.start(work, d.cfg()); err != nil {
		return err
	}
	defer d.bgpStop()
	d.lvs.syncBoth(d.cfg().LVSSync)
	d.fullnat.start(work)
	d.updateHost()
	d.reapply()
	for _, l := range d.links {
		d.runLink(l)
	}
	d.step(policy.Start{Links: linkStates(d.pol.Unknown(d.cfg())), Quorum: d.lvs.quorum()})
	if d.watch.ch == nil {
		return d.watch.err
	}
	d.refreshMetrics()
	d.log.Info("started", "instances", len(d.cfg().Instances), "router_id", d.cfg().Global.RouterID)
	d.checkReady()
	d.bgpSync()

	stop := ctx.Done()
	for !d.pol.Done() {
		select {
		case <-stop:
			stop = nil
			sdNotify("STOPPING=1")
			d.bgpStop() // withdrawn before anything else stops
			d.log.Info("stopping: handing over gracefully")
			d.step(policy.Stop{})
		case ls, ok := <-d.watch.ch:
			if !ok {
				d.watchEnded()
				continue
			}
			d.step(policy.LinkChanged{Name: ls.Name, Up: ls.Up})
		case <-d.watch.retry:
			d.rewatch()
		case r := <-d.scripts.Results():
			d.scriptChanged(r)
		case r := <-d.trackers.Results():
			d.trackerChanged(r)
		case tr := <-d.lvs.checks.Transitions():
			d.healthChanged(tr)
		case c := <-d.calls:
			d.drainEvents() // answer with every transition seen
			c.reply <- d.handle(c.req)
		case done := <-d.reloads:
			done <- d.reload()
		case <-d.lvs.applied():
			d.lvs.appliedSeen = true
			d.checkReady()
		case <-d.events.signal:
			d.drainEvents()
		}
		d.bgpSync()
	}
	d.notifyOnStop()
	d.lvs.syncBoth(nil)
	if d.cfg().LVS.FlushOnStop {
		d.lvs.flush(work)
		d.fullnat.flush(work)
	}
	d.closeHost()
	stopWork()
	d.closeLinks()
	d.linkRuns.Wait()
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

// Instance returns a running instance by name, for status and control.
func (d *Director) Instance(name string) *vrrp.Instance {
	if r := d.live(name); r != nil {
		return r.inst
	}
	return nil
}

// live is the run serving name now, nil if none.
func (d *Director) live(name string) *run {
	if id, ok := d.pol.Live(name); ok {
		return d.runs[id]
	}
	return nil
}

// current is the run to show for name: the live one, else the newest
// still stopping (status and metrics during a stop or a restart).
func (d *Director) current(name string) *run {
	if r := d.live(name); r != nil {
		return r
	}
	var newest *run
	for _, r := range d.runs {
		if r.cfg.Name == name && (newest == nil || r.id > newest.id) {
			newest = r
		}
	}
	return newest
}

// step feeds one event to the policy and carries its actions out.
func (d *Director) step(ev policy.Event) { d.carry(d.pol.Step(time.Now(), ev)) }

// carry carries the policy's actions out, in order. What fails is
// reported back to the policy (CreateFailed, Refused, SyncDaemonFailed).
func (d *Director) carry(acts []policy.Action) {
	for _, a := range acts {
		switch a := a.(type) {
		case policy.Create:
			if err := d.create(a); err != nil {
				d.applyFailed(err)
				d.step(policy.CreateFailed{ID: a.ID})
			}
		case policy.Run:
			d.start(a.ID)
		case policy.Send:
			d.send(a)
		case policy.Reconfigure:
			d.reconfigure(a)
		case policy.StartScripts:
			d.startScripts(a)
		case policy.StopScripts:
			d.scripts.Stop(a.ID)
			d.trackers.Stop(a.ID)
		case policy.Close:
			d.closeRun(a.ID)
		case policy.Hook:
			d.hooks.run(a.Queue, a.Argv)
		case policy.SyncDaemon:
			if !d.lvs.switchSync(a.To, a.Config) {
				d.step(policy.SyncDaemonFailed{})
			}
		case policy.WatchLinks:
			d.watchLinks(a.Names)
		case policy.Reloaded:
			d.log.Info("reloaded", "config", d.path, "instances_same", len(a.Same), "instances_changed", a.Changed,
				"instances_restarted", a.Restarted, "instances_added", a.Added, "instances_removed", a.Removed,
				"virtual_servers", len(d.cfg().VirtualServers))
		}
	}
}

func (d *Director) send(a policy.Send) {
	r := d.runs[a.ID]
	if r == nil {
		return
	}
	if p, ok := a.Event.(vrrp.SetPriority); ok {
		d.log.Info("priority changed", "instance", r.cfg.Name, "priority", p.Priority, "base", r.cfg.Priority)
	}
	r.inst.Send(a.Event)
}

func (d *Director) startScripts(a policy.StartScripts) {
	var ss []track.Script
	for _, s := range a.Scripts {
		ss = append(ss, track.Script{Name: s.Name, Command: s.Command, Interval: s.Interval, Timeout: s.Timeout, Rise: s.Rise, Fall: s.Fall})
	}
	d.scripts.Start(a.ID, ss)
	var fs []track.FileSpec
	for _, f := range a.Files {
		fs = append(fs, track.FileSpec{Name: f.Name, Path: f.Path, Weight: f.Weight})
	}
	var ps []track.ProcessSpec
	for _, p := range a.Processes {
		ps = append(ps, track.ProcessSpec{Name: p.Name, Command: p.Command, Quorum: p.Quorum, Weight: p.Weight})
	}
	d.trackers.Start(a.ID, fs, ps)
}

// trackerChanged: a track_file or track_process has a new verdict. A
// file that cannot be read is logged when that starts, not on every
// change.
func (d *Director) trackerChanged(r track.TrackerResult[policy.ID]) {
	if run := d.runs[r.Owner]; run != nil {
		d.log.Info("tracker changed", "instance", run.cfg.Name, "tracker", r.Tracker, "weight", r.Verdict.Weight, "fault", r.Verdict.Fault, "reason", r.Verdict.Why)
	}
	d.step(policy.TrackerChanged{ID: r.Owner, Tracker: r.Tracker, Weight: r.Verdict.Weight, Fault: r.Verdict.Fault, Why: r.Verdict.Why})
}

func (d *Director) scriptChanged(r track.Result[policy.ID]) {
	if run := d.runs[r.Owner]; run != nil {
		d.log.Info("track_script changed", "instance", run.cfg.Name, "script", r.Name, "ok", r.OK, "reason", r.Why)
	}
	d.step(policy.ScriptChanged{ID: r.Owner, Script: r.Name, OK: r.OK, Why: r.Why})
}

// event is a transition reported by an instance, or its end.
type event struct {
	id   policy.ID
	t    vrrp.Transition
	st   vrrp.Status
	gone bool // the instance's loop has returned
}

func (d *Director) drainEvents() {
	evs := d.events.take()
	if len(evs) == 0 {
		return
	}
	for _, ev := range evs {
		if ev.gone {
			d.step(policy.Gone{ID: ev.id})
			continue
		}
		if r := d.runs[ev.id]; r != nil {
			d.metrics.transition(r.cfg.Name, ev.t)
			at := ev.st.Since
			if at.IsZero() {
				at = time.Now()
			}
			d.recent.add(TransitionStatus{At: at, Kind: "vrrp", Name: r.cfg.Name, From: ev.t.From.String(), To: ev.t.To.String(), Reason: ev.t.Reason})
			d.vrrpChanged(r.cfg.Name, ev.t, at)
		}
		d.step(policy.Transitioned{ID: ev.id, From: ev.t.From, To: ev.t.To, Priority: ev.st.Priority, Cause: ev.t.Cause})
		d.hostTransition(ev.id, ev.t.To == vrrp.Master)
		if r := d.runs[ev.id]; r != nil {
			d.fifo.instance(r.cfg.Name, ev.t.To, ev.st.Priority)
		}
		for _, g := range d.cfg().SyncGroups {
			if s, ok := d.pol.GroupState(g.Name); ok {
				d.fifo.group(g.Name, s)
			}
		}
	}
	d.updateSuspend()
	d.checkReady()
	d.refreshMetrics()
}

// checkReady tells systemd once every instance has entered its first
// state and the first reconcile has applied.
func (d *Director) checkReady() {
	if d.ready || !d.pol.Ready() || !d.lvs.firstApplied() {
		return
	}
	d.ready = true
	d.log.Info("ready", "instances", len(d.cfg().Instances), "virtual_servers", len(d.cfg().VirtualServers))
	sdNotify("READY=1\nSTATUS=" + d.summary())
	go releaseMemory()
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
