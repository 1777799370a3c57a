package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
)

// hostConfig is instanceConfig with tandem's own host state: a static
// blackhole route and rule kept whatever the state, and a route and a rule
// that follow the master.
func hostConfig(t *testing.T, name string, prio int) string {
	global := fmt.Sprintf(`global {
  state_dir      = %q
  metrics_listen = "127.0.0.1:9110"
  static_routes = [{ to = "203.0.113.128/25", type = "blackhole" }]
  static_rules  = [{ to = "203.0.113.128/25", table = 200, priority = 2000 }]`, t.TempDir())
	extra := `  virtual_routes = [{ to = "203.0.113.0/26", via = "198.51.100.1", metric = 7 }]
  virtual_rules  = [{ from = "198.51.100.10/32", table = 100, priority = 1000 }]`
	extra += "\n  excluded_ips = [\"2001:db8::99/64\"]"
	cfg := strings.Replace(instanceConfig(name, prio, extra), "global {", global, 1)
	cfg = strings.Replace(cfg, `["198.51.100.10/24"]`, `["198.51.100.10/24", { address = "198.51.100.20/24", label = "lan0:vip", preferred_lifetime = "0s" }]`, 1)
	return cfg + "\nlvs {\n  reconcile_interval = \"1s\"\n}\n"
}

func routesOf(t *testing.T, h *netlab.Host, args ...string) string {
	t.Helper()
	out, err := h.Run("ip", args...)
	if err != nil {
		t.Fatalf("%s: ip %v: %v\n%s", h.Name, args, err, out)
	}
	return out
}

// hasHostState: the virtual route and rule (virtual) and the static ones
// are in h's kernel, marked with tandem's protocol.
func hasHostState(t *testing.T, h *netlab.Host) (virtual, static bool) {
	r := routesOf(t, h, "route", "show", "proto", "87")
	rules := routesOf(t, h, "rule", "show")
	vr := strings.Contains(r, "203.0.113.0/26 via 198.51.100.1 dev lan0 metric 7")
	vu := strings.Contains(rules, "1000:\tfrom 198.51.100.10 lookup 100 proto 87")
	sr := strings.Contains(r, "blackhole 203.0.113.128/25")
	su := strings.Contains(rules, "2000:\tfrom all to 203.0.113.128/25 lookup 200 proto 87")
	addrs := routesOf(t, h, "address", "show", "dev", "lan0")
	// The VIP written as an object carries its label and is deprecated
	// (preferred_lifetime 0s); the excluded address moves along.
	va := strings.Contains(addrs, "inet 198.51.100.20/24 brd 198.51.100.255 scope global secondary deprecated lan0:vip") &&
		strings.Contains(addrs, "inet6 2001:db8::99/64 scope global")
	return vr && vu && va, sr && su
}

// hostDump is what h's kernel holds, for a failure's message.
func hostDump(t *testing.T, h *netlab.Host) string {
	return fmt.Sprintf("%s: routes\n%s\nrules\n%s\naddresses\n%s", h.Name, routesOf(t, h, "route", "show", "proto", "87"),
		routesOf(t, h, "rule", "show"), routesOf(t, h, "address", "show", "dev", "lan0"))
}

// Routes and rules follow the master, are put back after `ip route del` /
// `ip rule del`, leave routes of others alone, and go with the master on
// a graceful stop while the static ones stay.
func TestRoutesAndRulesFollowTheMaster(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	// Someone else's route in the same range: never tandem's to touch.
	routesOf(t, hs[0], "route", "add", "203.0.113.64/26", "via", "198.51.100.1")
	d1 := startTandem(t, hs[0], hostConfig(t, "d1", 150))
	d2 := startTandem(t, hs[1], hostConfig(t, "d2", 100))
	nodes := []*node{d1, d2}
	onlyHolder(t, nodes, vip, "d1", 5*time.Second, 0)
	expect := func(h *netlab.Host, wantV, wantS bool, what string) {
		t.Helper()
		eventuallyf(t, 5*time.Second, func() string { return what + "\n" + hostDump(t, h) },
			func() bool { v, s := hasHostState(t, h); return v == wantV && s == wantS })
	}
	expect(hs[0], true, true, "d1 (master) has the virtual and static routes and rules")
	expect(hs[1], false, true, "d2 (backup) has only the static ones")

	routesOf(t, hs[0], "route", "del", "203.0.113.0/26")
	routesOf(t, hs[0], "route", "del", "blackhole", "203.0.113.128/25")
	routesOf(t, hs[0], "rule", "del", "priority", "1000")
	expect(hs[0], true, true, "d1 repaired the routes and the rule removed behind its back")
	if !strings.Contains(d1.log(), "repairing host routes, rules and addresses drift") {
		t.Errorf("no drift repair in d1's log:\n%s", d1.log())
	}
	m, err := hs[0].HTTPGet("127.0.0.1:9110", "/metrics", 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	for _, re := range []string{`(?m)^tandem_host_routes 2$`, `(?m)^tandem_host_rules 2$`, `(?m)^tandem_host_drift_repairs_total [3-9]$`} {
		if !regexp.MustCompile(re).MatchString(m) {
			t.Errorf("d1's metrics lack %s:\n%s", re, m)
		}
	}

	if err := d1.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	expect(hs[1], true, true, "d2 (master now) has the virtual routes")
	expect(hs[0], false, true, "d1 (stopped) kept only the static routes")
	if r := routesOf(t, hs[0], "route", "show"); !strings.Contains(r, "203.0.113.64/26 via 198.51.100.1") {
		t.Errorf("d1: someone else's route is gone:\n%s", r)
	}
}

// track_file moves the priority by value x weight, track_process (the
// kernel's process events, opened in the initial namespace from the
// daemon's own) gives FAULT while the process is gone, and a weighted
// track_interfaces entry moves the priority while the interface is down:
// each causes the failover it should, and the way back.
func TestTrackFileAndProcess(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	dir := t.TempDir()
	level := filepath.Join(dir, "level")
	app := filepath.Join(dir, fmt.Sprintf("tdmapp%d", os.Getpid()%100000))
	b, err := os.ReadFile("/bin/sleep")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(app, b, 0o755); err != nil {
		t.Fatal(err)
	}
	startApp := func() *exec.Cmd {
		c := exec.Command(app, "600")
		if err := c.Start(); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { c.Process.Kill(); c.Wait() })
		return c
	}
	a := startApp()
	trackers := fmt.Sprintf(`  track_file "level" {
    path   = %q
    weight = -30
  }
  track_process "app" {
    command = [%q]
  }
  track_interfaces = [{ name = "lan9", weight = -60 }]`, level, filepath.Base(app))
	routesOf(t, hs[0], "link", "add", "lan9", "type", "veth", "peer", "name", "lan9p")
	routesOf(t, hs[0], "link", "set", "lan9p", "up")
	routesOf(t, hs[0], "link", "set", "lan9", "up")
	d1 := startTandem(t, hs[0], instanceConfig("d1", 150, trackers))
	d2 := startTandem(t, hs[1], instanceConfig("d2", 100, ""))
	nodes := []*node{d1, d2}
	onlyHolder(t, nodes, vip, "d1", 5*time.Second, 0)

	os.WriteFile(level, []byte("2\n"), 0o644) // 150 - 60 = 90 < 100
	onlyHolder(t, nodes, vip, "d2", 3*time.Second, 300*time.Millisecond)
	if st := status(t, "d1"); st.Instances[0].EffectivePriority != 90 {
		t.Errorf("d1 with level 2: %+v", st.Instances[0])
	}
	os.WriteFile(level, []byte("0\n"), 0o644)
	onlyHolder(t, nodes, vip, "d1", 3*time.Second, 300*time.Millisecond)

	a.Process.Kill()
	a.Wait()
	onlyHolder(t, nodes, vip, "d2", 3*time.Second, 300*time.Millisecond)
	eventually(t, time.Second, "d1 in FAULT", func() bool { return d1.entered("web", "FAULT") == 1 })
	startApp()
	onlyHolder(t, nodes, vip, "d1", 3*time.Second, 300*time.Millisecond)
	// A weighted interface: down moves the priority (150 - 60), not FAULT.
	routesOf(t, hs[0], "link", "set", "lan9", "down")
	onlyHolder(t, nodes, vip, "d2", 3*time.Second, 300*time.Millisecond)
	if st := status(t, "d1"); st.Instances[0].EffectivePriority != 90 || st.Instances[0].State != "BACKUP" {
		t.Errorf("d1 with lan9 down: %+v", st.Instances[0])
	}
	routesOf(t, hs[0], "link", "set", "lan9", "up")
	onlyHolder(t, nodes, vip, "d1", 3*time.Second, 300*time.Millisecond)
	if strings.Contains(d1.log(), "reading /proc every second") {
		t.Errorf("d1 polled /proc instead of the process events:\n%s", d1.log())
	}
}

// script_security refuses a track script another user could change (one
// under /tmp) before it runs, keepalived's enable_script_security rule,
// while a script in root's directories runs as script_user.
func TestScriptSecurity(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	dir := t.TempDir()
	out := filepath.Join(dir, "uid")
	unsafe := filepath.Join(dir, "check.sh")
	if err := os.WriteFile(unsafe, []byte("#!/bin/sh\nexit 0\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chmod(dir, 0o777) // the hook, run as nobody, writes its uid here
	os.Chmod(filepath.Dir(dir), 0o755)
	scripts := fmt.Sprintf(`  track_script "unsafe" {
    command = [%q]
%s
  }
  notify {
    fault = ["/bin/sh", "-c", "id -u > %s"]
  }`, unsafe, flagTiming, out)
	cfg := strings.Replace(instanceConfig("d1", 150, scripts), "global {", "global {\n  script_user     = \"nobody\"\n  script_security = true", 1)
	d1 := startTandem(t, hs[0], cfg)
	eventually(t, 5*time.Second, "d1 in FAULT: its track script refused", func() bool { return d1.entered("web", "FAULT") == 1 })
	if !strings.Contains(d1.log(), "refused to run "+unsafe+" (script_security)") {
		t.Errorf("no refusal in the log:\n%s", d1.log())
	}
	eventually(t, 5*time.Second, "the fault hook wrote its uid", func() bool {
		b, err := os.ReadFile(out)
		return err == nil && strings.TrimSpace(string(b)) == "65534"
	})
}
