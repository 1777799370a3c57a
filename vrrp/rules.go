package vrrp

import (
	"net/netip"
	"slices"
	"time"
)

// Drop reasons beyond ParseError's, for tandem_vrrp_packets_dropped_total.
const (
	ReasonTTL         = "ttl"          // multicast not at 255, or unicast below unicast_min_ttl
	ReasonVersionDiff = "version_diff" // a version other than the instance's
	ReasonForeignVRID = "foreign_vrid" // no instance of ours has this VRID here
	ReasonAuth        = "auth"         // v2 authentication type or password differs
	ReasonInterval    = "interval"     // v2 advert whose interval differs from ours
	ReasonAddrList    = "address_list" // VIPs differ (dropped only with Rules.DropAddrList, v2)
	ReasonPeer        = "peer"         // unicast instance, source not in unicast_peers
)

// Rules are the receive checks of RFC 5798 section 7.1 (RFC 3768 for v2)
// that depend on the instance's configuration. A packet that fails one
// is dropped and counted; it never reaches the state machine.
type Rules struct {
	Version  int
	Interval time.Duration
	Password string       // v2 simple password; "" for none
	VIPs     []netip.Addr // sorted
	Peers    []netip.Addr // unicast: the only sources accepted
	MinTTL   int          // lowest TTL accepted on unicast; multicast needs 255
	// DropAddrList restores RFC 3768's drop of a v2 advert whose address
	// list differs (strict mode). Otherwise such an advert is accepted, as
	// RFC 9568 allows for v3 and keepalived 2.3.3+ does for both: dropping
	// it makes two masters while a VIP-list change is rolled out.
	DropAddrList bool
}

// Check returns the reason to drop a, received in p, or "" to accept it.
func (r *Rules) Check(a Advert, p Packet) string {
	switch {
	case p.TTL >= 0 && p.Dst.IsMulticast() && p.TTL != HopLimit,
		p.TTL >= 0 && !p.Dst.IsMulticast() && p.TTL < r.MinTTL:
		return ReasonTTL
	case a.Version != r.Version:
		return ReasonVersionDiff
	case len(r.Peers) > 0 && !slices.Contains(r.Peers, p.Src):
		return ReasonPeer
	case r.Version == 2 && (a.AuthType != authType(r.Password) || a.Password != r.Password):
		return ReasonAuth
	case r.Version == 2 && a.Interval != r.Interval:
		// v3 learns the master's interval instead.
		return ReasonInterval
	case r.DropAddrList && r.Version == 2 && r.AddrListDiffers(a):
		return ReasonAddrList
	}
	return ""
}

// AddrListDiffers reports whether a's virtual IPs are not the instance's
// (the owner's adverts aside: it may carry its own addresses).
func (r *Rules) AddrListDiffers(a Advert) bool {
	return a.Priority != OwnerPriority && !sameSet(a.Addrs, r.VIPs)
}

func authType(password string) uint8 {
	if password == "" {
		return 0
	}
	return 1
}

// sameSet compares the advert's addresses with vips, which NewInstance
// keeps sorted and without repeats; it runs on every advert, so it does
// not allocate.
func sameSet(a, vips []netip.Addr) bool {
	if len(a) != len(vips) {
		return false
	}
	for _, x := range a {
		if _, ok := slices.BinarySearchFunc(vips, x, netip.Addr.Compare); !ok {
			return false
		}
	}
	// Equal lengths and every address found: only a repeat in a could
	// still hide a missing one.
	for i := range a {
		for j := i + 1; j < len(a); j++ {
			if a[i] == a[j] {
				return false
			}
		}
	}
	return true
}
