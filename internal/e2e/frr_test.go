package e2e

import (
	"encoding/json"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

// FRR's vrrpd (Debian frr 8.4) as the peer: zebra and vrrpd in the host's
// namespace with the test's own config, pid and socket directory, as user
// frr. FRR wants the VIPs on macvlans carrying the virtual MAC (it only
// switches their protodown flag), an IPv4 address on the parent, and an
// IPv6 link-local on the v6 macvlan (addrgenmode random, set after
// creation).
const (
	frrDir  = "/usr/lib/frr" // FRR's daemons (Debian package frr); the BGP tests use it too
	frrVRID = 5
)

type frrNode struct {
	t    *testing.T
	host *netlab.Host
	dir  string
}

func startFRRVRRP(t *testing.T, h *netlab.Host, prio int) *frrNode {
	t.Helper()
	testenv.NeedCommand(t, "vtysh")
	for _, d := range []string{"zebra", "vrrpd"} {
		_, err := os.Stat(filepath.Join(frrDir, d))
		testenv.Need(t, err == nil, "FRR's %s (Debian package frr): %v", d, err)
	}
	u, err := user.Lookup("frr")
	testenv.Need(t, err == nil, "user frr (Debian package frr): %v", err)
	uid, _ := strconv.Atoi(u.Uid)
	gid, _ := strconv.Atoi(u.Gid)
	f := &frrNode{t: t, host: h, dir: t.TempDir()}
	// FRR drops to user frr: the directory and config are its.
	os.Chmod(filepath.Dir(f.dir), 0o755) // t.TempDir's parent is 0700
	os.Chmod(f.dir, 0o755)
	os.Chown(f.dir, uid, gid)
	v4, v6 := fmt.Sprintf("vrrp4-%d", frrVRID), fmt.Sprintf("vrrp6-%d", frrVRID)
	for _, c := range [][]string{
		{"link", "add", v4, "link", netlab.NIC, "type", "macvlan", "mode", "bridge"},
		{"link", "set", v4, "address", fmt.Sprintf("00:00:5e:00:01:%02x", frrVRID)},
		{"link", "set", v4, "addrgenmode", "random"},
		{"link", "add", v6, "link", netlab.NIC, "type", "macvlan", "mode", "bridge"},
		{"link", "set", v6, "address", fmt.Sprintf("00:00:5e:00:02:%02x", frrVRID)},
		{"link", "set", v6, "addrgenmode", "random"},
		{"addr", "add", "198.51.100.50/24", "dev", v4},
		{"addr", "add", "2001:db8::50/64", "dev", v6, "nodad"},
		{"addr", "add", "fe80::50/64", "dev", v6, "nodad"},
		{"link", "set", v4, "up"},
		{"link", "set", v6, "up"},
	} {
		if out, err := h.Run("ip", c...); err != nil {
			t.Fatalf("%v: %v\n%s", c, err, out)
		}
	}
	conf := filepath.Join(f.dir, "frr.conf")
	os.WriteFile(conf, []byte(fmt.Sprintf(`interface %s
 vrrp %d version 3
 vrrp %d priority %d
 vrrp %d advertisement-interval 100
 vrrp %d ip 198.51.100.50
 vrrp %d ipv6 fe80::50
 vrrp %d ipv6 2001:db8::50
`, netlab.NIC, frrVRID, frrVRID, prio, frrVRID, frrVRID, frrVRID, frrVRID)), 0o644)
	os.Chown(conf, uid, gid)
	for _, d := range []string{"zebra", "vrrpd"} {
		_, err := h.Start(filepath.Join(frrDir, d), "-u", "frr", "-g", "frr", "--vty_socket", f.dir,
			"-z", filepath.Join(f.dir, "zserv.api"), "-i", filepath.Join(f.dir, d+".pid"), "-f", conf, "--log", "stdout")
		if err != nil {
			t.Fatal(err)
		}
		if d == "zebra" {
			eventually(t, 10*time.Second, "zebra listens", func() bool {
				_, err := os.Stat(filepath.Join(f.dir, "zserv.api"))
				return err == nil
			})
		}
	}
	eventually(t, 10*time.Second, "vrrpd answers", func() bool { _, err := f.status(); return err == nil })
	return f
}

func (f *frrNode) vtysh(cmds ...string) (string, error) {
	args := []string{"--vty_socket", f.dir}
	for _, c := range cmds {
		args = append(args, "-c", c)
	}
	return f.host.Run("vtysh", args...)
}

// status is FRR's state of the IPv4 and IPv6 virtual router.
func (f *frrNode) status() ([2]string, error) {
	out, err := f.vtysh(fmt.Sprintf("show vrrp %d json", frrVRID))
	if err != nil {
		return [2]string{}, err
	}
	var vrs []struct {
		V4, V6 struct{ Status string }
	}
	if i := strings.Index(out, "["); i >= 0 {
		out = out[i:]
	}
	if err := json.Unmarshal([]byte(out), &vrs); err != nil || len(vrs) != 1 {
		return [2]string{}, fmt.Errorf("show vrrp json: %v: %s", err, out)
	}
	return [2]string{vrs[0].V4.Status, vrs[0].V6.Status}, nil
}

func (f *frrNode) configure(line string) {
	f.t.Helper()
	if out, err := f.vtysh("configure terminal", "interface "+netlab.NIC, line); err != nil {
		f.t.Fatalf("vtysh %q: %v\n%s", line, err, out)
	}
}

// frrConfig is tandem's side of the virtual router: v3, the same VIP
// lists as FRR's (the link-local one included).
func frrConfig(name string, prio int) string {
	s := fmt.Sprintf(`global {
  router_id      = %q
  control_socket = "/run/tandem-e2e-%s-%d.sock"
}

vrrp_instance "v4" {
  interface         = "lan0"
  virtual_router_id = %d
  priority          = %d
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.50/24"]
}

vrrp_instance "v6" {
  interface         = "lan0"
  virtual_router_id = %d
  priority          = %d
  advert_interval   = "100ms"
  virtual_ips       = ["fe80::50/64", "2001:db8::50/64"]
}
`, name, name, os.Getpid(), frrVRID, prio, frrVRID, prio)
	return s
}

// tandem and FRR vrrpd in one virtual router, v3 over IPv4 and IPv6: each
// takes over from the other and each preempts the other; tshark decodes
// every advert of the test as good.
func TestFRRInterop(t *testing.T) {
	lab := newLab(t)
	td := lab.MustAddHost(t, "td", "198.51.100.11/24", "2001:db8::11/64")
	fh := lab.MustAddHost(t, "frr", "198.51.100.21/24", "2001:db8::21/64")
	capt := startCapture(t, td)
	frr := startFRRVRRP(t, fh, 100)
	tn := startTandem(t, td, frrConfig("td", 150))

	state := func(tandem bool, want string) func() bool {
		return func() bool {
			if tandem {
				return tn.hasVIP("198.51.100.50") == (want == "Master") && tn.hasVIP("2001:db8::50") == (want == "Master")
			}
			st, err := frr.status()
			return err == nil && st == [2]string{want, want}
		}
	}
	both := func(what string, tdMaster bool) {
		t.Helper()
		tdWant, frWant := "Master", "Backup"
		if !tdMaster {
			tdWant, frWant = "Backup", "Master"
		}
		eventually(t, 8*time.Second, what+": tandem "+tdWant, state(true, tdWant))
		eventually(t, 8*time.Second, what+": FRR "+frWant, func() bool {
			st, _ := frr.status()
			return st == [2]string{frWant, frWant}
		})
		// and it stays so
		time.Sleep(500 * time.Millisecond)
		if !state(true, tdWant)() || !state(false, frWant)() {
			st, _ := frr.status()
			t.Fatalf("%s: did not hold: tandem VIPs %v, FRR %v", what, tn.hasVIP("198.51.100.50"), st)
		}
	}
	both("tandem 150 vs FRR 100", true)

	// FRR takes over from a stopping tandem, and tandem preempts it back.
	if err := tn.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	both("tandem stopped", false)
	tn.start()
	both("tandem back at 150: preempts FRR", true)

	// FRR preempts tandem (254 is FRR's highest), then hands back.
	frr.configure(fmt.Sprintf("vrrp %d priority 254", frrVRID))
	both("FRR at 254: preempts tandem", false)
	frr.configure(fmt.Sprintf("vrrp %d shutdown", frrVRID))
	eventually(t, 8*time.Second, "FRR shut down: tandem takes over", state(true, "Master"))
	frr.configure(fmt.Sprintf("no vrrp %d shutdown", frrVRID))
	both("FRR back at 254: preempts tandem", false)

	capt.stop()
	frames := capt.allFrames()
	for _, from := range []*netlab.Host{td} {
		checkAdverts(t, capt.frames(from), 20, "VRRP protocol version: 3")
	}
	bad := 0
	for _, f := range frames {
		if !strings.Contains(f, "[Checksum Status: Good]") || strings.Contains(f, "Malformed") || strings.Contains(f, "Expert Info (Error") {
			if bad++; bad <= 3 {
				t.Errorf("tshark does not decode this advert as good:\n%s", f)
			}
		}
	}
	var fromFRR int
	for _, f := range frames {
		if strings.Contains(f, "00:00:5e:00:01:05") || strings.Contains(f, "00:00:5e:00:02:05") {
			fromFRR++
		}
	}
	if bad > 0 || fromFRR < 20 || len(frames) < 60 {
		t.Errorf("%d of %d adverts not good; %d from FRR", bad, len(frames), fromFRR)
	}
	if strings.Contains(tn.log(), "dropped advert") {
		t.Errorf("tandem dropped FRR's adverts:\n%s", tn.log())
	}
}

// allFrames is tshark's full decode of every VRRP packet captured.
func (c *capture) allFrames() []string {
	c.t.Helper()
	out := c.read("vrrp", "-V")
	var frames []string
	for _, f := range strings.Split("\n"+out, "\nFrame ")[1:] {
		frames = append(frames, "Frame "+f)
	}
	return frames
}
