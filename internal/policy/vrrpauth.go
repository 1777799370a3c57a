package policy

import (
	"fmt"
	"slices"

	"github.com/tandemlb/tandem/vrrp"
)

// NoPeerFault: unicast_fault_no_peer, and the instance is unicast
// (unicast_source) with no unicast_peers: FAULT rather than multicast.
const NoPeerFault FaultKind = 100

// peerFault raises or clears the instance's NoPeerFault (start and reload).
func (p *Policy) peerFault(in *instance, out *[]Action) {
	key := FaultKey{NoPeerFault, ""}
	c := in.cfg
	if c.UnicastFaultNoPeer && c.UnicastSource.IsValid() && len(c.UnicastPeers) == 0 {
		p.setFault(in, key, "unicast_fault_no_peer: unicast_source is set but there are no unicast_peers", false, out)
		return
	}
	p.clearFault(in, key, out)
}

// priorityHook: notify { priority_changes = true } runs the hook of the
// current state again when the effective priority changes, with
// keepalived's notify-FIFO words MASTER_PRIORITY / BACKUP_PRIORITY in
// place of the state and the new priority last.
func (p *Policy) priorityHook(in *instance, out *[]Action) {
	if !in.cfg.Notify.PriorityChanges || !in.seen {
		return
	}
	var word string
	switch in.state {
	case vrrp.Master:
		word = "MASTER_PRIORITY"
	case vrrp.Backup:
		word = "BACKUP_PRIORITY"
	default:
		return
	}
	if argv := hookFor(in.cfg.Notify, in.state); len(argv) > 0 {
		*out = append(*out, Hook{InstanceHooks(in.cfg.Name),
			append(slices.Clone(argv), "INSTANCE", in.cfg.Name, word, fmt.Sprint(in.prio))})
	}
}
