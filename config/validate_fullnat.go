package config

import "net/netip"

// fullnatWeightWarn is the weight sum above which one LIP is flagged: a
// LIP gives about 64k concurrent connections per real-server port, and a
// pool weighed this heavily is a big one.
const fullnatWeightWarn = 256

// fullnat checks forwarding = "fullnat" and its local_addresses (LIPs).
func (c *checker) fullnat(cfg *Config) {
	vsAddrs := map[netip.Addr]bool{}
	for _, vs := range cfg.VirtualServers {
		if vs.Address.IsValid() {
			vsAddrs[vs.Address.Addr()] = true
		}
	}
	// Where each address floats: its instance, and that instance's sync
	// group (instances of a group move together).
	owner := map[netip.Addr]*VRRPInstance{}
	for _, in := range cfg.Instances {
		for _, p := range in.VirtualIPs {
			if _, dup := owner[p.Addr()]; !dup {
				owner[p.Addr()] = in
			}
		}
	}
	group := map[string]string{}
	for _, g := range cfg.SyncGroups {
		for _, n := range g.Instances {
			group[n] = g.Name
		}
	}
	together := func(a, b *VRRPInstance) bool {
		return a == b || group[a.Name] != "" && group[a.Name] == group[b.Name]
	}
	for _, vs := range cfg.VirtualServers {
		s := &vs.Source
		if vs.Forwarding != FullNAT {
			if len(vs.LocalAddresses) > 0 {
				c.errorf(s.Range("local_addresses"), "local_addresses without fullnat", "local_addresses are the source addresses of forwarding = \"fullnat\"; set that, or remove local_addresses.")
			}
			continue
		}
		if len(vs.LocalAddresses) == 0 {
			if s.decoded("local_addresses") {
				c.errorf(s.Range("forwarding"), "fullnat needs local_addresses", "fullnat sends to the real servers from a local address of the director (a LIP); list one or more in local_addresses = [\"203.0.113.250\"], and put them in the instance's virtual_ips so they float with the VIP.")
			}
			continue
		}
		var follows *VRRPInstance
		if vs.Address.IsValid() {
			follows = owner[vs.Address.Addr()]
		}
		seen := map[netip.Addr]bool{}
		for i, lip := range vs.LocalAddresses {
			r := s.ElemRange("local_addresses", i)
			switch {
			case vs.Family != "" && familyOf(lip) != vs.Family:
				c.errorf(r, "LIP of the wrong family", "%s is %s but the virtual server is %s; a LIP must be of the virtual server's family.", lip, familyOf(lip), vs.Family)
				continue
			case seen[lip]:
				c.errorf(r, "Duplicate LIP", "%s is listed twice.", lip)
				continue
			case vsAddrs[lip]:
				c.errorf(r, "LIP is a virtual server address", "%s is the address of a virtual_server; a LIP must be an address of its own, or the real servers' replies to it would be taken for new connections to the service.", lip)
				continue
			}
			seen[lip] = true
			in := owner[lip]
			if in != nil && !in.Accept {
				c.errorf(r, "LIP on an instance with accept = false", "%s is a virtual IP of vrrp_instance %q, whose accept = false (set, or implied by strict mode) drops the real servers' replies to it; set accept = true there (and no strict), or take a LIP that instance does not hold.", lip, in.Name)
			}
			switch {
			case follows != nil && (in == nil || !together(in, follows)):
				c.warnf(r, "LIP does not float with the VIP", "The virtual server follows vrrp_instance %q (its address is a VIP there), but %s is not a virtual IP of that instance or of its sync group: after a failover the new master has no such address. Add it to %q's virtual_ips.", follows.Name, lip, follows.Name)
			case follows == nil && in == nil && len(cfg.Instances) > 0:
				c.warnf(r, "LIP does not float", "%s is in no vrrp_instance's virtual_ips: tandem does not add it, and a backup director that takes over has none. List it in the virtual_ips of the instance that carries the service.", lip)
			}
		}
		if len(vs.LocalAddresses) == 1 {
			sum := 0
			for _, rs := range vs.RealServers {
				sum += rs.Weight
			}
			if sum >= fullnatWeightWarn {
				c.warnf(s.Range("local_addresses"), "One LIP for a large pool", "One LIP gives about 64,000 concurrent connections per real-server port, and these real servers weigh %d in all; add LIPs to local_addresses to raise the limit.", sum)
			}
		}
	}
}
