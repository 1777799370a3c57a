package e2e

// One director of a keepalived pair swapped for tandem: tandem runs the
// configuration `tandem import keepalived` made of lb2's keepalived.conf,
// next to keepalived 2.2.7 still running lb1's.

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// kaPairConf is one director's keepalived.conf of an active/active
// pair, the interface as the lab names it: "web" (VRRPv3 at 100 ms,
// 198.51.100.10) is lb1's, 150 against 100; "db" (no version line, so
// keepalived's default VRRPv2, at 1 s, 198.51.100.20) is lb2's.
func kaPairConf(name string) string {
	webState, webPrio, dbState, dbPrio := "MASTER", 150, "BACKUP", 100
	if name == "lb2" {
		webState, webPrio, dbState, dbPrio = "BACKUP", 100, "MASTER", 150
	}
	return fmt.Sprintf(`! %s: one director of the pair
global_defs {
  router_id %s
  vrrp_garp_master_delay 5
  vrrp_garp_master_repeat 5
}

vrrp_instance web {
  state %s
  interface lan0
  virtual_router_id 51
  priority %d
  version 3
  advert_int 0.1
  virtual_ipaddress {
    198.51.100.10/24
  }
}

vrrp_instance db {
  state %s
  interface lan0
  virtual_router_id 52
  priority %d
  advert_int 1
  virtual_ipaddress {
    198.51.100.20/24
  }
}
`, name, name, webState, webPrio, dbState, dbPrio)
}

// importKeepalived runs `tandem import keepalived -o OUT CONF` and returns
// its diagnostics' headlines; the import must exit 0.
func importKeepalived(t *testing.T, conf, out string) []string {
	t.Helper()
	cmd := exec.Command(tandemBin, "import", "keepalived", "-o", out, conf)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("tandem import keepalived %s: %v\n%s", conf, err, stderr.String())
	}
	return regexp.MustCompile(`(?m)^\S+:\d+:\d+: (error|warning): .*$`).FindAllString(stderr.String(), -1)
}

const dbVIP = "198.51.100.20"

// keepalived runs lb1's own keepalived.conf on host ka, tandem the import
// of lb2's on host td: each is elected for its own instance; keepalived
// crashes and tandem takes over web (v3) while keeping db, keepalived
// returns and preempts web; tandem crashes and keepalived takes over db
// (v2, the version the importer wrote because keepalived.conf said none),
// tandem returns and preempts db. As two keepalived nodes would, and
// neither complains about the other's adverts. validate --group accepts
// the imports of both files.
func TestImportedKeepalivedPair(t *testing.T) {
	x := newInterop(t, v3mc, 150, 100)
	dir := t.TempDir()
	lb1, lb2 := filepath.Join(dir, "lb1.conf"), filepath.Join(dir, "lb2.conf")
	writeText(t, lb1, kaPairConf("lb1"))
	writeText(t, lb2, kaPairConf("lb2"))
	writeText(t, x.ka.cfg, kaPairConf("lb1"))

	lb1HCL, lb2HCL := filepath.Join(dir, "lb1.hcl"), filepath.Join(dir, "lb2.hcl")
	// The one expected warning: tandem starts every instance as backup,
	// keepalived an instance in state MASTER as master.
	for conf, out := range map[string]string{lb1: lb1HCL, lb2: lb2HCL} {
		at := map[string]string{lb1: ":9:3:", lb2: ":21:3:"}[conf]
		diags := importKeepalived(t, conf, out)
		if len(diags) != 1 || !strings.HasSuffix(diags[0], at+" warning: state: converted with a caveat") {
			t.Errorf("import of %s: %q, want only the warning about state MASTER at %s", conf, diags, at)
		}
	}
	if out, err := exec.Command(tandemBin, "validate", "--group", lb1HCL, lb2HCL).CombinedOutput(); err != nil ||
		!strings.Contains(string(out), "group of 2 directors: valid") {
		t.Errorf("validate --group of the imports: %v\n%s", err, out)
	}
	imported, err := os.ReadFile(lb2HCL)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("the import of lb2.conf:\n%s", imported)
	for _, want := range []string{`router_id = "lb2"`, `interface         = "lan0"`, `advert_interval   = "100ms"`,
		`virtual_ips       = ["198.51.100.10/24"]`, `version           = 2`, `priority          = 150`} {
		if !strings.Contains(string(imported), want) {
			t.Errorf("the import of lb2.conf lacks %s", want)
		}
	}
	// The lab's own control socket: several daemons share this machine.
	withSocket := strings.Replace(string(imported), "global {\n", fmt.Sprintf("global {\n  control_socket = \"/run/tandem-e2e-import-%d.sock\"\n", os.Getpid()), 1)
	writeText(t, x.td.cfg, withSocket)

	x.ka.start()
	waitLog(t, x.ka.node, "(db) Entering BACKUP STATE (init)", 15*time.Second)
	x.startTandem()
	onlyHolder(t, x.nodes(), vip, "ka", 5*time.Second, 300*time.Millisecond)
	onlyHolder(t, x.nodes(), dbVIP, "td", 8*time.Second, 300*time.Millisecond)
	ping(t, x.client, vip)
	ping(t, x.client, dbVIP)

	// keepalived crashes: tandem takes web over and keeps db.
	x.ka.crash()
	if err := x.kaHost.PortDown(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 2*time.Second, "td holds the VIP of web", func() bool { return x.td.hasVIP(vip) }) // the crash left it on ka too
	neighborOf(t, x.client, vip, x.tdHost, time.Second)
	ping(t, x.client, vip)
	wantLog(t, x.td, `msg="(web) Entering MASTER STATE" instance=web vrid=51 from=BACKUP to=MASTER reason="master down timer expired"`)
	// keepalived returns: it preempts web and leaves db to tandem.
	if err := x.kaHost.PortUp(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond) // past the neighbour locktime (1 s)
	x.ka.start()
	onlyHolder(t, x.nodes(), vip, "ka", 5*time.Second, 300*time.Millisecond)
	neighborOf(t, x.client, vip, x.kaHost, time.Second)
	wantLog(t, x.td, `reason="higher priority advert from 198.51.100.11 (priority 150)"`)
	onlyHolder(t, x.nodes(), dbVIP, "td", time.Second, 4*time.Second) // longer than db's master-down interval
	wantLog(t, x.ka.node, "(web) received lower priority (100) advert from 198.51.100.12")

	// tandem crashes: keepalived takes db over and keeps web.
	kaWebMasters := x.ka.entered("web", "MASTER")
	x.crashTandem()
	eventually(t, 6*time.Second, "ka holds the VIP of db", func() bool { return x.ka.hasVIP(dbVIP) })
	neighborOf(t, x.client, dbVIP, x.kaHost, time.Second)
	ping(t, x.client, dbVIP)
	wantLog(t, x.ka.node, "(db) Receive advertisement timeout")
	// tandem returns: it preempts db and leaves web to keepalived.
	if err := x.tdHost.PortUp(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(1100 * time.Millisecond)
	x.startTandem()
	onlyHolder(t, x.nodes(), dbVIP, "td", 8*time.Second, 300*time.Millisecond)
	neighborOf(t, x.client, dbVIP, x.tdHost, time.Second)
	onlyHolder(t, x.nodes(), vip, "ka", time.Second, 300*time.Millisecond)
	if got := x.ka.entered("web", "MASTER"); got != kaWebMasters {
		t.Errorf("keepalived entered MASTER of web %d more times while tandem crashed and returned", got-kaWebMasters)
	}
	ping(t, x.client, vip)
	ping(t, x.client, dbVIP)
	x.noComplaints()
}

func writeText(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// The example a new user brings (examples/from-keepalived: a DR pair with
// HTTP and TCP checks, a sorry server and a sync group), imported for lb1
// with the lab's interface name, runs: both instances of the sync group
// become master, the checks reach the real servers and pass.
func TestImportedExampleRuns(t *testing.T) {
	lab := newLab(t)
	lb1 := lab.MustAddHost(t, "lb1", "198.51.100.11/24")
	rs1 := lab.MustAddHost(t, "rs1", "198.51.100.21/24")
	rs2 := lab.MustAddHost(t, "rs2", "198.51.100.22/24")
	serveHTTP(t, rs1, "198.51.100.21:80", "rs1")
	serveHTTP(t, rs2, "198.51.100.22:80", "rs2")

	src, err := os.ReadFile("../../examples/from-keepalived/keepalived.conf")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	conf, hcl := filepath.Join(dir, "keepalived.conf"), filepath.Join(dir, "lb1.hcl")
	writeText(t, conf, strings.ReplaceAll(string(src), "interface eth0", "interface lan0"))
	cmd := exec.Command(tandemBin, "import", "keepalived", "--config-id", "lb1", "-o", hcl, conf)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("tandem import keepalived: %v\n%s", err, out)
	}
	imported, err := os.ReadFile(hcl)
	if err != nil {
		t.Fatal(err)
	}
	cfg := strings.Replace(string(imported), "global {\n", fmt.Sprintf("global {\n  control_socket = %q\n", socketOf("lb1")), 1)
	writeText(t, hcl, withStateDir(t, cfg))
	n := &node{t: t, host: lb1, cfg: hcl}
	p, err := lb1.Start(tandemBin, "run", "--ipvs-memory", "-c", hcl)
	if err != nil {
		t.Fatal(err)
	}
	n.proc = p
	races.name(p.Process.Pid, "lb1: tandem run")

	eventually(t, 6*time.Second, "www and static master", func() bool {
		st, err := tryStatus(t, "lb1")
		return err == nil && st.state("www") == "MASTER" && st.state("static") == "MASTER"
	})
	checks := map[[2]string]string{
		{"tcp_198_51_100_10_80", "198.51.100.21:80"}: "status 200",
		{"tcp_198_51_100_10_80", "198.51.100.22:80"}: "status 200",
		{"tcp_198_51_100_20_80", "198.51.100.21:80"}: "tcp",
		{"tcp_198_51_100_20_80", "198.51.100.22:80"}: "tcp",
	}
	eventuallyf(t, 15*time.Second, func() string { return "every check passed once:\n" + n.log() }, func() bool {
		st := fullStatusOf(t, "lb1")
		for k, want := range checks {
			if health, _, _, reason := st.rs(k[0], k[1]); health != "up" || !strings.Contains(reason, want) {
				return false
			}
		}
		return true
	})
	st := fullStatusOf(t, "lb1")
	if _, w, _, _ := st.rs("tcp_198_51_100_10_80", "198.51.100.21:80"); w != 3 {
		t.Errorf("rs1's weight in www is %d, want 3 (keepalived's weight 3)", w)
	}
	if !st.IPVS.Available {
		t.Errorf("the in-memory IPVS table is not programmed: %s", st.IPVS.Error)
	}
	if strings.Contains(n.log(), "level=ERROR") {
		t.Errorf("tandem logged errors:\n%s", n.log())
	}
}
