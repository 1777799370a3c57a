package e2e

import (
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
)

// keyFile writes a keepalived-format key file with mode 0600 (git checks
// files out 0644, which tandem refuses).
func keyFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// hmacConfig is a pair member with an IPv4 and an IPv6 instance, both
// signed with the key in file (id 7).
func hmacConfig(name string, prio int, file string) string {
	return hmacKeysConfig(name, prio, 7, map[int]string{7: file})
}

// hmacKeysConfig signs with key active of keys (id -> file).
func hmacKeysConfig(name string, prio, active int, keys map[int]string) string {
	var ks strings.Builder
	for _, id := range slices.Sorted(maps.Keys(keys)) {
		fmt.Fprintf(&ks, "    key \"%d\" {\n      file = %q\n    }\n", id, keys[id])
	}
	auth := fmt.Sprintf(`
  authentication {
    type       = "hmac"
    active_key = %d
%s  }`, active, ks.String())
	v6 := fmt.Sprintf(`
vrrp_instance "web6" {
  interface         = "lan0"
  virtual_router_id = 52
  priority          = %d
  advert_interval   = "100ms"
  virtual_ips       = ["fe80::52/64", "2001:db8::52/64"]
%s
}
`, prio, auth)
	metrics := `  metrics_listen = "127.0.0.1:9110"` + "\n  control_socket"
	return strings.Replace(instanceConfig(name, prio, auth), "  control_socket", metrics, 1) + v6
}

// A pair with signed adverts: the right key elects as usual, over IPv4 and
// IPv6, with no HMAC drop; with another key on d2 both become master and
// each counts the other's adverts as bad HMAC.
func TestHMACPair(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	key := keyFile(t, "vrrp-7.key", "hex:848f163759adf24dad5ddf64678880fe019d8037e36759d2ebee99a25451342a")
	other := keyFile(t, "vrrp-7-other.key", "tandem-e2e-another-key-of-forty-bytes-0001")
	d1 := startTandem(t, hs[0], hmacConfig("d1", 150, key))
	d2 := startTandem(t, hs[1], hmacConfig("d2", 100, key))
	nodes := []*node{d1, d2}
	onlyHolder(t, nodes, vip, "d1", 5*time.Second, 300*time.Millisecond)
	onlyHolder(t, nodes, "2001:db8::52", "d1", 5*time.Second, 200*time.Millisecond)
	for _, n := range nodes {
		for r, c := range drops(t, n.host) {
			if strings.HasPrefix(r, "hmac_") && c != 0 || r == "auth" && c != 0 {
				t.Errorf("%s: %d adverts dropped as %s with the same key", n.host.Name, c, r)
			}
		}
	}

	// Key rotation by reloads: key 8 on both, d1 signs with it, then d2,
	// then key 7 goes. No transition, no drop.
	key8 := keyFile(t, "vrrp-8.key", "hex:c07665f8c8c3818e3996f0af71ea3351c6175e64f7ad9c1258f209785ed13c8b")
	both := map[int]string{7: key, 8: key8}
	for _, step := range []struct {
		n      *node
		active int
		keys   map[int]string
	}{
		{d1, 7, both}, {d2, 7, both}, {d1, 8, both}, {d2, 8, both},
		{d1, 8, map[int]string{8: key8}}, {d2, 8, map[int]string{8: key8}},
	} {
		step.n.rewrite(hmacKeysConfig(step.n.host.Name, map[*node]int{d1: 150, d2: 100}[step.n], step.active, step.keys))
		mustReload(t, step.n.host.Name)
		time.Sleep(150 * time.Millisecond) // an advert or more each way
	}
	onlyHolder(t, nodes, vip, "d1", time.Second, 300*time.Millisecond)
	for _, n := range nodes {
		// A reload on a loaded machine may hold 100 ms adverts back long
		// enough for a short takeover; what the rotation must not cause
		// is a dropped advert (below).
		if c, want := strings.Count(n.log(), "Entering"), map[*node]int{d1: 4, d2: 2}[n]; c != want {
			t.Logf("%s: %d transitions, %d without the reloads' delays", n.host.Name, c, want)
		}
		for r, c := range drops(t, n.host) {
			if strings.HasPrefix(r, "hmac_") && c != 0 {
				t.Errorf("%s: %d adverts dropped as %s during the rotation", n.host.Name, c, r)
			}
		}
	}

	// d2 restarts with another key of the same id: neither verifies the other.
	if err := d2.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	d2 = startTandem(t, hs[1], hmacKeysConfig("d2", 100, 8, map[int]string{8: other}))
	nodes = []*node{d1, d2}
	eventually(t, 5*time.Second, "both hold the VIP (adverts of another key are dropped)", func() bool {
		return d1.hasVIP(vip) && d2.hasVIP(vip)
	})
	time.Sleep(300 * time.Millisecond)
	for _, n := range nodes {
		d := drops(t, n.host)
		if d["hmac_bad"] < 5 {
			t.Errorf("%s: %d adverts dropped as hmac_bad, want the other's (drops %v)", n.host.Name, d["hmac_bad"], d)
		}
		for _, r := range []string{"hmac_missing", "hmac_unknown_key", "hmac_malformed", "hmac_replay", "hmac_stale"} {
			if d[r] != 0 {
				t.Errorf("%s: %d dropped as %s, want only hmac_bad", n.host.Name, d[r], r)
			}
		}
	}
	if !strings.Contains(d2.log(), `reason=hmac_bad`) {
		t.Errorf("d2's log does not say why it drops d1's adverts:\n%s", d2.log())
	}
}

// tandem refuses an open key file at start, saying why.
func TestHMACOpenKeyFileRefused(t *testing.T) {
	dir := t.TempDir()
	key := filepath.Join(dir, "open.key")
	if err := os.WriteFile(key, []byte("hex:848f163759adf24dad5ddf64678880fe019d8037e36759d2ebee99a25451342a\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Chmod(key, 0o644)
	cfg := filepath.Join(dir, "t.hcl")
	os.WriteFile(cfg, []byte(hmacConfig("d1", 150, key)), 0o644)
	out, err := runTandem("validate", cfg)
	if err == nil || !strings.Contains(out, "Key file refused") || !strings.Contains(out, "chmod 600") {
		t.Errorf("validate with a 0644 key file: %v\n%s", err, out)
	}
}

// Strict mode refuses what keepalived's vrrp_strict refuses (keepalived -t
// on the equivalent configuration says so where it can tell), and what
// tandem refuses beyond it, with keepalived's verdict beside it.
func TestStrictLikeKeepalived(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	h := hs[0]
	dir := t.TempDir()
	for _, c := range []struct {
		name       string
		ka, td     string // the instance's extra lines
		kaRefuses  bool   // keepalived 2.2.7 -t exits non-zero
		tdRefuses  bool
		tdContains string
		vs         bool // a virtual_server on the VIP (tandem only: keepalived -P)
	}{
		{name: "plain", kaRefuses: false, tdRefuses: false},
		{name: "password", ka: "version 2\n authentication {\n auth_type PASS\n auth_pass secret\n }", td: "  version = 2\n  authentication {\n    type = \"pass\"\n    password = \"secret\"\n  }",
			kaRefuses: true, tdRefuses: true, tdContains: "Authentication in strict mode"},
		{name: "preempt_delay", ka: "preempt_delay 5", td: `  preempt_delay = "5s"`, kaRefuses: true, tdRefuses: true, tdContains: "preempt_delay in strict mode"},
		{name: "accept v2", ka: "version 2\n accept", td: "  version = 2\n  accept = true", kaRefuses: true, tdRefuses: true, tdContains: "accept in strict mode"},
		// Beyond keepalived: accept for v3 (RFC 5798 allows it, but strict
		// implies accept = false in tandem), unicast, and a virtual server
		// on a strict instance's VIP, which strict would make unreachable.
		{name: "accept v3", ka: "version 3\n accept", td: "  accept = true", kaRefuses: false, tdRefuses: true, tdContains: "accept in strict mode"},
		{name: "unicast", ka: "unicast_src_ip 198.51.100.11\n unicast_peer {\n 198.51.100.12\n }", td: "  unicast_source = \"198.51.100.11\"\n  unicast_peers = [\"198.51.100.12\"]",
			kaRefuses: false, tdRefuses: true, tdContains: "Unicast in strict mode"},
		{name: "virtual server", vs: true, kaRefuses: false, tdRefuses: true, tdContains: "Strict mode on a virtual server's address"},
	} {
		t.Run(strings.ReplaceAll(c.name, " ", "_"), func(t *testing.T) {
			kaConf := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".conf")
			os.WriteFile(kaConf, []byte(fmt.Sprintf(`global_defs {
  vrrp_strict
}
vrrp_instance VI {
  state BACKUP
  interface lan0
  virtual_router_id 51
  priority 100
  advert_int 1
  %s
  virtual_ipaddress {
    198.51.100.10/24
  }
}
`, c.ka)), 0o644)
			out, err := h.Run("keepalived", "-t", "-l", "-n", "-f", kaConf)
			if (err != nil) != c.kaRefuses {
				t.Errorf("keepalived -t: %v, want refused %v\n%s", err, c.kaRefuses, out)
			}
			td := strings.Replace(instanceConfig("d1", 100, c.td), "global {", "global {\n  strict = true", 1)
			td = strings.Replace(td, `advert_interval   = "100ms"`, `advert_interval   = "1s"`, 1)
			if c.vs {
				td += "virtual_server \"web\" {\n  address = \"198.51.100.10:80\"\n  real_server \"203.0.113.5:80\" {}\n}\n"
			}
			tdConf := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_")+".hcl")
			os.WriteFile(tdConf, []byte(td), 0o644)
			out, err = runTandem("validate", tdConf)
			if (err != nil) != c.tdRefuses || !strings.Contains(out, c.tdContains) {
				t.Errorf("tandem validate: %v, want refused %v with %q\n%s", err, c.tdRefuses, c.tdContains, out)
			}
		})
	}
}

// runTandem runs the binary under test in this namespace (no network use).
func runTandem(args ...string) (string, error) {
	out, err := exec.Command(tandemBin, args...).CombinedOutput()
	return string(out), err
}

// The VRRP settings beside strict mode, in a running daemon: instances
// wait for global { startup_delay }; unicast_fault_no_peer holds a
// unicast instance without peers in FAULT; notify { priority_changes }
// runs the master hook again with MASTER_PRIORITY and the new priority.
func TestVRRPStartupDelayNoPeerPriorityHook(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	dir := t.TempDir()
	flag, hooks := filepath.Join(dir, "up"), filepath.Join(dir, "hooks")
	os.WriteFile(flag, nil, 0o644)
	cfg := fmt.Sprintf(`global {
  router_id      = "d1"
  control_socket = "/run/tandem-e2e-d1-%d.sock"
  startup_delay  = "1500ms"
}

vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = 150
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]

  track_script "flag" {
    command  = ["/usr/bin/test", "-e", %q]
    interval = "200ms"
    timeout  = "100ms"
    weight   = -20
  }

  notify {
    master           = ["/bin/sh", "-c", "echo \"$*\" >> %s", "hook"]
    priority_changes = true
  }
}

vrrp_instance "lonely" {
  interface             = "lan0"
  virtual_router_id     = 52
  advert_interval       = "100ms"
  virtual_ips           = ["198.51.100.20/24"]
  unicast_source        = "198.51.100.11"
  unicast_fault_no_peer = true
}
`, os.Getpid(), flag, hooks)
	start := time.Now()
	d1 := startTandem(t, hs[0], cfg)
	eventually(t, 10*time.Second, "web master", func() bool { return d1.hasVIP(vip) })
	if d := time.Since(start); d < 1500*time.Millisecond {
		t.Errorf("master %v after start, before startup_delay (1.5 s)", d)
	}
	waitLog(t, d1, "(lonely) Entering FAULT STATE", 5*time.Second)
	if d1.hasVIP("198.51.100.20") || d1.entered("lonely", "MASTER") != 0 {
		t.Errorf("the unicast instance without peers left FAULT:\n%s", d1.log())
	}
	os.Remove(flag) // the track script fails: 150 - 20
	eventually(t, 5*time.Second, "the master hook with the new priority", func() bool {
		b, _ := os.ReadFile(hooks)
		return strings.Contains(string(b), "INSTANCE web MASTER_PRIORITY 130")
	})
	b, _ := os.ReadFile(hooks)
	if !strings.HasPrefix(string(b), "INSTANCE web MASTER 150\n") || !strings.Contains(d1.log(), "waiting for startup_delay") {
		t.Errorf("hooks run:\n%s\nlog:\n%s", b, d1.log())
	}
}
