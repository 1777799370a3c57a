package policy

import (
	"slices"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/vrrp"
)

// track_file, track_process and weighted track_interfaces: each adds a
// weight to the priority, or (weight 0) gives FAULT.

// TrackerChanged: a track_file or track_process has a new verdict.
// Tracker is "track_file NAME" or "track_process NAME".
type TrackerChanged struct {
	ID      ID
	Tracker string
	Weight  int
	Fault   bool
	Why     string
}

func (TrackerChanged) event() {}

// hasTrackers: the instance runs scripts or watches.
func hasTrackers(ic *config.VRRPInstance) bool {
	return len(ic.TrackScripts)+len(ic.TrackFiles)+len(ic.TrackProcesses) > 0
}

func startTrackers(in *instance) StartScripts {
	return StartScripts{ID: in.id, Scripts: in.cfg.TrackScripts, Files: in.cfg.TrackFiles, Processes: in.cfg.TrackProcesses}
}

// effective is the instance's priority with every weight that counts now.
func (in *instance) effective() uint8 {
	base := effectivePriority(in.cfg, in.scriptOK)
	if base == vrrp.OwnerPriority || len(in.weights) == 0 {
		return base
	}
	p := int(base)
	for _, w := range in.weights {
		p += w
	}
	return uint8(min(max(p, 1), 254))
}

func (p *Policy) trackerChanged(e TrackerChanged, out *[]Action) {
	in := p.all[e.ID]
	if in == nil || in.leaving || !tracks(in.cfg, e.Tracker) {
		return // from before a reload
	}
	key := FaultKey{TrackerFault, e.Tracker}
	if e.Fault {
		delete(in.weights, e.Tracker)
		p.setFault(in, key, e.Tracker+": "+e.Why, false, out)
		p.updatePriority(in, out)
		return
	}
	p.clearFault(in, key, out)
	if e.Weight == 0 {
		delete(in.weights, e.Tracker)
	} else {
		in.weights[e.Tracker] = e.Weight
	}
	p.updatePriority(in, out)
}

func tracks(ic *config.VRRPInstance, tracker string) bool {
	return slices.ContainsFunc(ic.TrackFiles, func(f *config.TrackFile) bool { return "track_file "+f.Name == tracker }) ||
		slices.ContainsFunc(ic.TrackProcesses, func(tp *config.TrackProcess) bool { return "track_process "+tp.Name == tracker })
}

// interfaceWeight is the weight of a tracked interface written as an
// object; 0 for a plain entry (FAULT) and for the instance's own.
func interfaceWeight(ic *config.VRRPInstance, name string) int {
	if name == ic.Interface {
		return 0
	}
	for _, t := range ic.TrackInterfaceWeights {
		if t.Name == name {
			return t.Weight
		}
	}
	return 0
}

// interfaceWeight adds w to the priority while the interface is down
// (keepalived's track_interface ... weight).
func (p *Policy) interfaceWeight(in *instance, name string, w int, up bool, out *[]Action) {
	key := "interface " + name
	if up {
		delete(in.weights, key)
	} else {
		in.weights[key] = w
	}
	p.updatePriority(in, out)
}

// GroupState is a sync group's state as its hooks last saw it; false
// before all its members have reported one.
func (p *Policy) GroupState(name string) (vrrp.State, bool) {
	s, ok := p.groups[name]
	return s, ok
}
