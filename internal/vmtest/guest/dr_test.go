package guest

import (
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// drHosts is a DR pair on one link: directors d1 (.11, priority 150) and
// d2 (.12, priority 100) sharing the VIP 198.51.100.10, real servers rs1
// (.21) and rs2 (.22) prepared with `tandem realserver --mode dr`, each
// answering HTTP on :80 ("NAME CLIENT-IP") and echoing lines on :7000,
// and a client (.2).
type drHosts struct {
	d1, d2, rs1, rs2, client *netlab.Host
}

const drVIP = "198.51.100.10"

func drLab(t *testing.T) drHosts {
	t.Helper()
	l := netlab.NewT(t)
	h := drHosts{
		d1:     l.MustAddHost(t, "d1", "198.51.100.11/24"),
		d2:     l.MustAddHost(t, "d2", "198.51.100.12/24"),
		rs1:    l.MustAddHost(t, "rs1", "198.51.100.21/24"),
		rs2:    l.MustAddHost(t, "rs2", "198.51.100.22/24"),
		client: l.MustAddHost(t, "client", "198.51.100.2/24"),
	}
	for _, rs := range []*netlab.Host{h.rs1, h.rs2} {
		state := t.TempDir()
		out := run(t, rs, "tandem", "realserver", "--vip", drVIP, "--mode", "dr", "--state-dir", state)
		for _, want := range []string{"lo: added " + drVIP + "/32", "net.ipv4.conf.all.arp_ignore = 1", "net.ipv4.conf.all.arp_announce = 2"} {
			if !strings.Contains(out, want) {
				t.Fatalf("%s: tandem realserver does not say %q:\n%s", rs.Name, want, out)
			}
		}
		if _, err := os.Stat(filepath.Join(state, "realserver.json")); err != nil {
			t.Fatalf("%s: tandem realserver left no state file: %v", rs.Name, err)
		}
		serveWho(t, rs, ":80")
		serveEcho(t, rs, ":7000")
	}
	// Idempotent: a second run on rs1 changes nothing.
	out := run(t, h.rs1, "tandem", "realserver", "--vip", drVIP, "--mode", "dr", "--state-dir", t.TempDir())
	if strings.Contains(out, "added") || strings.Contains(out, "(was") {
		t.Errorf("rs1: second tandem realserver changed something:\n%s", out)
	}
	return h
}

// drConfig is a director's configuration: the VRRP instance "web" (v3,
// 100 ms adverts) and DR virtual servers on :80 and :7000; extra is
// appended (lvs_sync).
func drConfig(priority int, extra string) string {
	return fmt.Sprintf(`vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  priority          = %d
  version           = 3
  advert_interval   = "100ms"
  virtual_ips       = ["%s/24"]
}
virtual_server "web_http" {
  address    = "%[2]s:80"
  scheduler  = "rr"
  forwarding = "dr"
  real_server "198.51.100.21:80" {
  }
  real_server "198.51.100.22:80" {
  }
}
virtual_server "echo" {
  address    = "%[2]s:7000"
  scheduler  = "rr"
  forwarding = "dr"
  real_server "198.51.100.21:7000" {
  }
  real_server "198.51.100.22:7000" {
  }
}
%s`, priority, drVIP, extra)
}

// startPair starts tandem on d1 and d2, waits for both tables and for d1
// as master.
func startPair(t *testing.T, h drHosts, extra string) (d1, d2 *director) {
	t.Helper()
	d1 = newDirector(t, h.d1, drConfig(150, extra))
	d2 = newDirector(t, h.d2, drConfig(100, extra))
	// d1 first: d2 then starts as the backup of a running master.
	d1.start()
	d1.waitMaster("web", 5*time.Second)
	d2.start()
	for _, d := range []*director{d1, d2} {
		d.waitDests("TCP "+drVIP+":80", "198.51.100.21:80=Route 1 198.51.100.22:80=Route 1", 10*time.Second)
		d.waitDests("TCP "+drVIP+":7000", "198.51.100.21:7000=Route 1 198.51.100.22:7000=Route 1", time.Second)
	}
	waitFor(t, 5*time.Second, "d2 backup", func() bool { return strings.Contains(d2.output(), "(web) Entering BACKUP STATE") })
	return d1, d2
}

// A DR pair through tandem run: both directors' tables hold the real
// servers (the backup's too), the client's requests to the VIP reach both
// real servers, which see the client's own address; the master's IPVS
// counts packets in and none out (replies go straight from the real
// servers to the client), and the backup sees no traffic.
func TestTandemDRPair(t *testing.T) {
	vmtest.NeedVM(t)
	h := drLab(t)
	d1, d2 := startPair(t, h, "")
	if strings.Contains(d2.output(), "Entering MASTER STATE") {
		t.Errorf("d2 (priority 100) became master beside d1 (150)")
	}

	c := httpClient(h.client)
	count := map[string]int{}
	for i := range 10 {
		b, err := get(c, "http://"+drVIP+"/")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		name, src, _ := strings.Cut(b, " ")
		if src != "198.51.100.2" {
			t.Errorf("%s saw the request from %q, want the client 198.51.100.2", name, src)
		}
		count[name]++
	}
	t.Logf("10 requests through the VIP: %v", count)
	if count["rs1"] != 5 || count["rs2"] != 5 {
		t.Errorf("rr over DR: %v, want 5 and 5", count)
	}
	mac, err := h.client.Neighbor(netip.MustParseAddr(drVIP))
	if err != nil || mac.String() != h.d1.MAC().String() {
		t.Errorf("the client's ARP entry for the VIP is %v (%v), want d1's %v", mac, err, h.d1.MAC())
	}
	// IPVS stats lag up to 2 s (the kernel's estimator).
	var conns, in, out int64
	waitFor(t, 5*time.Second, "d1's counters", func() bool {
		conns, in, out = d1.stats("TCP " + drVIP + ":80")
		return conns >= 10 && in >= 50
	})
	t.Logf("d1 (master) TCP %s:80: Conns %d InPkts %d OutPkts %d", drVIP, conns, in, out)
	if out != 0 {
		t.Errorf("d1 forwarded %d packets out: DR replies must bypass the director", out)
	}
	if c2, in2, out2 := d2.stats("TCP " + drVIP + ":80"); c2 != 0 || in2 != 0 || out2 != 0 {
		t.Errorf("d2 (backup) counted Conns %d InPkts %d OutPkts %d, want none", c2, in2, out2)
	}
}
