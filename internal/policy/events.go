package policy

import (
	"fmt"
	"strings"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// Event is what happens around the director; Step turns each into actions.
type Event interface{ event() }

type (
	// Start runs the instances New created, with the state of their
	// interfaces and the quorum of their virtual servers as known now.
	Start struct {
		Links  map[string]bool
		Quorum map[string]bool
	}
	// LinkChanged: an interface went up (with carrier) or down.
	LinkChanged struct {
		Name string
		Up   bool
	}
	// ScriptChanged: a track script's verdict changed.
	ScriptChanged struct {
		ID     ID
		Script string
		OK     bool
		Why    string
	}
	// QuorumChanged: a virtual server lost or regained quorum.
	QuorumChanged struct {
		VS string
		Up bool
	}
	// Transitioned: an instance changed state.
	Transitioned struct {
		ID       ID
		From, To vrrp.State
		Priority uint8
		Cause    vrrp.Cause
	}
	// Gone: an instance's loop has returned.
	Gone struct{ ID ID }
	// CreateFailed: Create could not be carried out (the director reports
	// why); the instance is dropped.
	CreateFailed struct{ ID ID }
	// Refused: the instance refused a Reconfigure that only a new
	// instance can carry; it is replaced.
	Refused struct{ ID ID }
	// SyncDaemonFailed: the sync daemon could not be switched; it runs in
	// no role now.
	SyncDaemonFailed struct{}
	// Reload: a new valid configuration; Links has the state of the
	// interfaces the policy did not know (Unknown).
	Reload struct {
		Config *config.Config
		Links  map[string]bool
	}
	// Stop: hand every instance over and stop.
	Stop struct{}
)

func (Start) event()            {}
func (LinkChanged) event()      {}
func (ScriptChanged) event()    {}
func (QuorumChanged) event()    {}
func (Transitioned) event()     {}
func (Gone) event()             {}
func (CreateFailed) event()     {}
func (Refused) event()          {}
func (SyncDaemonFailed) event() {}
func (Reload) event()           {}
func (Stop) event()             {}

// Action is what the director must do, in order.
type Action interface{ String() string }

// HookQueue names the queue a hook runs on: hooks of one queue run one
// after another in the order of the transitions.
type HookQueue struct {
	Group bool // a sync group's hooks, else an instance's
	Name  string
}

// InstanceHooks and GroupHooks name the queues.
func InstanceHooks(name string) HookQueue { return HookQueue{Name: name} }
func GroupHooks(name string) HookQueue    { return HookQueue{Group: true, Name: name} }

func (q HookQueue) String() string {
	if q.Group {
		return "group " + q.Name
	}
	return "instance " + q.Name
}

type (
	// Create builds an instance (sockets, addresses); it does not run yet.
	Create struct {
		ID     ID
		Config *config.VRRPInstance
	}
	// Run starts an instance's loop (after the events sent before it).
	Run struct{ ID ID }
	// Send queues an event for an instance's state machine.
	Send struct {
		ID    ID
		Event vrrp.Event
	}
	// Reconfigure applies a changed block's VRRP settings in place, with
	// the effective priority to run with.
	Reconfigure struct {
		ID       ID
		Config   *config.VRRPInstance
		Priority uint8
	}
	// StartScripts runs an instance's track scripts.
	StartScripts struct {
		ID        ID
		Scripts   []*config.TrackScript
		Files     []*config.TrackFile    // track_file watches
		Processes []*config.TrackProcess // track_process watches
	}
	// StopScripts ends them.
	StopScripts struct{ ID ID }
	// Close finishes an instance that has stopped (its macvlan...).
	Close struct{ ID ID }
	// Hook runs a notify command on its queue.
	Hook struct {
		Queue HookQueue
		Argv  []string
	}
	// SyncDaemon switches the kernel's sync daemon from one role to
	// another (0: none).
	SyncDaemon struct {
		From, To lvs.SyncRole
		Config   *config.LVSSync
	}
	// WatchLinks watches these interfaces (the set changed).
	WatchLinks struct{ Names []string }
	// Reloaded sums a reload up, for the log.
	Reloaded struct {
		Same, Changed, Restarted, Added, Removed []string
	}
)

func (a Create) String() string { return fmt.Sprintf("create %d %s", a.ID, a.Config.Name) }
func (a Run) String() string    { return fmt.Sprintf("run %d", a.ID) }
func (a Send) String() string   { return fmt.Sprintf("send %d %s", a.ID, eventText(a.Event)) }
func (a Reconfigure) String() string {
	return fmt.Sprintf("reconfigure %d %s priority=%d", a.ID, a.Config.Name, a.Priority)
}
func (a StartScripts) String() string {
	var names []string
	for _, s := range a.Scripts {
		names = append(names, s.Name)
	}
	return fmt.Sprintf("start scripts %d %s", a.ID, strings.Join(names, ","))
}
func (a StopScripts) String() string { return fmt.Sprintf("stop scripts %d", a.ID) }
func (a Close) String() string       { return fmt.Sprintf("close %d", a.ID) }
func (a Hook) String() string        { return fmt.Sprintf("hook %s: %s", a.Queue, strings.Join(a.Argv, " ")) }
func (a SyncDaemon) String() string {
	return "sync daemon " + roleText(a.From) + " -> " + roleText(a.To)
}

func roleText(r lvs.SyncRole) string {
	if r == 0 {
		return "none"
	}
	return r.String()
}
func (a WatchLinks) String() string { return "watch " + strings.Join(a.Names, ",") }
func (a Reloaded) String() string {
	return fmt.Sprintf("reloaded same=%v changed=%v restarted=%v added=%v removed=%v", a.Same, a.Changed, a.Restarted, a.Added, a.Removed)
}

// eventText renders a VRRP event for tests and logs.
func eventText(ev vrrp.Event) string {
	switch e := ev.(type) {
	case vrrp.FaultOn:
		if e.Silent {
			return fmt.Sprintf("fault on (%s) silent", e.Reason)
		}
		return fmt.Sprintf("fault on (%s)", e.Reason)
	case vrrp.FaultOff:
		return "fault off"
	case vrrp.SetPriority:
		return fmt.Sprintf("priority %d", e.Priority)
	case vrrp.Force:
		return fmt.Sprintf("force %s (%s)", e.To, e.Reason)
	case vrrp.Shutdown:
		return "shutdown"
	case vrrp.Handover:
		return "handover"
	case vrrp.Release:
		return "release"
	}
	return fmt.Sprintf("%T", ev)
}
