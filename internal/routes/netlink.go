package routes

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// Kernel is the Backend of the running host: the network namespace of the
// calling process.
type Kernel struct{}

var routeTypes = map[string]int{"unicast": unix.RTN_UNICAST, "blackhole": unix.RTN_BLACKHOLE, "unreachable": unix.RTN_UNREACHABLE, "prohibit": unix.RTN_PROHIBIT}

var scopeNums = map[string]netlink.Scope{"": netlink.SCOPE_UNIVERSE, "global": netlink.SCOPE_UNIVERSE, "site": netlink.SCOPE_SITE, "link": netlink.SCOPE_LINK, "host": netlink.SCOPE_HOST}

// ScopeNum is the netlink number of a scope name ("" global).
func ScopeNum(name string) netlink.Scope { return scopeNums[name] }

func scopeName(s netlink.Scope) string {
	for n, v := range scopeNums {
		if v == s && n != "global" {
			return n
		}
	}
	return fmt.Sprint(int(s))
}

func parseSeconds(s string) (int, error) {
	d, err := time.ParseDuration(s)
	return int(d / time.Second), err
}

// Read returns tandem's routes and rules (by protocol) and every address.
func (Kernel) Read() (State, error) {
	var s State
	links, err := netlink.LinkList()
	if err != nil {
		return s, fmt.Errorf("listing interfaces: %w", err)
	}
	names := map[int]string{}
	for _, l := range links {
		names[l.Attrs().Index] = l.Attrs().Name
	}
	routes, err := netlink.RouteListFiltered(netlink.FAMILY_ALL, &netlink.Route{Protocol: Protocol}, netlink.RT_FILTER_PROTOCOL|netlink.RT_FILTER_TABLE)
	if err != nil {
		return s, fmt.Errorf("listing routes: %w", err)
	}
	for _, r := range routes {
		rt := Route{Table: r.Table, Dev: names[r.LinkIndex], Metric: r.Priority, Scope: scopeName(r.Scope)}
		if rt.Scope == "" && r.Scope != netlink.SCOPE_UNIVERSE {
			rt.Scope = fmt.Sprint(r.Scope)
		}
		for n, v := range routeTypes {
			if v == r.Type {
				rt.Type = n
			}
		}
		if r.Dst != nil {
			rt.To = ipNetPrefix(r.Dst)
		} else if r.Family == unix.AF_INET6 {
			rt.To = netip.PrefixFrom(netip.IPv6Unspecified(), 0)
		} else {
			rt.To = netip.PrefixFrom(netip.IPv4Unspecified(), 0)
		}
		rt.Via, _ = netip.AddrFromSlice(r.Gw)
		rt.Via = rt.Via.Unmap()
		rt.Src, _ = netip.AddrFromSlice(r.Src)
		rt.Src = rt.Src.Unmap()
		s.Routes = append(s.Routes, rt)
	}
	rules, err := netlink.RuleList(netlink.FAMILY_ALL)
	if err != nil {
		return s, fmt.Errorf("listing rules: %w", err)
	}
	for _, r := range rules {
		if r.Protocol != Protocol {
			continue
		}
		ru := Rule{IPv6: r.Family == unix.AF_INET6, IIF: r.IifName, OIF: r.OifName, Fwmark: r.Mark, Table: r.Table, Priority: r.Priority}
		if r.Src != nil {
			ru.From = ipNetPrefix(r.Src)
		}
		if r.Dst != nil {
			ru.To = ipNetPrefix(r.Dst)
		}
		s.Rules = append(s.Rules, ru)
	}
	addrs, err := netlink.AddrList(nil, netlink.FAMILY_ALL)
	if err != nil {
		return s, fmt.Errorf("listing addresses: %w", err)
	}
	for _, a := range addrs {
		s.Addrs = append(s.Addrs, Addr{Dev: names[a.LinkIndex], Prefix: ipNetPrefix(a.IPNet)})
	}
	return s, nil
}

func ipNetPrefix(n *net.IPNet) netip.Prefix {
	a, _ := netip.AddrFromSlice(n.IP)
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func prefixNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

// Apply makes one change.
func (Kernel) Apply(o Op) error {
	var err error
	switch {
	case o.Route != nil:
		err = applyRoute(o.Del, *o.Route)
	case o.Rule != nil:
		err = applyRule(o.Del, *o.Rule)
	default:
		err = applyAddr(o.Del, *o.Addr)
	}
	if o.Del && (errors.Is(err, unix.ESRCH) || errors.Is(err, unix.ENOENT) || errors.Is(err, unix.EADDRNOTAVAIL)) {
		return nil // gone already
	}
	return err
}

func linkIndex(name string) (int, error) {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return 0, fmt.Errorf("interface %s: %w (create it, or correct dev)", name, err)
	}
	return l.Attrs().Index, nil
}

func applyRoute(del bool, r Route) error {
	nr := &netlink.Route{Table: r.Table, Dst: prefixNet(r.To), Priority: r.Metric, Protocol: Protocol, Scope: scopeNums[r.Scope], Type: routeTypes[r.Type]}
	if r.To.Addr().Is6() {
		nr.Family = unix.AF_INET6
	} else {
		nr.Family = unix.AF_INET
	}
	if r.Via.IsValid() {
		nr.Gw = r.Via.AsSlice()
	}
	if r.Src.IsValid() {
		nr.Src = r.Src.AsSlice()
	}
	if r.Dev != "" {
		i, err := linkIndex(r.Dev)
		if err != nil {
			return err
		}
		nr.LinkIndex = i
	}
	if del {
		return netlink.RouteDel(nr)
	}
	return netlink.RouteReplace(nr)
}

func applyRule(del bool, r Rule) error {
	nr := netlink.NewRule()
	nr.Family = unix.AF_INET
	if r.IPv6 {
		nr.Family = unix.AF_INET6
	}
	nr.Table, nr.IifName, nr.OifName, nr.Mark, nr.Protocol = r.Table, r.IIF, r.OIF, r.Fwmark, Protocol
	if r.Priority > 0 {
		nr.Priority = r.Priority
	}
	if r.From.IsValid() {
		nr.Src = prefixNet(r.From)
	}
	if r.To.IsValid() {
		nr.Dst = prefixNet(r.To)
	}
	if del {
		return netlink.RuleDel(nr)
	}
	return netlink.RuleAdd(nr)
}

func applyAddr(del bool, a Addr) error {
	l, err := netlink.LinkByName(a.Dev)
	if err != nil {
		return fmt.Errorf("interface %s: %w (create it, or correct dev)", a.Dev, err)
	}
	na := AddrOf(a)
	if del {
		return netlink.AddrDel(l, na)
	}
	return netlink.AddrReplace(l, na)
}

// AddrOf is a as netlink writes it (the options of ip address add).
func AddrOf(a Addr) *netlink.Addr {
	na := &netlink.Addr{IPNet: prefixNet(a.Prefix), Label: a.Label, Scope: int(scopeNums[a.Scope])}
	if a.Broadcast.IsValid() {
		na.Broadcast = a.Broadcast.AsSlice()
	}
	if a.NoPrefixRoute {
		na.Flags |= unix.IFA_F_NOPREFIXROUTE
	}
	if a.Prefix.Addr().Is6() {
		na.Flags |= unix.IFA_F_NODAD
	}
	if a.PreferredLft >= 0 {
		na.PreferedLft, na.ValidLft = a.PreferredLft, 0xffffffff
		if a.PreferredLft == 0 {
			na.PreferedLft = 0
		}
	}
	return na
}
