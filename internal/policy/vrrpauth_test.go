package policy

import (
	"testing"

	"github.com/tandemlb/tandem/vrrp"
)

const noPeer = base + `
vrrp_instance "web" {
  interface             = "lan0"
  virtual_router_id     = 51
  virtual_ips           = ["198.51.100.10/24"]
  unicast_source        = "198.51.100.11"
  unicast_fault_no_peer = true
}
`

// unicast_fault_no_peer: unicast with no peers is FAULT from the start,
// not multicast.
func TestUnicastFaultNoPeer(t *testing.T) {
	p := ready(t, parse(t, noPeer), []string{"create 1 web"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0")}, []string{"watch lan0", "send 1 fault on (unicast_fault_no_peer: unicast_source is set but there are no unicast_peers)", "run 1"}},
	})
}

const prioHook = base + `
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
  track_script "minus" {
    command = ["/bin/true"]
    weight  = -30
  }
  notify {
    master           = ["/bin/m"]
    backup           = ["/bin/b"]
    priority_changes = true
  }
}
`

// notify { priority_changes }: the current state's hook runs again with
// MASTER_PRIORITY / BACKUP_PRIORITY and the new priority.
func TestNotifyPriorityChanges(t *testing.T) {
	p := ready(t, parse(t, prioHook), []string{"create 1 web"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0")}, []string{"watch lan0", "start scripts 1 minus", "run 1"}},
		{1 * ms, tr(1, vrrp.Init, vrrp.Backup, 100), []string{"hook instance web: /bin/b INSTANCE web BACKUP 100"}},
		{2 * ms, ScriptChanged{ID: 1, Script: "minus", OK: false}, []string{"send 1 priority 70", "hook instance web: /bin/b INSTANCE web BACKUP_PRIORITY 70"}},
		{3 * ms, tr(1, vrrp.Backup, vrrp.Master, 70), []string{"hook instance web: /bin/m INSTANCE web MASTER 70"}},
		{4 * ms, ScriptChanged{ID: 1, Script: "minus", OK: true}, []string{"send 1 priority 100", "hook instance web: /bin/m INSTANCE web MASTER_PRIORITY 100"}},
	})
}
