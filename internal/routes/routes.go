// Package routes keeps the routes, policy-routing rules and addresses
// tandem installs (static_* in global, virtual_routes / virtual_rules of
// the instances that are MASTER) in the kernel, through netlink, with the
// reconcile loop the IPVS table uses: what the configuration wants is
// added, what it no longer wants is removed, and what someone removes
// behind tandem's back is put back at the next pass.
//
// Only tandem's own entries are ever touched: its routes and rules carry
// the route protocol Protocol (87, "tandem" in
// /etc/iproute2/rt_protos.d/tandem.conf; neither iproute2 nor FRR use
// it), and the addresses it added are recorded in the loop's state file.
package routes

import (
	"fmt"
	"iter"
	"net/netip"
	"slices"
	"strings"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/internal/reconcile"
)

// Protocol marks tandem's routes and rules (ip route ... proto tandem).
const Protocol = 87

// State is the host state tandem wants, or the part of the kernel's it
// may touch.
type State struct {
	Routes []Route
	Rules  []Rule
	Addrs  []Addr
}

// Route is one route. Zero fields of a wanted route match whatever the
// kernel chose (the interface of a route given only a gateway).
type Route struct {
	Table  int
	To     netip.Prefix
	Via    netip.Addr
	Dev    string
	Src    netip.Addr
	Metric int
	Scope  string // "" universe
	Type   string // unicast, blackhole, unreachable, prohibit
}

// Key is the kernel's identity of a route: table, destination, metric.
func (r Route) Key() string {
	return fmt.Sprintf("route table %d %s metric %d", r.Table, r.To, r.Metric)
}

func (r Route) String() string {
	var b strings.Builder
	b.WriteString(r.Key())
	if r.Type != "unicast" {
		b.WriteString(" " + r.Type)
	}
	if r.Via.IsValid() {
		b.WriteString(" via " + r.Via.String())
	}
	if r.Dev != "" {
		b.WriteString(" dev " + r.Dev)
	}
	if r.Src.IsValid() {
		b.WriteString(" src " + r.Src.String())
	}
	if r.Scope != "" {
		b.WriteString(" scope " + r.Scope)
	}
	return b.String()
}

// matches: the kernel's route have is the wanted route r.
func (r Route) matches(have Route) bool {
	return r.Key() == have.Key() && r.Type == have.Type &&
		(!r.Via.IsValid() || r.Via == have.Via) && (r.Dev == "" || r.Dev == have.Dev) &&
		(!r.Src.IsValid() || r.Src == have.Src) && r.Scope == have.Scope
}

// Rule is one policy-routing rule; Priority 0 lets the kernel choose.
type Rule struct {
	IPv6     bool
	From, To netip.Prefix
	IIF, OIF string
	Fwmark   uint32
	Table    int
	Priority int
}

// Key is the rule as ip rule writes it; rules have no identity but all
// of their fields.
func (r Rule) Key() string {
	fam := "inet"
	if r.IPv6 {
		fam = "inet6"
	}
	s := "rule " + fam
	if r.Priority > 0 {
		s += fmt.Sprintf(" priority %d", r.Priority)
	}
	if r.From.IsValid() {
		s += " from " + r.From.String()
	}
	if r.To.IsValid() {
		s += " to " + r.To.String()
	}
	if r.IIF != "" {
		s += " iif " + r.IIF
	}
	if r.OIF != "" {
		s += " oif " + r.OIF
	}
	if r.Fwmark != 0 {
		s += fmt.Sprintf(" fwmark %d", r.Fwmark)
	}
	return s + fmt.Sprintf(" table %d", r.Table)
}

func (r Rule) String() string { return r.Key() }

func (r Rule) matches(have Rule) bool {
	if r.Priority == 0 {
		have.Priority = 0
	}
	return r.Key() == have.Key()
}

// Addr is an address on an interface, with the options of ip address.
type Addr struct {
	Dev           string
	Prefix        netip.Prefix
	Label         string
	Scope         string
	Broadcast     netip.Addr
	NoPrefixRoute bool
	PreferredLft  int // seconds; -1 forever
}

// Key names an address by interface and prefix.
func (a Addr) Key() string { return "address " + a.Dev + " " + a.Prefix.String() }

func (a Addr) String() string { return a.Key() }

// Op is one change.
type Op struct {
	Del   bool
	Route *Route
	Rule  *Rule
	Addr  *Addr
}

func (o Op) key() string {
	switch {
	case o.Route != nil:
		return o.Route.Key()
	case o.Rule != nil:
		return o.Rule.Key()
	}
	return o.Addr.Key()
}

func (o Op) String() string {
	verb := "add "
	if o.Del {
		verb = "del "
	}
	switch {
	case o.Route != nil:
		return verb + o.Route.String()
	case o.Rule != nil:
		return verb + o.Rule.String()
	}
	return verb + o.Addr.String()
}

// Diff turns actual into desired: removals first (a changed route is
// removed and added again), then additions. Routes and rules of actual
// are tandem's by their protocol; an address is removed only when owned.
func Diff(desired, actual State, owned func(string) bool) []Op {
	var dels, adds []Op
	for _, have := range actual.Routes {
		if !slices.ContainsFunc(desired.Routes, func(w Route) bool { return w.matches(have) }) {
			dels = append(dels, Op{Del: true, Route: &have})
		}
	}
	for _, want := range desired.Routes {
		if !slices.ContainsFunc(actual.Routes, want.matches) {
			adds = append(adds, Op{Route: &want})
		}
	}
	used := make([]bool, len(actual.Rules))
	for _, want := range desired.Rules {
		found := false
		for i, have := range actual.Rules {
			if !used[i] && want.matches(have) {
				used[i], found = true, true
				break
			}
		}
		if !found {
			adds = append(adds, Op{Rule: &want})
		}
	}
	for i, have := range actual.Rules {
		if !used[i] {
			dels = append(dels, Op{Del: true, Rule: &have})
		}
	}
	for _, have := range actual.Addrs {
		if owned(have.Key()) && !slices.ContainsFunc(desired.Addrs, func(w Addr) bool { return w.Key() == have.Key() }) {
			dels = append(dels, Op{Del: true, Addr: &have})
		}
	}
	for _, want := range desired.Addrs {
		if !slices.ContainsFunc(actual.Addrs, func(h Addr) bool { return h.Key() == want.Key() }) {
			adds = append(adds, Op{Addr: &want})
		}
	}
	return append(dels, adds...)
}

// Keys are the entries of a state, for the ownership record.
func Keys(s State) iter.Seq[string] {
	return func(yield func(string) bool) {
		for _, a := range s.Addrs {
			if !yield(a.Key()) {
				return
			}
		}
	}
}

// Kinds of ops, for counters.
var Kinds = []string{"add_route", "del_route", "add_rule", "del_rule", "add_address", "del_address"}

func describe(o Op) reconcile.OpInfo[string] {
	k := 0
	switch {
	case o.Rule != nil:
		k = 2
	case o.Addr != nil:
		k = 4
	}
	if o.Del {
		k++
	}
	return reconcile.OpInfo[string]{Kind: k, Key: o.key(), Removes: o.Del}
}

// Spec is the reconcile loop's view of the host state.
var Spec = reconcile.Spec[State, string, Op]{
	Name: "host routes, rules and addresses", Entry: "entry",
	Diff: Diff, Keys: Keys, Describe: describe, Kinds: Kinds, Compare: strings.Compare,
}

// Static is the state of global { static_* }.
func Static(g *config.Global) State {
	var s State
	for _, a := range g.StaticAddresses {
		s.Addrs = append(s.Addrs, FromAddress(a, a.Dev))
	}
	for _, r := range g.StaticRoutes {
		s.Routes = append(s.Routes, FromRoute(r))
	}
	for _, r := range g.StaticRules {
		s.Rules = append(s.Rules, FromRule(r))
	}
	return s
}

// Virtual is the state an instance adds while it is MASTER.
func Virtual(in *config.VRRPInstance) State {
	var s State
	for _, r := range in.VirtualRoutes {
		s.Routes = append(s.Routes, FromRoute(r))
	}
	for _, r := range in.VirtualRules {
		s.Rules = append(s.Rules, FromRule(r))
	}
	return s
}

// Merge adds b's entries to a.
func (s State) Merge(b State) State {
	return State{Routes: append(slices.Clip(s.Routes), b.Routes...), Rules: append(slices.Clip(s.Rules), b.Rules...),
		Addrs: append(slices.Clip(s.Addrs), b.Addrs...)}
}

// FromRoute is a configured route as the kernel will report it.
func FromRoute(r config.Route) Route {
	rt := Route{Table: r.Table, To: r.To.Masked(), Via: r.Via, Dev: r.Dev, Src: r.Src, Metric: r.Metric, Scope: r.Scope, Type: string(r.Type)}
	if rt.Scope == "global" {
		rt.Scope = ""
	}
	if rt.Metric == 0 && rt.To.Addr().Is6() {
		rt.Metric = 1024 // the kernel's default for IPv6
	}
	return rt
}

// FromRule is a configured rule.
func FromRule(r config.Rule) Rule {
	return Rule{IPv6: r.AddrFamily() == config.IPv6, From: r.From.Masked(), To: r.To.Masked(), IIF: r.IIF, OIF: r.OIF,
		Fwmark: uint32(r.Fwmark), Table: r.Table, Priority: r.Priority}
}

// FromAddress is a configured address on dev (when the entry names none).
func FromAddress(a config.Address, dev string) Addr {
	if a.Dev != "" {
		dev = a.Dev
	}
	out := Addr{Dev: dev, Prefix: a.Address, Label: a.Label, Scope: a.Scope, Broadcast: a.Broadcast, NoPrefixRoute: a.NoPrefixRoute, PreferredLft: -1}
	if a.PreferredLifetime != "forever" && a.PreferredLifetime != "" {
		if d, err := parseSeconds(a.PreferredLifetime); err == nil {
			out.PreferredLft = d
		}
	}
	return out
}
