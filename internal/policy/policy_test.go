package policy

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
	"github.com/tandemlb/tandem/vrrp"
)

// Conformance tests in the style of vrrp's: timed events in, the exact
// actions out, on a fake clock. Each case names the rule it checks.

var t0 = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)

type step struct {
	at   time.Duration
	ev   Event
	want []string
}

// parse loads an HCL configuration from the test's text.
func parse(t *testing.T, src string) *config.Config {
	t.Helper()
	cfg, diags := config.Parse("test.hcl", []byte(src))
	if cfg == nil {
		t.Fatalf("config: %v", diags.Err())
	}
	return cfg
}

// ready starts a policy on cfg and checks the actions of New.
func ready(t *testing.T, cfg *config.Config, wantNew []string) *Policy {
	t.Helper()
	p, acts := New(cfg)
	if got := render(acts); !slices.Equal(got, wantNew) {
		t.Fatalf("New:\n got %q\nwant %q", got, wantNew)
	}
	return p
}

func render(acts []Action) []string {
	out := []string{}
	for _, a := range acts {
		out = append(out, a.String())
	}
	return out
}

func runSteps(t *testing.T, p *Policy, steps []step) {
	t.Helper()
	for i, s := range steps {
		got := render(p.Step(t0.Add(s.at), s.ev))
		want := s.want
		if want == nil {
			want = []string{}
		}
		if !slices.Equal(got, want) {
			t.Fatalf("step %d (%T %+v at %v):\n got %q\nwant %q", i, s.ev, s.ev, s.at, got, want)
		}
	}
}

const base = `
global {
  router_id = "lb1"
}
`

const web = base + `
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = 150
  virtual_ips       = ["198.51.100.10/24"]
  track_interfaces  = ["lan1"]
  notify {
    master = ["/bin/m"]
    fault  = ["/bin/f"]
  }
}
`

func up(names ...string) map[string]bool {
	m := map[string]bool{}
	for _, n := range names {
		m[n] = true
	}
	return m
}

func tr(id ID, from, to vrrp.State, prio uint8) Transitioned {
	return Transitioned{ID: id, From: from, To: to, Priority: prio}
}

// forced marks a transition as one the sync group forced.
func forced(e Transitioned) Transitioned {
	e.Cause = vrrp.CauseSyncGroup
	return e
}

const ms = time.Millisecond

func TestFaultByLink(t *testing.T) {
	t.Run("own interface down at start: FAULT before the first election, silent", func(t *testing.T) {
		p := ready(t, parse(t, web), []string{"create 1 web"})
		runSteps(t, p, []step{
			{0, Start{Links: map[string]bool{"lan0": false, "lan1": true}}, []string{"watch lan0,lan1", "send 1 fault on (interface lan0 is down) silent", "run 1"}},
			{10 * ms, tr(1, vrrp.Init, vrrp.Fault, 150), []string{"hook instance web: /bin/f INSTANCE web FAULT 150"}},
			{20 * ms, LinkChanged{"lan0", true}, []string{"send 1 fault off"}},
		})
	})
	t.Run("tracked interface down: FAULT with a last advert; up again leaves it", func(t *testing.T) {
		p := ready(t, parse(t, web), []string{"create 1 web"})
		runSteps(t, p, []step{
			{0, Start{Links: up("lan0", "lan1")}, []string{"watch lan0,lan1", "run 1"}},
			{1 * ms, tr(1, vrrp.Init, vrrp.Backup, 150), nil},
			{5 * ms, LinkChanged{"lan1", false}, []string{"send 1 fault on (interface lan1 is down)"}},
			// A second fault is recorded, not sent again; FAULT lasts
			// until the last one clears.
			{6 * ms, LinkChanged{"lan0", false}, nil},
			{7 * ms, LinkChanged{"lan1", true}, nil},
			{8 * ms, LinkChanged{"lan0", true}, []string{"send 1 fault off"}},
			// An interface nobody tracks changes nothing.
			{9 * ms, LinkChanged{"lan9", false}, nil},
		})
	})
}

const scripts = base + `
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = 100
  virtual_ips       = ["198.51.100.10/24"]
  track_script "hard" {
    command = ["/bin/true"]
  }
  track_script "minus" {
    command = ["/bin/true"]
    weight  = -30
  }
  track_script "plus" {
    command = ["/bin/true"]
    weight  = 20
  }
}
`

func TestScripts(t *testing.T) {
	t.Run("weight 0: FAULT while failing", func(t *testing.T) {
		p := ready(t, parse(t, scripts), []string{"create 1 web"})
		runSteps(t, p, []step{
			// Scripts count as succeeding until they fail: +20 at once.
			{0, Start{Links: up("lan0")}, []string{"watch lan0", "start scripts 1 hard,minus,plus", "send 1 priority 120", "run 1"}},
			{1 * ms, ScriptChanged{ID: 1, Script: "hard", OK: false, Why: "exit status 1"}, []string{"send 1 fault on (track_script hard failed: exit status 1)"}},
			{2 * ms, ScriptChanged{ID: 1, Script: "hard", OK: true}, []string{"send 1 fault off"}},
		})
	})
	t.Run("weight < 0 added while failing, > 0 while succeeding, kept in 1..254", func(t *testing.T) {
		p := ready(t, parse(t, scripts), []string{"create 1 web"})
		runSteps(t, p, []step{
			{0, Start{Links: up("lan0")}, []string{"watch lan0", "start scripts 1 hard,minus,plus", "send 1 priority 120", "run 1"}},
			{1 * ms, ScriptChanged{ID: 1, Script: "minus", OK: false}, []string{"send 1 priority 90"}},
			{2 * ms, ScriptChanged{ID: 1, Script: "plus", OK: false}, []string{"send 1 priority 70"}},
			{3 * ms, ScriptChanged{ID: 1, Script: "plus", OK: false}, nil}, // no change, nothing sent
			{4 * ms, ScriptChanged{ID: 1, Script: "minus", OK: true}, []string{"send 1 priority 100"}},
			// A script the instance no longer has (a result from before a
			// reload) and another instance's ID are ignored.
			{5 * ms, ScriptChanged{ID: 1, Script: "gone", OK: false}, nil},
			{6 * ms, ScriptChanged{ID: 7, Script: "plus", OK: true}, nil},
		})
	})
	t.Run("the address owner keeps 255", func(t *testing.T) {
		cfg := parse(t, strings.Replace(scripts, "priority          = 100", "priority          = 255", 1))
		p := ready(t, cfg, []string{"create 1 web"})
		runSteps(t, p, []step{
			{0, Start{Links: up("lan0")}, []string{"watch lan0", "start scripts 1 hard,minus,plus", "run 1"}},
			{1 * ms, ScriptChanged{ID: 1, Script: "minus", OK: false}, nil},
		})
	})
}

const quorum = base + `
vrrp_instance "web" {
  interface             = "lan0"
  virtual_router_id     = 51
  virtual_ips           = ["198.51.100.10/24"]
  track_virtual_servers = ["http"]
}

virtual_server "http" {
  address = "198.51.100.10:80"
  real_server "203.0.113.21:80" {
  }
}
`

func TestFaultByQuorum(t *testing.T) {
	p := ready(t, parse(t, quorum), []string{"create 1 web"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0"), Quorum: map[string]bool{"http": false}}, []string{"watch lan0", "send 1 fault on (virtual server http lost quorum)", "run 1"}},
		{100 * ms, QuorumChanged{"http", true}, []string{"send 1 fault off"}},
		{200 * ms, QuorumChanged{"http", false}, []string{"send 1 fault on (virtual server http lost quorum)"}},
		{300 * ms, QuorumChanged{"other", true}, nil},
	})
}

const group = base + `
vrrp_instance "a" {
  interface         = "lan0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}
vrrp_instance "b" {
  interface         = "lan1"
  virtual_router_id = 52
  virtual_ips       = ["203.0.113.1/24"]
}
sync_group "pair" {
  instances = ["a", "b"]
  notify {
    master = ["/bin/gm"]
    fault  = ["/bin/gf"]
  }
}
`

func TestSyncGroup(t *testing.T) {
	p := ready(t, parse(t, group), []string{"create 1 a", "create 2 b"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0", "lan1")}, []string{"watch lan0,lan1", "run 1", "run 2"}},
		{1 * ms, tr(1, vrrp.Init, vrrp.Backup, 100), []string{"send 2 force BACKUP (sync group pair: a is BACKUP)"}},
		{2 * ms, tr(2, vrrp.Init, vrrp.Backup, 100), []string{"send 1 force BACKUP (sync group pair: b is BACKUP)"}},
		// One member becomes master: the other is forced; the group's
		// hook runs once both are.
		{3000 * ms, tr(1, vrrp.Backup, vrrp.Master, 100), []string{"send 2 force MASTER (sync group pair: a is MASTER)"}},
		// Its forced move is not passed back.
		{3001 * ms, forced(tr(2, vrrp.Backup, vrrp.Master, 100)), []string{"hook group pair: /bin/gm GROUP pair MASTER 0"}},
		// A fault of its own spreads to the other member...
		{4000 * ms, LinkChanged{"lan1", false}, []string{"send 2 fault on (interface lan1 is down) silent"}},
		{4001 * ms, tr(2, vrrp.Master, vrrp.Fault, 100), []string{"send 1 fault on (sync group pair: b is FAULT)",
			"hook group pair: /bin/gf GROUP pair FAULT 0"}},
		// ...but a fault given by the group does not come back.
		{4002 * ms, tr(1, vrrp.Master, vrrp.Fault, 100), nil},
		// Cleared: b goes backup, a follows out of FAULT.
		{5000 * ms, LinkChanged{"lan1", true}, []string{"send 2 fault off"}},
		{5001 * ms, tr(2, vrrp.Fault, vrrp.Backup, 100), []string{"send 1 fault off", "send 1 force BACKUP (sync group pair: b is BACKUP)"}},
	})
}

// Two members move on their own at once, in opposite directions: each
// forces the other, and the forced moves cross. Before forced moves were
// kept from spreading, each echo forced the other member back and the
// pair flipped MASTER <-> BACKUP for ever (issue 12).
func TestSyncGroupCrossingMovesSettle(t *testing.T) {
	p := ready(t, parse(t, group), []string{"create 1 a", "create 2 b"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0", "lan1")}, []string{"watch lan0,lan1", "run 1", "run 2"}},
		{1 * ms, tr(1, vrrp.Init, vrrp.Backup, 100), []string{"send 2 force BACKUP (sync group pair: a is BACKUP)"}},
		{1 * ms, forced(tr(2, vrrp.Init, vrrp.Backup, 100)), nil},
		// a's master-down timer fires while b hears a better master.
		{3000 * ms, tr(1, vrrp.Backup, vrrp.Master, 100), []string{"send 2 force MASTER (sync group pair: a is MASTER)"}},
		{3000 * ms, tr(2, vrrp.Master, vrrp.Backup, 100), []string{"send 1 force BACKUP (sync group pair: b is BACKUP)"}},
		// The two forced moves arrive after: nothing more is sent (for
		// a moment both are MASTER, and the group's hook says so).
		{3001 * ms, forced(tr(2, vrrp.Backup, vrrp.Master, 100)), []string{"hook group pair: /bin/gm GROUP pair MASTER 0"}},
		{3001 * ms, forced(tr(1, vrrp.Master, vrrp.Backup, 100)), nil},
		// b hears the better master again and settles the group in BACKUP.
		{3100 * ms, tr(2, vrrp.Master, vrrp.Backup, 100), []string{"send 1 force BACKUP (sync group pair: b is BACKUP)"}},
	})
}

const synced = base + `
vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  virtual_ips       = ["198.51.100.10/24"]
}
lvs_sync {
  interface = "lan1"
  sync_id   = 7
  follow    = "web"
}
`

func TestSyncDaemonRole(t *testing.T) {
	p := ready(t, parse(t, synced), []string{"create 1 web"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0")}, []string{"watch lan0", "run 1"}},
		{1 * ms, tr(1, vrrp.Init, vrrp.Backup, 100), []string{"sync daemon none -> backup"}},
		{3000 * ms, tr(1, vrrp.Backup, vrrp.Master, 100), []string{"sync daemon backup -> master"}},
		{4000 * ms, tr(1, vrrp.Master, vrrp.Fault, 100), []string{"sync daemon master -> backup"}},
		{4001 * ms, tr(1, vrrp.Fault, vrrp.Backup, 100), nil},
		// A failed switch is tried again at the next transition.
		{4002 * ms, SyncDaemonFailed{}, nil},
		{5000 * ms, tr(1, vrrp.Backup, vrrp.Master, 100), []string{"sync daemon none -> master"}},
		{6000 * ms, Stop{}, []string{"send 1 shutdown"}},
		{6100 * ms, tr(1, vrrp.Master, vrrp.Stop, 0), []string{"sync daemon master -> none"}},
		{6101 * ms, Gone{1}, []string{"close 1"}},
	})
	if !p.Done() {
		t.Fatal("not done after every instance has gone")
	}
	if p.SyncRole() != 0 {
		t.Fatalf("sync role %v after stop", p.SyncRole())
	}
}

func TestHoldBack(t *testing.T) {
	cfg := parse(t, web)
	p := ready(t, cfg, []string{"create 1 web"})
	runSteps(t, p, []step{
		{0, Start{Links: up("lan0", "lan1")}, []string{"watch lan0,lan1", "run 1"}},
		{1 * ms, tr(1, vrrp.Init, vrrp.Backup, 150), nil},
	})
	failover := func(name string, release bool, want string) {
		t.Helper()
		acts, err := p.Failover(name, release)
		got := strings.Join(render(acts), "; ")
		if err != nil {
			got = "error: " + err.Error()
		}
		if got != want {
			t.Fatalf("failover %s release=%v: got %q, want %q", name, release, got, want)
		}
	}
	failover("web", false, "error: web is BACKUP here, not MASTER: run failover on the master")
	failover("nope", false, `error: no vrrp_instance named "nope"`)
	runSteps(t, p, []step{{3000 * ms, tr(1, vrrp.Backup, vrrp.Master, 150), []string{"hook instance web: /bin/m INSTANCE web MASTER 150"}}})
	failover("web", false, "send 1 handover")
	failover("web", true, "send 1 release")
	failover("web", false, "send 1 handover")
	// A reload (even of the same configuration) ends the hold-back.
	runSteps(t, p, []step{
		{4000 * ms, Reload{Config: parse(t, web)}, []string{"send 1 release", "reloaded same=[web] changed=[] restarted=[] added=[] removed=[]"}},
		{5000 * ms, Reload{Config: parse(t, web)}, []string{"reloaded same=[web] changed=[] restarted=[] added=[] removed=[]"}},
	})
	owner := ready(t, parse(t, strings.Replace(web, "priority          = 150", "priority          = 255", 1)), []string{"create 1 web"})
	owner.Step(t0, Start{Links: up("lan0", "lan1")})
	owner.Step(t0, tr(1, vrrp.Init, vrrp.Master, 255))
	p = owner
	failover("web", false, "error: web is the address owner (priority 255): it cannot hand over")
}

func TestReload(t *testing.T) {
	start := func(t *testing.T, src string) *Policy {
		p, _ := New(parse(t, src))
		p.Step(t0, Start{Links: up("lan0", "lan1")})
		p.Step(t0, tr(1, vrrp.Init, vrrp.Backup, 150))
		return p
	}
	sum := func(same, changed, restarted, added, removed string) string {
		l := func(s string) string { return "[" + s + "]" }
		return "reloaded same=" + l(same) + " changed=" + l(changed) + " restarted=" + l(restarted) + " added=" + l(added) + " removed=" + l(removed)
	}
	t.Run("unchanged: nothing", func(t *testing.T) {
		p := start(t, web)
		runSteps(t, p, []step{{time.Second, Reload{Config: parse(t, web)}, []string{sum("web", "", "", "", "")}}})
	})
	t.Run("a block that only moved in its file: nothing", func(t *testing.T) {
		p := start(t, web)
		runSteps(t, p, []step{{time.Second, Reload{Config: parse(t, "\n\n\n"+web)}, []string{sum("web", "", "", "", "")}}})
	})
	t.Run("VRRP settings: reconfigured in place with the effective priority", func(t *testing.T) {
		p := start(t, web)
		next := strings.Replace(web, "priority          = 150", "priority          = 120", 1)
		runSteps(t, p, []step{{time.Second, Reload{Config: parse(t, next)}, []string{"reconfigure 1 web priority=120", sum("", "web", "", "", "")}}})
	})
	t.Run("hooks only: taken over, the instance untouched", func(t *testing.T) {
		p := start(t, web)
		next := strings.Replace(web, `"/bin/m"`, `"/bin/m2"`, 1)
		runSteps(t, p, []step{
			{time.Second, Reload{Config: parse(t, next)}, []string{sum("", "web", "", "", "")}},
			{2 * time.Second, tr(1, vrrp.Backup, vrrp.Master, 150), []string{"hook instance web: /bin/m2 INSTANCE web MASTER 150"}},
		})
	})
	t.Run("tracking: an untracked interface's fault goes, a newly tracked one that is down comes", func(t *testing.T) {
		p := start(t, web)
		runSteps(t, p, []step{{time.Millisecond, LinkChanged{"lan1", false}, []string{"send 1 fault on (interface lan1 is down)"}}})
		next := strings.Replace(web, `track_interfaces  = ["lan1"]`, `track_interfaces  = ["lan2"]`, 1)
		runSteps(t, p, []step{{time.Second, Reload{Config: parse(t, next), Links: map[string]bool{"lan2": false}}, []string{
			"send 1 fault off", "send 1 fault on (interface lan2 is down)", "watch lan0,lan2", sum("", "web", "", "", "")}}})
		if got := p.Unknown(parse(t, next)); len(got) != 0 {
			t.Fatalf("unknown after reload: %v", got)
		}
	})
	t.Run("needs a new instance: stopped, then replaced with the newest settings", func(t *testing.T) {
		p := start(t, web)
		next := strings.Replace(web, `interface         = "lan0"`, `interface         = "lan3"`, 1)
		newest := strings.Replace(next, "priority          = 150", "priority          = 140", 1)
		runSteps(t, p, []step{
			{time.Second, Reload{Config: parse(t, next), Links: map[string]bool{"lan3": true}}, []string{"reconfigure 1 web priority=150", "watch lan1,lan3", sum("", "web", "", "", "")}},
			// The instance refuses (its interface changed): a graceful stop.
			{time.Second, Refused{ID: 1}, []string{"send 1 shutdown"}},
			// While it stops, another reload: it will start with these.
			{1100 * ms, Reload{Config: parse(t, newest)}, []string{sum("", "", "web", "", "")}},
			{1200 * ms, tr(1, vrrp.Backup, vrrp.Stop, 150), nil},
			{1201 * ms, Gone{1}, []string{"close 1", "create 2 web", "run 2"}},
			{1202 * ms, tr(2, vrrp.Init, vrrp.Backup, 140), nil},
		})
	})
	t.Run("added and removed instances", func(t *testing.T) {
		p := start(t, web)
		next := strings.Replace(web, `vrrp_instance "web"`, `vrrp_instance "api"`, 1)
		runSteps(t, p, []step{
			{time.Second, Reload{Config: parse(t, next)}, []string{"send 1 shutdown", "create 2 api", "run 2", sum("", "", "", "api", "web")}},
			// The removed one's STOP hook still runs; it is not replaced.
			{1100 * ms, Gone{1}, []string{"close 1"}},
		})
	})
	t.Run("scripts changed: restarted, their faults cleared", func(t *testing.T) {
		p, _ := New(parse(t, scripts))
		p.Step(t0, Start{Links: up("lan0")})
		runSteps(t, p, []step{
			{time.Millisecond, ScriptChanged{ID: 1, Script: "hard", OK: false, Why: "exit status 1"}, []string{"send 1 fault on (track_script hard failed: exit status 1)"}},
		})
		next := strings.Replace(scripts, `track_script "hard"`, `track_script "soft"`, 1)
		runSteps(t, p, []step{{time.Second, Reload{Config: parse(t, next)}, []string{
			"stop scripts 1", "send 1 fault off", "start scripts 1 soft,minus,plus", sum("", "web", "", "", "")}}})
	})
	t.Run("sync daemon settings: restarted in the followed instance's role", func(t *testing.T) {
		p, _ := New(parse(t, synced))
		p.Step(t0, Start{Links: up("lan0")})
		p.Step(t0, tr(1, vrrp.Init, vrrp.Master, 100))
		next := strings.Replace(synced, "sync_id   = 7", "sync_id   = 8", 1)
		runSteps(t, p, []step{{time.Second, Reload{Config: parse(t, next)}, []string{
			"sync daemon master -> none", "sync daemon none -> master", sum("web", "", "", "", "")}}})
		if p.SyncRole() != lvs.SyncMaster {
			t.Fatalf("role %v", p.SyncRole())
		}
	})
	t.Run("a reload during stop is ignored", func(t *testing.T) {
		p := start(t, web)
		runSteps(t, p, []step{
			{time.Second, Stop{}, []string{"send 1 shutdown"}},
			{time.Second, Reload{Config: parse(t, web)}, nil},
		})
	})
}

func TestStopDuringRestart(t *testing.T) {
	p, _ := New(parse(t, web))
	p.Step(t0, Start{Links: up("lan0", "lan1")})
	next := strings.Replace(web, `interface         = "lan0"`, `interface         = "lan3"`, 1)
	p.Step(t0, Reload{Config: parse(t, next), Links: up("lan3")})
	runSteps(t, p, []step{
		{0, Refused{ID: 1}, []string{"send 1 shutdown"}},
		// SIGTERM while it hands over: it finishes at once, and nothing
		// replaces it.
		{time.Millisecond, Stop{}, []string{"send 1 shutdown"}},
		{2 * ms, Gone{1}, []string{"close 1"}},
	})
	if !p.Done() {
		t.Fatal("not done")
	}
}

func TestReady(t *testing.T) {
	p, _ := New(parse(t, group))
	p.Step(t0, Start{Links: up("lan0", "lan1")})
	if p.Ready() {
		t.Fatal("ready before any transition")
	}
	p.Step(t0, tr(1, vrrp.Init, vrrp.Backup, 100))
	if p.Ready() {
		t.Fatal("ready with b in INIT")
	}
	p.Step(t0, tr(2, vrrp.Init, vrrp.Backup, 100))
	if !p.Ready() {
		t.Fatal("not ready")
	}
}
