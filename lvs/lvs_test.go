package lvs

import (
	"fmt"
	"math/rand/v2"
	"net/netip"
	"slices"
	"strings"
	"testing"
)

func addr(s string) netip.Addr { return netip.MustParseAddr(s) }

func web(reals ...Real) VirtualServer {
	return VirtualServer{
		Name:    "web",
		Service: Service{ServiceKey: ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}, Scheduler: "wlc", Netmask: 32},
		Reals:   reals,
		Quorum:  1,
	}
}

func real(n, w int) Real {
	a := addr(fmt.Sprintf("203.0.113.%d", n))
	return Real{Name: fmt.Sprintf("203.0.113.%d:80", n), Dest: Dest{DestKey: DestKey{a, 80}, Weight: w, Forward: Masq}}
}

func upSet(names ...string) func(vs, rs string) bool {
	return func(_, rs string) bool { return slices.Contains(names, rs) }
}

// weights renders the destinations of the only service: "21=1 22=0".
func weights(t Table) string {
	var out []string
	for _, s := range t {
		for _, dk := range sortedDests(s.Dests) {
			out = append(out, fmt.Sprintf("%d=%d", dk.Addr.As4()[3], s.Dests[dk].Weight))
		}
	}
	return strings.Join(out, " ")
}

func TestDesired(t *testing.T) {
	r1, r2, r3 := real(21, 1), real(22, 2), real(23, 3)
	sorry := &Dest{DestKey: DestKey{addr("203.0.113.99"), 80}, Weight: 1, Forward: Masq}
	cases := []struct {
		name    string
		vs      VirtualServer
		up      []string
		drained []string
		was     map[string]bool
		want    string
		quorum  bool
	}{
		{"all up: configured weights", web(r1, r2, r3), []string{r1.Name, r2.Name, r3.Name}, nil, nil, "21=1 22=2 23=3", true},
		{"a failed server is removed", web(r1, r2, r3), []string{r1.Name, r3.Name}, nil, nil, "21=1 23=3", true},
		{"inhibit_on_failure keeps it at weight 0", func() VirtualServer { v := web(r1, r2); v.InhibitOnFailure = true; return v }(), []string{r1.Name}, nil, nil, "21=1 22=0", true},
		{"a drained server stays at weight 0", web(r1, r2), []string{r1.Name, r2.Name}, []string{r2.Name}, nil, "21=1 22=0", true},
		{"quorum is total live weight: 1+3 >= 4", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; return v }(), []string{r1.Name, r3.Name}, nil, nil, "21=1 23=3", true},
		{"quorum lost: 1+2 < 4, no sorry server: the live ones stay", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; return v }(), []string{r1.Name, r2.Name}, nil, nil, "21=1 22=2", false},
		{"quorum lost: the sorry server replaces the real servers", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; v.Sorry = sorry; return v }(), []string{r1.Name, r2.Name}, nil, nil, "99=1", false},
		{"drained servers count 0 toward quorum", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; v.Sorry = sorry; return v }(), []string{r1.Name, r3.Name}, []string{r3.Name}, nil, "99=1", false},
		{"hysteresis: up stays up down to quorum - hysteresis", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; v.Hysteresis = 1; v.Sorry = sorry; return v }(), []string{r3.Name}, nil, map[string]bool{"web": true}, "23=3", true},
		{"hysteresis: up is lost below quorum - hysteresis", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; v.Hysteresis = 1; v.Sorry = sorry; return v }(), []string{r2.Name}, nil, map[string]bool{"web": true}, "99=1", false},
		{"hysteresis: down stays down below quorum + hysteresis", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; v.Hysteresis = 1; v.Sorry = sorry; return v }(), []string{r1.Name, r3.Name}, nil, map[string]bool{"web": false}, "99=1", false},
		{"hysteresis: down is regained at quorum + hysteresis", func() VirtualServer { v := web(r1, r2, r3); v.Quorum = 4; v.Hysteresis = 1; v.Sorry = sorry; return v }(), []string{r2.Name, r3.Name}, nil, map[string]bool{"web": false}, "22=2 23=3", true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tab, q := Desired([]VirtualServer{c.vs}, State{Up: upSet(c.up...), Drained: upSet(c.drained...), QuorumUp: c.was})
			if got := weights(tab); got != c.want || q["web"] != c.quorum {
				t.Errorf("got %q quorum %v, want %q quorum %v", got, q["web"], c.want, c.quorum)
			}
		})
	}
}

func opStrings(ops []Op) []string {
	var out []string
	for _, o := range ops {
		out = append(out, o.String())
	}
	return out
}

func TestDiffMinimal(t *testing.T) {
	base, _ := Desired([]VirtualServer{web(real(21, 1), real(22, 2))}, State{Up: upSet("203.0.113.21:80", "203.0.113.22:80")})
	foreign := &Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.10"), Port: 53}, Scheduler: "rr", Dests: map[DestKey]Dest{}}
	gone := &Service{ServiceKey: ServiceKey{Fwmark: 7}, Scheduler: "rr", Dests: map[DestKey]Dest{}}
	owned := func(k ServiceKey) bool { return k == gone.ServiceKey || base[k] != nil }
	web := base[ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}]

	changed := base.Clone()
	cw := changed[web.ServiceKey]
	d := cw.Dests[DestKey{addr("203.0.113.22"), 80}]
	d.Weight = 5
	cw.Dests[d.DestKey] = d
	cw.Scheduler = "rr"
	delete(cw.Dests, DestKey{addr("203.0.113.21"), 80})
	cw.Dests[DestKey{addr("203.0.113.23"), 80}] = Dest{DestKey: DestKey{addr("203.0.113.23"), 80}, Weight: 1}

	actual := base.Clone()
	actual[foreign.ServiceKey] = foreign
	actual[gone.ServiceKey] = gone
	stray := Dest{DestKey: DestKey{addr("203.0.113.66"), 80}, Weight: 1}
	actual[web.ServiceKey].Dests[stray.DestKey] = stray

	for _, c := range []struct {
		name            string
		desired, actual Table
		want            []string
	}{
		{"equal: nothing", base, base.Clone(), nil},
		{"foreign service untouched, owned one removed, stray destination of ours removed", base, actual, []string{
			"del-service FWM 7 IPv4",
			"del-dest TCP 198.51.100.10:80 203.0.113.66:80",
		}},
		{"changes are updates, not delete and add", changed, base.Clone(), []string{
			"update-service TCP 198.51.100.10:80 rr flags=0x0 timeout=0",
			"del-dest TCP 198.51.100.10:80 203.0.113.21:80",
			"update-dest TCP 198.51.100.10:80 203.0.113.22:80 Masq w=5",
			"add-dest TCP 198.51.100.10:80 203.0.113.23:80 Masq w=1",
		}},
		{"from empty", base, Table{}, []string{
			"add-service TCP 198.51.100.10:80 wlc flags=0x0 timeout=0",
			"add-dest TCP 198.51.100.10:80 203.0.113.21:80 Masq w=1",
			"add-dest TCP 198.51.100.10:80 203.0.113.22:80 Masq w=2",
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := opStrings(Diff(c.desired, c.actual, owned)); !slices.Equal(got, c.want) {
				t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(c.want, "\n"))
			}
		})
	}
}

// randomTable makes n services from a small space, so that random tables
// overlap in services and destinations.
func randomTable(r *rand.Rand, n int) Table {
	t := Table{}
	scheds := []string{"rr", "wlc", "sh"}
	for range n {
		k := ServiceKey{Protocol: TCP, Addr: netip.AddrFrom4([4]byte{198, 51, 100, byte(r.IntN(8))}), Port: uint16(80 + r.IntN(3))}
		if r.IntN(5) == 0 {
			k = ServiceKey{Fwmark: uint32(1 + r.IntN(4)), IPv6: r.IntN(2) == 0}
		}
		s := &Service{ServiceKey: k, Scheduler: scheds[r.IntN(3)], Timeout: uint32(r.IntN(2) * 300), Netmask: 32, Dests: map[DestKey]Dest{}}
		for range r.IntN(5) {
			dk := DestKey{netip.AddrFrom4([4]byte{203, 0, 113, byte(r.IntN(10))}), 80}
			s.Dests[dk] = Dest{DestKey: dk, Weight: r.IntN(4), Forward: Forward(r.IntN(3)), Upper: uint32(r.IntN(2) * 100)}
		}
		t[k] = s
	}
	return t
}

// Applying Diff(desired, actual) to actual always arrives at desired, plus
// the foreign services, and a second Diff is empty.
func TestDiffProperty(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for i := range 2000 {
		desired, actual := randomTable(r, r.IntN(8)), randomTable(r, r.IntN(8))
		owned := func(k ServiceKey) bool { return k.Port != 82 } // services on :82 are someone else's
		m := &Memory{T: actual.Clone()}
		for _, op := range Diff(desired, actual, owned) {
			if err := m.Apply(op); err != nil {
				t.Fatalf("case %d: %v\ndesired:\n%sactual:\n%s", i, err, desired, actual)
			}
		}
		want := desired.Clone()
		for k, s := range actual {
			if _, ok := desired[k]; !ok && !owned(k) {
				want[k] = s
			}
		}
		if !Equal(m.T, want) {
			t.Fatalf("case %d: got\n%swant\n%s", i, m.T, want)
		}
		if again := Diff(desired, m.T, owned); len(again) != 0 {
			t.Fatalf("case %d: second diff not empty: %v", i, opStrings(again))
		}
	}
}

// Health changes visited in random orders, each reconciled as it comes,
// arrive at the same table as the final state computed at once.
func TestRandomOrders(t *testing.T) {
	vs := web(real(21, 1), real(22, 2), real(23, 3), real(24, 4))
	vs.Quorum, vs.Sorry = 5, &Dest{DestKey: DestKey{addr("203.0.113.99"), 80}, Weight: 1}
	final := map[string]bool{"203.0.113.21:80": true, "203.0.113.22:80": false, "203.0.113.23:80": true, "203.0.113.24:80": true}
	want, _ := Desired([]VirtualServer{vs}, State{Up: func(_, rs string) bool { return final[rs] }})
	r := rand.New(rand.NewPCG(3, 4))
	for range 200 {
		health := map[string]bool{}
		m := NewMemory()
		quorum := map[string]bool{}
		names := []string{"203.0.113.21:80", "203.0.113.22:80", "203.0.113.23:80", "203.0.113.24:80"}
		r.Shuffle(len(names), func(i, j int) { names[i], names[j] = names[j], names[i] })
		for _, n := range names {
			health[n] = final[n]
			tab, q := Desired([]VirtualServer{vs}, State{Up: func(_, rs string) bool { return health[rs] }, QuorumUp: quorum})
			quorum = q
			cur, _ := m.Table()
			for _, op := range Diff(tab, cur, nil) {
				if err := m.Apply(op); err != nil {
					t.Fatal(err)
				}
			}
		}
		if !Equal(m.T, want) {
			t.Fatalf("order %v: got\n%swant\n%s", names, m.T, want)
		}
	}
}

// A reconcile with nothing changed writes nothing.
func TestNoChangeNoWrites(t *testing.T) {
	want, _ := Desired([]VirtualServer{web(real(21, 1), real(22, 2))}, State{Up: upSet("203.0.113.21:80", "203.0.113.22:80")})
	m := NewMemory()
	for _, op := range Diff(want, m.T, nil) {
		m.Apply(op)
	}
	m.Writes = 0
	cur, _ := m.Table()
	for _, op := range Diff(want, cur, nil) {
		m.Apply(op)
	}
	if m.Writes != 0 {
		t.Errorf("%d writes for an unchanged table", m.Writes)
	}
}

// bigTables returns 10,000 services x 10 destinations, and a copy where 1%
// of the services have one destination's weight changed.
func bigTables() (Table, Table) {
	a := Table{}
	for i := range 10000 {
		k := ServiceKey{Protocol: TCP, Addr: netip.AddrFrom4([4]byte{198, 51, byte(100 + i/256/100), byte(i % 256)}), Port: uint16(1000 + i/256)}
		s := &Service{ServiceKey: k, Scheduler: "wlc", Netmask: 32, Dests: map[DestKey]Dest{}}
		for j := range 10 {
			dk := DestKey{netip.AddrFrom4([4]byte{203, 0, byte(j), byte(i % 256)}), 80}
			s.Dests[dk] = Dest{DestKey: dk, Weight: 1}
		}
		a[k] = s
	}
	b := a.Clone()
	n := 0
	for _, k := range sortedKeys(b) {
		if n%100 == 0 {
			s := b[k]
			dk := sortedDests(s.Dests)[0]
			d := s.Dests[dk]
			d.Weight = 7
			s.Dests[dk] = d
		}
		n++
	}
	return a, b
}

func TestBigDiff(t *testing.T) {
	a, b := bigTables()
	if ops := Diff(b, a, nil); len(ops) != 100 {
		t.Errorf("%d ops for 100 changed weights", len(ops))
	}
}

// BenchmarkDiff10k: 10,000 services x 10 destinations, 1% changed.
func BenchmarkDiff10k(b *testing.B) {
	actual, desired := bigTables()
	for b.Loop() {
		Diff(desired, actual, nil)
	}
}
