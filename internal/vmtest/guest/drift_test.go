package guest

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

const (
	vsWeb = `virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "rr"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
  }
  real_server "203.0.113.22:80" {
  }
}
`
	vsAlt = `virtual_server "web_alt" {
  address    = "198.51.100.10:81"
  scheduler  = "wlc"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    weight = 2
  }
}
`
	vsOld = `virtual_server "web_old" {
  address    = "198.51.100.10:82"
  scheduler  = "rr"
  forwarding = "nat"
  real_server "203.0.113.22:80" {
  }
}
`
	vsEcho = `virtual_server "echo" {
  address    = "198.51.100.10:7000"
  scheduler  = "rr"
  forwarding = "nat"
  real_server "203.0.113.21:7000" {
  }
}
`
	lvsFast = `lvs {
  reconcile_interval = "1s"
}
`
)

// Drift and ownership through tandem run (reconcile_interval 1s): a
// service or a weight changed by hand with ipvsadm is repaired within the
// interval, so is a table flushed with ipvsadm -C; a service added by hand
// is left alone (and not brought back after -C); a virtual server removed
// from the configuration leaves the kernel after a restart of tandem (its
// ownership is recorded in the state directory) and, with `tandem reload`,
// at once, while the other services keep their entries, counters and
// established connections, and the hand-made service stays; with the
// ownership file damaged, tandem starts and removes nothing it does not own.
func TestTandemDriftAndOwnership(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	h := addNATDirector(t, l, "198.51.100.11/24")
	rs1 := addRealServer(t, l, "rs1", "203.0.113.21/24")
	rs2 := addRealServer(t, l, "rs2", "203.0.113.22/24")
	client := l.MustAddHost(t, "client", "198.51.100.2/24")
	serveName(t, rs1, "203.0.113.21:80")
	serveName(t, rs2, "203.0.113.22:80")
	serveEcho(t, rs1, "203.0.113.21:7000")

	d := newDirector(t, h, vrrpWeb+vsWeb+vsAlt+vsOld+vsEcho+lvsFast)
	const (
		web   = "TCP 198.51.100.10:80"
		alt   = "TCP 198.51.100.10:81"
		old   = "TCP 198.51.100.10:82"
		echo  = "TCP 198.51.100.10:7000"
		hand  = "TCP 198.51.100.10:8080"
		webRS = "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
		altRS = "203.0.113.21:80=Masq 2"
		oldRS = "203.0.113.22:80=Masq 1"
		ecRS  = "203.0.113.21:7000=Masq 1"
		hdRS  = "203.0.113.22:80=Masq 5"
	)
	d.start()
	d.waitDests(web, webRS, 10*time.Second)
	d.waitDests(alt, altRS, time.Second)
	d.waitDests(old, oldRS, time.Second)
	d.waitDests(echo, ecRS, time.Second)
	limit := time.Second + 2*time.Second // the interval, and TCG's pace
	addHand := func() {
		run(t, h, "ipvsadm", "-A", "-t", "198.51.100.10:8080", "-s", "rr")
		run(t, h, "ipvsadm", "-a", "-t", "198.51.100.10:8080", "-r", "203.0.113.22:80", "-m", "-w", "5")
	}
	addHand()

	run(t, h, "ipvsadm", "-D", "-t", "198.51.100.10:80")
	took := d.waitDests(web, webRS, limit)
	t.Logf("ipvsadm -D -t %s: restored after %v", web, took.Round(10*time.Millisecond))

	run(t, h, "ipvsadm", "-e", "-t", "198.51.100.10:80", "-r", "203.0.113.21:80", "-m", "-w", "9")
	took = d.waitDests(web, webRS, limit)
	t.Logf("weight 9 by hand: back to 1 after %v", took.Round(10*time.Millisecond))

	// Two reconcile passes later the hand-made service is as it was.
	time.Sleep(2200 * time.Millisecond)
	tab := d.table()
	if got := dests(tab, hand); got != hdRS {
		t.Errorf("the hand-made service %s is %q, want %q untouched", hand, got, hdRS)
	}
	if got := dests(tab, alt); got != altRS {
		t.Errorf("%s is %q, want %q", alt, got, altRS)
	}

	run(t, h, "ipvsadm", "-C")
	took = d.waitDests(web, webRS, limit)
	for svc, want := range map[string]string{alt: altRS, old: oldRS, echo: ecRS} {
		d.waitDests(svc, want, time.Second)
	}
	t.Logf("ipvsadm -C: tandem's services back after %v", took.Round(10*time.Millisecond))
	time.Sleep(1200 * time.Millisecond)
	if got := dests(d.table(), hand); got != "absent" {
		t.Errorf("after -C the hand-made service came back: %q; tandem must only restore its own", got)
	}

	// web_alt leaves the configuration: gone after a restart, the rest stays.
	addHand()
	if err := d.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := dests(d.table(), alt); got != altRS {
		t.Fatalf("%s after tandem stopped: %q, want it kept (flush_on_stop is off)", alt, got)
	}
	d.write(vrrpWeb + vsWeb + vsOld + vsEcho + lvsFast)
	d.start()
	took = d.waitDests(alt, "absent", 10*time.Second)
	t.Logf("restart without web_alt: %s removed %v after the start", alt, took.Round(10*time.Millisecond))
	tab = d.table()
	if got := dests(tab, web); got != webRS {
		t.Errorf("%s after the restart: %q, want %q", web, got, webRS)
	}
	if got := dests(tab, hand); got != hdRS {
		t.Errorf("the hand-made service after the restart: %q, want %q untouched", got, hdRS)
	}

	// web_old leaves the configuration with a reload, under traffic: an
	// echo connection through the VIP stays up across it, and web_http
	// keeps its counters (it was not recreated).
	d.waitMaster("web", 5*time.Second)
	c := httpClient(client)
	for range 4 {
		if _, err := get(c, "http://198.51.100.10/"); err != nil {
			t.Fatal(err)
		}
	}
	conn, err := dial(client, "198.51.100.10:7000", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	r := bufio.NewReader(conn)
	echoOnce := func(i int) error {
		conn.SetDeadline(time.Now().Add(3 * time.Second))
		if _, err := fmt.Fprintf(conn, "%d\n", i); err != nil {
			return err
		}
		line, err := r.ReadString('\n')
		if err != nil {
			return err
		}
		if want := fmt.Sprintf("rs1 %d\n", i); line != want {
			return fmt.Errorf("echo %q, want %q", line, want)
		}
		return nil
	}
	if err := echoOnce(1); err != nil {
		t.Fatal(err)
	}
	var connsBefore int64
	waitFor(t, 4*time.Second, "web_http's counters", func() bool {
		connsBefore, _, _ = d.stats(web)
		return connsBefore >= 4
	})
	connLine := func() string {
		for _, line := range strings.Split(d.ipvsadm("-Lnc"), "\n") {
			if strings.Contains(line, conn.LocalAddr().String()+" 198.51.100.10:7000") {
				f := strings.Fields(line)
				return strings.Join(append(f[:1:1], f[2:]...), " ") // without the expiry
			}
		}
		return "absent"
	}
	entry := connLine()
	d.write(vrrpWeb + vsWeb + vsEcho + lvsFast)
	out, err := h.Run("tandem", "reload", "-c", d.conf)
	if err != nil {
		t.Fatalf("tandem reload: %v", err)
	}
	t.Logf("tandem reload: %s", strings.TrimSpace(out))
	took = d.waitDests(old, "absent", 5*time.Second)
	t.Logf("reload without web_old: %s removed %v after tandem reload returned", old, took.Round(10*time.Millisecond))
	if err := echoOnce(2); err != nil {
		t.Errorf("the echo connection through the VIP after the reload: %v", err)
	}
	if got := connLine(); got != entry || entry == "absent" {
		t.Errorf("the echo connection's entry was %q before the reload and is %q after", entry, got)
	}
	tab = d.table()
	for svc, want := range map[string]string{web: webRS, echo: ecRS, hand: hdRS} {
		if got := dests(tab, svc); got != want {
			t.Errorf("%s after the reload: %q, want %q", svc, got, want)
		}
	}
	if conns, _, _ := d.stats(web); conns < connsBefore {
		t.Errorf("%s counted %d connections before the reload and %d after: it was recreated", web, connsBefore, conns)
	}

	// The ownership record is damaged while tandem is stopped, and echo
	// leaves the configuration meanwhile: tandem starts all the same (VRRP
	// too), sets the file aside with a warning that names it, and owns only
	// what the configuration names: echo stays, for the operator to remove.
	if err := d.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	state := filepath.Join(d.dir, "ipvs-services.json")
	if err := os.WriteFile(state, []byte(`[{"Fwmark": 0, "Proto`), 0o644); err != nil {
		t.Fatal(err)
	}
	d.write(vrrpWeb + vsWeb + lvsFast)
	d.start()
	d.waitMaster("web", 10*time.Second)
	time.Sleep(1200 * time.Millisecond) // a reconcile pass after the first
	tab = d.table()
	for svc, want := range map[string]string{web: webRS, echo: ecRS, hand: hdRS} {
		if got := dests(tab, svc); got != want {
			t.Errorf("%s after a start with a damaged ownership file: %q, want %q", svc, got, want)
		}
	}
	aside, _ := filepath.Glob(state + ".damaged-*")
	if len(aside) != 1 || !strings.Contains(d.output(), aside[0]) {
		t.Errorf("the damaged file set aside: %v; the log should name it:\n%s", aside, d.output())
	}
	var owned []struct{ Port int }
	if b, err := os.ReadFile(state); err != nil || json.Unmarshal(b, &owned) != nil || len(owned) != 1 || owned[0].Port != 80 {
		t.Errorf("the rebuilt ownership file holds %+v (%v), want web_http alone", owned, err)
	}
}
