package e2e

import (
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/tandemlb/tandem/internal/netlab"
)

// fullStatus is `tandem status --json` with the parts these tests read.
type fullStatus struct {
	LoadedAt   time.Time `json:"loaded_at"`
	LastReload struct {
		OK    bool      `json:"ok"`
		Error string    `json:"error"`
		At    time.Time `json:"at"`
	} `json:"last_reload"`
	Instances []struct {
		Name, State string
		Since       time.Time `json:"since"`
	} `json:"instances"`
	VirtualServers []struct {
		Name        string `json:"name"`
		QuorumUp    bool   `json:"quorum_up"`
		RealServers []struct {
			Address string  `json:"address"`
			Health  string  `json:"health"`
			Weight  int     `json:"weight"`
			Drained bool    `json:"drained"`
			Reason  string  `json:"reason"`
			Latency float64 `json:"latency_ms"`
		} `json:"real_servers"`
	} `json:"virtual_servers"`
	IPVS struct {
		Available bool   `json:"available"`
		Error     string `json:"error"`
	} `json:"ipvs"`
}

func fullStatusOf(t *testing.T, name string) fullStatus {
	t.Helper()
	st, err := tryStatus(t, name)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// tryStatus is fullStatusOf for a daemon that may not answer yet.
func tryStatus(t *testing.T, name string) (fullStatus, error) {
	out, code := tandemCLI(t, name, "status", "--json")
	var st fullStatus
	if code != 0 {
		return st, fmt.Errorf("tandem status --json on %s: exit %d\n%s", name, code, out)
	}
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		return st, fmt.Errorf("tandem status --json on %s: %v\n%s", name, err, out)
	}
	return st, nil
}

func (s fullStatus) state(instance string) string {
	for _, in := range s.Instances {
		if in.Name == instance {
			return in.State
		}
	}
	return "absent"
}

// rs finds a real server's status ("" fields when absent).
func (s fullStatus) rs(vs, rs string) (health string, weight int, drained bool, reason string) {
	for _, v := range s.VirtualServers {
		for _, r := range v.RealServers {
			if v.Name == vs && r.Address == rs {
				return r.Health, r.Weight, r.Drained, r.Reason
			}
		}
	}
	return "absent", -1, false, ""
}

// withStateDir gives a configuration its own state directory (drains are
// kept there), so that tests never touch /var/lib/tandem.
func withStateDir(t *testing.T, cfg string) string {
	return strings.Replace(cfg, "  control_socket", fmt.Sprintf("  state_dir      = %q\n  control_socket", t.TempDir()), 1)
}

// mustReload runs tandem reload against a daemon and fails the test
// unless it succeeds.
func mustReload(t *testing.T, name string) {
	t.Helper()
	if out, code := tandemCLI(t, name, "reload"); code != 0 {
		t.Fatalf("tandem reload on %s: exit %d\n%s", name, code, out)
	}
}

// rewrite replaces the node's configuration file.
func (n *node) rewrite(cfg string) {
	n.t.Helper()
	if err := os.WriteFile(n.cfg, []byte(cfg), 0o644); err != nil {
		n.t.Fatal(err)
	}
}

const webVS = `
virtual_server "web_http" {
  address    = "198.51.100.10:80"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    check "http" {
      interval = "200ms"
      timeout  = "100ms"
      rise     = 1
      fall     = 1
    }
  }
%s}
`

const apiInstance = `
vrrp_instance "api" {
  interface         = "lan0"
  virtual_router_id = 52
  priority          = 150
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.20/24"]
}
`

// A reload applies only what changed: an unchanged instance keeps its
// state (no election), an unchanged real server keeps its health, an
// added instance starts, a removed one stops and takes its VIP along; an
// invalid configuration is refused with its diagnostics and the running
// one stays.
func TestReload(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	hs[0].Run("ip", "addr", "add", "203.0.113.11/24", "dev", netlab.NIC)
	serveHTTP(t, rs, "203.0.113.21:80", "ok")
	base := withStateDir(t, instanceConfig("d1", 150, ""))
	d1 := startTandem(t, hs[0], base+fmt.Sprintf(webVS, ""))
	d2 := startTandem(t, hs[1], instanceConfig("d2", 100, ""))
	nodes := []*node{d1, d2}
	onlyHolder(t, nodes, vip, "d1", 5*time.Second, 0)
	eventually(t, 5*time.Second, "real server up", func() bool {
		st, _ := tryStatus(t, "d1")
		h, _, _, _ := st.rs("web_http", "203.0.113.21:80")
		return h == "up"
	})
	before := fullStatusOf(t, "d1")

	// Unchanged instance, changed check interval, one more real server
	// and a new instance.
	d1.rewrite(base + apiInstance + fmt.Sprintf(strings.Replace(webVS, `"200ms"`, `"300ms"`, 1), `  real_server "203.0.113.22:80" {
    weight = 2
  }
`))
	mustReload(t, "d1")
	eventually(t, 5*time.Second, "api master on d1", func() bool { return d1.hasVIP("198.51.100.20") })
	after := fullStatusOf(t, "d1")
	if !after.LastReload.OK || !after.LoadedAt.After(before.LoadedAt) {
		t.Errorf("status after reload: last_reload %+v, loaded_at %v (before %v)", after.LastReload, after.LoadedAt, before.LoadedAt)
	}
	if after.state("web") != "MASTER" || after.Instances[0].Since != before.Instances[0].Since {
		t.Errorf("web was disturbed by the reload: %+v, before %+v", after.Instances[0], before.Instances[0])
	}
	if h, w, _, _ := after.rs("web_http", "203.0.113.22:80"); h != "up" || w != 2 {
		t.Errorf("added real server without checks: health %s weight %d, want up 2", h, w)
	}
	if n := d1.entered("web", "MASTER") + d1.entered("web", "BACKUP"); n != 2 { // INIT->BACKUP->MASTER once
		t.Errorf("web entered BACKUP/MASTER %d times, want 2 (no new election):\n%s", n, d1.log())
	}
	if c := strings.Count(d1.log(), "rs=203.0.113.21:80 check=http from="); c != 1 {
		t.Errorf("the unchanged real server changed state %d times, want 1 (its first up):\n%s", c, d1.log())
	}

	// An invalid configuration: refused with FILE:LINE:COL, nothing moves.
	d1.rewrite(base + strings.Replace(apiInstance, "priority          = 150", "priority          = 300", 1))
	out, code := tandemCLI(t, "d1", "reload")
	if code != 1 || !strings.Contains(out, filepath.Base(d1.cfg)+":") || !strings.Contains(out, "error:") {
		t.Errorf("tandem reload of an invalid config: exit %d, want 1 with diagnostics\n%s", code, out)
	}
	st := fullStatusOf(t, "d1")
	if st.LastReload.OK || st.LastReload.Error == "" || st.state("api") != "MASTER" || len(st.VirtualServers) != 1 {
		t.Errorf("after a refused reload: %+v", st)
	}
	// SIGHUP takes the same path.
	if err := d1.proc.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	eventually(t, 3*time.Second, "SIGHUP refused too", func() bool {
		return strings.Count(d1.log(), "reload refused") == 2
	})

	// Removing the instance and the virtual server: api stops and its VIP
	// goes; a lower priority for web lets d2 preempt.
	d1.rewrite(strings.Replace(base, "priority          = 150", "priority          = 90", 1))
	mustReload(t, "d1")
	eventually(t, 3*time.Second, "api stopped on d1", func() bool { return !d1.hasVIP("198.51.100.20") && d1.entered("api", "STOP") == 1 })
	onlyHolder(t, nodes, vip, "d2", 5*time.Second, 300*time.Millisecond)
	if n := d1.entered("web", "STOP"); n != 0 {
		t.Errorf("web was restarted for a priority change (%d STOP), want it changed in place", n)
	}
	st = fullStatusOf(t, "d1")
	if len(st.VirtualServers) != 0 || st.state("api") != "absent" || !st.LastReload.OK {
		t.Errorf("after removing api and web_http: %+v", st)
	}
}

// Drain sets the weight to 0 and survives a restart; status shows health,
// reasons and weights; metrics serve the same.
func TestDrainStatusMetrics(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	hs[0].Run("ip", "addr", "add", "203.0.113.11/24", "dev", netlab.NIC)
	serveHTTP(t, rs, "203.0.113.21:80", "ok")
	cfg := withStateDir(t, instanceConfig("d1", 150, "")) + fmt.Sprintf(webVS, `  real_server "203.0.113.23:80" {
    weight = 3
    check "tcp" {
      interval = "200ms"
      timeout  = "100ms"
    }
  }
`)
	cfg = strings.Replace(cfg, "  control_socket", `  metrics_listen = "127.0.0.1:9110"
  control_socket`, 1)
	d1 := startTandem(t, hs[0], cfg)
	eventually(t, 5*time.Second, "rs1 up, rs3 down", func() bool {
		st, _ := tryStatus(t, "d1")
		h1, w1, _, _ := st.rs("web_http", "203.0.113.21:80")
		h3, w3, _, why := st.rs("web_http", "203.0.113.23:80")
		return h1 == "up" && w1 == 1 && h3 == "down" && w3 == 0 && why != "" && st.state("web") == "MASTER"
	})
	st := fullStatusOf(t, "d1")
	if st.IPVS.Available || !strings.Contains(st.IPVS.Error, "IPVS is not available") {
		t.Errorf("ipvs part of status here (no IPVS): %+v", st.IPVS)
	}
	out, code := tandemCLI(t, "d1", "status")
	for _, want := range []string{"web_http", "203.0.113.21:80", "up", "203.0.113.23:80", "down", "MASTER"} {
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("tandem status lacks %q (exit %d):\n%s", want, code, out)
		}
	}

	if out, code := tandemCLI(t, "d1", "drain", "web_http", "203.0.113.21:80"); code != 0 || !strings.Contains(out, "drained") {
		t.Fatalf("drain: exit %d\n%s", code, out)
	}
	if _, w, dr, _ := fullStatusOf(t, "d1").rs("web_http", "203.0.113.21:80"); w != 0 || !dr {
		t.Errorf("after drain: weight %d drained %v", w, dr)
	}
	if out, code := tandemCLI(t, "d1", "drain", "web_http", "203.0.113.99:80"); code != 1 || !strings.Contains(out, `has no real_server "203.0.113.99:80"`) {
		t.Errorf("drain of an unknown real server: exit %d\n%s", code, out)
	}
	if out, code := tandemCLI(t, "d1", "drain", "nope", "203.0.113.21:80"); code != 1 || !strings.Contains(out, `no virtual_server named "nope"`) {
		t.Errorf("drain of an unknown virtual server: exit %d\n%s", code, out)
	}

	metrics := scrape(t, hs[0], "127.0.0.1:9110")
	for _, want := range []string{
		`tandem_build_info{`,
		`tandem_config_last_reload_success 1`,
		`tandem_vrrp_state{vrrp_instance="web"} 2`,
		`tandem_vrrp_priority{kind="effective",vrrp_instance="web"} 150`,
		`tandem_vrrp_transitions_total{reason="master_down",to="master",vrrp_instance="web"} 1`,
		`tandem_vrrp_instance_info{family="ipv4",interface="`,
		`tandem_real_server_up{rs="203.0.113.21:80",vs="web_http"} 1`,
		`tandem_real_server_up{rs="203.0.113.23:80",vs="web_http"} 0`,
		`tandem_real_server_weight{rs="203.0.113.21:80",vs="web_http"} 0`,
		`tandem_check_duration_seconds_count{check="http",vs="web_http"}`,
		`tandem_vrrp_timer_lateness_seconds_bucket`,
	} {
		if !strings.Contains(metrics, want) {
			t.Errorf("metrics lack %s", want)
		}
	}
	// Prometheus adds the target label "instance" to every scrape: a
	// label of ours by that name would become exported_instance.
	if strings.Contains(metrics, `{instance=`) || strings.Contains(metrics, `,instance=`) {
		t.Error("a metric has the label instance (Prometheus's own); use vrrp_instance")
	}
	if strings.Contains(metrics, "node_ipvs_") {
		t.Error("metrics clash with node_exporter's node_ipvs_*")
	}

	// The drain outlives a restart.
	if err := d1.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	d1.start()
	eventually(t, 5*time.Second, "restarted, rs1 up and still drained", func() bool {
		st, _ := tryStatus(t, "d1")
		h, w, dr, _ := st.rs("web_http", "203.0.113.21:80")
		return h == "up" && w == 0 && dr
	})
	if out, code := tandemCLI(t, "d1", "undrain", "web_http", "203.0.113.21:80"); code != 0 || !strings.Contains(out, "weight 1") {
		t.Fatalf("undrain: exit %d\n%s", code, out)
	}
	if _, w, dr, _ := fullStatusOf(t, "d1").rs("web_http", "203.0.113.21:80"); w != 1 || dr {
		t.Errorf("after undrain: weight %d drained %v", w, dr)
	}
}

// A reload ends the hold-back of tandem failover, as --release does.
func TestReloadReleasesFailover(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	d1 := startTandem(t, hs[0], withStateDir(t, instanceConfig("d1", 150, "")))
	eventually(t, 5*time.Second, "d1 master", func() bool { return d1.entered("web", "MASTER") == 1 })
	d2 := startTandem(t, hs[1], instanceConfig("d2", 100, ""))
	nodes := []*node{d1, d2}
	onlyHolder(t, nodes, vip, "d1", 5*time.Second, 0)
	if out, code := tandemCLI(t, "d1", "failover", "web"); code != 0 {
		t.Fatalf("failover: exit %d\n%s", code, out)
	}
	onlyHolder(t, nodes, vip, "d2", 3*time.Second, 500*time.Millisecond)
	mustReload(t, "d1")
	onlyHolder(t, nodes, vip, "d1", 3*time.Second, 0)
}

// VIPs and the advert interval change in place on a running master: the
// new VIP comes, the dropped one goes, no election.
func TestReloadVIPsInPlace(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	base := withStateDir(t, instanceConfig("d1", 150, ""))
	d1 := startTandem(t, hs[0], base)
	eventually(t, 5*time.Second, "d1 master", func() bool { return d1.hasVIP(vip) })
	d1.rewrite(strings.Replace(strings.Replace(base, `"100ms"`, `"200ms"`, 1), `["198.51.100.10/24"]`, `["198.51.100.10/24", "198.51.100.30/24"]`, 1))
	mustReload(t, "d1")
	eventually(t, 2*time.Second, "the added VIP", func() bool { return d1.hasVIP("198.51.100.30") && d1.hasVIP(vip) })
	d1.rewrite(strings.Replace(base, `["198.51.100.10/24"]`, `["198.51.100.30/24"]`, 1))
	mustReload(t, "d1")
	eventually(t, 2*time.Second, "the dropped VIP gone", func() bool { return !d1.hasVIP(vip) && d1.hasVIP("198.51.100.30") })
	if n := strings.Count(d1.log(), "Entering"); n != 2 {
		t.Errorf("%d transitions, want 2 (INIT->BACKUP->MASTER, none for the reloads):\n%s", n, d1.log())
	}
}

// scrape fetches /metrics from inside h's namespace.
func scrape(t *testing.T, h *netlab.Host, addr string) string {
	t.Helper()
	body, err := h.HTTPGet(addr, "/metrics", 5*time.Second)
	if err != nil {
		t.Fatalf("scraping tandem's metrics: %v", err)
	}
	return body
}

// systemd's notify protocol: READY once the instances are in their first
// state, RELOADING then READY around a reload, STOPPING at SIGTERM.
func TestSystemdNotify(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	msgs := make(chan string, 16)
	go func() {
		buf := make([]byte, 4096)
		for {
			n, err := conn.Read(buf)
			if err != nil {
				close(msgs)
				return
			}
			msgs <- string(buf[:n])
		}
	}()
	t.Setenv("NOTIFY_SOCKET", sock)
	d1 := startTandem(t, hs[0], withStateDir(t, instanceConfig("d1", 150, "")))
	next := func(want string) string {
		t.Helper()
		select {
		case m := <-msgs:
			if !strings.Contains(m, want) {
				t.Fatalf("notify message %q, want %s", m, want)
			}
			return m
		case <-time.After(5 * time.Second):
			t.Fatalf("no %s from tandem:\n%s", want, d1.log())
		}
		return ""
	}
	if m := next("READY=1"); !strings.Contains(m, "STATUS=web ") {
		t.Errorf("READY without a STATUS line: %q", m)
	}
	if !strings.Contains(d1.log(), "Entering") {
		t.Error("READY before the instance entered its first state")
	}
	mustReload(t, "d1")
	next("RELOADING=1")
	next("READY=1")
	d1.proc.Process.Signal(syscall.SIGTERM)
	next("STOPPING=1")
	d1.proc.Wait()
}

// The control socket is root's alone: mode 0600, and another user is
// refused.
func TestControlSocketRootOnly(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	d1 := startTandem(t, hs[0], withStateDir(t, instanceConfig("d1", 150, "")))
	eventually(t, 3*time.Second, "d1 started", func() bool { return strings.Contains(d1.log(), "Entering") })
	fi, err := os.Stat(socketOf("d1"))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("control socket mode %v, want 0600", fi.Mode().Perm())
	}
	if err := os.Chmod(filepath.Dir(tandemBin), 0o755); err != nil { // nobody runs the binary
		t.Fatal(err)
	}
	cmd := exec.Command(tandemBin, "status", "--socket", socketOf("d1"))
	cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
	out, err := cmd.CombinedOutput()
	ee, ok := err.(*exec.ExitError)
	if !ok || ee.ExitCode() != 1 || !strings.Contains(string(out), "permission denied") {
		t.Errorf("status as nobody: %v, want exit 1 with permission denied\n%s", err, out)
	}
}

// metricFamilies parses a scrape with the Prometheus text parser.
func metricFamilies(t *testing.T, text string) map[string]*dto.MetricFamily {
	t.Helper()
	p := expfmt.NewTextParser(model.UTF8Validation)
	mf, err := p.TextToMetricFamilies(strings.NewReader(text))
	if err != nil {
		t.Fatalf("the metrics do not parse: %v\n%s", err, text)
	}
	return mf
}

// counterSum adds a family's values whose labels include want.
func counterSum(mf map[string]*dto.MetricFamily, name string, want map[string]string) float64 {
	sum := 0.0
	f := mf[name]
	if f == nil {
		return -1
	}
outer:
	for _, m := range f.GetMetric() {
		labels := map[string]string{}
		for _, l := range m.GetLabel() {
			labels[l.GetName()] = l.GetValue()
		}
		for k, v := range want {
			if labels[k] != v {
				continue outer
			}
		}
		sum += m.GetCounter().GetValue() + m.GetGauge().GetValue()
	}
	return sum
}

// With an in-memory IPVS table (tandem run --ipvs-memory) the writes are
// counted: a reload of the same configuration writes nothing, announces
// nothing and elects nobody; one added real server is one write. The
// metrics carry every name of DESIGN.md and parse; no password shows in
// status or metrics; SIGTERM leaves no process, VIP or socket.
func TestReloadWritesOnlyTheChange(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 1)
	rs := lab.MustAddHost(t, "rs1", "203.0.113.21/24")
	hs[0].Run("ip", "addr", "add", "203.0.113.11/24", "dev", netlab.NIC)
	serveHTTP(t, rs, "203.0.113.21:80", "ok")
	const password = "pw4gw"
	// No second GARP burst 5 s after becoming master: on a busy machine it
	// fell between the scrapes around a reload and counted as announced
	// by it.
	const garp = `  garp {
    master_delay = "0s"
  }`
	base := strings.Replace(withStateDir(t, instanceConfig("d1", 150, garp)), "  control_socket", `  metrics_listen = "127.0.0.1:9110"
  control_socket`, 1) + `
vrrp_instance "gw" {
  interface         = "lan0"
  virtual_router_id = 53
  version           = 2
  priority          = 150
  advert_interval   = "1s"
  virtual_ips       = ["198.51.100.53/24"]
  authentication {
    type     = "pass"
    password = "` + password + `"
  }
` + garp + `
}

lvs_sync {
  interface = "lan0"
  sync_id   = 7
  follow    = "web"
}
`
	cfg := base + fmt.Sprintf(webVS, "")
	d1 := startInMemory(t, hs[0], cfg)
	eventually(t, 5*time.Second, "masters and rs1 up", func() bool {
		st, err := tryStatus(t, "d1")
		h, w, _, _ := st.rs("web_http", "203.0.113.21:80")
		return err == nil && h == "up" && w == 1 && st.state("web") == "MASTER" && st.state("gw") == "MASTER"
	})
	// The reconciler applies the up after status shows it.
	var before map[string]*dto.MetricFamily
	eventually(t, 5*time.Second, "the up applied to the IPVS table (one add-dest)", func() bool {
		before = metricFamilies(t, scrape(t, hs[0], "127.0.0.1:9110"))
		return counterSum(before, "tandem_ipvs_ops_total", map[string]string{"op": "add-dest"}) == 1
	})
	for _, name := range []string{"tandem_build_info", "tandem_config_last_reload_success",
		"tandem_config_last_reload_timestamp_seconds", "tandem_vrrp_state", "tandem_vrrp_priority",
		"tandem_vrrp_transitions_total", "tandem_vrrp_adverts_sent_total", "tandem_vrrp_adverts_received_total",
		"tandem_vrrp_packets_dropped_total", "tandem_vrrp_announcements_total", "tandem_vrrp_timer_lateness_seconds",
		"tandem_real_server_up", "tandem_real_server_weight", "tandem_check_duration_seconds", "tandem_ipvs_ops_total",
		"tandem_ipvs_reconcile_duration_seconds", "tandem_ipvs_drift_repairs_total", "tandem_sync_daemon_role"} {
		if before[name] == nil {
			t.Errorf("metric %s missing", name)
		}
	}

	// The same configuration again, every block a line lower.
	syncStarts := strings.Count(d1.log(), "starting the sync daemon")
	d1.rewrite("# moved\n" + cfg)
	mustReload(t, "d1")
	time.Sleep(300 * time.Millisecond)
	same := metricFamilies(t, scrape(t, hs[0], "127.0.0.1:9110"))
	for _, name := range []string{"tandem_ipvs_ops_total", "tandem_vrrp_announcements_total", "tandem_vrrp_transitions_total"} {
		if b, a := counterSum(before, name, nil), counterSum(same, name, nil); a != b {
			t.Errorf("%s went from %v to %v on a reload of the same configuration", name, b, a)
		}
	}
	// The sync daemon was not touched either (without IPVS here, each
	// start is logged as failed).
	if n := strings.Count(d1.log(), "starting the sync daemon"); n != syncStarts {
		t.Errorf("the sync daemon was started %d times by the reload, want 0:\n%s", n-syncStarts, d1.log())
	}

	// One real server more: one write.
	d1.rewrite(base + fmt.Sprintf(webVS, `  real_server "203.0.113.22:80" {
  }
`))
	mustReload(t, "d1")
	var added map[string]*dto.MetricFamily
	eventually(t, 5*time.Second, "the added real server in the IPVS table", func() bool {
		added = metricFamilies(t, scrape(t, hs[0], "127.0.0.1:9110"))
		return counterSum(added, "tandem_ipvs_ops_total", map[string]string{"op": "add-dest"}) >= 2
	})
	time.Sleep(300 * time.Millisecond) // anything more it writes, for the count below
	added = metricFamilies(t, scrape(t, hs[0], "127.0.0.1:9110"))
	if b, a := counterSum(same, "tandem_ipvs_ops_total", nil), counterSum(added, "tandem_ipvs_ops_total", nil); a != b+1 ||
		counterSum(added, "tandem_ipvs_ops_total", map[string]string{"op": "add-dest"}) != 2 {
		t.Errorf("IPVS ops went from %v to %v for one added real server, want one add-dest", b, a)
	}

	// One weight changed: one update-dest, nothing else.
	weighted := strings.Replace(fmt.Sprintf(webVS, `  real_server "203.0.113.22:80" {
  }
`), `real_server "203.0.113.21:80" {`, `real_server "203.0.113.21:80" {
    weight = 7`, 1)
	d1.rewrite(base + weighted)
	mustReload(t, "d1")
	var edited map[string]*dto.MetricFamily
	eventually(t, 5*time.Second, "the new weight in the IPVS table", func() bool {
		edited = metricFamilies(t, scrape(t, hs[0], "127.0.0.1:9110"))
		return counterSum(edited, "tandem_ipvs_ops_total", map[string]string{"op": "update-dest"}) >= 1
	})
	time.Sleep(300 * time.Millisecond)
	edited = metricFamilies(t, scrape(t, hs[0], "127.0.0.1:9110"))
	if b, a := counterSum(added, "tandem_ipvs_ops_total", nil), counterSum(edited, "tandem_ipvs_ops_total", nil); a != b+1 ||
		counterSum(edited, "tandem_ipvs_ops_total", map[string]string{"op": "update-dest"}) != 1 {
		t.Errorf("IPVS ops went from %v to %v for one changed weight, want one update-dest", b, a)
	}

	// No password in what the daemon shows.
	for _, args := range [][]string{{"status", "--json"}, {"status"}} {
		if out, _ := tandemCLI(t, "d1", args...); strings.Contains(out, password) {
			t.Errorf("tandem %v shows the password:\n%s", args, out)
		}
	}
	if m := scrape(t, hs[0], "127.0.0.1:9110"); strings.Contains(m, password) {
		t.Error("the metrics show the password")
	}

	// SIGTERM: nothing left behind.
	if err := d1.proc.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-d1.proc.Done():
	case <-time.After(5 * time.Second):
		t.Fatalf("tandem still runs 5 s after SIGTERM:\n%s", d1.log())
	}
	if d1.hasVIP(vip) || d1.hasVIP("198.51.100.53") {
		t.Error("a VIP stayed after SIGTERM")
	}
	if _, err := os.Stat(socketOf("d1")); !os.IsNotExist(err) {
		t.Errorf("control socket left after SIGTERM: %v", err)
	}
	if pids, err := hs[0].Pids(); err != nil || len(pids) != 0 {
		t.Errorf("processes left in d1 after SIGTERM: %v %v", pids, err)
	}
}
