package nft

import (
	"flag"
	"math/rand/v2"
	"net/netip"
	"os"
	"slices"
	"testing"

	"github.com/tandemlb/tandem/internal/reconcile/reconciletest"
	"golang.org/x/sys/unix"
)

var update = flag.Bool("update", false, "rewrite the golden files")

func golden(t *testing.T, name, got string) {
	t.Helper()
	path := "testdata/" + name
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./nft -update to write it, then read it)", err)
	}
	if got != string(want) {
		t.Errorf("%s differs\n got:\n%s\nwant:\n%s", path, got, want)
	}
}

var a = netip.MustParseAddr

// services: one LIP, two LIPs, all ports, fwmark, IPv6 with two LIPs.
func services() []Service {
	return []Service{
		{Name: "web", Addr: a("198.51.100.10"), Proto: unix.IPPROTO_TCP, Port: 80, LIPs: []netip.Addr{a("203.0.113.250")}},
		{Name: "api", Addr: a("198.51.100.10"), Proto: unix.IPPROTO_TCP, Port: 443, LIPs: []netip.Addr{a("203.0.113.250"), a("203.0.113.251")}},
		{Name: "dns", Addr: a("198.51.100.11"), Proto: unix.IPPROTO_UDP, Port: 53, LIPs: []netip.Addr{a("203.0.113.252")}},
		{Name: "any", Addr: a("198.51.100.12"), Proto: unix.IPPROTO_TCP, LIPs: []netip.Addr{a("203.0.113.252")}},
		{Name: "marked", Fwmark: 7, LIPs: []netip.Addr{a("203.0.113.253")}},
		{Name: "web6", Addr: a("2001:db8::10"), Proto: unix.IPPROTO_TCP, Port: 80, LIPs: []netip.Addr{a("2001:db8::250"), a("2001:db8::251")}},
	}
}

func TestFullNATGolden(t *testing.T) {
	golden(t, "fullnat.golden", FullNAT(services()).Render())
}

func TestNoServicesNoTables(t *testing.T) {
	if s := FullNAT(nil); len(s) != 0 {
		t.Errorf("FullNAT(nil) = %v, want no tables", s.Render())
	}
}

// randomState draws tables from a small space (two keys, a few rule
// sets), so that random pairs are often equal, often not.
func randomState(r *rand.Rand) State {
	svcs := services()
	s := State{}
	for _, fam := range []Family{IPv4, IPv6} {
		if r.IntN(3) == 0 {
			continue
		}
		var pick []Service
		for _, sv := range svcs {
			if sv.family() == fam && r.IntN(2) == 0 {
				pick = append(pick, sv)
			}
		}
		if len(pick) == 0 {
			pick = svcs[:1]
			if fam == IPv6 {
				pick = svcs[5:]
			}
		}
		for k, t := range FullNAT(pick) {
			s[k] = t
		}
	}
	if r.IntN(4) == 0 {
		k := TableKey{Inet, "tandem_other"}
		s[k] = &Table{TableKey: k}
	}
	return s
}

// After the diff is applied, the state is the desired one (but for
// tables tandem does not own), and a second diff is empty; in whatever
// order the maps are walked, the ops are the same.
func TestDiffRandom(t *testing.T) {
	r := rand.New(rand.NewPCG(17, 1))
	for i := range 500 {
		desired, actual := randomState(r), randomState(r)
		ownAll := r.IntN(2) == 0
		owned := func(TableKey) bool { return ownAll }
		ops := Diff(desired, actual, owned)
		for range 5 { // maps walk in random orders
			if again := Diff(desired, actual, owned); !slices.EqualFunc(ops, again, func(x, y Op) bool { return x.String() == y.String() }) {
				t.Fatalf("case %d: Diff is not deterministic: %v then %v", i, ops, again)
			}
		}
		m := &Memory{Tables: actual}
		for _, op := range ops {
			m.Apply(op)
		}
		for k, want := range desired {
			if got := m.Tables[k]; got == nil || !got.Equal(want) {
				t.Fatalf("case %d: %s not as desired after %v", i, k, ops)
			}
		}
		for k := range m.Tables {
			if _, ok := desired[k]; !ok && ownAll {
				t.Fatalf("case %d: owned table %s left behind", i, k)
			}
		}
		if again := Diff(desired, m.Tables, owned); len(again) != 0 {
			t.Fatalf("case %d: second diff not empty: %v", i, again)
		}
	}
}

func TestDiffLeavesOthers(t *testing.T) {
	actual := State{{IPv4, "tandem_fullnat"}: {TableKey: TableKey{IPv4, "tandem_fullnat"}}}
	if ops := Diff(State{}, actual, func(TableKey) bool { return false }); len(ops) != 0 {
		t.Errorf("removed a table tandem does not own: %v", ops)
	}
	if ops := Diff(State{}, actual, func(TableKey) bool { return true }); len(ops) != 1 || ops[0].Kind != DelTable {
		t.Errorf("owned table not removed: %v", ops)
	}
}

// A rule changed by hand in tandem's table (or one added) makes the
// table differ: it is replaced whole.
func TestDiffForeignRule(t *testing.T) {
	desired := FullNAT(services()[:1])
	k := TableKey{IPv4, FullNATTable}
	changed := &Table{TableKey: k, Chains: []*Chain{{Name: "postrouting", Type: "nat", Hook: "postrouting", Priority: 100,
		Rules: append(slices.Clone(desired[k].Chains[0].Rules), Rule{Comment: "(a rule without tandem's comment, handle 9)"})}}}
	ops := Diff(desired, State{k: changed}, func(TableKey) bool { return true })
	if len(ops) != 1 || ops[0].Kind != ReplaceTable {
		t.Errorf("ops = %v, want one replace_table", ops)
	}
}

func TestCommentLength(t *testing.T) {
	long := Service{Name: string(make([]byte, 300)), Addr: a("198.51.100.10"), Proto: unix.IPPROTO_TCP, Port: 80, LIPs: []netip.Addr{a("203.0.113.250")}}
	r := FullNAT([]Service{long})[TableKey{IPv4, FullNATTable}].Chains[0].Rules[0]
	if len(r.Comment) > 128 {
		t.Errorf("comment is %d bytes, nft allows 128", len(r.Comment))
	}
}

func TestLIPsFromComments(t *testing.T) {
	got := LIPs(FullNAT(services()))
	if l := got["TCP 198.51.100.10:443"]; len(l) != 2 || l[1] != a("203.0.113.251") {
		t.Errorf("api LIPs = %v", l)
	}
	if l := got["FWM 7 ipv4"]; len(l) != 1 {
		t.Errorf("fwmark LIPs = %v (all: %v)", l, got)
	}
	if l := got["TCP [2001:db8::10]:80"]; len(l) != 2 {
		t.Errorf("IPv6 LIPs = %v (all: %v)", l, got)
	}
}

func filters() []AcceptFilter {
	return []AcceptFilter{
		{Key: "lan0_ipv4_51", Ingress: "lan0", VIPs: []netip.Addr{a("198.51.100.10"), a("198.51.100.20")}},
		{Key: "lan0_ipv6_51", Ingress: "lan0", VIPs: []netip.Addr{a("2001:db8::10")}},
		{Key: "lan1_ipv4_52", Ingress: "lan1"}, // holds nothing: no chain
	}
}

func TestFiltersGolden(t *testing.T) {
	golden(t, "filters.golden", Filters(filters()).Render())
	if s := Filters(filters()[2:]); len(s) != 0 {
		t.Errorf("a filter without VIPs made %s", s.Render())
	}
}

// The conformance check every table's loop passes: a pass over an
// applied state writes nothing, ownership file included.
func TestNoWritesWhenUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	var states []State
	for range 20 {
		states = append(states, Merge(randomState(r), Filters(filters()[r.IntN(3):])))
	}
	reconciletest.NoWritesWhenUnchanged(t, spec, &Memory{}, states)
}
