package guest

import (
	"bufio"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// Active/active directors behind ECMP: both d1 and d2 announce the VIP
// (the bgp neighbor here answers nobody: the announcement still puts the
// VIP on lo, which is what IPVS needs) and serve it at once. The client's
// route to the VIP stands in for the router's ECMP choice: `ip route
// replace ... nexthop via` moves a long-lived connection from d1 to d2.
// With mh + sloppy_tcp + DR + lvs_sync mode "both" it survives; with rr,
// no sync and no sloppy_tcp (the control) it breaks.

func ecmpConfig(addr, scheduler, extra string) string {
	return fmt.Sprintf(`virtual_server "echo" {
  address            = "%[1]s:7000"
  scheduler          = %[2]q
  forwarding         = "dr"
  inhibit_on_failure = true
  real_server "198.51.100.21:7000" {
  }
  real_server "198.51.100.22:7000" {
  }
}
bgp {
  asn       = 64512
  router_id = %[3]q
  neighbor "198.51.100.99" {
    asn       = 64500
    hold_time = "3s"
  }
}
announce "echo" {
  prefixes              = ["%[1]s/32"]
  track_virtual_servers = ["echo"]
}
%[4]s`, drVIP, scheduler, addr, extra)
}

const ecmpSurvive = `lvs {
  sloppy_tcp = true
}
lvs_sync {
  interface = "lan0"
  sync_id   = 8
  mode      = "both"
}
`

// moveConnection opens a connection through d1, echoes, moves the route
// to d2 and echoes again; it returns the error that ended it (nil if it
// survived) and the server that answered.
func moveConnection(t *testing.T, h drHosts, d2 *director, beforeMove func()) (error, string) {
	t.Helper()
	route := func(via string) {
		run(t, h.client, "ip", "route", "replace", drVIP+"/32", "nexthop", "via", via, "dev", "lan0")
	}
	route("198.51.100.11")
	c, err := dial(h.client, drVIP+":7000", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	r := bufio.NewReader(c)
	server := ""
	echo := func(i int) error {
		c.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := fmt.Fprintf(c, "%d\n", i); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		name, n, _ := strings.Cut(strings.TrimSpace(line), " ")
		if n != fmt.Sprint(i) || (server != "" && name != server) {
			return fmt.Errorf("echo %q for line %d (server so far %s)", line, i, server)
		}
		server = name
		return nil
	}
	for i := range 5 {
		if err := echo(i); err != nil {
			t.Fatalf("before the move: %v", err)
		}
		time.Sleep(50 * time.Millisecond)
	}
	if beforeMove != nil {
		beforeMove()
	}
	_, in0, _ := d2.stats("TCP " + drVIP + ":7000")
	route("198.51.100.12")
	// The client's cached route: flush so the next segment takes the new one.
	run(t, h.client, "ip", "route", "flush", "cache")
	for i := 5; i < 25; i++ {
		if err := echo(i); err != nil {
			return err, server
		}
		time.Sleep(50 * time.Millisecond)
	}
	waitFor(t, 5*time.Second, "d2's IPVS counts the moved connection's packets", func() bool {
		_, in, _ := d2.stats("TCP " + drVIP + ":7000")
		return in > in0
	})
	return nil, server
}

// startECMP (re)starts both directors with scheduler and extra and waits
// for their tables and announced VIPs.
func startECMP(t *testing.T, ds []*director, scheduler, extra string) {
	t.Helper()
	for i, d := range ds {
		if d.proc != nil {
			if err := d.proc.Stop(); err != nil {
				t.Fatal(err)
			}
		}
		d.write(ecmpConfig(fmt.Sprintf("198.51.100.1%d", i+1), scheduler, extra))
		d.start()
	}
	for _, d := range ds {
		d.waitDests("TCP "+drVIP+":7000", "198.51.100.21:7000=Route 1 198.51.100.22:7000=Route 1", 10*time.Second)
		waitFor(t, 5*time.Second, d.host.Name+": VIP on lo (announced)", func() bool {
			out, _ := d.host.Run("ip", "-o", "addr", "show", "dev", "lo")
			return strings.Contains(out, " "+drVIP+"/32")
		})
	}
}

func TestTandemECMPMove(t *testing.T) {
	vmtest.NeedVM(t)
	h := drLab(t)
	d1 := newDirector(t, h.d1, "")
	d2 := newDirector(t, h.d2, "")
	ds := []*director{d1, d2}

	startECMP(t, ds, "mh", ecmpSurvive)
	for _, d := range ds {
		waitFor(t, 5*time.Second, d.host.Name+": master and backup sync daemons", func() bool {
			out := d.ipvsadm("-Ln", "--daemon")
			return strings.Contains(out, "master sync daemon") && strings.Contains(out, "backup sync daemon")
		})
		if v, _ := d.host.Run("cat", "/proc/sys/net/ipv4/vs/sloppy_tcp"); strings.TrimSpace(v) != "1" {
			t.Errorf("%s: net.ipv4.vs.sloppy_tcp = %q, want 1", d.host.Name, v)
		}
	}
	err, server := moveConnection(t, h, d2, func() {
		// Synced: d2 knows the connection before it sees a packet of it.
		waitFor(t, 5*time.Second, "the connection in d2's table (synced from d1)", func() bool {
			return strings.Contains(d2.ipvsadm("-Lnc"), "ESTABLISHED")
		})
	})
	if err != nil {
		t.Fatalf("mh + sloppy_tcp + sync: the connection broke when ECMP moved it to d2: %v", err)
	}
	t.Logf("mh + sloppy_tcp + DR + sync both: the connection to %s survived the move from d1 to d2", server)

	// The control: rr, no sync, no sloppy_tcp.
	startECMP(t, ds, "rr", "")
	for _, d := range ds {
		if out := d.ipvsadm("-Ln", "--daemon"); strings.Contains(out, "sync daemon") {
			t.Errorf("%s: sync daemons still run after mode both was removed:\n%s", d.host.Name, out)
		}
	}
	err, _ = moveConnection(t, h, d2, nil)
	if err == nil {
		t.Fatal("control: with rr, no sync and no sloppy_tcp the moved connection should break, and it survived")
	}
	t.Logf("control (rr, no sync, no sloppy_tcp): the moved connection broke as expected: %v", err)
}
