package guest

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/netlab"
	"github.com/tandemlb/tandem/internal/vmtest"
)

// vrrpWeb is the VRRP instance of the single-director scenarios: the VIP
// 198.51.100.10 on lan0, master after one master-down interval.
const vrrpWeb = `vrrp_instance "web" {
  interface         = "lan0"
  virtual_router_id = 51
  advert_interval   = "100ms"
  virtual_ips       = ["198.51.100.10/24"]
}
`

// wrr through tandem run: weights 3 and 1 from the configuration, 100
// requests through the VIP (NAT) on new connections; wrr over a multiple
// of the weight sum gives exactly 75 and 25.
func TestTandemWRRWeights(t *testing.T) {
	vmtest.NeedVM(t)
	h, client, _, _ := natLab(t, "198.51.100.11/24")
	d := newDirector(t, h, vrrpWeb+`virtual_server "web_http" {
  address    = "198.51.100.10:80"
  scheduler  = "wrr"
  forwarding = "nat"
  real_server "203.0.113.21:80" {
    weight = 3
  }
  real_server "203.0.113.22:80" {
    weight = 1
  }
}
`)
	d.start()
	d.waitDests("TCP 198.51.100.10:80", "203.0.113.21:80=Masq 3 203.0.113.22:80=Masq 1", 10*time.Second)
	d.waitMaster("web", 5*time.Second)

	c := httpClient(client)
	count := map[string]int{}
	var seq strings.Builder
	start := time.Now()
	for i := range 100 {
		b, err := get(c, "http://198.51.100.10/")
		if err != nil {
			t.Fatalf("request %d: %v", i+1, err)
		}
		count[b]++
		seq.WriteString(strings.TrimPrefix(b, "rs"))
	}
	t.Logf("100 requests in %v: rs1 %d, rs2 %d; sequence %s", time.Since(start).Round(time.Millisecond), count["rs1"], count["rs2"], seq.String())
	if count["rs1"] != 75 || count["rs2"] != 25 {
		t.Errorf("wrr 3:1 over 100 requests gave rs1 %d, rs2 %d; want 75 and 25", count["rs1"], count["rs2"])
	}
	// Every window of 4 consecutive answers (one wrr round) holds one rs2.
	s := seq.String()
	for i := 0; i+4 <= len(s); i += 4 {
		if n := strings.Count(s[i:i+4], "2"); n != 1 {
			t.Errorf("round %d (%s) has %d answers from rs2, want 1", i/4+1, s[i:i+4], n)
			break
		}
	}
}

// Health through tandem run on three virtual servers over the same two
// real servers (NAT):
//
//   - plain: a stopped real server leaves within fall x interval + timeout
//     and comes back within rise x interval of its restart;
//   - inhibit: inhibit_on_failure keeps it listed at weight 0 while down;
//   - quorum: quorum 2 (two servers of weight 1): with one down the sorry
//     server replaces the real servers and answers through the VIP; when
//     the server is back the real servers return and the sorry one leaves.
func TestTandemHealthRiseInhibitSorry(t *testing.T) {
	vmtest.NeedVM(t)
	l := netlab.NewT(t)
	h := addNATDirector(t, l, "198.51.100.11/24")
	rs1 := addRealServer(t, l, "rs1", "203.0.113.21/24")
	rs2 := addRealServer(t, l, "rs2", "203.0.113.22/24")
	sorry := addRealServer(t, l, "sorry", "203.0.113.99/24")
	client := l.MustAddHost(t, "client", "198.51.100.2/24")
	serveName(t, rs1, "203.0.113.21:80")
	stop2 := serveName(t, rs2, "203.0.113.22:80")
	serveName(t, sorry, "203.0.113.99:80")

	const (
		interval = 300 * time.Millisecond
		timeout  = 200 * time.Millisecond
		rise     = 2
		fall     = 2
	)
	check := httpCheck(interval.String(), timeout.String(), rise, fall)
	vs := func(name string, port int, extra string) string {
		return fmt.Sprintf(`virtual_server %q {
  address    = "198.51.100.10:%d"
  scheduler  = "rr"
  forwarding = "nat"
%s  real_server "203.0.113.21:80" {
%s  }
  real_server "203.0.113.22:80" {
%s  }
}
`, name, port, extra, check, check)
	}
	d := newDirector(t, h, vrrpWeb+
		vs("plain", 80, "")+
		vs("inhibit", 81, "  inhibit_on_failure = true\n")+
		vs("quorum", 82, "  quorum       = 2\n  sorry_server = \"203.0.113.99:80\"\n"))
	d.start()
	const (
		plain   = "TCP 198.51.100.10:80"
		inhibit = "TCP 198.51.100.10:81"
		quorum  = "TCP 198.51.100.10:82"
		both    = "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 1"
	)
	// Initial state is down: each real server enters after rise passes.
	for _, svc := range []string{plain, inhibit, quorum} {
		d.waitDests(svc, both, 10*time.Second)
	}
	d.waitMaster("web", 5*time.Second)
	c := httpClient(client)
	if b, err := get(c, "http://198.51.100.10:82/"); err != nil || !strings.HasPrefix(b, "rs") {
		t.Fatalf("quorum service with both up: %q, %v", b, err)
	}

	stop2()
	// fall x interval + timeout, plus the checker's spread and ipvsadm's
	// own pace under TCG.
	limit := fall*interval + timeout + 1500*time.Millisecond
	gone := d.waitDests(plain, "203.0.113.21:80=Masq 1", limit)
	t.Logf("down: rs2 left %s %v after it stopped (fall %d x %v + %v = %v)", plain, gone.Round(10*time.Millisecond), fall, interval, timeout, fall*interval+timeout)
	d.waitDests(inhibit, "203.0.113.21:80=Masq 1 203.0.113.22:80=Masq 0", 3*time.Second)
	d.waitDests(quorum, "203.0.113.99:80=Masq 1", 3*time.Second)
	t.Logf("down: %s %s; %s %s", inhibit, dests(d.table(), inhibit), quorum, dests(d.table(), quorum))
	for range 3 {
		if b, err := get(c, "http://198.51.100.10:82/"); err != nil || b != "sorry" {
			t.Errorf("quorum lost: answer %q, %v; want the sorry server", b, err)
		}
		if b, err := get(c, "http://198.51.100.10:81/"); err != nil || b != "rs1" {
			t.Errorf("inhibit: answer %q, %v; want rs1 only (rs2 has weight 0)", b, err)
		}
	}
	if !strings.Contains(d.output(), "quorum lost") {
		t.Errorf("no 'quorum lost' logged")
	}

	serveName(t, rs2, "203.0.113.22:80")
	restarted := time.Now()
	back := d.waitDests(plain, both, rise*interval+timeout+1500*time.Millisecond)
	t.Logf("up: rs2 back in %s %v after its restart (rise %d x %v = %v)", plain, back.Round(10*time.Millisecond), rise, interval, rise*interval)
	if back < (rise-1)*interval-50*time.Millisecond {
		t.Errorf("rs2 came back after %v, before rise (%d) checks could pass", back, rise)
	}
	d.waitDests(inhibit, both, 3*time.Second)
	d.waitDests(quorum, both, 3*time.Second)
	t.Logf("up: all three services have both real servers again %v after the restart", time.Since(restarted).Round(10*time.Millisecond))
	got := map[string]bool{}
	for range 4 {
		b, err := get(c, "http://198.51.100.10:82/")
		if err != nil {
			t.Fatal(err)
		}
		got[b] = true
	}
	if !got["rs1"] || !got["rs2"] || got["sorry"] {
		t.Errorf("quorum back: answers %v, want rs1 and rs2 and no sorry", got)
	}
	if !strings.Contains(d.output(), "quorum regained") {
		t.Errorf("no 'quorum regained' logged")
	}
}
