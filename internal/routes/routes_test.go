package routes

import (
	"net/netip"
	"os"
	"strconv"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

func route(to, via string, metric int) Route {
	r := Route{Table: 254, To: netip.MustParsePrefix(to), Metric: metric, Type: "unicast"}
	if via != "" {
		r.Via = netip.MustParseAddr(via)
	}
	return r
}

func ops(o []Op) string {
	var s []string
	for _, op := range o {
		s = append(s, op.String())
	}
	return strings.Join(s, "; ")
}

// What the kernel chose (the interface of a route given a gateway) is no
// drift; a changed gateway is a removal and an addition; an address is
// removed only when tandem added it.
func TestDiff(t *testing.T) {
	want := route("203.0.113.0/24", "198.51.100.1", 0)
	have := want
	have.Dev = "lan0"
	if got := Diff(State{Routes: []Route{want}}, State{Routes: []Route{have}}, nil); len(got) != 0 {
		t.Errorf("kernel's dev taken for drift: %s", ops(got))
	}
	moved := route("203.0.113.0/24", "198.51.100.2", 0)
	if got := ops(Diff(State{Routes: []Route{moved}}, State{Routes: []Route{have}}, nil)); got !=
		"del route table 254 203.0.113.0/24 metric 0 via 198.51.100.1 dev lan0; add route table 254 203.0.113.0/24 metric 0 via 198.51.100.2" {
		t.Errorf("gateway changed: %s", got)
	}
	r1 := Rule{From: netip.MustParsePrefix("198.51.100.10/32"), Table: 100}
	r1k := r1
	r1k.Priority = 32765 // the kernel's pick
	if got := Diff(State{Rules: []Rule{r1}}, State{Rules: []Rule{r1k}}, nil); len(got) != 0 {
		t.Errorf("kernel's priority taken for drift: %s", ops(got))
	}
	if got := ops(Diff(State{Rules: []Rule{r1, r1}}, State{Rules: []Rule{r1k}}, nil)); got != "add rule inet from 198.51.100.10/32 table 100" {
		t.Errorf("a second equal rule: %s", got)
	}
	mine := Addr{Dev: "lan0", Prefix: netip.MustParsePrefix("203.0.113.5/24")}
	other := Addr{Dev: "lan0", Prefix: netip.MustParsePrefix("198.51.100.11/24")}
	owned := func(k string) bool { return k == mine.Key() }
	if got := ops(Diff(State{}, State{Addrs: []Addr{mine, other}}, owned)); got != "del address lan0 203.0.113.5/24" {
		t.Errorf("addresses: %s", got)
	}
}

// A configured IPv6 route with metric 0 is the kernel's 1024, so that it
// is not re-added every pass.
func TestFromRoute(t *testing.T) {
	r := FromRoute(config.Route{To: netip.MustParsePrefix("2001:db8:1::/48"), Dev: "lan0", Table: 254, Type: "unicast", Scope: "global"})
	if r.Metric != 1024 || r.Scope != "" {
		t.Errorf("%+v", r)
	}
}

// The package names the protocol in /etc/iproute2/rt_protos.d.
func TestProtocolFile(t *testing.T) {
	b, err := os.ReadFile("../../packaging/deb/rt_protos.tandem.conf")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), strconv.Itoa(Protocol)+"\ttandem\n") {
		t.Errorf("rt_protos.tandem.conf does not name %d tandem:\n%s", Protocol, b)
	}
	for _, f := range []string{"/usr/share/iproute2/rt_protos", "/etc/iproute2/rt_protos.d/frr.conf"} {
		b, err := os.ReadFile(f)
		if err != nil {
			continue
		}
		for _, l := range strings.Split(string(b), "\n") {
			if fs := strings.Fields(l); len(fs) > 0 && fs[0] == strconv.Itoa(Protocol) {
				t.Errorf("%s uses %d already: %s", f, Protocol, l)
			}
		}
	}
}
