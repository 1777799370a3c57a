package config

import (
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/tandemlb/tandem/vrrp/interval"
)

// checker collects the findings of the checks that look across attributes
// and blocks, after decoding.
type checker struct {
	diags  hcl.Diagnostics
	rsSeen map[netip.AddrPort]hcl.Range // realServers' scratch, one for all virtual servers
}

func (c *checker) add(sev hcl.DiagnosticSeverity, r hcl.Range, summary, format string, args ...any) {
	c.diags = append(c.diags, &hcl.Diagnostic{
		Severity: sev, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r.Ptr(),
	})
}

func (c *checker) errorf(r hcl.Range, summary, format string, args ...any) {
	c.add(hcl.DiagError, r, summary, format, args...)
}

func (c *checker) warnf(r hcl.Range, summary, format string, args ...any) {
	c.add(hcl.DiagWarning, r, summary, format, args...)
}

// between reports v outside lo..hi as an error at the attribute.
func (c *checker) between(s *Source, attr string, v, lo, hi int) {
	if (v < lo || v > hi) && s.decoded(attr) {
		c.errorf(s.Range(attr), "Value out of range", "%q must be from %d to %d, not %d.", attr, lo, hi, v)
	}
}

// unknownName reports a reference to a name that no block defines.
func (c *checker) unknownName(r hcl.Range, kind, name string, known []string) {
	hint := ""
	if s := suggest(name, known); s != "" {
		hint = fmt.Sprintf(" Did you mean %q?", s)
	}
	c.errorf(r, "Unknown "+kind, "There is no %s named %q.%s", kind, name, hint)
}

// seenBefore records key at r and reports where it was first seen if it
// was. (The message is built only for a duplicate: 36k real servers.)
func seenBefore[K comparable](seen map[K]hcl.Range, key K, r hcl.Range) (first hcl.Range, dup bool) {
	if first, ok := seen[key]; ok {
		return first, true
	}
	seen[key] = r
	return hcl.Range{}, false
}

// durText writes a duration in seconds (256s, 1.5s, 0.005s), the way the
// limits in the messages are written, rather than as 4m16s.
func durText(d time.Duration) string {
	return strconv.FormatFloat(d.Seconds(), 'f', -1, 64) + "s"
}

func validate(cfg *Config) hcl.Diagnostics {
	c := &checker{}
	c.global(&cfg.Global)
	names := c.instances(cfg)
	c.vsHooks(cfg) // before virtualServers: group members and families
	vsNames := c.virtualServers(cfg)
	c.tracking(cfg, names, vsNames)
	c.syncGroups(cfg, names)
	c.lvs(cfg, names)
	c.vrrphost(cfg)
	c.vrrpauth(cfg) // validate_vrrpauth.go: authentication hmac, strict mode
	c.bgp(cfg, names, vsNames)
	c.fullnat(cfg) // validate_fullnat.go; after vrrpauth: strict mode means accept = false
	return c.diags
}

func (c *checker) global(g *Global) {
	if g.Source.Has("router_id") && strings.TrimSpace(g.RouterID) == "" {
		c.errorf(g.Range("router_id"), "Empty router_id", "Leave router_id out to use the host name, or give a name.")
	}
	for _, attr := range []struct{ name, val string }{{"control_socket", g.ControlSocket}, {"state_dir", g.StateDir}} {
		if !filepath.IsAbs(attr.val) {
			c.errorf(g.Range(attr.name), "Path must be absolute", "%q must be an absolute path, not %q.", attr.name, attr.val)
		}
	}
	if g.MetricsListen != "" {
		_, port, err := net.SplitHostPort(g.MetricsListen)
		if _, perr := strconv.ParseUint(port, 10, 16); err != nil || perr != nil {
			c.errorf(g.Range("metrics_listen"), "Invalid listen address", "%q is not host:port; write it like \"127.0.0.1:9110\" or \"[::1]:9110\".", g.MetricsListen)
		}
	}
}

// instances checks each vrrp_instance on its own and VRID uniqueness; it
// returns the instance names.
func (c *checker) instances(cfg *Config) []string {
	var names []string
	seen := map[string]hcl.Range{}
	vrids := map[string]hcl.Range{}
	for _, in := range cfg.Instances {
		s := &in.Source
		if first, dup := seenBefore(seen, in.Name, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate vrrp_instance", "Another vrrp_instance is named %q; give each instance its own name. The first is at %s.", in.Name, rangeText(first))
		}
		names = append(names, in.Name)
		if strings.TrimSpace(in.Interface) == "" && s.decoded("interface") {
			c.errorf(s.Range("interface"), "Empty interface", "Name the interface that carries this instance, such as \"eth0\".")
		}
		c.between(s, "virtual_router_id", in.VRID, 1, 255)
		switch {
		case in.Priority == 0:
			c.errorf(s.Range("priority"), "Value out of range", "Priority 0 is reserved for a master that steps down; use 1 to 255.")
		case in.Priority == 255:
			c.warnf(s.Range("priority"), "Address owner", "Priority 255 makes this node the address owner: it becomes master at once and ignores adverts. The virtual IPs must be this interface's own addresses; use 254 or less otherwise.")
		default:
			c.between(s, "priority", in.Priority, 1, 255)
		}
		if in.Version != 2 && in.Version != 3 {
			c.errorf(s.Range("version"), "Invalid version", "VRRP version must be 2 or 3, not %d.", in.Version)
		}
		fam := c.vips(in)
		if fam == IPv6 && in.Version == 2 && s.decoded("version") {
			c.errorf(s.Range("version"), "IPv6 needs VRRP version 3", "VRRPv2 carries only IPv4; use version = 3 for IPv6 virtual IPs.")
		}
		c.advertInterval(in)
		c.authentication(in)
		if !in.Preempt && s.Has("preempt_delay") {
			c.warnf(s.Range("preempt_delay"), "preempt_delay without preempt", "preempt = false, so this instance never preempts and preempt_delay has no effect.")
		}
		c.unicast(in, fam)
		c.between(s, "unicast_min_ttl", in.UnicastMinTTL, 1, 255)
		key := fmt.Sprintf("%s/%s/%d", in.Interface, fam, in.VRID)
		if s.decoded("virtual_router_id", "interface") {
			if first, dup := seenBefore(vrids, key, s.Range("virtual_router_id")); dup {
				c.errorf(s.Range("virtual_router_id"), "Duplicate virtual router ID", "virtual_router_id %d is already used on %s for %s; each VRID must be unique per interface and address family, so pick another. The first is at %s.", in.VRID, in.Interface, fam, rangeText(first))
			}
		}
		c.trackScripts(in)
		c.garp(&in.GARP)
		c.notify(&in.Notify)
	}
	return names
}

// vips checks the virtual IPs and returns their family.
func (c *checker) vips(in *VRRPInstance) Family {
	s := &in.Source
	if len(in.VirtualIPs) == 0 {
		if s.Has("virtual_ips") && s.decoded("virtual_ips") {
			c.errorf(s.Range("virtual_ips"), "No virtual IPs", "An instance needs at least one virtual IP.")
		}
		return IPv4
	}
	fam := in.Family()
	seen := map[netip.Addr]bool{}
	for i, p := range in.VirtualIPs {
		r := s.ElemRange("virtual_ips", i)
		if familyOf(p.Addr()) != fam {
			c.errorf(r, "Mixed address families", "%s is %s but the first virtual IP is %s; put each family in its own vrrp_instance.", p, familyOf(p.Addr()), fam)
			continue
		}
		if seen[p.Addr()] {
			c.errorf(r, "Duplicate virtual IP", "%s is listed twice.", p.Addr())
		}
		seen[p.Addr()] = true
	}
	if fam == IPv6 && !in.VirtualIPs[0].Addr().IsLinkLocalUnicast() {
		c.warnf(s.ElemRange("virtual_ips", 0), "First IPv6 virtual IP is not link-local",
			"RFC 5798 section 5.2.9: an IPv6 instance should list a link-local address (fe80::/10) first; routers use it as the gateway.")
	}
	return fam
}

func familyOf(a netip.Addr) Family {
	if a.Is4() || a.Is4In6() {
		return IPv4
	}
	return IPv6
}

func (c *checker) advertInterval(in *VRRPInstance) {
	s, iv := &in.Source, in.AdvertInterval
	if !s.decoded("version") || (in.Version != 2 && in.Version != 3) {
		return
	}
	if !interval.Valid(in.Version, iv) {
		c.errorf(s.Range("advert_interval"), "Invalid advert_interval", "%s, not %s.", interval.Rule(in.Version), durText(iv))
	}
}

func (c *checker) authentication(in *VRRPInstance) {
	a := &in.Authentication
	if a.DefRange().Filename == "" {
		return
	}
	if in.Version == 3 && in.Source.decoded("version") && a.Type == "pass" {
		c.errorf(a.Range("type"), "Password authentication needs VRRP version 2", "RFC 5798 removed authentication from VRRPv3; set version = 2, or use type = \"hmac\" (signed adverts, v2 and v3).")
	}
	switch {
	case a.Type == "pass" && a.Password == "":
		c.errorf(a.Range("type"), "Missing password", "type = \"pass\" needs a password of 1 to 8 bytes.")
	case a.Type == "pass" && len(a.Password) > 8:
		c.errorf(a.Range("password"), "Password too long", "VRRPv2 passwords are at most 8 bytes; this one has %d.", len(a.Password))
	case a.Type == "none" && a.Password != "":
		c.errorf(a.Range("password"), "Password without authentication", "Set type = \"pass\" to use the password, or remove it.")
	}
}

func (c *checker) unicast(in *VRRPInstance, fam Family) {
	s := &in.Source
	if in.UnicastSource.IsValid() {
		if familyOf(in.UnicastSource) != fam {
			c.errorf(s.Range("unicast_source"), "Wrong address family", "unicast_source %s is not %s like the virtual IPs; use this director's %s address on the instance's interface.", in.UnicastSource, fam, fam)
		}
		if len(in.UnicastPeers) == 0 && !in.UnicastFaultNoPeer {
			c.warnf(s.Range("unicast_source"), "unicast_source without unicast_peers", "Adverts go to multicast unless unicast_peers is set; unicast_source has no effect.")
		}
	}
	seen := map[netip.Addr]bool{}
	for i, p := range in.UnicastPeers {
		r := s.ElemRange("unicast_peers", i)
		switch {
		case familyOf(p) != fam:
			c.errorf(r, "Wrong address family", "Peer %s is not %s like the virtual IPs; list the other directors' %s addresses.", p, fam, fam)
		case p == in.UnicastSource:
			c.errorf(r, "Peer is the source", "%s is this director's own unicast_source; list only the other directors.", p)
		case seen[p]:
			c.errorf(r, "Duplicate peer", "%s is listed twice.", p)
		}
		seen[p] = true
	}
}

func (c *checker) trackScripts(in *VRRPInstance) {
	seen := map[string]hcl.Range{}
	for _, ts := range in.TrackScripts {
		s := &ts.Source
		if first, dup := seenBefore(seen, ts.Name, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate track_script", "Another track_script of this instance is named %q; give each its own name. The first is at %s.", ts.Name, rangeText(first))
		}
		c.command(s, "command", ts.Command)
		c.timing(s, ts.Interval, ts.Timeout, ts.Rise, ts.Fall)
		c.between(s, "weight", ts.Weight, -254, 254)
	}
}

// timing checks interval, timeout, rise and fall of a check or script.
func (c *checker) timing(s *Source, interval, timeout time.Duration, rise, fall int) {
	if interval <= 0 {
		c.errorf(s.Range("interval"), "Invalid interval", "The interval must be above 0s.")
	}
	if timeout <= 0 {
		c.errorf(s.Range("timeout"), "Invalid timeout", "The timeout must be above 0s.")
	} else if interval > 0 && timeout >= interval && s.decoded("interval", "timeout") {
		// Point at what was written: with the default timeout, the interval.
		at := "timeout"
		if !s.Has("timeout") {
			at = "interval"
		}
		c.errorf(s.Range(at), "Timeout not below interval", "The timeout (%s) must be below the interval (%s), or runs would overlap; raise the interval or lower the timeout.", durText(timeout), durText(interval))
	}
	for _, rf := range []struct {
		name string
		v    int
	}{{"rise", rise}, {"fall", fall}} {
		if rf.v < 1 {
			c.errorf(s.Range(rf.name), "Value out of range", "%q must be 1 or more, not %d.", rf.name, rf.v)
		}
	}
}

func (c *checker) command(s *Source, attr string, argv []string) {
	if s.Has(attr) && (len(argv) == 0 || argv[0] == "") {
		c.errorf(s.Range(attr), "Empty command", "%q is an argv list run without a shell, such as [\"/usr/bin/pgrep\", \"nginx\"]; it must name a program.", attr)
	}
}

func (c *checker) garp(g *GARP) {
	c.between(&g.Source, "master_repeat", g.MasterRepeat, 0, 255)
	if g.Refresh > 0 && g.Refresh < 1100*time.Millisecond {
		c.errorf(g.Range("refresh"), "Invalid refresh", "Re-announcements must be at least 1.1s apart (or 0s for none), not %s.", durText(g.Refresh))
	}
}

func (c *checker) notify(n *Notify) {
	for _, a := range []struct {
		name string
		argv []string
	}{{"master", n.Master}, {"backup", n.Backup}, {"fault", n.Fault}, {"stop", n.Stop}} {
		c.command(&n.Source, a.name, a.argv)
	}
}

// tracking checks the names an instance refers to, and accept mode.
func (c *checker) tracking(cfg *Config, names, vsNames []string) {
	for _, in := range cfg.Instances {
		s := &in.Source
		for i, name := range in.TrackVirtualServers {
			if !slices.Contains(vsNames, name) {
				c.unknownName(s.ElemRange("track_virtual_servers", i), "virtual_server", name, vsNames)
			}
		}
		for i, name := range in.TrackInterfaces {
			if strings.TrimSpace(name) == "" {
				c.errorf(s.ElemRange("track_interfaces", i), "Empty interface", "Name an interface, such as \"eth1\".")
			}
		}
		if in.Accept {
			continue
		}
		var users []string
		for _, vs := range cfg.VirtualServers {
			for _, a := range vs.Addrs() {
				if slices.ContainsFunc(in.VirtualIPs, func(p netip.Prefix) bool { return p.Addr() == a }) {
					at := "group " + vs.Group
					if vs.Address.IsValid() {
						at = vs.Address.String()
					}
					users = append(users, fmt.Sprintf("%q (%s)", vs.Name, at))
					break
				}
			}
		}
		if len(users) > 0 {
			c.errorf(s.Range("accept"), "accept = false on a virtual server's VIP",
				"accept = false makes the master drop traffic to its virtual IPs, but these virtual servers listen on them: %s. Remove accept = false.", strings.Join(users, ", "))
		}
	}
}

func (c *checker) syncGroups(cfg *Config, names []string) {
	seen := map[string]hcl.Range{}
	member := map[string]string{}
	for _, g := range cfg.SyncGroups {
		s := &g.Source
		if first, dup := seenBefore(seen, g.Name, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate sync_group", "Another sync_group is named %q; give each group its own name. The first is at %s.", g.Name, rangeText(first))
		}
		if len(g.Instances) == 0 && s.decoded("instances") {
			c.errorf(s.Range("instances"), "Empty sync_group", "List the vrrp_instance names that change state together.")
		}
		for i, name := range g.Instances {
			r := s.ElemRange("instances", i)
			switch other, in := member[name]; {
			case !slices.Contains(names, name):
				c.unknownName(r, "vrrp_instance", name, names)
			case in && other == g.Name:
				c.errorf(r, "Duplicate instance", "%q is listed twice in this group.", name)
			case in:
				c.errorf(r, "Instance in two sync groups", "%q is already in sync_group %q; an instance belongs to at most one group.", name, other)
			default:
				member[name] = g.Name
			}
		}
		c.notify(&g.Notify)
	}
}

func (c *checker) lvs(cfg *Config, names []string) {
	l := &cfg.LVS
	for _, attr := range []struct {
		name string
		v    time.Duration
	}{{"tcp_timeout", l.TCPTimeout}, {"tcpfin_timeout", l.TCPFinTimeout}, {"udp_timeout", l.UDPTimeout}} {
		if attr.v%time.Second != 0 {
			c.errorf(l.Range(attr.name), "Invalid timeout", "IPVS timeouts are whole seconds, not %s.", durText(attr.v))
		}
	}
	if l.ReconcileInterval < time.Second {
		c.errorf(l.Range("reconcile_interval"), "Invalid reconcile_interval", "Re-read the kernel table at most once a second: use 1s or more, not %s.", durText(l.ReconcileInterval))
	}
	ls := cfg.LVSSync
	if ls == nil {
		return
	}
	s := &ls.Source
	if strings.TrimSpace(ls.Interface) == "" && s.decoded("interface") {
		c.errorf(s.Range("interface"), "Empty interface", "Name the interface for sync messages, such as \"eth1\".")
	}
	if s.Has("follow") && !slices.Contains(names, ls.Follow) {
		c.unknownName(s.Range("follow"), "vrrp_instance", ls.Follow, names)
	}
	c.between(s, "sync_id", ls.SyncID, 0, 255)
	c.between(s, "max_len", ls.MaxLen, 0, 65507)
	c.between(s, "port", ls.Port, 0, 65535)
	c.between(s, "ttl", ls.TTL, 0, 255)
	if ls.Group.IsValid() && !ls.Group.IsMulticast() {
		c.errorf(s.Range("group"), "Not a multicast group", "%s is not a multicast address; the kernel default is 224.0.0.81.", ls.Group)
	}
}

// virtualServers checks each virtual_server and its real servers; it
// returns their names.
func (c *checker) virtualServers(cfg *Config) []string {
	names := make([]string, 0, len(cfg.VirtualServers))
	seen := make(map[string]hcl.Range, len(cfg.VirtualServers)) // sized: no garbage growing
	services := make(map[string]hcl.Range, len(cfg.VirtualServers))
	for _, vs := range cfg.VirtualServers {
		s := &vs.Source
		if first, dup := seenBefore(seen, vs.Name, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate virtual_server", "Another virtual_server is named %q; give each its own name (tandem drain and status use it). The first is at %s.", vs.Name, rangeText(first))
		}
		names = append(names, vs.Name)
		key, ok := c.service(vs)
		if ok && s.decoded("protocol") {
			at := "address"
			if vs.Fwmark != 0 {
				at = "fwmark"
			}
			if first, dup := seenBefore(services, key, s.Range(at)); dup {
				c.errorf(s.Range(at), "Duplicate service", "Another virtual_server already defines %s; the kernel has one service per address or mark. Merge the two, or change one. The first is at %s.", key, rangeText(first))
			}
		}
		if s.decoded("scheduler") {
			c.scheduler(vs)
		}
		if vs.OnePacket && vs.Protocol != UDP && s.decoded("protocol") {
			c.errorf(s.Range("one_packet"), "one_packet needs UDP", "one_packet schedules each datagram on its own; it applies to protocol = \"udp\" only.")
		}
		c.persistence(vs)
		if vs.Quorum < 0 || vs.Hysteresis < 0 {
			c.errorf(s.Range("quorum"), "Value out of range", "quorum and hysteresis must be 0 or more.")
		} else if vs.Hysteresis > vs.Quorum {
			c.errorf(s.Range("hysteresis"), "Hysteresis above quorum", "hysteresis (%d) must not exceed quorum (%d).", vs.Hysteresis, vs.Quorum)
		}
		if vs.SorryServer.IsValid() {
			c.endpoint(vs, vs.SorryServer, s.Range("sorry_server"), "sorry server")
		}
		c.realServers(vs)
	}
	return names
}

// service sets the family and returns the kernel service key, if any. The
// family stays empty when it is unknown, and checks against it are skipped.
func (c *checker) service(vs *VirtualServer) (string, bool) {
	s := &vs.Source
	hasAddr, hasMark := s.Has("address"), s.Has("fwmark")
	switch {
	case s.Has("group"):
		return c.groupedService(vs)
	case hasAddr && hasMark:
		c.errorf(s.Range("fwmark"), "Both address and fwmark", "A virtual server is either address:port or a firewall mark; remove one.")
		return "", false
	case !hasAddr && !hasMark:
		c.errorf(s.LabelRange(), "Missing address or fwmark", "Give address = \"VIP:port\", or fwmark with family.")
		return "", false
	case hasAddr:
		if s.Has("family") {
			c.errorf(s.Range("family"), "family with address", "family applies to fwmark services only; an address service takes its family from the address. Remove family.")
		}
		if !s.decoded("address") {
			return "", false
		}
		vs.Family = familyOf(vs.Address.Addr())
		if vs.Address.Addr().Zone() != "" {
			c.errorf(s.Range("address"), "Address with zone", "A virtual service needs an address without a zone.")
		}
		if vs.Address.Port() == 0 && vs.PersistenceTimeout == 0 && s.decoded("persistence_timeout") {
			c.errorf(s.Range("address"), "Port 0", "Port 0 (all ports) is valid only for persistent services; give a port or set persistence_timeout.")
		}
		return fmt.Sprintf("%s %s", vs.Protocol, vs.Address), true
	default:
		if vs.Fwmark < 1 || vs.Fwmark > 1<<32-1 {
			c.errorf(s.Range("fwmark"), "Value out of range", "fwmark must be from 1 to 4294967295, not %d.", vs.Fwmark)
		}
		if s.Has("protocol") {
			c.warnf(s.Range("protocol"), "protocol with fwmark", "A fwmark service matches every protocol the mark is set on; protocol has no effect.")
		}
		if !s.decoded("family") {
			return "", false
		}
		vs.Family = vs.FamilyAttr
		return fmt.Sprintf("fwmark %d %s", vs.Fwmark, vs.Family), true
	}
}

func (c *checker) scheduler(vs *VirtualServer) {
	seen := map[SchedulerFlag]bool{}
	for i, f := range vs.SchedulerFlags {
		r := vs.ElemRange("scheduler_flags", i)
		prefix, _, _ := strings.Cut(string(f), "-")
		switch {
		case prefix != string(vs.Scheduler):
			c.errorf(r, "Flag not valid for scheduler", "%q applies to the %s scheduler only, not to %q.", f, prefix, vs.Scheduler)
		case seen[f]:
			c.errorf(r, "Duplicate flag", "%q is listed twice.", f)
		}
		seen[f] = true
	}
}

func (c *checker) persistence(vs *VirtualServer) {
	s := &vs.Source
	if vs.PersistenceTimeout%time.Second != 0 {
		c.errorf(s.Range("persistence_timeout"), "Invalid persistence_timeout", "IPVS persistence is in whole seconds, not %s.", durText(vs.PersistenceTimeout))
	}
	vs.PersistenceBits = vs.Family.bits()
	if !s.Has("persistence_netmask") || vs.Family == "" {
		return
	}
	if vs.PersistenceTimeout == 0 {
		c.warnf(s.Range("persistence_netmask"), "persistence_netmask without persistence", "Set persistence_timeout for the netmask to have an effect.")
	}
	bits, ok := maskBits(vs.PersistenceNetmask, vs.Family)
	if !ok {
		ex := "\"255.255.255.0\""
		if vs.Family == IPv6 {
			ex = "\"64\""
		}
		c.errorf(s.Range("persistence_netmask"), "Invalid persistence_netmask", "%q is not a netmask for %s; write it like %s.", vs.PersistenceNetmask, vs.Family, ex)
		return
	}
	vs.PersistenceBits = bits
}

func (f Family) bits() int {
	if f == IPv6 {
		return 128
	}
	return 32
}

// maskBits parses a dotted IPv4 netmask, or an IPv6 prefix length.
func maskBits(s string, fam Family) (int, bool) {
	if fam == IPv6 {
		n, err := strconv.Atoi(strings.TrimPrefix(s, "/"))
		return n, err == nil && n >= 1 && n <= 128
	}
	a, err := netip.ParseAddr(s)
	if err != nil || !a.Is4() {
		return 0, false
	}
	b := a.As4()
	ones, size := net.IPMask(b[:]).Size()
	return ones, size == 32 && ones > 0
}

// endpoint checks a real or sorry server against its virtual server.
// A fwmark service has no port to compare with: there the port only tells
// the checks where to connect.
func (c *checker) endpoint(vs *VirtualServer, e Endpoint, r hcl.Range, what string) {
	if vs.Family != "" && familyOf(e.Addr) != vs.Family {
		c.errorf(r, "Wrong address family", "The %s %s is not %s like the virtual server; an IPVS service forwards within one family.", what, e.Addr, vs.Family)
	}
	if (vs.Forwarding == DR || vs.Forwarding == TUN) && vs.Source.decoded("forwarding") && vs.Address.IsValid() &&
		e.Port != 0 && e.Port != vs.Address.Port() {
		c.errorf(r, "Port differs under "+string(vs.Forwarding), "%s forwarding cannot change the port: the %s must use port %d like the virtual server, or leave the port out.", vs.Forwarding, what, vs.Address.Port())
	}
}

func (c *checker) realServers(vs *VirtualServer) {
	if c.rsSeen == nil {
		c.rsSeen = map[netip.AddrPort]hcl.Range{}
	}
	seen := c.rsSeen
	clear(seen)
	for _, rs := range vs.RealServers {
		s := &rs.Source
		if err := rs.Endpoint.UnmarshalText([]byte(rs.Name)); err != nil {
			c.errorf(s.LabelRange(), "Invalid real server", "%v.", err)
			continue
		}
		c.endpoint(vs, rs.Endpoint, s.LabelRange(), "real server")
		key := netip.AddrPortFrom(rs.Endpoint.Addr, rs.Endpoint.Port)
		if rs.Endpoint.Port == 0 && vs.Port() != 0 {
			key = netip.AddrPortFrom(rs.Endpoint.Addr, vs.Port())
		}
		if first, dup := seenBefore(seen, key, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate real_server", "%s is already a real server of this virtual server (an address alone means the virtual port); remove one. The first is at %s.", key, rangeText(first))
		}
		c.between(s, "weight", rs.Weight, 0, 65535)
		c.between(s, "upper_threshold", rs.UpperThreshold, 0, 65535)
		c.between(s, "lower_threshold", rs.LowerThreshold, 0, 65535)
		if rs.UpperThreshold > 0 && rs.LowerThreshold > rs.UpperThreshold {
			c.errorf(s.Range("lower_threshold"), "lower_threshold above upper_threshold", "lower_threshold (%d) must not exceed upper_threshold (%d).", rs.LowerThreshold, rs.UpperThreshold)
		}
		port := rs.Endpoint.Port
		if port == 0 {
			port = vs.Port()
		}
		for _, ch := range rs.Checks {
			c.check(ch, port)
		}
	}
}

var hexSHA256 = regexp.MustCompile(`^[0-9a-fA-F]{64}$`)

func (c *checker) check(ch *Check, port uint16) {
	s := &ch.Source
	c.timing(s, ch.Interval, ch.Timeout, ch.Rise, ch.Fall)
	c.between(s, "connect_port", ch.Connect().ConnectPort, 0, 65535)
	c.checkBreadth(ch)
	if ch.Type == "exec" {
		if !s.Has("command") {
			c.errorf(s.LabelRange(), "Missing command", "An exec check needs command = [\"/path/to/program\", ...].")
		}
		c.command(s, "command", ch.Command)
		return
	}
	if port == 0 && ch.Connect().ConnectPort == 0 && ch.Type != "" && !portless(ch.Type) && s.decoded("connect_port") {
		c.errorf(s.LabelRange(), "Missing connect_port", "The real server has no port (fwmark or port 0 service); tell the %s check which port to use with connect_port.", ch.Type)
	}
	switch ch.Type {
	case "http", "https":
		if ch.ExpectBody != "" {
			if _, err := regexp.Compile(ch.ExpectBody); err != nil {
				c.errorf(s.Range("expect_body"), "Invalid regular expression", "expect_body: %v.", err)
			}
		}
		if ch.ExpectSHA256 != "" && !hexSHA256.MatchString(ch.ExpectSHA256) {
			c.errorf(s.Range("expect_sha256"), "Invalid SHA-256", "expect_sha256 must be 64 hex digits (sha256sum prints them).")
		}
		if !httpToken.MatchString(ch.Method) {
			c.errorf(s.Range("method"), "Invalid method", "%q is not an HTTP method; use GET, HEAD or another token.", ch.Method)
		}
		if !strings.HasPrefix(ch.Path, "/") {
			c.errorf(s.Range("path"), "Invalid path", "The path must start with \"/\", not %q.", ch.Path)
		}
		for k := range ch.Headers {
			if !httpToken.MatchString(k) {
				c.errorf(s.Range("headers"), "Invalid header name", "%q is not a valid header name.", k)
			}
		}
	case "dns":
		if strings.TrimSpace(ch.QueryName) == "" {
			c.errorf(s.Range("query_name"), "Empty query_name", "Name the record to ask for, such as \"example.org.\".")
		}
	}
}

var httpToken = regexp.MustCompile("^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")
