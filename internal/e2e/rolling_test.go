package e2e

import (
	"encoding/json"
	"fmt"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/director"
)

// A VIP-list change is rolled out one director at a time: until both
// have it, each director's adverts carry a list the other does not. Such
// adverts used to be dropped, so the backup became master too (issue
// 12). Now they are accepted and counted: one master throughout.

const vip20 = "198.51.100.20"

// addVIP20 gives a tandem configuration a second virtual IP.
func addVIP20(cfg string) string {
	return strings.Replace(cfg, `"198.51.100.10/24"]`, `"198.51.100.10/24", "198.51.100.20/24"]`, 1)
}

// rollingHold is how long a half-rolled change is watched: past the
// backup's master-down interval (3 adverts and its skew).
func rollingHold(interval time.Duration) time.Duration { return 4*interval + 300*time.Millisecond }

// mismatches is the count of accepted adverts with another list that
// the tandem with control socket name reports in its status.
func mismatches(t *testing.T, name string) uint64 {
	t.Helper()
	out, code := tandemCLI(t, name, "status", "--json")
	if code != 0 {
		t.Fatalf("tandem status on %s: exit %d\n%s", name, code, out)
	}
	var st director.Status
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		t.Fatalf("status: %v\n%s", err, out)
	}
	for _, in := range st.Instances {
		if m := in.AddressListMismatch; in.Name == "web" && m != nil {
			if m.From == "" || len(m.VIPs) == 0 {
				t.Errorf("%s: mismatch without sender or VIPs: %+v", name, m)
			}
			return m.Count
		}
	}
	return 0
}

func TestRollingVIPChange(t *testing.T) {
	for _, v := range []struct {
		version  int
		interval time.Duration
	}{{3, 100 * time.Millisecond}} { // v2 (1 s adverts): with keepalived below; tandem's v2 acceptance in vrrp's TestAddrListMismatchAccepted
		t.Run(fmt.Sprintf("v%d", v.version), func(t *testing.T) {
			lab := newLab(t)
			hs, _ := hosts(t, lab, 2)
			conf := func(name string, prio int) string {
				c := instanceConfig(name, prio, fmt.Sprintf("  version = %d", v.version))
				return strings.Replace(c, `"100ms"`, fmt.Sprintf("%q", v.interval.String()), 1)
			}
			d1 := startTandem(t, hs[0], conf("d1", 150))
			d2 := startTandem(t, hs[1], conf("d2", 100))
			nodes := []*node{d1, d2}
			onlyHolder(t, nodes, vip, "d1", 5*v.interval+3*time.Second, v.interval)
			masters := d2.entered("web", "MASTER")

			// The backup first, then the master, as an operator rolls it.
			d2.rewrite(addVIP20(conf("d2", 100)))
			mustReload(t, "d2")
			onlyHolder(t, nodes, vip, "d1", time.Second, rollingHold(v.interval))
			d1.rewrite(addVIP20(conf("d1", 150)))
			mustReload(t, "d1")
			onlyHolder(t, nodes, vip20, "d1", time.Second, rollingHold(v.interval))
			if h := holders(nodes, vip); len(h) != 1 || h[0] != "d1" {
				t.Errorf("holders of %s: %v, want d1", vip, h)
			}
			if n := d2.entered("web", "MASTER"); n != masters {
				t.Errorf("d2 became master %d times during the change:\n%s", n-masters, d2.log())
			}
			if n := mismatches(t, "d2"); n == 0 {
				t.Error("d2's status counts no advert with another address list")
			}
			if !strings.Contains(d2.log(), "accepted (RFC 9568)") {
				t.Errorf("d2 did not log the mismatch:\n%s", d2.log())
			}
		})
	}
}

// The same with keepalived 2.2.7 as the other director, master or
// backup. keepalived drops such adverts unless vrrp_skip_check_adv_addr
// is set, which then accepts them from the master it already follows,
// but not after its own reload: with keepalived 2.2.7 as the backup, the
// master is reloaded first (the README says so).
func TestKeepalivedRollingVIPChange(t *testing.T) {
	for _, m := range []mode{v3mc, {version: 2, interval: time.Second}} {
		for _, kaMaster := range []bool{false, true} {
			if m.version == 2 && kaMaster {
				continue // tandem as the v2 backup: TestRollingVIPChange/v2
			}
			t.Run(fmt.Sprintf("v%d/keepalived_master=%v", m.version, kaMaster), func(t *testing.T) {
				kaPrio, tdPrio, master := 100, 150, "td"
				if kaMaster {
					kaPrio, tdPrio, master = 150, 100, "ka"
				}
				x := newInterop(t, m, kaPrio, tdPrio)
				kaConf := func(extra bool) string {
					c := strings.Replace(x.keepalivedConf(kaPrio), "router_id ka\n", "router_id ka\n  vrrp_skip_check_adv_addr\n", 1)
					if extra {
						c = strings.Replace(c, "    198.51.100.10/24\n", "    198.51.100.10/24\n    198.51.100.20/24\n", 1)
					}
					return c
				}
				x.ka.rewrite(kaConf(false))
				x.startBoth()
				nodes := x.nodes()
				onlyHolder(t, nodes, vip, master, 5*m.interval+5*time.Second, m.interval)
				kaMasters, tdMasters := x.ka.entered("web", "MASTER"), x.td.entered("web", "MASTER")

				reloadKA := func() {
					x.ka.rewrite(kaConf(true))
					if err := x.ka.proc.Process.Signal(syscall.SIGHUP); err != nil {
						t.Fatal(err)
					}
					waitLog(t, x.ka.node, "Reloading", 5*time.Second)
				}
				reloadTD := func() {
					x.td.rewrite(addVIP20(x.tandemConf(tdPrio)))
					mustReload(t, "ka")
				}
				// tandem first: as master (keepalived 2.2.7, reloaded, forgets
				// the master it followed and drops the old list again) and as
				// backup (tandem accepts the master's old list).
				reloadTD()
				onlyHolder(t, nodes, vip, master, time.Second, rollingHold(m.interval))
				reloadKA()
				onlyHolder(t, nodes, vip20, master, 2*time.Second, rollingHold(m.interval))
				if h := holders(nodes, vip); len(h) != 1 || h[0] != master {
					t.Errorf("holders of %s: %v, want %s", vip, h, master)
				}
				if kaMaster {
					if n := x.td.entered("web", "MASTER"); n != tdMasters {
						t.Errorf("tandem became master %d times during the change:\n%s", n-tdMasters, x.td.log())
					}
					if n := mismatches(t, "ka"); n == 0 {
						t.Error("tandem's status counts no advert with another address list")
					}
				} else if n := x.ka.entered("web", "MASTER"); n != kaMasters {
					t.Errorf("keepalived became master %d times during the change:\n%s", n-kaMasters, x.ka.log())
				}
			})
		}
	}
}
