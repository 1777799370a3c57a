package config

import (
	"fmt"
	"net/netip"
	"net/url"
	"slices"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// maxGroupMembers bounds what one virtual_server_group expands to: each
// member is a kernel service with every real server.
const maxGroupMembers = 4096

// vsHooks checks virtual_server_group blocks, the virtual servers that use
// them, the real-server and quorum hooks, ha_suspend and alert. It runs
// before virtualServers: a grouped virtual server's family and members are
// set here.
func (c *checker) vsHooks(cfg *Config) {
	groups := c.vsGroups(cfg)
	var names []string
	for _, g := range cfg.VSGroups {
		names = append(names, g.Name)
	}
	used := map[string]string{}
	for _, vs := range cfg.VirtualServers {
		s := &vs.Source
		if s.Has("group") {
			g := groups[vs.Group]
			switch {
			case g == nil:
				c.unknownName(s.Range("group"), "virtual_server_group", vs.Group, names)
			case used[vs.Group] != "":
				c.errorf(s.Range("group"), "virtual_server_group used twice", "virtual_server %q already uses group %q; the kernel has one service per member, so give each virtual server its own group.", used[vs.Group], vs.Group)
			default:
				used[vs.Group] = vs.Name
				vs.Members = g.Expanded
			}
		}
		if vs.Group != "" && vs.Forwarding == "fullnat" {
			c.errorf(s.Range("forwarding"), "fullnat with group", "A virtual_server_group's members cannot use fullnat yet (its source NAT is per address); give each member its own virtual_server, or use nat.")
		}
		c.command(&vs.Notify.Source, "quorum_up", vs.Notify.QuorumUp)
		c.command(&vs.Notify.Source, "quorum_down", vs.Notify.QuorumDown)
		if vs.HASuspend && vs.Fwmark != 0 {
			c.errorf(s.Range("ha_suspend"), "ha_suspend with fwmark", "A fwmark service has no address for a VRRP instance to hold; ha_suspend needs address or a group of addresses.")
		}
		if vs.HASuspend && !heldByInstance(cfg, vs) {
			c.warnf(s.Range("ha_suspend"), "ha_suspend without a VRRP instance", "No vrrp_instance lists this virtual server's address in virtual_ips, so its checks never run; add the address to an instance or remove ha_suspend.")
		}
		for _, rs := range vs.RealServers {
			if n := rs.Notify; n != nil {
				c.command(&n.Source, "up", n.Up)
				c.command(&n.Source, "down", n.Down)
			}
		}
		if vs.NotifyOnStop && !hasHooks(vs) {
			c.warnf(s.Range("notify_on_stop"), "notify_on_stop without hooks", "No real server has notify { down } and the virtual server has no notify { quorum_down }: nothing runs at shutdown.")
		}
	}
	for _, g := range cfg.VSGroups {
		if used[g.Name] == "" {
			c.warnf(g.LabelRange(), "Unused virtual_server_group", "No virtual_server has group = %q.", g.Name)
		}
	}
	c.alert(cfg.Alert)
}

// heldByInstance: some instance lists one of the virtual server's
// addresses as a VIP.
func heldByInstance(cfg *Config, vs *VirtualServer) bool {
	for _, a := range vs.Addrs() {
		for _, in := range cfg.Instances {
			if slices.ContainsFunc(in.VirtualIPs, func(p netip.Prefix) bool { return p.Addr() == a }) {
				return true
			}
		}
	}
	return false
}

// Addrs are the virtual server's addresses: its address, or its group's
// address members (none for a fwmark).
func (vs *VirtualServer) Addrs() []netip.Addr {
	if vs.Address.IsValid() {
		return []netip.Addr{vs.Address.Addr()}
	}
	var out []netip.Addr
	for _, m := range vs.Members {
		if m.Fwmark == 0 && !slices.Contains(out, m.Address.Addr()) {
			out = append(out, m.Address.Addr())
		}
	}
	return out
}

func hasHooks(vs *VirtualServer) bool {
	if len(vs.Notify.QuorumDown) > 0 {
		return true
	}
	return slices.ContainsFunc(vs.RealServers, func(rs *RealServer) bool { _, down := rs.Hooks(); return len(down) > 0 })
}

// groupedService is service() for a virtual server with group: the family
// comes from the members; duplicates are checked in vsGroups.
func (c *checker) groupedService(vs *VirtualServer) (string, bool) {
	s := &vs.Source
	for _, other := range []string{"address", "fwmark"} {
		if s.Has(other) {
			c.errorf(s.Range(other), "Both group and "+other, "A virtual server with group takes its addresses and marks from the group; remove %s.", other)
		}
	}
	if len(vs.Members) == 0 {
		return "", false
	}
	fam := vs.FamilyAttr
	if m := vs.Members[0]; m.Fwmark == 0 {
		fam = familyOf(m.Address.Addr())
	}
	for _, m := range vs.Members {
		if m.Fwmark == 0 && familyOf(m.Address.Addr()) != fam {
			c.errorf(s.Range("group"), "Mixed address families", "Group %q mixes families (%s is not %s); an IPVS service forwards within one family, so split the group.", vs.Group, m, fam)
			return "", false
		}
	}
	vs.Family = fam
	return "", false
}

// vsGroups expands each group's members; it returns the groups by name.
func (c *checker) vsGroups(cfg *Config) map[string]*VirtualServerGroup {
	out := map[string]*VirtualServerGroup{}
	seen := map[string]hcl.Range{}
	members := map[string]hcl.Range{}
	for _, vs := range cfg.VirtualServers {
		if vs.Address.IsValid() {
			members[fmt.Sprintf("%s %s", vs.Protocol, vs.Address)] = vs.Range("address")
		}
	}
	for _, g := range cfg.VSGroups {
		s := &g.Source
		if first, dup := seenBefore(seen, g.Name, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate virtual_server_group", "Another virtual_server_group is named %q; give each its own name. The first is at %s.", g.Name, rangeText(first))
			continue
		}
		out[g.Name] = g
		if len(g.Members) == 0 && s.decoded("members") {
			c.errorf(s.Range("members"), "Empty virtual_server_group", "List at least one member: \"198.51.100.10:80\", \"198.51.100.11-20:443\", \"198.51.100.0/30:80\" or \"fwmark:42\".")
		}
		g.Expanded = nil
		for i, m := range g.Members {
			r := s.ElemRange("members", i)
			ms, err := ParseGroupMember(m)
			if err != nil {
				c.errorf(r, "Invalid group member", "%v.", err)
				continue
			}
			if len(g.Expanded)+len(ms) > maxGroupMembers {
				c.errorf(r, "Group too large", "Group %q expands to more than %d services; split it.", g.Name, maxGroupMembers)
				break
			}
			for _, x := range ms {
				// The protocol is the virtual server's; members of one
				// group share it, so the address alone is the key here.
				key := "tcp " + x.String()
				if x.Fwmark != 0 {
					key = x.String()
				}
				if first, dup := seenBefore(members, key, r); dup {
					c.errorf(r, "Duplicate service", "%s is already a service (of this or another group, or a virtual_server's address); the kernel has one service per address or mark. The first is at %s.", x, rangeText(first))
					continue
				}
				g.Expanded = append(g.Expanded, x)
			}
		}
	}
	return out
}

// ParseGroupMember parses one member of a virtual_server_group: ADDR:PORT
// ([ADDR]:PORT for IPv6), A.B.C.D-E:PORT (a range of the last octet;
// [2001:db8::10-1f]:PORT, of the last group in hex), PREFIX/LEN:PORT
// (every address of the prefix, at most 256), fwmark:N.
func ParseGroupMember(s string) ([]GroupMember, error) {
	if mark, ok := strings.CutPrefix(s, "fwmark:"); ok {
		n, err := strconv.ParseUint(mark, 10, 32)
		if err != nil || n == 0 {
			return nil, fmt.Errorf("%q: a mark is 1..4294967295, as in \"fwmark:42\"", s)
		}
		return []GroupMember{{Fwmark: int(n)}}, nil
	}
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return nil, fmt.Errorf("%q has no port; write \"198.51.100.10:80\", \"198.51.100.11-20:443\", \"198.51.100.0/30:80\" or \"fwmark:42\"", s)
	}
	host, portText := strings.NewReplacer("[", "", "]", "").Replace(s[:i]), s[i+1:]
	port, err := strconv.ParseUint(portText, 10, 16)
	if err != nil {
		return nil, fmt.Errorf("%q: %q is not a port (0..65535)", s, portText)
	}
	if p, err := netip.ParsePrefix(host); err == nil {
		p = p.Masked()
		bits := p.Addr().BitLen() - p.Bits()
		if bits > 8 {
			return nil, fmt.Errorf("%q: a prefix in a group may hold at most 256 addresses (/24 for IPv4, /120 for IPv6)", s)
		}
		var out []GroupMember
		for a, n := p.Addr(), 0; n < 1<<bits; a, n = a.Next(), n+1 {
			out = append(out, GroupMember{Address: netip.AddrPortFrom(a, uint16(port))})
		}
		return out, nil
	}
	if lo, hiText, ok := strings.Cut(host, "-"); ok {
		return memberRange(s, lo, hiText, uint16(port))
	}
	a, err := netip.ParseAddr(host)
	if err != nil || a.Zone() != "" {
		return nil, fmt.Errorf("%q: %q is not an IP address (without zone)", s, host)
	}
	return []GroupMember{{Address: netip.AddrPortFrom(a.Unmap(), uint16(port))}}, nil
}

// memberRange expands A.B.C.D-E (the last octet, decimal) or
// 2001:db8::10-1f (the last 16-bit group, hex, at most 256 addresses).
func memberRange(s, lo, hiText string, port uint16) ([]GroupMember, error) {
	a, err := netip.ParseAddr(lo)
	if err != nil || a.Zone() != "" {
		return nil, fmt.Errorf("%q: a range is an address and the end of its last part, as in \"198.51.100.11-20:443\" or \"[2001:db8::10-1f]:443\"", s)
	}
	b := a.As16()
	start, base := int(b[15]), 10
	if a.Is6() {
		start, base = int(b[14])<<8|int(b[15]), 16
	}
	hi, err := strconv.ParseUint(hiText, base, 16)
	switch {
	case err != nil:
		return nil, fmt.Errorf("%q: %q is not the end of the range (%s)", s, hiText, map[int]string{10: "0..255", 16: "hex 0..ffff"}[base])
	case int(hi) < start || (a.Is4() && hi > 255):
		return nil, fmt.Errorf("%q: the range ends at %s, below its start or above 255", s, hiText)
	case int(hi)-start >= 256:
		return nil, fmt.Errorf("%q: a range may hold at most 256 addresses", s)
	}
	var out []GroupMember
	for n := start; n <= int(hi); n++ {
		if a.Is4() {
			b4 := a.As4()
			b4[3] = byte(n)
			out = append(out, GroupMember{Address: netip.AddrPortFrom(netip.AddrFrom4(b4), port)})
			continue
		}
		b[14], b[15] = byte(n>>8), byte(n)
		out = append(out, GroupMember{Address: netip.AddrPortFrom(netip.AddrFrom16(b), port)})
	}
	return out, nil
}

func (c *checker) alert(a *Alert) {
	if a == nil {
		return
	}
	s := &a.Source
	if a.SMTP == nil && a.Webhook == nil {
		c.warnf(s.DefRange(), "alert without sinks", "Add smtp { server, from, to } or webhook { url }; nothing is sent.")
	}
	if a.Timeout <= 0 && s.decoded("timeout") {
		c.errorf(s.Range("timeout"), "Invalid timeout", "timeout must be above 0s, not %s.", durText(a.Timeout))
	}
	c.between(s, "retries", a.Retries, 0, 10)
	c.between(s, "queue", a.Queue, 1, 65536)
	if m := a.SMTP; m != nil {
		ms := &m.Source
		host, port, ok := strings.Cut(m.Server, ":")
		if _, err := strconv.ParseUint(port, 10, 16); (!ok || host == "" || err != nil) && ms.decoded("server") {
			c.errorf(ms.Range("server"), "Invalid SMTP server", "%q is not host:port; write it like \"mail.example.org:25\".", m.Server)
		}
		if !strings.Contains(m.From, "@") && ms.decoded("from") {
			c.errorf(ms.Range("from"), "Invalid address", "%q is not a mail address.", m.From)
		}
		if len(m.To) == 0 && ms.decoded("to") {
			c.errorf(ms.Range("to"), "No recipients", "List at least one address in to.")
		}
		for i, to := range m.To {
			if !strings.Contains(to, "@") || strings.ContainsAny(to, "\r\n<>") {
				c.errorf(ms.ElemRange("to", i), "Invalid address", "%q is not a mail address.", to)
			}
		}
	}
	if w := a.Webhook; w != nil {
		ws := &w.Source
		u, err := url.Parse(w.URL)
		if (err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "") && ws.decoded("url") {
			c.errorf(ws.Range("url"), "Invalid webhook URL", "%q is not an http:// or https:// URL.", w.URL)
		}
		for k, v := range w.Headers {
			if !httpToken.MatchString(k) || strings.ContainsAny(v, "\r\n") {
				c.errorf(ws.Range("headers"), "Invalid header", "%q is not a valid header name, or its value holds a line break.", k)
			}
		}
	}
}

// Port is the virtual port that real servers without a port take and
// checks connect to: the address's, or a group's first address member's.
func (vs *VirtualServer) Port() uint16 {
	if vs.Address.IsValid() {
		return vs.Address.Port()
	}
	for _, m := range vs.Members {
		if m.Fwmark == 0 {
			return m.Address.Port()
		}
	}
	return 0
}
