package config

import (
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// Checks of the bgp and announce blocks, and of the settings that
// active/active directors need (lvs_sync mode, mh services announced).

func (c *checker) bgp(cfg *Config, instances, vsNames []string) {
	followed := map[string]bool{}
	for _, a := range cfg.Announces {
		if a.Follow != "" {
			followed[a.Follow] = true
		}
	}
	for _, in := range cfg.Instances {
		if !in.Source.Has("virtual_ips") && !followed[in.Name] {
			c.errorf(in.Source.LabelRange(), "Missing required argument", "The argument %q is required here; add it to this block (or let an announce block follow this instance: its VIPs then live in the announcement).", "virtual_ips")
		}
	}
	c.lvsSyncMode(cfg)

	if b := cfg.BGP; b != nil {
		c.bgpBlock(b)
	}
	if len(cfg.Announces) > 0 && cfg.BGP == nil {
		a := cfg.Announces[0]
		c.errorf(a.Source.DefRange(), "announce without bgp", "An announce block needs a bgp block (asn, router_id, neighbor) to announce through; add one.")
	}
	seen := map[string]hcl.Range{}
	prefixes := map[netip.Prefix]hcl.Range{}
	for _, a := range cfg.Announces {
		s := &a.Source
		if first, dup := seenBefore(seen, a.Name, s.LabelRange()); dup {
			c.errorf(s.LabelRange(), "Duplicate announce", "Another announce block is named %q; give each its own name. The first is at %s.", a.Name, rangeText(first))
		}
		if len(a.Prefixes) == 0 && s.decoded("prefixes") {
			c.errorf(s.Range("prefixes"), "No prefixes", "An announce block needs at least one prefix, such as [\"198.51.100.10/32\"].")
		}
		for i, p := range a.Prefixes {
			r := s.ElemRange("prefixes", i)
			if p.Masked() != p {
				c.errorf(r, "Prefix has host bits", "%s has bits set past its length; write %s (the address goes on lo as %s/%d).", p, p.Masked(), p.Addr(), p.Addr().BitLen())
			}
			if first, dup := seenBefore(prefixes, p, r); dup {
				c.errorf(r, "Duplicate prefix", "%s is announced twice; the first is at %s. Keep one.", p, rangeText(first))
			}
		}
		for i, name := range a.TrackVirtualServers {
			if !slices.Contains(vsNames, name) {
				c.unknownName(s.ElemRange("track_virtual_servers", i), "virtual_server", name, vsNames)
			}
		}
		if a.Follow != "" && !slices.Contains(instances, a.Follow) {
			c.unknownName(s.Range("follow"), "vrrp_instance", a.Follow, instances)
		}
		for i, cm := range a.Communities {
			if _, err := ParseCommunity(cm); err != nil {
				c.errorf(s.ElemRange("communities", i), "Invalid community", "%v", err)
			}
		}
		for i, cm := range a.LargeCommunities {
			if _, err := ParseLargeCommunity(cm); err != nil {
				c.errorf(s.ElemRange("large_communities", i), "Invalid large community", "%v", err)
			}
		}
		c.between(s, "med", a.MED, 0, 1<<32-1)
		c.between(s, "local_pref", a.LocalPref, 0, 1<<32-1)
		c.between(s, "as_path_prepend", a.ASPathPrepend, 0, 10)
		if a.LocalPref != 100 && cfg.BGP != nil && !slices.ContainsFunc(cfg.BGP.Neighbors, func(n *Neighbor) bool { return n.ASN == cfg.BGP.ASN }) {
			c.warnf(s.Range("local_pref"), "local_pref without iBGP", "local_pref is sent to iBGP neighbors only, and every neighbor here is eBGP; use med or as_path_prepend instead.")
		}
	}
	c.announcedMH(cfg)
}

func (c *checker) bgpBlock(b *BGP) {
	s := &b.Source
	c.between(s, "asn", b.ASN, 1, 1<<32-1)
	if b.RouterID.IsValid() && !b.RouterID.Is4() {
		c.errorf(s.Range("router_id"), "router_id is not IPv4", "The BGP identifier is an IPv4 address (also on IPv6-only directors), not %s.", b.RouterID)
	}
	c.between(s, "listen_port", b.ListenPort, 1, 65535)
	if len(b.Neighbors) == 0 {
		c.errorf(s.DefRange(), "No neighbor", "The bgp block needs at least one neighbor \"ADDRESS\" { asn = ... } to announce to.")
	}
	seen := map[netip.Addr]hcl.Range{}
	for _, n := range b.Neighbors {
		ns := &n.Source
		addr, err := netip.ParseAddr(n.Address)
		if err != nil {
			c.errorf(ns.LabelRange(), "Invalid neighbor address", "%q is not an IP address; label the neighbor with its address, such as \"198.51.100.1\".", n.Address)
		} else if first, dup := seenBefore(seen, addr, ns.LabelRange()); dup {
			c.errorf(ns.LabelRange(), "Duplicate neighbor", "Neighbor %s is configured twice; the first is at %s. Merge the two.", addr, rangeText(first))
		}
		c.between(ns, "asn", n.ASN, 1, 1<<32-1)
		c.between(ns, "port", n.Port, 1, 65535)
		c.between(ns, "multihop", n.Multihop, 0, 255)
		if n.HoldTime%time.Second != 0 || (n.HoldTime != 0 && n.HoldTime < 3*time.Second) || n.HoldTime > 65535*time.Second {
			c.errorf(ns.Range("hold_time"), "Invalid hold_time", "hold_time is whole seconds from 3s to 65535s (or 0s for none), not %s.", durText(n.HoldTime))
		}
		if n.Keepalive%time.Second != 0 || (n.Keepalive != 0 && n.HoldTime != 0 && n.Keepalive >= n.HoldTime) {
			c.errorf(ns.Range("keepalive"), "Invalid keepalive", "keepalive is whole seconds below hold_time (%s), not %s; 0s takes a third of hold_time.", durText(n.HoldTime), durText(n.Keepalive))
		}
		if len(n.Password) > 80 {
			c.errorf(ns.Range("password"), "Password too long", "A TCP MD5 key is at most 80 bytes.")
		}
		if n.BFD {
			c.errorf(ns.Range("bfd"), "BFD is not available", "The embedded speaker's BFD (GoBGP v4.8) does not hold a session with FRR 8.4's bfdd (it expires after 3 s and resets BGP), so it is not offered; set bfd = false and lower hold_time (3s at least) to see a crashed director sooner.")
		}
		if n.LocalAddress.IsValid() && addr.IsValid() && n.LocalAddress.Is4() != addr.Is4() {
			c.errorf(ns.Range("local_address"), "Mixed address families", "local_address %s and neighbor %s are of different families.", n.LocalAddress, addr)
		}
	}
}

func (c *checker) lvsSyncMode(cfg *Config) {
	ls := cfg.LVSSync
	if ls == nil {
		return
	}
	s := &ls.Source
	switch {
	case ls.Mode == "follow" && !s.Has("follow") && s.decoded("mode"):
		c.errorf(s.DefRange(), "Missing required argument", "The argument \"follow\" is required here with mode = \"follow\"; name the vrrp_instance whose state sets the role, or use mode = \"both\".")
	case ls.Mode == "both" && s.Has("follow"):
		c.errorf(s.Range("follow"), "follow with mode both", "With mode = \"both\" the master and the backup sync daemons run at once and follow no instance; remove follow.")
	}
}

// announcedMH warns about mh services whose VIP is announced while a failed
// real server is removed: removal reshuffles the consistent-hash table and
// connections that ECMP moves break.
func (c *checker) announcedMH(cfg *Config) {
	for _, vs := range cfg.VirtualServers {
		if vs.Scheduler != "mh" || vs.InhibitOnFailure || !vs.Address.IsValid() {
			continue
		}
		for _, a := range cfg.Announces {
			hit := slices.Contains(a.TrackVirtualServers, vs.Name)
			for _, p := range a.Prefixes {
				hit = hit || p.Contains(vs.Address.Addr())
			}
			if hit {
				c.warnf(vs.Source.Range("inhibit_on_failure"), "Announced mh service removes failed real servers",
					"%q is announced by %q with the mh scheduler: set inhibit_on_failure = true so that a failed real server stays at weight 0 and the hash table does not reshuffle (connections moved between directors by ECMP would break).", vs.Name, a.Name)
				break
			}
		}
	}
}

// ParseCommunity reads ASN:VALUE (16 bits each) or a well-known name.
func ParseCommunity(s string) (uint32, error) {
	switch strings.ToLower(s) {
	case "no-export":
		return 0xFFFFFF01, nil
	case "no-advertise":
		return 0xFFFFFF02, nil
	case "no-export-subconfed", "local-as":
		return 0xFFFFFF03, nil
	}
	a, b, ok := strings.Cut(s, ":")
	x, err1 := strconv.ParseUint(a, 10, 16)
	y, err2 := strconv.ParseUint(b, 10, 16)
	if !ok || err1 != nil || err2 != nil {
		return 0, fmt.Errorf("%q is not a community: write ASN:VALUE with two numbers 0..65535, such as \"64512:100\", or no-export", s)
	}
	return uint32(x)<<16 | uint32(y), nil
}

// ParseLargeCommunity reads GLOBAL:LOCAL1:LOCAL2 (32 bits each).
func ParseLargeCommunity(s string) ([3]uint32, error) {
	parts := strings.Split(s, ":")
	var out [3]uint32
	if len(parts) != 3 {
		return out, fmt.Errorf("%q is not a large community: write GLOBAL:LOCAL1:LOCAL2, such as \"64512:1:100\"", s)
	}
	for i, p := range parts {
		v, err := strconv.ParseUint(p, 10, 32)
		if err != nil {
			return out, fmt.Errorf("%q is not a large community: each part is a number 0..4294967295", s)
		}
		out[i] = uint32(v)
	}
	return out, nil
}
