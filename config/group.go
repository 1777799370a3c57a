package config

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"reflect"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// CheckGroup checks that the directors of one group agree; cfgs are their
// valid configurations, as Load returned them, in the order given (nil
// ones, of invalid directors, are skipped).
//
// Instances are matched across directors by VRID and address family
// (interface names differ between machines); a director with two such
// instances is matched by instance name, then by a shared VIP. Errors: the
// same instance with other VIPs, version, advert interval or
// authentication; equal priorities (unless preempt = false on both);
// unicast peers that do not point at each other; lvs_sync sync_ids that
// differ. Warnings: instances, virtual servers and lvs_sync present on some
// directors only, and virtual servers (matched by name, then by address or
// fwmark) that differ in any attribute, real server or check.
//
// Unicast rule: when director B sets unicast_source, every director A that
// runs the instance in unicast must list it in unicast_peers (tandem sends
// only to, and accepts only from, its peers). Without unicast_source the
// source is the interface's address, which no configuration shows, so set
// unicast_source on every director to have the peers checked. One
// director in unicast and another in multicast never hear each other.
//
// Each diagnostic points at one director's file and names the other's
// FILE:LINE:COL in its detail.
func CheckGroup(cfgs []*Config) Diagnostics {
	cfgs = slices.DeleteFunc(slices.Clone(cfgs), func(c *Config) bool { return c == nil })
	c := &checker{}
	c.groupInstances(cfgs)
	c.groupSync(cfgs)
	c.groupServices(cfgs)
	out := Diagnostics{Diags: c.diags, Sources: map[string][]byte{}}
	for _, cfg := range cfgs {
		for name, src := range cfg.sources {
			out.Sources[name] = src
		}
	}
	out.sort()
	return out
}

// Compact lets go of what only diagnostics use: the files' text, which
// CheckGroup's snippets quote, and the positions of the attributes of
// real servers and checks (Has then says false, and a diagnostic points
// at the block). A daemon keeps its configuration as long as it runs: at
// 2,277 x 16 real servers, that is 4.6 MB of text and 4.8 MB of positions.
//
// It also shares what a reload did not change, and equal checks: a real
// server equal to the same one of prev, the running configuration (nil
// at start), is that one; else its checks equal to the running ones, or
// to the previous real server's of its virtual server (most are written
// alike), become those. At 2,277 x 16 a copy of each check was 8 MB of
// the 19 a daemon kept; and a reload that changes nothing keeps its
// running objects where they are (replacing them all made holes in the
// heap that grew it by a fifth) and its comparisons end at identity.
// Positions of shared blocks are the running configuration's: none is
// used after Compact. Nothing changes a real server after Compact.
func (c *Config) Compact(prev *Config) {
	c.sources = nil
	var before map[string]*VirtualServer
	if prev != nil {
		before = make(map[string]*VirtualServer, len(prev.VirtualServers))
		for _, vs := range prev.VirtualServers {
			before[vs.Name] = vs
		}
	}
	for _, vs := range c.VirtualServers {
		old := before[vs.Name]
		var last []*Check
		for j, rs := range vs.RealServers {
			rs.Source.forget()
			for _, ch := range rs.Checks {
				ch.Source.forget()
			}
			o := findReal(old, j, rs.Name)
			switch {
			case o != nil && Equal(o, rs):
				vs.RealServers[j] = o
			case len(rs.Checks) == 0:
			case o != nil && Equal(o.Checks, rs.Checks):
				rs.Checks = o.Checks
			case last != nil && Equal(last, rs.Checks):
				rs.Checks = last
			}
			if n := vs.RealServers[j].Checks; len(n) > 0 {
				last = n
			}
		}
	}
}

// findReal finds a real server of vs by name, at index i first (where a
// reload finds it mostly).
func findReal(vs *VirtualServer, i int, name string) *RealServer {
	if vs == nil {
		return nil
	}
	if i < len(vs.RealServers) && vs.RealServers[i].Name == name {
		return vs.RealServers[i]
	}
	for _, rs := range vs.RealServers {
		if rs.Name == name {
			return rs
		}
	}
	return nil
}

// directorName names a configuration in messages: its file, or the
// directory its files were merged from.
func directorName(cfg *Config) string {
	if len(cfg.Files) == 1 {
		return cfg.Files[0]
	}
	if len(cfg.Files) > 1 {
		return filepath.Dir(cfg.Files[0])
	}
	return "a director"
}

// missing lists the directors that have no member in a match.
func missing(cfgs []*Config, has func(i int) bool) []string {
	var out []string
	for i, cfg := range cfgs {
		if !has(i) {
			out = append(out, directorName(cfg))
		}
	}
	return out
}

type instanceMember struct {
	dir int
	in  *VRRPInstance
}

// matchInstances groups the instances of all directors: one slice per
// virtual router, at most one instance per director.
func matchInstances(cfgs []*Config) [][]instanceMember {
	var groups [][]instanceMember
	for d, cfg := range cfgs {
		for _, in := range cfg.Instances {
			var cands []int
			for g, ms := range groups {
				first := ms[0].in
				if first.VRID == in.VRID && first.Family() == in.Family() &&
					!slices.ContainsFunc(ms, func(m instanceMember) bool { return m.dir == d }) {
					cands = append(cands, g)
				}
			}
			pick := -1
			for _, g := range cands {
				if groups[g][0].in.Name == in.Name {
					pick = g
					break
				}
			}
			for _, g := range cands {
				if pick < 0 && sharesVIP(groups[g][0].in, in) {
					pick = g
				}
			}
			if pick < 0 && len(cands) == 1 {
				pick = cands[0]
			}
			if pick < 0 {
				groups = append(groups, nil)
				pick = len(groups) - 1
			}
			groups[pick] = append(groups[pick], instanceMember{d, in})
		}
	}
	return groups
}

func sharesVIP(a, b *VRRPInstance) bool {
	for _, p := range a.VirtualIPs {
		if slices.ContainsFunc(b.VirtualIPs, func(q netip.Prefix) bool { return q.Addr() == p.Addr() }) {
			return true
		}
	}
	return false
}

func instanceText(in *VRRPInstance) string {
	return fmt.Sprintf("vrrp_instance %q (VRID %d, %s)", in.Name, in.VRID, in.Family())
}

func (c *checker) groupInstances(cfgs []*Config) {
	for _, ms := range matchInstances(cfgs) {
		ref := ms[0].in
		if lack := missing(cfgs, func(i int) bool {
			return slices.ContainsFunc(ms, func(m instanceMember) bool { return m.dir == i })
		}); len(lack) > 0 {
			c.warnf(ref.LabelRange(), "Instance on some directors only",
				"%s has no instance with this VRID and family in %s; a virtual router that one director runs alone never fails over. Add it there, or remove it here.",
				instanceText(ref), strings.Join(lack, ", "))
		}
		for _, m := range ms[1:] {
			c.sameRouter(ref, m.in)
		}
		for j, b := range ms {
			for _, a := range ms[:j] {
				if a.in.Priority == b.in.Priority && (a.in.Preempt || b.in.Preempt) {
					c.errorf(b.in.Range("priority"), "Same priority on two directors",
						"%s has priority %d here and at %s; with equal priorities the higher primary address wins, which is seldom what is meant. Give each director its own priority, or set preempt = false on all of them.",
						instanceText(b.in), b.in.Priority, rangeText(a.in.Range("priority")))
					break
				}
			}
			for _, a := range ms[:j] {
				c.unicastPair(a.in, b.in)
			}
		}
	}
}

// sameRouter reports what two directors' halves of one virtual router
// must share; b is reported against ref.
func (c *checker) sameRouter(ref, b *VRRPInstance) {
	sorted := func(ps []netip.Prefix) []string {
		var out []string
		for _, p := range ps {
			out = append(out, p.String())
		}
		slices.Sort(out)
		return out
	}
	if rv, bv := sorted(ref.VirtualIPs), sorted(b.VirtualIPs); !slices.Equal(rv, bv) {
		c.errorf(b.Range("virtual_ips"), "Virtual IPs differ between directors",
			"%s carries [%s] here but [%s] at %s; whichever director is master must hold the same addresses. Make the lists equal.",
			instanceText(b), strings.Join(bv, ", "), strings.Join(rv, ", "), rangeText(ref.Range("virtual_ips")))
	}
	if ref.Version != b.Version {
		c.errorf(b.Range("version"), "VRRP version differs between directors",
			"%s uses version %d here and %d at %s; directors drop adverts of the other version and both become master. Use the same version.",
			instanceText(b), b.Version, ref.Version, rangeText(ref.Range("version")))
	}
	if ref.AdvertInterval != b.AdvertInterval {
		c.errorf(b.Range("advert_interval"), "Advert interval differs between directors",
			"%s advertises every %s here and every %s at %s; VRRPv2 drops adverts with another interval and a v3 backup times the master out on the wrong interval. Use the same advert_interval.",
			instanceText(b), durText(b.AdvertInterval), durText(ref.AdvertInterval), rangeText(ref.Range("advert_interval")))
	}
	ra, ba := &ref.Authentication, &b.Authentication
	at := func(in *VRRPInstance, attr string) hcl.Range {
		if in.Authentication.DefRange().Filename == "" {
			return in.LabelRange()
		}
		return in.Authentication.Range(attr)
	}
	switch {
	case ra.Type != ba.Type:
		c.errorf(at(b, "type"), "Authentication differs between directors",
			"%s authenticates with type %q here and %q at %s; adverts that fail authentication are dropped and both directors become master. Use the same authentication block.",
			instanceText(b), ba.Type, ra.Type, rangeText(at(ref, "type")))
	case ra.Type == "hmac" && !hmacJoins(ra, ba):
		c.errorf(at(b, "active_key"), "Signing keys differ between directors",
			"%s signs with key %d here, which %s does not have with the same bytes, or the other way round (neither key is shown); adverts signed with a key the other does not hold are dropped and both directors become master. Give both the same keys (during a rotation: both keys on both, then change active_key).",
			instanceText(b), ba.ActiveKey, rangeText(at(ref, "type")))
	case ra.Password != ba.Password:
		c.errorf(at(b, "password"), "Authentication differs between directors",
			"%s has another password here than at %s (neither is shown); adverts that fail authentication are dropped and both directors become master. Use the same password.",
			instanceText(b), rangeText(at(ref, "password")))
	}
}

// unicastPair checks that a and b, one virtual router on two directors,
// send their adverts to each other.
func (c *checker) unicastPair(a, b *VRRPInstance) {
	ua, ub := len(a.UnicastPeers) > 0, len(b.UnicastPeers) > 0
	switch {
	case !ua && !ub:
		return
	case ua != ub:
		uni, multi := a, b
		if ub {
			uni, multi = b, a
		}
		c.errorf(uni.Range("unicast_peers"), "Unicast and multicast directors",
			"%s sends its adverts to unicast_peers here, but to multicast at %s; neither hears the other and both become master. Give every director unicast_peers (listing the others), or none.",
			instanceText(uni), rangeText(multi.LabelRange()))
		return
	}
	for _, p := range [][2]*VRRPInstance{{a, b}, {b, a}} {
		from, to := p[0], p[1]
		if to.UnicastSource.IsValid() && !slices.Contains(from.UnicastPeers, to.UnicastSource) {
			c.errorf(from.Range("unicast_peers"), "Unicast peers do not point at each other",
				"%s does not list %s, the unicast_source at %s, in unicast_peers; that director neither receives this one's adverts nor accepts them. Add %s to unicast_peers.",
				instanceText(from), to.UnicastSource, rangeText(to.Range("unicast_source")), to.UnicastSource)
		}
	}
}

func (c *checker) groupSync(cfgs []*Config) {
	var ref *LVSSync
	for _, cfg := range cfgs {
		ls := cfg.LVSSync
		switch {
		case ls == nil:
		case ref == nil:
			ref = ls
		case ls.SyncID != ref.SyncID:
			c.errorf(ls.Range("sync_id"), "sync_id differs between directors",
				"lvs_sync has sync_id %d here and %d at %s; the backup sync daemon ignores messages of another sync ID, so connections would not survive a failover. Use the same sync_id.",
				ls.SyncID, ref.SyncID, rangeText(ref.Range("sync_id")))
		}
	}
	if ref == nil {
		return
	}
	if lack := missing(cfgs, func(i int) bool { return cfgs[i].LVSSync != nil }); len(lack) > 0 {
		c.warnf(ref.DefRange(), "Connection sync on some directors only",
			"%s has no lvs_sync block; connections do not survive a failover to or from it. Add lvs_sync there too.", strings.Join(lack, ", "))
	}
}

// serviceKey is the kernel's identity of a virtual service.
func serviceKey(vs *VirtualServer) string {
	if vs.Fwmark != 0 {
		return fmt.Sprintf("fwmark %d %s", vs.Fwmark, vs.Family)
	}
	return fmt.Sprintf("%s %s", vs.Protocol, vs.Address)
}

type serviceMember struct {
	dir int
	vs  *VirtualServer
}

// matchServices groups the virtual servers of all directors by name, then
// by address or fwmark.
func matchServices(cfgs []*Config) [][]serviceMember {
	var groups [][]serviceMember
	for d, cfg := range cfgs {
		for _, vs := range cfg.VirtualServers {
			pick := -1
			for _, same := range []func(*VirtualServer) bool{
				func(o *VirtualServer) bool { return o.Name == vs.Name },
				func(o *VirtualServer) bool { return serviceKey(o) == serviceKey(vs) },
			} {
				for g, ms := range groups {
					if pick < 0 && same(ms[0].vs) && !slices.ContainsFunc(ms, func(m serviceMember) bool { return m.dir == d }) {
						pick = g
					}
				}
			}
			if pick < 0 {
				groups = append(groups, nil)
				pick = len(groups) - 1
			}
			groups[pick] = append(groups[pick], serviceMember{d, vs})
		}
	}
	return groups
}

func (c *checker) groupServices(cfgs []*Config) {
	for _, ms := range matchServices(cfgs) {
		ref := ms[0].vs
		if lack := missing(cfgs, func(i int) bool {
			return slices.ContainsFunc(ms, func(m serviceMember) bool { return m.dir == i })
		}); len(lack) > 0 {
			c.warnf(ref.LabelRange(), "Virtual server on some directors only",
				"virtual_server %q (%s) is not in %s; while that director is master the service is missing. Add it there, or remove it here.",
				ref.Name, serviceKey(ref), strings.Join(lack, ", "))
		}
		for _, m := range ms[1:] {
			c.sameService(ref, m.vs)
		}
	}
}

// sameService warns about what differs between two directors' copies of
// one virtual server; b is reported against ref.
func (c *checker) sameService(ref, b *VirtualServer) {
	what := fmt.Sprintf("virtual_server %q", b.Name)
	if ref.Name != b.Name {
		c.warnf(b.LabelRange(), "Virtual server named differently",
			"%s is named %q at %s; tandem drain and status name it, so use one name on all directors.", what, ref.Name, rangeText(ref.LabelRange()))
	}
	c.diffAttrs(what, reflect.ValueOf(ref).Elem(), reflect.ValueOf(b).Elem(), "")
	key := func(vs *VirtualServer, rs *RealServer) string {
		if rs.Endpoint.Port == 0 && vs.Address.Port() != 0 {
			return netip.AddrPortFrom(rs.Endpoint.Addr, vs.Address.Port()).String()
		}
		return rs.Endpoint.String()
	}
	refRS := map[string]*RealServer{}
	for _, rs := range ref.RealServers {
		refRS[key(ref, rs)] = rs
	}
	seen := map[string]bool{}
	for _, rs := range b.RealServers {
		k := key(b, rs)
		seen[k] = true
		r, ok := refRS[k]
		if !ok {
			c.warnf(rs.LabelRange(), "Real servers differ between directors",
				"Real server %s of %s is not in the virtual server at %s; after a failover it would get no traffic. Make the real servers the same.",
				rs.Name, what, rangeText(ref.LabelRange()))
			continue
		}
		rsWhat := fmt.Sprintf("real server %s of %s", rs.Name, what)
		c.diffAttrs(rsWhat, reflect.ValueOf(r).Elem(), reflect.ValueOf(rs).Elem(), "")
		c.diffChecks(rsWhat, r, rs)
	}
	for _, rs := range ref.RealServers {
		if !seen[key(ref, rs)] {
			c.warnf(b.LabelRange(), "Real servers differ between directors",
				"%s has no real server %s, which the virtual server at %s has; while this director is master it gets no traffic. Make the real servers the same.",
				what, rs.Name, rangeText(rs.LabelRange()))
		}
	}
}

func (c *checker) diffChecks(what string, ref, b *RealServer) {
	types := func(rs *RealServer) string {
		var out []string
		for _, ch := range rs.Checks {
			out = append(out, string(ch.Type))
		}
		if len(out) == 0 {
			return "none"
		}
		return strings.Join(out, ", ")
	}
	if types(ref) != types(b) {
		c.warnf(b.LabelRange(), "Checks differ between directors",
			"%s has checks %s here and %s at %s; directors would judge its health differently. Use the same checks.",
			what, types(b), types(ref), rangeText(ref.LabelRange()))
		return
	}
	for i, ch := range b.Checks {
		c.diffAttrs(fmt.Sprintf("check %q of %s", ch.Type, what), reflect.ValueOf(ref.Checks[i]).Elem(), reflect.ValueOf(ch).Elem(), string(ch.Type))
	}
}

// diffAttrs warns about each attribute of block b that differs from ref's
// (both of one struct type), at b's attribute.
func (c *checker) diffAttrs(what string, ref, b reflect.Value, kind string) {
	info := infoOf(b.Type())
	rs, bs := ref.Field(info.source).Addr().Interface().(*Source), b.Field(info.source).Addr().Interface().(*Source)
	for _, f := range info.fields {
		if f.kind != kindAttr || (len(f.only) > 0 && !slices.Contains(f.only, kind)) {
			continue
		}
		rv, bv := f.in(ref), f.in(b)
		if equal(rv, bv) {
			continue
		}
		c.warnf(bs.Range(f.name), "Virtual servers differ between directors",
			"%s has %s = %s here and %s at %s; after a failover the service would change. Make the directors agree.",
			what, f.name, shownValue(f, bv), shownValue(f, rv), rangeText(rs.Range(f.name)))
	}
}

func shownValue(f fieldInfo, v reflect.Value) string {
	if !f.hasDef && v.IsZero() {
		return "unset"
	}
	text, err := valueText(v)
	if err != nil {
		return fmt.Sprint(v.Interface())
	}
	return text
}
