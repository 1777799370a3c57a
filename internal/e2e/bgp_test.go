package e2e

import (
	"encoding/json"
	"fmt"

	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

// BGP announcements against a real router: FRR's zebra and bgpd from
// Debian, run in the router's namespace with the test's own config, pid
// and socket paths (never /etc/frr or /run/frr).

const bgpVIP = "198.51.100.100"

type frrRouter struct {
	t   *testing.T
	h   *netlab.Host
	dir string
}

// startFRRRouter runs zebra and bgpd in h with bgpdConf.
func startFRRRouter(t *testing.T, h *netlab.Host, bgpdConf string) *frrRouter {
	t.Helper()
	testenv.NeedCommand(t, "vtysh")
	testenv.Need(t, fileExists(filepath.Join(frrDir, "bgpd")) && fileExists(filepath.Join(frrDir, "zebra")), "FRR's zebra and bgpd (Debian package frr) in %s", frrDir)
	// FRR drops to its own user (root is not in its vty group): a
	// directory of the test's that user can write.
	dir, err := os.MkdirTemp("", "tandem-e2e-frr-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o777); err != nil {
		t.Fatal(err)
	}
	f := &frrRouter{t: t, h: h, dir: dir}
	write := func(name, text string) string {
		p := filepath.Join(f.dir, name)
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	zconf := write("zebra.conf", "hostname "+h.Name+"\nlog stdout informational\n")
	bconf := write("bgpd.conf", bgpdConf)
	zsock := filepath.Join(f.dir, "zserv.api")
	common := []string{"-P", "0", "--vty_socket", f.dir, "-z", zsock}
	if _, err := h.Start(filepath.Join(frrDir, "zebra"), append(common, "-f", zconf, "-i", filepath.Join(f.dir, "zebra.pid"))...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "zebra's socket "+zsock, func() bool { return fileExists(zsock) })
	if _, err := h.Start(filepath.Join(frrDir, "bgpd"), append(common, "-f", bconf, "-i", filepath.Join(f.dir, "bgpd.pid"))...); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "bgpd answers vtysh", func() bool {
		_, err := f.vtysh("show bgp summary")
		return err == nil
	})
	return f
}

func fileExists(p string) bool { _, err := os.Stat(p); return err == nil }

func (f *frrRouter) vtysh(cmd string) (string, error) {
	return f.h.Run("vtysh", "--vty_socket", f.dir, "-c", cmd)
}

// nexthops lists the gateways of prefix in the router's kernel FIB.
func (f *frrRouter) nexthops(prefix string) []string {
	out, err := f.h.Run("ip", "-j", "route", "show", prefix)
	if err != nil {
		f.t.Fatalf("ip route show %s: %v", prefix, err)
	}
	var routes []struct {
		Gateway  string `json:"gateway"`
		Nexthops []struct {
			Gateway string `json:"gateway"`
		} `json:"nexthops"`
	}
	if err := json.Unmarshal([]byte(out), &routes); err != nil {
		f.t.Fatalf("ip -j route: %v: %s", err, out)
	}
	var gws []string
	for _, r := range routes {
		if r.Gateway != "" {
			gws = append(gws, r.Gateway)
		}
		for _, n := range r.Nexthops {
			gws = append(gws, n.Gateway)
		}
	}
	slices.Sort(gws)
	return gws
}

// waitNexthops waits until prefix's gateways are want; it returns how long
// that took.
func (f *frrRouter) waitNexthops(prefix string, want []string, within time.Duration) time.Duration {
	f.t.Helper()
	slices.Sort(want)
	start := time.Now()
	eventuallyf(f.t, within, func() string {
		s, _ := f.vtysh("show bgp summary")
		return fmt.Sprintf("router's nexthops for %s: %v, want %v\n%s", prefix, f.nexthops(prefix), want, s)
	}, func() bool { return slices.Equal(f.nexthops(prefix), want) })
	return time.Since(start)
}

type frrNeighbor struct {
	State       string `json:"bgpState"`
	Established int    `json:"connectionsEstablished"`
	Dropped     int    `json:"connectionsDropped"`
	Stats       struct {
		UpdatesRecv int `json:"updatesRecv"`
	} `json:"messageStats"`
}

func (f *frrRouter) neighbor(addr string) frrNeighbor {
	f.t.Helper()
	out, err := f.vtysh("show bgp neighbors " + addr + " json")
	if err != nil {
		f.t.Fatal(err)
	}
	var m map[string]frrNeighbor
	if err := json.Unmarshal([]byte(out), &m); err != nil {
		f.t.Fatalf("show bgp neighbors json: %v: %s", err, out)
	}
	return m[addr]
}

// loHas reports whether addr is on the host's lo.
func loHas(t *testing.T, h *netlab.Host, addr string) bool {
	t.Helper()
	out, err := h.Run("ip", "-o", "addr", "show", "dev", "lo")
	if err != nil {
		t.Fatal(err)
	}
	return strings.Contains(out, " "+addr+"/")
}

func routerConf(asn int, id string, neighbors map[string]int) string {
	var b strings.Builder
	fmt.Fprintf(&b, "frr defaults traditional\nhostname rtr\nlog stdout informational\n!\nrouter bgp %d\n bgp router-id %s\n no bgp ebgp-requires-policy\n", asn, id)
	addrs := slices.Sorted(func(yield func(string) bool) {
		for a := range neighbors {
			if !yield(a) {
				return
			}
		}
	})
	for _, a := range addrs {
		fmt.Fprintf(&b, " neighbor %s remote-as %d\n neighbor %s timers 1 3\n neighbor %s timers connect 1\n", a, neighbors[a], a, a)
	}
	b.WriteString(" address-family ipv4 unicast\n  maximum-paths 8\n exit-address-family\n!\n")
	return b.String()
}

// bgpDirector renders a director announcing bgpVIP while its virtual
// server (one real server: its own address, port 8080) has quorum.
func bgpDirector(name, addr, stateDir string, prefixes []string) string {
	return fmt.Sprintf(`global {
  router_id      = %q
  control_socket = "/run/tandem-e2e-bgp-%s-%d.sock"
  state_dir      = %q
  metrics_listen = "%s:9110"
}

virtual_server "web" {
  address            = "%s:80"
  scheduler          = "mh"
  forwarding         = "dr"
  inhibit_on_failure = true

  real_server "%s" {
    check "tcp" {
      connect_port = 8080
      interval = "200ms"
      timeout  = "100ms"
      rise     = 1
      fall     = 2
    }
  }
}

lvs {
  sloppy_tcp = true
}

bgp {
  asn       = 64512
  router_id = %q

  neighbor "198.51.100.1" {
    asn       = 64500
    hold_time = "3s"
  }
}

announce "web" {
  prefixes              = [%s]
  track_virtual_servers = ["web"]
  communities           = ["64512:100"]
}
`, name, name, os.Getpid(), stateDir, addr, bgpVIP, addr, addr, `"`+strings.Join(prefixes, `", "`)+`"`)
}

func bgpSocket(name string) string {
	return fmt.Sprintf("/run/tandem-e2e-bgp-%s-%d.sock", name, os.Getpid())
}

func tandemCtl(t *testing.T, h *netlab.Host, name string, args ...string) string {
	t.Helper()
	out, err := h.Run(tandemBin, append(args, "--socket", bgpSocket(name))...)
	if err != nil {
		t.Fatalf("tandem %v: %v\n%s", args, err, out)
	}
	return out
}

type bgpStatus struct {
	BGP struct {
		Drained   bool `json:"drained"`
		Listening bool `json:"listening"`
		Neighbors []struct {
			Address      string `json:"address"`
			State        string `json:"state"`
			PrefixesSent int    `json:"prefixes_sent"`
			UpdatesSent  int    `json:"updates_sent"`
		} `json:"neighbors"`
		Announcements []struct {
			Name      string `json:"name"`
			Announced bool   `json:"announced"`
			Reason    string `json:"reason"`
		} `json:"announcements"`
	} `json:"bgp"`
}

func bgpStatusOf(t *testing.T, h *netlab.Host, name string) bgpStatus {
	t.Helper()
	var st bgpStatus
	if err := json.Unmarshal([]byte(tandemCtl(t, h, name, "status", "--json")), &st); err != nil {
		t.Fatal(err)
	}
	return st
}

// Three tandem directors announce one /32 to an FRR router with
// maximum-paths: ECMP over all three, and every way a director leaves.
func TestBGPECMP(t *testing.T) {
	top := t // servers started in subtests live as long as the lab
	lab := newLab(t)
	rtr := lab.MustAddHost(t, "rtr", "198.51.100.1/24")
	client := lab.MustAddHost(t, "client", "198.51.100.50/24")
	names := []string{"lb1", "lb2", "lb3"}
	addrs := []string{"198.51.100.11", "198.51.100.12", "198.51.100.13"}
	hosts := map[string]*netlab.Host{}
	for i, n := range names {
		hosts[n] = lab.MustAddHost(t, n, addrs[i]+"/24")
	}
	// The router forwards the client's packets to the directors on the
	// same segment: no redirects, so the client keeps going through it;
	// the L4 hash spreads one client's connections.
	if err := rtr.Sysctls(map[string]string{"net/ipv4/ip_forward": "1", "net/ipv4/fib_multipath_hash_policy": "1",
		"net/ipv4/conf/all/send_redirects": "0", "net/ipv4/conf/lan0/send_redirects": "0"}); err != nil {
		t.Fatal(err)
	}
	if err := client.Sysctls(map[string]string{"net/ipv4/conf/all/accept_redirects": "0", "net/ipv4/conf/lan0/accept_redirects": "0"}); err != nil {
		t.Fatal(err)
	}
	if out, err := client.Run("ip", "route", "add", bgpVIP+"/32", "via", "198.51.100.1"); err != nil {
		t.Fatal(out, err)
	}
	nb := map[string]int{}
	for _, a := range addrs {
		nb[a] = 64512
	}
	router := startFRRRouter(t, rtr, routerConf(64500, "198.51.100.1", nb))

	// Each director serves its own name on port 80 (the VIP, from lo) and
	// its real server's check port 8080.
	checks := map[string]func(){}
	nodes := map[string]*node{}
	stateDirs := map[string]string{}
	for i, n := range names {
		h := hosts[n]
		serveHTTP(t, h, ":80", n)
		checks[n] = serveHTTP(t, h, addrs[i]+":8080", "ok")
		stateDirs[n] = t.TempDir()
		nodes[n] = startTandem(t, h, bgpDirector(n, addrs[i], stateDirs[n], []string{bgpVIP + "/32"}))
	}
	vip := bgpVIP + "/32"
	took := router.waitNexthops(vip, slices.Clone(addrs), 30*time.Second)
	t.Logf("three nexthops in the router's FIB %v after start", took.Round(time.Millisecond))

	t.Run("AddressesOnLoAndNoListener", func(t *testing.T) {
		for i, n := range names {
			if !loHas(t, hosts[n], bgpVIP) {
				t.Errorf("%s: %s is announced but not on lo", n, bgpVIP)
			}
			// The speaker only connects out: tandem's one listening socket
			// is the configured metrics_listen (no 179, no gRPC).
			out, err := hosts[n].Run("ss", "-Hltnp")
			if err != nil {
				t.Fatal(err)
			}
			for _, line := range strings.Split(out, "\n") {
				if strings.Contains(line, `"tandem"`) && !strings.Contains(line, addrs[i]+":9110 ") {
					t.Errorf("%s: tandem listens where nothing is configured: %s", n, line)
				}
			}
			mf := metricFamilies(t, scrape(t, hosts[n], addrs[i]+":9110"))
			if v := counterSum(mf, "tandem_bgp_session_up", map[string]string{"neighbor": "198.51.100.1"}); v != 1 {
				t.Errorf("%s: tandem_bgp_session_up = %v, want 1", n, v)
			}
			if v := counterSum(mf, "tandem_bgp_announced", map[string]string{"announce": "web", "prefix": vip}); v != 1 {
				t.Errorf("%s: tandem_bgp_announced = %v, want 1", n, v)
			}
			if v := counterSum(mf, "tandem_bgp_updates_sent_total", nil); v < 1 {
				t.Errorf("%s: tandem_bgp_updates_sent_total = %v, want at least 1", n, v)
			}
			if st := bgpStatusOf(t, hosts[n], n); st.BGP.Listening || len(st.BGP.Neighbors) != 1 || st.BGP.Neighbors[0].State != "established" || st.BGP.Neighbors[0].PrefixesSent != 1 {
				t.Errorf("%s: status %+v, want one established neighbor with one prefix sent, not listening", n, st.BGP)
			}
		}
	})

	t.Run("ClientConnectionsSpread", func(t *testing.T) {
		seen := map[string]int{}
		for range 60 {
			body, err := client.HTTPGet(bgpVIP+":80", "/", 2*time.Second)
			if err != nil {
				t.Fatal(err)
			}
			seen[body]++
		}
		t.Logf("60 new connections from one client: %v", seen)
		for _, n := range names {
			if seen[n] == 0 {
				t.Errorf("no connection reached %s: %v", n, seen)
			}
		}
	})

	t.Run("ReloadAddsPrefixOneUpdateNoReset", func(t *testing.T) {
		before := router.neighbor(addrs[0])
		nodes["lb1"].rewrite(bgpDirector("lb1", addrs[0], stateDirs["lb1"], []string{bgpVIP + "/32", "198.51.100.101/32"}))
		tandemCtl(t, hosts["lb1"], "lb1", "reload")
		router.waitNexthops("198.51.100.101/32", []string{addrs[0]}, 10*time.Second)
		time.Sleep(500 * time.Millisecond) // anything else it would send
		after := router.neighbor(addrs[0])
		if d := after.Stats.UpdatesRecv - before.Stats.UpdatesRecv; d != 1 {
			t.Errorf("the router received %d updates for one added prefix, want 1", d)
		}
		if after.Established != before.Established || after.State != "Established" {
			t.Errorf("session reset by the reload: established %d -> %d, state %s", before.Established, after.Established, after.State)
		}
		if !loHas(t, hosts["lb1"], "198.51.100.101") {
			t.Error("the added prefix is not on lo")
		}
		// Back to one prefix: withdrawn, and off lo.
		nodes["lb1"].rewrite(bgpDirector("lb1", addrs[0], stateDirs["lb1"], []string{bgpVIP + "/32"}))
		tandemCtl(t, hosts["lb1"], "lb1", "reload")
		router.waitNexthops("198.51.100.101/32", nil, 10*time.Second)
		eventually(t, 2*time.Second, "198.51.100.101 off lo", func() bool { return !loHas(t, hosts["lb1"], "198.51.100.101") })
		if n := router.neighbor(addrs[0]); n.Established != before.Established {
			t.Errorf("session reset by the second reload")
		}
	})

	t.Run("LostQuorumWithdrawsRecoveryAnnounces", func(t *testing.T) {
		checks["lb2"]()
		start := time.Now()
		router.waitNexthops(vip, []string{addrs[0], addrs[2]}, 10*time.Second)
		took := time.Since(start)
		// fall 2 x interval 200ms (+ timeout 100ms): 0.5 s, with room for a loaded machine.
		t.Logf("lost quorum withdrawn at the router after %v (checks: fall 2 x 200ms)", took.Round(time.Millisecond))
		if took > 2*time.Second {
			t.Errorf("withdrawal took %v, want about the check's fall time (0.5 s)", took)
		}
		eventually(t, 2*time.Second, "VIP off lb2's lo", func() bool { return !loHas(t, hosts["lb2"], bgpVIP) })
		st := bgpStatusOf(t, hosts["lb2"], "lb2")
		if len(st.BGP.Announcements) != 1 || st.BGP.Announcements[0].Announced || !strings.Contains(st.BGP.Announcements[0].Reason, "quorum") {
			t.Errorf("status: %+v, want web not announced because of quorum", st.BGP.Announcements)
		}
		checks["lb2"] = serveHTTP(top, hosts["lb2"], addrs[1]+":8080", "ok")
		took = router.waitNexthops(vip, slices.Clone(addrs), 10*time.Second)
		t.Logf("recovered quorum re-announced after %v", took.Round(time.Millisecond))
	})

	t.Run("DrainNodeKeptAcrossRestartUntilRelease", func(t *testing.T) {
		out := tandemCtl(t, hosts["lb1"], "lb1", "drain-node")
		t.Log(strings.TrimSpace(out))
		router.waitNexthops(vip, []string{addrs[1], addrs[2]}, 5*time.Second)
		if st := bgpStatusOf(t, hosts["lb1"], "lb1"); !st.BGP.Drained {
			t.Error("status does not say drained")
		}
		nodes["lb1"].proc.Stop()
		nodes["lb1"].start()
		eventually(t, 10*time.Second, "lb1 back, established", func() bool {
			st, err := tryBGPStatus(hosts["lb1"], "lb1")
			return err == nil && len(st.BGP.Neighbors) == 1 && st.BGP.Neighbors[0].State == "established"
		})
		time.Sleep(time.Second)
		if got := router.nexthops(vip); slices.Contains(got, addrs[0]) {
			t.Fatalf("a drained node announced again after a restart: %v", got)
		}
		if loHas(t, hosts["lb1"], bgpVIP) {
			t.Error("a drained node has the VIP on lo")
		}
		tandemCtl(t, hosts["lb1"], "lb1", "drain-node", "--release")
		router.waitNexthops(vip, slices.Clone(addrs), 10*time.Second)
	})

	t.Run("SIGTERMWithdrawsFirst", func(t *testing.T) {
		p := nodes["lb3"].proc
		before := router.neighbor(addrs[2])
		start := time.Now()
		p.Process.Signal(os.Interrupt)
		took := router.waitNexthops(vip, []string{addrs[0], addrs[1]}, 5*time.Second)
		t.Logf("SIGTERM: withdrawn at the router after %v", took.Round(time.Millisecond))
		if took > 2*time.Second {
			t.Errorf("SIGTERM withdrawal took %v, want under 2 s", took)
		}
		p.Wait()
		t.Logf("lb3 exited %v after the signal", time.Since(start).Round(time.Millisecond))
		if loHas(t, hosts["lb3"], bgpVIP) {
			t.Error("lb3 left the VIP on lo after SIGTERM")
		}
		// Withdrawn by an UPDATE before the session closed (not only by
		// the close).
		if after := router.neighbor(addrs[2]); after.Stats.UpdatesRecv != before.Stats.UpdatesRecv+1 {
			t.Errorf("the router received %d updates from lb3 during its stop, want 1 (the withdrawal)", after.Stats.UpdatesRecv-before.Stats.UpdatesRecv)
		}
		if !strings.Contains(nodes["lb3"].log(), "BGP announcements withdrawn") {
			t.Errorf("lb3's log does not say it withdrew:\n%s", nodes["lb3"].log())
		}
	})

	t.Run("SIGKILLWithdrawnByRouterLeftoversRemovedAtStart", func(t *testing.T) {
		n := nodes["lb2"]
		n.proc.Kill()
		took := router.waitNexthops(vip, []string{addrs[0]}, 6*time.Second) // session close, or the 3 s hold time
		t.Logf("SIGKILL: withdrawn by the router after %v", took.Round(time.Millisecond))
		if !loHas(t, hosts["lb2"], bgpVIP) {
			t.Fatal("a killed tandem should have left the VIP on lo (the leftover this test is about)")
		}
		// Restart without quorum: the leftover goes before anything is announced.
		checks["lb2"]()
		n.start()
		eventually(t, 10*time.Second, "lb2 removes its leftover lo address at start", func() bool { return !loHas(t, hosts["lb2"], bgpVIP) })
		if !strings.Contains(n.log(), "removed a lo address left by the last run") {
			t.Errorf("lb2's log does not say it removed the leftover:\n%s", n.log())
		}
	})
}

func tryBGPStatus(h *netlab.Host, name string) (bgpStatus, error) {
	var st bgpStatus
	out, err := h.Run(tandemBin, "status", "--json", "--socket", bgpSocket(name))
	if err != nil {
		return st, err
	}
	return st, json.Unmarshal([]byte(out), &st)
}

// followDirector renders one side of a unicast VRRP pair on its own
// subnet that only elects (no virtual_ips): the VIP lives in the
// announcement, made only while the instance is MASTER.
func followDirector(name, addr, peer, gw, stateDir string, prio int) string {
	return fmt.Sprintf(`global {
  router_id      = %q
  control_socket = %q
  state_dir      = %q
}

vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 60
  priority          = %d
  advert_interval   = "100ms"
  unicast_source    = %q
  unicast_peers     = [%q]
  unicast_min_ttl   = 250
}

bgp {
  asn       = 64512
  router_id = %q

  neighbor %q {
    asn       = 64500
    hold_time = "3s"
  }
}

announce "web" {
  prefixes = ["198.51.100.200/32"]
  follow   = "web"
}
`, name, bgpSocket(name), stateDir, prio, addr, peer, addr, gw)
}

// follow: routed VIPs for directors on two subnets. The router's route
// follows the VRRP master through a failover and back.
func TestBGPFollow(t *testing.T) {
	lab := newLab(t)
	rtr := lab.MustAddHost(t, "rtr", "198.51.100.1/25", "198.51.100.129/25")
	lb1 := lab.MustAddHost(t, "lb1", "198.51.100.11/25")
	lb2 := lab.MustAddHost(t, "lb2", "198.51.100.140/25")
	if err := rtr.Sysctls(map[string]string{"net/ipv4/ip_forward": "1"}); err != nil {
		t.Fatal(err)
	}
	for h, route := range map[*netlab.Host][]string{lb1: {"198.51.100.128/25", "198.51.100.1"}, lb2: {"198.51.100.0/25", "198.51.100.129"}} {
		if out, err := h.Run("ip", "route", "add", route[0], "via", route[1]); err != nil {
			t.Fatal(out, err)
		}
	}
	router := startFRRRouter(t, rtr, routerConf(64500, "198.51.100.1", map[string]int{"198.51.100.11": 64512, "198.51.100.140": 64512}))
	n1 := startTandem(t, lb1, followDirector("lb1", "198.51.100.11", "198.51.100.140", "198.51.100.1", t.TempDir(), 150))
	startTandem(t, lb2, followDirector("lb2", "198.51.100.140", "198.51.100.11", "198.51.100.129", t.TempDir(), 100))
	const vip = "198.51.100.200/32"
	router.waitNexthops(vip, []string{"198.51.100.11"}, 30*time.Second)
	// The backup does not announce: one route, through the master.
	time.Sleep(500 * time.Millisecond)
	if got := router.nexthops(vip); !slices.Equal(got, []string{"198.51.100.11"}) {
		t.Fatalf("router's nexthops %v, want only the master's", got)
	}
	if loHas(t, lb2, "198.51.100.200") {
		t.Error("the backup has the VIP on lo")
	}

	// The master crashes: lb2 takes over (master down ~0.35 s) and announces.
	n1.proc.Kill()
	start := time.Now()
	router.waitNexthops(vip, []string{"198.51.100.140"}, 10*time.Second)
	t.Logf("follow: master SIGKILLed, the router's route moved to the new master after %v", time.Since(start).Round(time.Millisecond))

	// lb1 comes back with the higher priority and preempts: the route follows.
	n1.start()
	start = time.Now()
	router.waitNexthops(vip, []string{"198.51.100.11"}, 15*time.Second)
	t.Logf("follow: lb1 restarted and preempted, the route moved back after %v (BGP session setup included)", time.Since(start).Round(time.Millisecond))
	eventually(t, 2*time.Second, "VIP off the new backup's lo", func() bool { return !loHas(t, lb2, "198.51.100.200") })

	// drain-node on the master hands the master over: the route follows
	// to lb2; --release lets lb1 preempt again.
	eventually(t, 10*time.Second, "lb1's control socket", func() bool { _, err := tryBGPStatus(lb1, "lb1"); return err == nil })
	start = time.Now()
	tandemCtl(t, lb1, "lb1", "drain-node")
	router.waitNexthops(vip, []string{"198.51.100.140"}, 10*time.Second)
	t.Logf("follow: drain-node on the master, the route moved to lb2 after %v", time.Since(start).Round(time.Millisecond))
	tandemCtl(t, lb1, "lb1", "drain-node", "--release")
	router.waitNexthops(vip, []string{"198.51.100.11"}, 10*time.Second)
}

// IPv6 unicast: a director announces an IPv6 /128 to an IPv6 neighbor;
// the router installs it via the director's address and receives the
// communities, large communities, MED and AS-path prepends; the session
// is signed with TCP MD5.
func TestBGPIPv6(t *testing.T) {
	lab := newLab(t)
	rtr := lab.MustAddHost(t, "rtr", "2001:db8::1/64")
	lb1 := lab.MustAddHost(t, "lb1", "2001:db8::11/64")
	conf := `frr defaults traditional
hostname rtr
log stdout informational
!
router bgp 64500
 bgp router-id 198.51.100.1
 no bgp ebgp-requires-policy
 neighbor 2001:db8::11 remote-as 64512
 neighbor 2001:db8::11 timers 1 3
 neighbor 2001:db8::11 timers connect 1
 neighbor 2001:db8::11 password s3cret-md5
 address-family ipv6 unicast
  neighbor 2001:db8::11 activate
  maximum-paths 8
 exit-address-family
!
`
	router := startFRRRouter(t, rtr, conf)
	startTandem(t, lb1, fmt.Sprintf(`global {
  router_id      = "lb1"
  control_socket = %q
  state_dir      = %q
}

bgp {
  asn       = 64512
  router_id = "198.51.100.11"

  neighbor "2001:db8::1" {
    asn       = 64500
    hold_time = "3s"
    password  = "s3cret-md5"
  }
}

announce "web6" {
  prefixes          = ["2001:db8:100::100/128"]
  communities       = ["64512:100", "no-export"]
  large_communities = ["64512:1:2"]
  med               = 50
  as_path_prepend   = 2
}
`, bgpSocket("lb1"), t.TempDir()))
	eventuallyf(t, 30*time.Second, func() string {
		out, _ := rtr.Run("ip", "-6", "route", "show", "2001:db8:100::100")
		s, _ := router.vtysh("show bgp ipv6 unicast")
		return "router's IPv6 route to 2001:db8:100::100 via lb1: " + out + "\n" + s
	}, func() bool {
		out, _ := rtr.Run("ip", "-6", "route", "show", "2001:db8:100::100")
		return strings.Contains(out, "via 2001:db8::11")
	})
	if !loHas(t, lb1, "2001:db8:100::100") {
		t.Error("the IPv6 prefix is not on lo")
	}
	// The attributes as the router received them.
	out, err := router.vtysh("show bgp ipv6 unicast 2001:db8:100::100/128 json")
	if err != nil {
		t.Fatal(err)
	}
	var route struct {
		Paths []struct {
			ASPath    struct{ String string } `json:"aspath"`
			Med       int                     `json:"metric"`
			Community struct {
				String string
			} `json:"community"`
			LargeCommunity struct {
				String string
			} `json:"largeCommunity"`
		} `json:"paths"`
	}
	if err := json.Unmarshal([]byte(out), &route); err != nil || len(route.Paths) != 1 {
		t.Fatalf("show bgp json: %v\n%s", err, out)
	}
	p := route.Paths[0]
	if p.ASPath.String != "64512 64512 64512" || p.Med != 50 || p.Community.String != "64512:100 no-export" || p.LargeCommunity.String != "64512:1:2" {
		t.Errorf("the router received as-path %q, med %d, communities %q, large %q; want 64512 x3 (two prepends), 50, \"64512:100 no-export\", 64512:1:2",
			p.ASPath.String, p.Med, p.Community.String, p.LargeCommunity.String)
	}
}
