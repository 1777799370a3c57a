// Package e2e runs real tandem processes (and keepalived as a peer) in
// network namespaces made by internal/netlab.
package e2e

import (
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/testenv"
)

// tandemBin is the binary under test, built once by TestMain.
var tandemBin string

// raceVar asks for a tandem built with -race (make test-race sets it), so
// that the daemons the tests drive are race-checked, not only the harness.
const raceVar = "TANDEM_E2E_RACE"

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "tandem-e2e-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	tandemBin = filepath.Join(dir, "tandem")
	args := []string{"build", "-o", tandemBin}
	cgo := "CGO_ENABLED=0"
	if os.Getenv(raceVar) == "1" {
		// -race needs cgo; netgo and osusergo keep the pure-Go resolver
		// and user lookup of the static build.
		args = append(args, "-race", "-tags", "netgo,osusergo")
		cgo = "CGO_ENABLED=1"
		if err := races.init(filepath.Join(dir, "race")); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		// Every process started from now on sends its reports there. This
		// binary's own detector read GORACE when it started: its races
		// still fail the test that hit them the usual way.
		os.Setenv("GORACE", races.gorace())
	}
	build := exec.Command(goBin(), append(args, "github.com/tandemlb/tandem/cmd/tandem")...)
	build.Env = append(os.Environ(), cgo)
	if out, err := build.CombinedOutput(); err != nil {
		fmt.Fprintf(os.Stderr, "building tandem: %v\n%s", err, out)
		os.Exit(1)
	}
	code := m.Run()
	if left := races.unclaimed(); left != "" {
		fmt.Fprintf(os.Stderr, "FAIL: race reports of tandem processes that no test claimed:\n%s", left)
		code = 1
	}
	os.RemoveAll(dir)
	os.Exit(code)
}

func goBin() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// newLab makes a lab for t, or skips / fails when root or iproute2 is
// missing (testenv).
func newLab(t *testing.T) *netlab.Lab {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "ip")
	noRaces(t) // before NewT: its check runs after the lab has stopped every daemon
	return netlab.NewT(t)
}

// node is a director: a tandem (or keepalived) process in a lab host.
type node struct {
	t    *testing.T
	host *netlab.Host
	proc *netlab.Proc
	cfg  string
}

// startTandem writes cfg to a file and runs `tandem run -c` in h.
func startTandem(t *testing.T, h *netlab.Host, cfg string) *node {
	t.Helper()
	path := filepath.Join(t.TempDir(), h.Name+".hcl")
	if err := os.WriteFile(path, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	n := &node{t: t, host: h, cfg: path}
	n.start()
	return n
}

func (n *node) start() {
	n.t.Helper()
	p, err := n.host.Start(tandemBin, "run", "-c", n.cfg)
	if err != nil {
		n.t.Fatal(err)
	}
	n.proc = p
	races.name(p.Process.Pid, n.host.Name+": tandem run")
}

// log returns what the process printed.
func (n *node) log() string { return n.proc.Output() }

// hasVIP reports whether vip is configured on the host's lan0.
func (n *node) hasVIP(vip string) bool {
	addrs, err := n.host.Addrs()
	if err != nil {
		n.t.Fatalf("%s: %v", n.host.Name, err)
	}
	want := netip.MustParseAddr(vip)
	return slices.ContainsFunc(addrs, func(p netip.Prefix) bool { return p.Addr() == want })
}

// entered reports how often the log says the instance entered state.
func (n *node) entered(instance, state string) int {
	return strings.Count(n.log(), fmt.Sprintf("(%s) Entering %s STATE", instance, state))
}

// eventually polls cond every 20 ms until it holds or d has passed; what
// describes the failure at that moment.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	eventuallyf(t, d, func() string { return what }, cond)
}

func eventuallyf(t *testing.T, d time.Duration, what func() string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("after %v: %s", d, what())
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// holders returns the nodes that hold vip.
func holders(nodes []*node, vip string) []string {
	var out []string
	for _, n := range nodes {
		if n.hasVIP(vip) {
			out = append(out, n.host.Name)
		}
	}
	return out
}

// onlyHolder waits until exactly want holds vip, and it stays so for hold.
func onlyHolder(t *testing.T, nodes []*node, vip, want string, within, hold time.Duration) {
	t.Helper()
	eventuallyf(t, within, func() string { return fmt.Sprintf("%s alone holds %s (holders: %v)", want, vip, holders(nodes, vip)) }, func() bool {
		return slices.Equal(holders(nodes, vip), []string{want})
	})
	end := time.Now().Add(hold)
	for time.Now().Before(end) {
		if h := holders(nodes, vip); !slices.Equal(h, []string{want}) {
			t.Fatalf("%s moved: holders %v, want only %s", vip, h, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// neighborOf waits until the client's neighbour entry for vip is mac.
func neighborOf(t *testing.T, client *netlab.Host, vip string, want *netlab.Host, within time.Duration) {
	t.Helper()
	ip := netip.MustParseAddr(vip)
	eventually(t, within, fmt.Sprintf("%s's neighbour entry for %s is %s's MAC %s", client.Name, vip, want.Name, want.MAC()), func() bool {
		mac, err := client.Neighbor(ip)
		return err == nil && mac.String() == want.MAC().String()
	})
}

// instanceConfig renders a one-instance tandem configuration.
func instanceConfig(name string, prio int, extra string) string {
	return fmt.Sprintf(`global {
  router_id      = %q
  control_socket = "/run/tandem-e2e-%s-%d.sock"
}

vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = %d
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]
%s
}
`, name, name, os.Getpid(), prio, extra)
}

// ipv6Config is instanceConfig with IPv6 VIPs, the link-local one first.
func ipv6Config(name string, prio int, extra string) string {
	return strings.Replace(instanceConfig(name, prio, extra), `["198.51.100.10/24"]`, `["fe80::51/64", "2001:db8::10/64"]`, 1)
}
