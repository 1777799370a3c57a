package policy

import "testing"

const trackers = base + `
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
  track_interfaces  = ["lan1", { name = "lan2", weight = -60 }]
  track_file "level" {
    path   = "/run/level"
    weight = -10
  }
  track_file "hard" {
    path   = "/run/hard"
    weight = 0
  }
  track_process "app" {
    command = ["app"]
  }
}
`

// A weighted interface moves the priority where a plain one gives FAULT;
// track_file and track_process weights add up with it, weight 0 is FAULT.
func TestTrackers(t *testing.T) {
	p := ready(t, parse(t, trackers), []string{"create 1 web"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0", "lan1", "lan2")}, []string{"watch lan0,lan1,lan2", "start scripts 1 ", "run 1"}},
		{1 * ms, LinkChanged{Name: "lan2", Up: false}, []string{"send 1 priority 90"}},
		{2 * ms, TrackerChanged{ID: 1, Tracker: "track_file level", Weight: -30}, []string{"send 1 priority 60"}},
		{3 * ms, LinkChanged{Name: "lan2", Up: true}, []string{"send 1 priority 120"}},
		{4 * ms, LinkChanged{Name: "lan1", Up: false}, []string{"send 1 fault on (interface lan1 is down)"}},
		{5 * ms, LinkChanged{Name: "lan1", Up: true}, []string{"send 1 fault off"}},
		{6 * ms, TrackerChanged{ID: 1, Tracker: "track_file hard", Fault: true, Why: "/run/hard holds 1"}, []string{"send 1 fault on (track_file hard: /run/hard holds 1)"}},
		{7 * ms, TrackerChanged{ID: 1, Tracker: "track_file hard"}, []string{"send 1 fault off"}},
		{8 * ms, TrackerChanged{ID: 1, Tracker: "track_process app", Fault: true, Why: "0 of 1 processes [app] run"}, []string{"send 1 fault on (track_process app: 0 of 1 processes [app] run)"}},
		{9 * ms, TrackerChanged{ID: 1, Tracker: "track_file level", Weight: 0}, []string{"send 1 priority 150"}},
		{10 * ms, TrackerChanged{ID: 1, Tracker: "track_file gone", Weight: -5}, nil},
	})
}
