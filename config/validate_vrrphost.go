package config

import (
	"net/netip"
	"path/filepath"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Checks of the host state VRRP instances carry (routes, rules, address
// options, excluded_ips), of track_file / track_process / weighted
// track_interfaces, and of notify_fifo and script_user.

var scopes = []string{"global", "site", "link", "host"}

func (c *checker) vrrphost(cfg *Config) {
	g := &cfg.Global
	if g.NotifyFIFO != "" && !filepath.IsAbs(g.NotifyFIFO) {
		c.errorf(g.Range("notify_fifo"), "Path must be absolute", "\"notify_fifo\" must be an absolute path, not %q.", g.NotifyFIFO)
	}
	if g.Source.Has("script_user") && strings.TrimSpace(g.ScriptUser) == "" {
		c.errorf(g.Range("script_user"), "Empty script_user", "Name a user (or user:group), or leave script_user out to run scripts as root.")
	}
	for i, a := range g.StaticAddresses {
		r := g.ElemRange("static_addresses", i)
		if a.Dev == "" {
			c.errorf(r, "Missing dev", "A static address needs dev, the interface to put it on.")
		}
		c.addressOptions(a, r)
	}
	c.routes(&g.Source, "static_routes", g.StaticRoutes)
	c.rules(&g.Source, "static_rules", g.StaticRules)
	for _, in := range cfg.Instances {
		s := &in.Source
		for _, a := range in.VIPOptions {
			c.addressOptions(a, s.ElemRange("virtual_ips", a.Index))
		}
		for _, a := range in.ExcludedOptions {
			c.addressOptions(a, s.ElemRange("excluded_ips", a.Index))
		}
		seen := map[netip.Addr]bool{}
		for _, p := range in.VirtualIPs {
			seen[p.Addr()] = true
		}
		for i, p := range in.ExcludedIPs {
			if seen[p.Addr()] {
				c.errorf(s.ElemRange("excluded_ips", i), "Duplicate virtual IP", "%s is listed in virtual_ips or excluded_ips already; list it once.", p.Addr())
			}
			seen[p.Addr()] = true
		}
		for _, ti := range in.TrackInterfaceWeights {
			r := s.ElemRange("track_interfaces", ti.Index)
			if strings.TrimSpace(ti.Name) == "" {
				c.errorf(r, "Empty interface", "Name the interface to track.")
			}
			if ti.Name == in.Interface && ti.Weight != 0 {
				c.warnf(r, "Weight on the instance's own interface", "%s carries the adverts: while it is down the instance is in FAULT whatever the weight; track another interface with a weight, or drop the entry.", ti.Name)
			}
			if ti.Weight < -254 || ti.Weight > 254 {
				c.errorf(r, "Value out of range", "\"weight\" must be from -254 to 254, not %d.", ti.Weight)
			}
		}
		c.routes(s, "virtual_routes", in.VirtualRoutes)
		c.rules(s, "virtual_rules", in.VirtualRules)
		names := map[string]hcl.Range{}
		for _, tf := range in.TrackFiles {
			ts := &tf.Source
			if first, dup := seenBefore(names, "file "+tf.Name, ts.LabelRange()); dup {
				c.errorf(ts.LabelRange(), "Duplicate track_file", "Another track_file of this instance is named %q; the first is at %s.", tf.Name, rangeText(first))
			}
			if !filepath.IsAbs(tf.Path) && ts.decoded("path") {
				c.errorf(ts.Range("path"), "Path must be absolute", "\"path\" must be an absolute path, not %q.", tf.Path)
			}
			c.between(ts, "weight", tf.Weight, -254, 254)
		}
		for _, tp := range in.TrackProcesses {
			ts := &tp.Source
			if first, dup := seenBefore(names, "process "+tp.Name, ts.LabelRange()); dup {
				c.errorf(ts.LabelRange(), "Duplicate track_process", "Another track_process of this instance is named %q; the first is at %s.", tp.Name, rangeText(first))
			}
			c.command(ts, "command", tp.Command)
			c.between(ts, "quorum", tp.Quorum, 1, 65535)
			c.between(ts, "weight", tp.Weight, -254, 254)
		}
	}
}

// addressOptions checks the options of an address written as an object.
func (c *checker) addressOptions(a Address, r hcl.Range) {
	v4 := a.Address.Addr().Is4()
	if a.Label != "" {
		switch {
		case !v4:
			c.errorf(r, "Label on an IPv6 address", "Only IPv4 addresses carry labels; remove label from %s.", a.Address)
		case a.Dev != "" && !strings.HasPrefix(a.Label, a.Dev):
			c.errorf(r, "Invalid label", "The kernel wants a label that starts with the interface's name: %q does not start with %q (write it like %q).", a.Label, a.Dev, a.Dev+":1")
		case len(a.Label) > 15:
			c.errorf(r, "Invalid label", "%q is longer than 15 characters.", a.Label)
		}
	}
	if a.Scope != "" && !contains(scopes, a.Scope) {
		c.errorf(r, "Invalid scope", "%q is not a scope; use one of: %s.", a.Scope, strings.Join(scopes, ", "))
	}
	if a.Broadcast.IsValid() && (!v4 || !a.Broadcast.Is4()) {
		c.errorf(r, "Invalid broadcast", "broadcast is an IPv4 address for an IPv4 address; %s with %s does not fit.", a.Broadcast, a.Address)
	}
	if a.PreferredLifetime != "forever" {
		if d, err := time.ParseDuration(a.PreferredLifetime); err != nil || d < 0 {
			c.errorf(r, "Invalid preferred_lifetime", "preferred_lifetime is \"forever\" or a duration such as \"0s\" or \"1h\", not %q.", a.PreferredLifetime)
		}
	}
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (c *checker) routes(s *Source, attr string, routes []Route) {
	for i, rt := range routes {
		r := s.ElemRange(attr, i)
		fam := familyOf(rt.To.Addr())
		for _, a := range []netip.Addr{rt.Via, rt.Src} {
			if a.IsValid() && familyOf(a) != fam {
				c.errorf(r, "Mixed address families", "%s is %s but the route's destination %s is %s.", a, familyOf(a), rt.To, fam)
			}
		}
		if rt.Type != "unicast" && (rt.Via.IsValid() || rt.Dev != "") {
			c.errorf(r, "Gateway on a "+string(rt.Type)+" route", "A %s route drops packets; it takes neither via nor dev.", rt.Type)
		}
		if rt.Type == "unicast" && !rt.Via.IsValid() && rt.Dev == "" {
			c.errorf(r, "Route goes nowhere", "Give the route a gateway (via), an interface (dev), or type = \"blackhole\".")
		}
		if rt.Table < 1 || rt.Table > 1<<32-1 || rt.Table == 255 {
			c.errorf(r, "Invalid table", "table must be from 1 to 4294967295, and not 255 (local), not %d.", rt.Table)
		}
		if rt.Metric < 0 || rt.Metric > 1<<32-1 {
			c.errorf(r, "Value out of range", "metric must be from 0 to 4294967295, not %d.", rt.Metric)
		}
		if rt.Scope != "" && !contains(scopes, rt.Scope) {
			c.errorf(r, "Invalid scope", "%q is not a scope; use one of: %s.", rt.Scope, strings.Join(scopes, ", "))
		}
	}
}

func (c *checker) rules(s *Source, attr string, rules []Rule) {
	for i, ru := range rules {
		r := s.ElemRange(attr, i)
		if ru.From.IsValid() && ru.To.IsValid() && familyOf(ru.From.Addr()) != familyOf(ru.To.Addr()) {
			c.errorf(r, "Mixed address families", "from %s and to %s are of different families.", ru.From, ru.To)
		}
		if ru.Table < 1 || ru.Table > 1<<32-1 || ru.Table == 255 {
			c.errorf(r, "Invalid table", "table must be from 1 to 4294967295, and not 255 (local), not %d.", ru.Table)
		}
		if ru.Priority < 0 || ru.Priority > 1<<32-1 {
			c.errorf(r, "Value out of range", "priority must be from 0 to 4294967295, not %d.", ru.Priority)
		}
		if ru.Fwmark < 0 || ru.Fwmark > 1<<32-1 {
			c.errorf(r, "Value out of range", "fwmark must be from 0 to 4294967295, not %d.", ru.Fwmark)
		}
	}
}

// Family of a rule: from its prefixes, else its family attribute.
func (r Rule) AddrFamily() Family {
	switch {
	case r.From.IsValid():
		return familyOf(r.From.Addr())
	case r.To.IsValid():
		return familyOf(r.To.Addr())
	}
	return r.Family
}
