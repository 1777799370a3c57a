package guest

import (
	"net/netip"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// Restart without outage (NAT): a client asks the VIP every 50 ms on new
// connections while tandem is SIGKILLed and started again with the same
// configuration. The kernel table stays while tandem is dead, and at the
// restart the real servers already in the kernel keep their place until
// their first check: no request fails, and no real server ever leaves the
// table (ipvsadm watched every 100 ms).
func TestTandemRestartWithoutOutage(t *testing.T) {
	vmtest.NeedVM(t)
	h, client, _, _ := natLab(t, "198.51.100.11/24")
	check := httpCheck("300ms", "200ms", 2, 2)
	d := newDirector(t, h, vrrpWeb+`virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "rr"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
`+check+`  }
  real_server "203.0.113.22:80" {
`+check+`  }
}
`)
	const (
		web  = "TCP 198.51.100.10:80"
		both = "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
	)
	d.start()
	d.waitDests(web, both, 10*time.Second)
	d.waitMaster("web", 5*time.Second)

	var (
		mu       sync.Mutex
		fails    []string
		n        int
		slowest  time.Duration
		tables   []string // table states other than both, seen by the watcher
		stop     = make(chan struct{})
		wg       sync.WaitGroup
		answered = map[string]int{}
		vipGone  time.Time       // the VIP is off the director since
		vipGaps  []time.Duration // how long it was off, each time
	)
	c := httpClient(client)
	wg.Add(2)
	go func() { // the client
		defer wg.Done()
		tick := time.NewTicker(50 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			start := time.Now()
			b, err := get(c, "http://198.51.100.10/")
			took := time.Since(start)
			mu.Lock()
			n++
			slowest = max(slowest, took)
			if err != nil {
				fails = append(fails, time.Now().Format("15:04:05.000")+" "+err.Error())
			} else {
				answered[b]++
			}
			mu.Unlock()
		}
	}()
	go func() { // the witness
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(100 * time.Millisecond):
			}
			if got := dests(d.table(), web); got != both {
				mu.Lock()
				tables = append(tables, got)
				mu.Unlock()
			}
			addrs, _ := h.Addrs()
			has := slices.Contains(addrs, netip.MustParsePrefix("198.51.100.10/24"))
			mu.Lock()
			switch {
			case !has && vipGone.IsZero():
				vipGone = time.Now()
			case has && !vipGone.IsZero():
				vipGaps = append(vipGaps, time.Since(vipGone).Round(10*time.Millisecond))
				vipGone = time.Time{}
			}
			mu.Unlock()
		}
	}()

	time.Sleep(time.Second)
	d.kill()
	killed := time.Now()
	time.Sleep(700 * time.Millisecond) // dead for a while: the kernel serves alone
	d.start()
	d.waitMaster("web", 5*time.Second)
	t.Logf("tandem back as master %v after the kill", time.Since(killed).Round(10*time.Millisecond))
	// Past the first checks and a rise of each real server.
	time.Sleep(2 * time.Second)
	close(stop)
	wg.Wait()

	// A restarted director enters BACKUP and takes the VIP only after a
	// master-down interval, as keepalived does; TCP's SYN retry covers it.
	t.Logf("%d requests, answers %v, slowest %v; VIP off the director for %v", n, answered, slowest.Round(time.Millisecond), vipGaps)
	if len(fails) > 0 {
		t.Errorf("%d of %d requests failed across the restart:\n%v", len(fails), n, fails)
	}
	if len(tables) > 0 {
		t.Errorf("the table changed across the restart: %q", tables)
	}
	if answered["rs1"] == 0 || answered["rs2"] == 0 {
		t.Errorf("answers %v: want both real servers", answered)
	}
}
