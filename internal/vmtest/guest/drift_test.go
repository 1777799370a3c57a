package guest

import (
	"testing"
	"time"

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
// ownership is recorded in the state directory) while the others and the
// hand-made service stay.
func TestTandemDriftAndOwnership(t *testing.T) {
	vmtest.NeedVM(t)
	h, _, _, _ := natLab(t, "198.51.100.11/24")
	d := newDirector(t, h, vrrpWeb+vsWeb+vsAlt+lvsFast)
	const (
		web   = "TCP 198.51.100.10:80"
		alt   = "TCP 198.51.100.10:81"
		hand  = "TCP 198.51.100.10:8080"
		webRS = "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
		altRS = "203.0.113.21:80=Masq 2"
		hdRS  = "203.0.113.22:80=Masq 5"
	)
	d.start()
	d.waitDests(web, webRS, 10*time.Second)
	d.waitDests(alt, altRS, time.Second)
	limit := time.Second + 2*time.Second // the interval, and TCG's pace

	run(t, h, "ipvsadm", "-A", "-t", "198.51.100.10:8080", "-s", "rr")
	run(t, h, "ipvsadm", "-a", "-t", "198.51.100.10:8080", "-r", "203.0.113.22:80", "-m", "-w", "5")

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
	d.waitDests(alt, altRS, time.Second)
	t.Logf("ipvsadm -C: tandem's services back after %v", took.Round(10*time.Millisecond))
	time.Sleep(1200 * time.Millisecond)
	if got := dests(d.table(), hand); got != "absent" {
		t.Errorf("after -C the hand-made service came back: %q; tandem must only restore its own", got)
	}

	// web_alt leaves the configuration: gone after a restart, the rest stays.
	run(t, h, "ipvsadm", "-A", "-t", "198.51.100.10:8080", "-s", "rr")
	run(t, h, "ipvsadm", "-a", "-t", "198.51.100.10:8080", "-r", "203.0.113.22:80", "-m", "-w", "5")
	if err := d.proc.Stop(); err != nil {
		t.Fatal(err)
	}
	if got := dests(d.table(), alt); got != altRS {
		t.Fatalf("%s after tandem stopped: %q, want it kept (flush_on_stop is off)", alt, got)
	}
	d.write(vrrpWeb + vsWeb + lvsFast)
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
}
