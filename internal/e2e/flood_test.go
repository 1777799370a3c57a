package e2e

import (
	"context"
	"fmt"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/flood"
	"github.com/tandemlb/tandem/internal/netlab"
)

var dropRE = regexp.MustCompile(`(?m)^tandem_vrrp_packets_dropped_total\{interface="lan0",reason="([a-z_]+)"\} ([0-9.e+]+)$`)

// drops reads tandem_vrrp_packets_dropped_total by reason from a
// director's metrics.
func drops(t *testing.T, h *netlab.Host) map[string]int {
	t.Helper()
	body, err := h.HTTPGet("127.0.0.1:9110", "/metrics", 3*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, m := range dropRE.FindAllStringSubmatch(body, -1) {
		v, _ := strconv.ParseFloat(m[2], 64)
		out[m[1]] = int(v)
	}
	if len(out) == 0 {
		t.Fatalf("%s: no tandem_vrrp_packets_dropped_total in the metrics:\n%s", h.Name, body)
	}
	return out
}

// 10,000 bad adverts a second for 2 s from a third host against a pair at
// 100 ms adverts: no transition on either director, every bad advert
// counted under its reason on both, and the log says so in a few lines
// (at most one per reason per 10 s).
func TestBadAdvertFlood(t *testing.T) {
	lab := newLab(t)
	hs, _ := hosts(t, lab, 2)
	attacker := lab.MustAddHost(t, "attacker", "198.51.100.66/24")
	metrics := `  metrics_listen = "127.0.0.1:9110"` + "\n  control_socket"
	d1 := startTandem(t, hs[0], strings.Replace(instanceConfig("d1", 150, ""), "  control_socket", metrics, 1))
	d2 := startTandem(t, hs[1], strings.Replace(instanceConfig("d2", 100, ""), "  control_socket", metrics, 1))
	onlyHolder(t, []*node{d1, d2}, "198.51.100.10", "d1", 5*time.Second, 500*time.Millisecond)
	var s *flood.Sender
	if err := attacker.Do(func() (err error) {
		s, err = flood.NewSender(netlab.NIC, netip.MustParseAddr("198.51.100.66"), []uint8{51})
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	nodes := []*node{d1, d2}
	before := map[*node]map[string]int{}
	entered := map[*node]int{}
	logLen := map[*node]int{}
	for _, n := range nodes {
		before[n] = drops(t, n.host)
		entered[n] = strings.Count(n.log(), "Entering")
		logLen[n] = len(n.log())
	}
	sent, err := s.Run(context.Background(), 10000, 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(300 * time.Millisecond) // the last packets reach the counters
	t.Logf("sent %d bad adverts in 2 s: %v", sent, s.Sent)
	if sent < 19000 {
		t.Fatalf("only %d adverts sent in 2 s", sent)
	}
	for _, n := range nodes {
		if e := strings.Count(n.log(), "Entering"); e != entered[n] {
			t.Errorf("%s: %d transitions during the flood:\n%s", n.host.Name, e-entered[n], n.log()[logLen[n]:])
		}
		after := drops(t, n.host)
		var got []string
		for reason, want := range s.Sent {
			d := after[reason] - before[n][reason]
			got = append(got, fmt.Sprintf("%s=%d", reason, d))
			// The socket's buffer may overflow on a busy machine: the
			// kernel's drops are not tandem's to count.
			if d < want*9/10 || d > want {
				t.Errorf("%s: %d %s drops counted, %d sent", n.host.Name, d, reason, want)
			}
		}
		t.Logf("%s: drops %s, overflow=%d", n.host.Name, strings.Join(got, " "), after["overflow"]-before[n]["overflow"])
		lines := strings.Count(n.log()[logLen[n]:], "\n")
		if lines > len(flood.Kinds)+5 {
			t.Errorf("%s: %d log lines during the flood, not rate-limited:\n%s", n.host.Name, lines, n.log()[logLen[n]:])
		}
	}
	if !d1.hasVIP("198.51.100.10") || d2.hasVIP("198.51.100.10") {
		t.Errorf("the VIP moved: d1 %v, d2 %v", d1.hasVIP("198.51.100.10"), d2.hasVIP("198.51.100.10"))
	}
}
