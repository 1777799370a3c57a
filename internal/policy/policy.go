// Package policy holds the director's decisions, pure: events come in
// (an interface's state, a track script's verdict, a virtual server's
// quorum, a VRRP transition, a reload, the stop), actions come out (events
// for the VRRP instances, hooks to run, the sync daemon's role, instances
// to create, reconfigure or stop). It never touches a socket, a process
// or the clock; the director carries the actions out, in order, and feeds
// back what happened (an instance gone, a reconfigure refused).
package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// ID names one run of a VRRP instance: an instance re-created by a reload
// gets a new ID, so that what its predecessor still reports while it
// stops is not taken for the new one's.
type ID uint64

// FaultKind is what a fault comes from.
type FaultKind int

const (
	LinkFault    FaultKind = iota + 1 // an interface is down
	QuorumFault                       // a tracked virtual server lost quorum
	ScriptFault                       // a track_script of weight 0 fails
	GroupFault                        // another member of the sync group is in FAULT
	TrackerFault                      // a track_file or track_process of weight 0
)

func (k FaultKind) String() string {
	switch k {
	case LinkFault:
		return "link"
	case QuorumFault:
		return "quorum"
	case ScriptFault:
		return "script"
	case TrackerFault:
		return "tracker"
	case GroupFault:
		return "group"
	case NoPeerFault:
		return "no_peer"
	}
	return fmt.Sprintf("FaultKind(%d)", int(k))
}

// FaultKey is one reason an instance is in FAULT: a kind and the name of
// the interface, virtual server, script or group member.
type FaultKey struct {
	Kind FaultKind
	Name string
}

func (k FaultKey) String() string { return k.Kind.String() + " " + k.Name }

// instance is the policy's view of one VRRP instance run.
type instance struct {
	id       ID
	cfg      *config.VRRPInstance
	state    vrrp.State
	seen     bool  // has reported a transition (left INIT)
	prio     uint8 // the effective priority the instance was given
	faults   map[FaultKey]string
	silent   bool // its own interface is down: no advert can leave
	scriptOK map[string]bool
	weights  map[string]int // track_file, track_process, weighted interfaces: what each adds now
	heldBack bool
	leaving  bool
	// next is the configuration of the instance that replaces this one
	// once it has stopped (a reload that needs a new instance).
	next *config.VRRPInstance
}

// Policy is the director's state of mind. Not safe for concurrent use:
// the director's goroutine owns it.
type Policy struct {
	cfg      *config.Config
	lastID   ID
	all      map[ID]*instance     // every run not yet gone
	live     map[string]*instance // by name: the instance serving that name
	leaving  map[ID]*instance     // stopping, for a reload or the end
	links    map[string]bool      // interface -> up, as last known
	quorum   map[string]bool      // virtual server -> quorum, as last known
	groupOf  map[string]*config.SyncGroup
	groups   map[string]vrrp.State // sync group -> its state, as its hooks saw it
	watched  []string
	syncRole lvs.SyncRole // the role asked of the sync daemon
	stopping bool
}

// New starts the policy with the configuration the director was started
// with; the actions create its instances (nothing runs yet: Start).
func New(cfg *config.Config) (*Policy, []Action) {
	p := &Policy{cfg: cfg, all: map[ID]*instance{}, live: map[string]*instance{}, leaving: map[ID]*instance{},
		links: map[string]bool{}, quorum: map[string]bool{}, groups: map[string]vrrp.State{}}
	p.setGroups()
	var out []Action
	for _, ic := range cfg.Instances {
		out = append(out, p.create(ic))
	}
	return p, out
}

// Step applies one event at time now and returns the actions to carry out.
func (p *Policy) Step(now time.Time, ev Event) []Action {
	var out []Action
	switch e := ev.(type) {
	case Start:
		maps.Copy(p.links, e.Links)
		maps.Copy(p.quorum, e.Quorum)
		p.watch(&out) // first: without a watch the daemon does not start
		for _, ic := range p.cfg.Instances {
			if in := p.live[ic.Name]; in != nil {
				p.start(in, &out)
			}
		}
	case LinkChanged:
		p.links[e.Name] = e.Up
		for _, in := range p.running() {
			own := in.cfg.Interface == e.Name
			if own || slices.Contains(in.cfg.TrackInterfaces, e.Name) {
				p.linkFault(in, e.Name, e.Up, &out)
			}
		}
	case ScriptChanged:
		p.scriptChanged(e, &out)
	case TrackerChanged:
		p.trackerChanged(e, &out)
	case QuorumChanged:
		p.quorum[e.VS] = e.Up
		for _, in := range p.running() {
			if slices.Contains(in.cfg.TrackVirtualServers, e.VS) {
				p.quorumFault(in, e.VS, e.Up, &out)
			}
		}
	case Transitioned:
		p.transitioned(e, &out)
	case Gone:
		p.gone(e.ID, &out)
	case CreateFailed:
		if in := p.all[e.ID]; in != nil && !in.leaving {
			delete(p.live, in.cfg.Name)
			delete(p.all, e.ID)
			p.watch(&out)
		}
	case Refused:
		if in := p.all[e.ID]; in != nil && !in.leaving {
			p.stop(in, in.cfg, &out)
		}
	case SyncDaemonFailed:
		p.syncRole = 0 // tried again at the next transition
	case Reload:
		p.reload(e, &out)
	case Stop:
		if !p.stopping {
			p.stopping = true
			earlier := p.sortedLeaving()
			for _, in := range p.running() {
				p.stop(in, nil, &out)
			}
			// Those already leaving finish their handover at once.
			for _, in := range p.sortedLeaving() {
				if slices.Contains(earlier, in) {
					in.next = nil
					out = append(out, Send{in.id, vrrp.Shutdown{}})
				}
			}
		}
	}
	return out
}

// Failover answers `tandem failover INSTANCE [--release]`.
func (p *Policy) Failover(name string, release bool) ([]Action, error) {
	in := p.live[name]
	if in == nil {
		for _, l := range p.leaving {
			if l.cfg.Name == name && l.next != nil {
				return nil, fmt.Errorf("%s is restarting for a reload: try again in a moment", name)
			}
		}
		return nil, fmt.Errorf("no vrrp_instance named %q", name)
	}
	switch {
	case release:
		in.heldBack = false
		return []Action{Send{in.id, vrrp.Release{}}}, nil
	case in.cfg.Priority == vrrp.OwnerPriority:
		return nil, fmt.Errorf("%s is the address owner (priority 255): it cannot hand over", name)
	case in.state != vrrp.Master:
		return nil, fmt.Errorf("%s is %s here, not MASTER: run failover on the master", name, in.state)
	}
	in.heldBack = true
	return []Action{Send{in.id, vrrp.Handover{}}}, nil
}

// Ready reports whether every instance has entered its first state.
func (p *Policy) Ready() bool {
	for _, in := range p.live {
		if !in.seen {
			return false
		}
	}
	return true
}

// Done reports whether, after Stop, every instance has gone.
func (p *Policy) Done() bool { return p.stopping && len(p.live) == 0 && len(p.leaving) == 0 }

// Stopping reports whether Stop was seen.
func (p *Policy) Stopping() bool { return p.stopping }

// Config is the configuration the policy runs now.
func (p *Policy) Config() *config.Config { return p.cfg }

// SyncRole is the role asked of the sync daemon.
func (p *Policy) SyncRole() lvs.SyncRole { return p.syncRole }

// Faults lists why an instance is in FAULT, sorted; for status.
func (p *Policy) Faults(name string) []string {
	in := p.live[name]
	if in == nil {
		return nil
	}
	return slices.Sorted(maps.Values(in.faults))
}

// Unknown lists the interfaces cfg names whose state the policy does not
// know yet; a Reload carries their state.
func (p *Policy) Unknown(cfg *config.Config) []string {
	var out []string
	for _, n := range interfaces(cfg.Instances) {
		if _, ok := p.links[n]; !ok {
			out = append(out, n)
		}
	}
	return out
}

func (p *Policy) create(ic *config.VRRPInstance) Action {
	p.lastID++
	in := &instance{id: p.lastID, cfg: ic, prio: uint8(ic.Priority), faults: map[FaultKey]string{}, weights: map[string]int{}}
	in.scriptOK = scriptsOK(ic)
	p.live[ic.Name] = in
	p.all[in.id] = in
	return Create{ID: in.id, Config: ic}
}

func scriptsOK(ic *config.VRRPInstance) map[string]bool {
	ok := map[string]bool{}
	for _, s := range ic.TrackScripts {
		ok[s.Name] = true // a script counts as succeeding until it fails
	}
	return ok
}

// start runs an instance. Faults of what is down come first, so that
// such an instance enters FAULT rather than a short election.
func (p *Policy) start(in *instance, out *[]Action) {
	p.trackFaults(in, out)
	if hasTrackers(in.cfg) {
		*out = append(*out, startTrackers(in))
	}
	if p := in.effective(); p != in.prio {
		in.prio = p
		*out = append(*out, Send{in.id, vrrp.SetPriority{Priority: p}})
	}
	*out = append(*out, Run{in.id})
}

// trackFaults raises the faults of what in tracks and is known down.
func (p *Policy) trackFaults(in *instance, out *[]Action) {
	p.peerFault(in, out)
	for _, n := range append([]string{in.cfg.Interface}, in.cfg.TrackInterfaces...) {
		if up, known := p.links[n]; known && !up {
			p.linkFault(in, n, false, out)
		}
	}
	for _, vs := range in.cfg.TrackVirtualServers {
		if up, known := p.quorum[vs]; known && !up {
			p.quorumFault(in, vs, false, out)
		}
	}
}

func (p *Policy) linkFault(in *instance, name string, up bool, out *[]Action) {
	if w := interfaceWeight(in.cfg, name); w != 0 {
		p.interfaceWeight(in, name, w, up, out)
		return
	}
	key := FaultKey{LinkFault, name}
	if up {
		p.clearFault(in, key, out)
		return
	}
	p.setFault(in, key, fmt.Sprintf("interface %s is down", name), name == in.cfg.Interface, out)
}

func (p *Policy) quorumFault(in *instance, vs string, up bool, out *[]Action) {
	key := FaultKey{QuorumFault, vs}
	if up {
		p.clearFault(in, key, out)
		return
	}
	p.setFault(in, key, fmt.Sprintf("virtual server %s lost quorum", vs), false, out)
}

// setFault records a fault; the first one puts the instance in FAULT.
func (p *Policy) setFault(in *instance, key FaultKey, why string, silent bool, out *[]Action) {
	_, had := in.faults[key]
	in.faults[key] = why
	if silent {
		in.silent = true
	}
	if !had && len(in.faults) == 1 {
		*out = append(*out, Send{in.id, vrrp.FaultOn{Reason: why, Silent: in.silent}})
	}
}

// clearFault drops a fault; the last one to go takes the instance out.
func (p *Policy) clearFault(in *instance, key FaultKey, out *[]Action) {
	if _, had := in.faults[key]; !had {
		return
	}
	delete(in.faults, key)
	if key == (FaultKey{LinkFault, in.cfg.Interface}) {
		in.silent = false
	}
	if len(in.faults) == 0 {
		*out = append(*out, Send{in.id, vrrp.FaultOff{}})
	}
}

// scriptChanged applies keepalived's weight rule: 0 gives FAULT while
// failing; > 0 is added while succeeding; < 0 is added while failing.
func (p *Policy) scriptChanged(e ScriptChanged, out *[]Action) {
	in := p.all[e.ID]
	if in == nil || in.leaving {
		return
	}
	var ts *config.TrackScript
	for _, s := range in.cfg.TrackScripts {
		if s.Name == e.Script {
			ts = s
		}
	}
	if ts == nil { // a result from before a reload
		return
	}
	in.scriptOK[ts.Name] = e.OK
	key := FaultKey{ScriptFault, ts.Name}
	switch {
	case ts.Weight != 0:
		p.updatePriority(in, out)
	case e.OK:
		p.clearFault(in, key, out)
	default:
		p.setFault(in, key, fmt.Sprintf("track_script %s failed: %s", ts.Name, e.Why), false, out)
	}
}

func (p *Policy) updatePriority(in *instance, out *[]Action) {
	if prio := in.effective(); prio != in.prio {
		in.prio = prio
		*out = append(*out, Send{in.id, vrrp.SetPriority{Priority: prio}})
		p.priorityHook(in, out)
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

// transitioned follows an instance's change of state into its hooks, the
// sync daemon and its sync group.
func (p *Policy) transitioned(e Transitioned, out *[]Action) {
	in := p.all[e.ID]
	if in == nil {
		return
	}
	in.state, in.seen = e.To, true
	if argv := hookFor(in.cfg.Notify, e.To); len(argv) > 0 {
		*out = append(*out, Hook{InstanceHooks(in.cfg.Name),
			append(slices.Clone(argv), "INSTANCE", in.cfg.Name, e.To.String(), fmt.Sprint(e.Priority))})
	}
	if ls := p.cfg.LVSSync; ls != nil && ls.Follow == in.cfg.Name && (!in.leaving || e.To == vrrp.Stop) {
		p.follow(ls, e.To, out)
	}
	// A move the group forced is not passed on: the member that moved on
	// its own has forced every other one already, and passing echoes on
	// makes two members' crossing moves force each other for ever.
	if g := p.groupOf[in.cfg.Name]; g != nil && !in.leaving && e.Cause != vrrp.CauseSyncGroup {
		p.syncGroup(g, in, e.To, out)
	}
	if g := p.groupOf[in.cfg.Name]; g != nil {
		p.groupHook(g, out)
	}
}

func hookFor(n config.Notify, s vrrp.State) []string {
	switch s {
	case vrrp.Master:
		return n.Master
	case vrrp.Backup:
		return n.Backup
	case vrrp.Fault:
		return n.Fault
	case vrrp.Stop:
		return n.Stop
	}
	return nil
}

// follow switches the sync daemon with the followed instance: MASTER runs
// the sync master, STOP none, any other state the sync backup.
func (p *Policy) follow(ls *config.LVSSync, s vrrp.State, out *[]Action) {
	want := lvs.SyncBackup
	switch s {
	case vrrp.Master:
		want = lvs.SyncMaster
	case vrrp.Stop:
		want = 0
	}
	if want == p.syncRole {
		return
	}
	*out = append(*out, SyncDaemon{From: p.syncRole, To: want, Config: ls})
	p.syncRole = want
}

// syncGroup makes the other members of g follow in's change (keepalived's
// sync group rule).
func (p *Policy) syncGroup(g *config.SyncGroup, in *instance, to vrrp.State, out *[]Action) {
	why := fmt.Sprintf("sync group %s: %s is %s", g.Name, in.cfg.Name, to)
	key := FaultKey{GroupFault, in.cfg.Name}
	for _, name := range g.Instances {
		other := p.live[name]
		if other == nil || other == in {
			continue
		}
		switch to {
		case vrrp.Master, vrrp.Backup:
			p.clearFault(other, key, out)
			*out = append(*out, Send{other.id, vrrp.Force{To: to, Reason: why}})
		case vrrp.Fault:
			// Only a fault of its own spreads: two members must not hold
			// each other in FAULT.
			if ownFault(in) {
				p.setFault(other, key, why, false, out)
			}
		}
	}
}

func ownFault(in *instance) bool {
	for k := range in.faults {
		if k.Kind != GroupFault {
			return true
		}
	}
	return false
}

// groupHook runs a sync group's hook when the group as a whole changes
// state: MASTER, BACKUP or STOP once every member is there, FAULT as soon
// as one member is.
func (p *Policy) groupHook(g *config.SyncGroup, out *[]Action) {
	var states []vrrp.State
	for _, name := range g.Instances {
		in := p.live[name]
		if in == nil {
			in = p.leavingNamed(name)
		}
		if in == nil || !in.seen {
			return
		}
		states = append(states, in.state)
	}
	var s vrrp.State
	switch {
	case slices.Contains(states, vrrp.Fault):
		s = vrrp.Fault
	case len(slices.Compact(slices.Clone(states))) == 1:
		s = states[0]
	default:
		return
	}
	if p.groups[g.Name] == s {
		return
	}
	p.groups[g.Name] = s
	if argv := hookFor(g.Notify, s); len(argv) > 0 {
		*out = append(*out, Hook{GroupHooks(g.Name), append(slices.Clone(argv), "GROUP", g.Name, s.String(), "0")})
	}
}

// stop hands an instance over gracefully; next, if set, replaces it once
// it has stopped.
func (p *Policy) stop(in *instance, next *config.VRRPInstance, out *[]Action) {
	if p.live[in.cfg.Name] == in {
		delete(p.live, in.cfg.Name)
	}
	in.leaving, in.next = true, next
	p.leaving[in.id] = in
	if hasTrackers(in.cfg) {
		*out = append(*out, StopScripts{in.id})
	}
	*out = append(*out, Send{in.id, vrrp.Shutdown{}})
}

// gone finishes an instance that has stopped, and starts its replacement.
func (p *Policy) gone(id ID, out *[]Action) {
	in := p.all[id]
	if in == nil {
		return
	}
	if p.live[in.cfg.Name] == in {
		delete(p.live, in.cfg.Name) // ended by itself
	}
	delete(p.leaving, id)
	delete(p.all, id)
	*out = append(*out, Close{id})
	if in.next != nil && !p.stopping && p.live[in.next.Name] == nil {
		nin := p.create(in.next)
		*out = append(*out, nin)
		p.start(p.live[in.next.Name], out)
		p.watch(out)
	}
}

// reload moves the policy to e.Config, touching only what changed.
func (p *Policy) reload(e Reload, out *[]Action) {
	if p.stopping {
		return
	}
	old := p.cfg
	p.cfg = e.Config
	maps.Copy(p.links, e.Links)
	p.setGroups()
	want := map[string]*config.VRRPInstance{}
	for _, ic := range e.Config.Instances {
		want[ic.Name] = ic
	}
	var sum Reloaded
	for _, ic := range old.Instances {
		if in := p.live[ic.Name]; in != nil && want[ic.Name] == nil {
			sum.Removed = append(sum.Removed, ic.Name)
			p.stop(in, nil, out)
		}
	}
	// An instance still being replaced by an earlier reload takes the
	// newest settings when it starts, or none when it went away.
	pending := map[string]bool{}
	for _, in := range p.sortedLeaving() {
		if in.next != nil {
			in.next = want[in.cfg.Name]
			pending[in.cfg.Name] = in.next != nil
		}
	}
	for _, ic := range e.Config.Instances {
		in := p.live[ic.Name]
		switch {
		case in == nil && pending[ic.Name]:
			sum.Restarted = append(sum.Restarted, ic.Name)
		case in == nil:
			sum.Added = append(sum.Added, ic.Name)
			*out = append(*out, p.create(ic))
			p.start(p.live[ic.Name], out)
		case config.Equal(in.cfg, ic):
			sum.Same = append(sum.Same, ic.Name)
		default:
			sum.Changed = append(sum.Changed, ic.Name)
			p.change(in, ic, out)
		}
	}
	// A reload ends the hold-back of `tandem failover` (as --release).
	for _, ic := range e.Config.Instances {
		if in := p.live[ic.Name]; in != nil && in.heldBack {
			in.heldBack = false
			*out = append(*out, Send{in.id, vrrp.Release{}})
		}
	}
	p.watch(out)
	if !config.Equal(old.LVSSync, e.Config.LVSSync) {
		if p.syncRole != 0 {
			*out = append(*out, SyncDaemon{From: p.syncRole, To: 0, Config: old.LVSSync})
			p.syncRole = 0
		}
		if ls := e.Config.LVSSync; ls != nil {
			if in := p.live[ls.Follow]; in != nil && in.seen {
				p.follow(ls, in.state, out)
			}
		}
	}
	*out = append(*out, sum)
}

// change applies a changed block to a running instance: its VRRP
// settings in place (the instance refuses what needs a new one: Refused),
// its tracking and hooks here.
func (p *Policy) change(in *instance, ic *config.VRRPInstance, out *[]Action) {
	o := in.cfg
	in.cfg = ic
	if !config.Equal(o.TrackScripts, ic.TrackScripts) || !config.Equal(o.TrackFiles, ic.TrackFiles) || !config.Equal(o.TrackProcesses, ic.TrackProcesses) {
		if hasTrackers(o) {
			*out = append(*out, StopScripts{in.id})
		}
		for k := range in.faults {
			if k.Kind == ScriptFault || k.Kind == TrackerFault {
				p.clearFault(in, k, out)
			}
		}
		for k := range in.weights {
			if !strings.HasPrefix(k, "interface ") {
				delete(in.weights, k)
			}
		}
		in.scriptOK = scriptsOK(ic)
		if hasTrackers(ic) {
			*out = append(*out, startTrackers(in))
		}
	}
	if !config.Equal(o.TrackInterfaceWeights, ic.TrackInterfaceWeights) {
		// Weighted interfaces are counted again from what is known down.
		for k := range in.weights {
			if strings.HasPrefix(k, "interface ") {
				delete(in.weights, k)
			}
		}
		for k := range in.faults {
			if k.Kind == LinkFault && interfaceWeight(ic, k.Name) != 0 {
				p.clearFault(in, k, out)
			}
		}
	}
	if !config.Equal(vrrpPart(o), vrrpPart(ic)) {
		in.prio = in.effective()
		*out = append(*out, Reconfigure{in.id, ic, in.prio})
	}
	// Faults of what is no longer tracked go; newly tracked interfaces
	// that are down and virtual servers without quorum come.
	tracked := map[FaultKey]bool{{LinkFault, ic.Interface}: true}
	for _, n := range ic.TrackInterfaces {
		tracked[FaultKey{LinkFault, n}] = true
	}
	for _, vs := range ic.TrackVirtualServers {
		tracked[FaultKey{QuorumFault, vs}] = true
	}
	for _, k := range slices.SortedFunc(maps.Keys(in.faults), compareKeys) {
		if (k.Kind == LinkFault || k.Kind == QuorumFault) && !tracked[k] {
			p.clearFault(in, k, out)
		}
	}
	p.trackFaults(in, out)
	p.updatePriority(in, out)
}

// vrrpPart is ic without what the policy handles itself (tracking and
// hooks): what differs in it is the VRRP instance's to apply.
func vrrpPart(ic *config.VRRPInstance) config.VRRPInstance {
	c := *ic
	c.TrackInterfaces, c.TrackVirtualServers, c.TrackScripts, c.Notify = nil, nil, nil, config.Notify{}
	c.TrackInterfaceWeights, c.TrackFiles, c.TrackProcesses = nil, nil, nil
	return c
}

func compareKeys(a, b FaultKey) int {
	if a.Kind != b.Kind {
		return int(a.Kind) - int(b.Kind)
	}
	switch {
	case a.Name < b.Name:
		return -1
	case a.Name > b.Name:
		return 1
	}
	return 0
}

// watch asks for the interfaces the running instances need, when that set
// changed.
func (p *Policy) watch(out *[]Action) {
	var ics []*config.VRRPInstance
	for _, in := range p.running() {
		ics = append(ics, in.cfg)
	}
	for _, in := range p.sortedLeaving() {
		if in.next != nil { // back soon: keep watching
			ics = append(ics, in.next)
		}
	}
	names := interfaces(ics)
	if p.watched != nil && slices.Equal(names, p.watched) {
		return
	}
	p.watched = names
	*out = append(*out, WatchLinks{names})
}

func interfaces(ics []*config.VRRPInstance) []string {
	set := map[string]bool{}
	for _, ic := range ics {
		set[ic.Interface] = true
		for _, n := range ic.TrackInterfaces {
			set[n] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

func (p *Policy) setGroups() {
	p.groupOf = map[string]*config.SyncGroup{}
	for _, g := range p.cfg.SyncGroups {
		for _, n := range g.Instances {
			p.groupOf[n] = g
		}
	}
}

// running lists the live instances in configuration order.
func (p *Policy) running() []*instance {
	var out []*instance
	for _, ic := range p.cfg.Instances {
		if in := p.live[ic.Name]; in != nil {
			out = append(out, in)
		}
	}
	return out
}

func (p *Policy) sortedLeaving() []*instance {
	var out []*instance
	for _, id := range slices.Sorted(maps.Keys(p.leaving)) {
		out = append(out, p.leaving[id])
	}
	return out
}

func (p *Policy) leavingNamed(name string) *instance {
	for _, in := range p.sortedLeaving() {
		if in.cfg.Name == name {
			return in
		}
	}
	return nil
}

// Live is the ID of the instance serving name now.
func (p *Policy) Live(name string) (ID, bool) {
	if in := p.live[name]; in != nil {
		return in.id, true
	}
	return 0, false
}
