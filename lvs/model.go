// Package lvs keeps the kernel IPVS table equal to configuration x health:
// the model, the desired state, Diff and the backends that apply it.
package lvs

import (
	"cmp"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"strings"
)

// Protocol is a virtual service's IP protocol (0 for a fwmark service).
type Protocol uint16

const (
	TCP  Protocol = 6
	UDP  Protocol = 17
	SCTP Protocol = 132
)

func (p Protocol) String() string {
	switch p {
	case TCP:
		return "TCP"
	case UDP:
		return "UDP"
	case SCTP:
		return "SCTP"
	case 0:
		return "FWM"
	}
	return fmt.Sprintf("proto%d", uint16(p))
}

// Forward is a destination's packet-forwarding method, numbered as the
// kernel numbers them (IP_VS_CONN_F_FWD_MASK). A number without a name
// here is kept as the kernel reports it: it never reads as Masq, so Diff
// sees it and repairs it.
type Forward uint8

const (
	Masq   Forward = 0 // NAT
	Local  Forward = 1 // the director itself (IP_VS_CONN_F_LOCALNODE)
	Tunnel Forward = 2 // IP-in-IP, GUE or GRE (see Encap)
	Route  Forward = 3 // direct routing
	Bypass Forward = 4 // IP_VS_CONN_F_BYPASS, not one a destination should have

	fwdMask = 0x7
)

func (f Forward) String() string {
	switch f {
	case Masq:
		return "Masq"
	case Local:
		return "Local"
	case Tunnel:
		return "Tunnel"
	case Route:
		return "Route"
	case Bypass:
		return "Bypass"
	}
	return fmt.Sprintf("fwd%d", uint8(f))
}

// TunnelType is how a tunnelling destination encapsulates (kernel 5.2+).
type TunnelType uint8

const (
	TunIPIP TunnelType = 0
	TunGUE  TunnelType = 1
	TunGRE  TunnelType = 2
)

// TunnelFlags are the checksum options of a GUE or GRE tunnel.
type TunnelFlags uint16

const (
	TunCsum    TunnelFlags = 0x1 // IP_VS_TUNNEL_ENCAP_FLAG_CSUM
	TunRemCsum TunnelFlags = 0x2 // IP_VS_TUNNEL_ENCAP_FLAG_REMCSUM
)

// Encap is a tunnelling destination's encapsulation; the zero value is
// plain IP-in-IP, which is also what the kernel reports for every other
// method.
type Encap struct {
	Type  TunnelType
	Port  uint16 // GUE's UDP port
	Flags TunnelFlags
}

// Service flags, as the kernel keeps them.
type Flags uint32

const (
	FlagPersistent Flags = 0x0001
	FlagOnePacket  Flags = 0x0004
	FlagSchedFlag1 Flags = 0x0008 // sh-fallback / mh-fallback
	FlagSchedFlag2 Flags = 0x0010 // sh-port / mh-port
)

// ServiceKey identifies a virtual service: protocol, address and port, or
// firewall mark and family.
type ServiceKey struct {
	Fwmark   uint32
	IPv6     bool // the family of a fwmark service
	Protocol Protocol
	Addr     netip.Addr
	Port     uint16
}

func (k ServiceKey) String() string {
	if k.Fwmark != 0 {
		fam := "IPv4"
		if k.IPv6 {
			fam = "IPv6"
		}
		return fmt.Sprintf("FWM %d %s", k.Fwmark, fam)
	}
	return fmt.Sprintf("%s %s", k.Protocol, netip.AddrPortFrom(k.Addr, k.Port))
}

func (k ServiceKey) compare(o ServiceKey) int {
	return cmp.Or(cmp.Compare(k.Fwmark, o.Fwmark), boolCmp(k.IPv6, o.IPv6), cmp.Compare(k.Protocol, o.Protocol),
		k.Addr.Compare(o.Addr), cmp.Compare(k.Port, o.Port))
}

func boolCmp(a, b bool) int {
	switch {
	case a == b:
		return 0
	case a:
		return 1
	}
	return -1
}

// Service is a virtual service's settings and destinations.
type Service struct {
	ServiceKey
	Scheduler string
	Flags     Flags
	Timeout   uint32 // persistence, seconds
	// Netmask is the persistence granularity as a prefix length (32 or
	// 128 when unset); an IPv4 mask travels as a mask. A mask with holes
	// (ipvsadm takes one) reads as its leading ones.
	Netmask uint32
	PE      string // persistence engine ("sip"), "" for none
	Dests   map[DestKey]Dest
}

// sameSettings reports whether s and o differ only in destinations.
func (s *Service) sameSettings(o *Service) bool {
	return s.Scheduler == o.Scheduler && s.Flags == o.Flags && s.Timeout == o.Timeout && s.Netmask == o.Netmask && s.PE == o.PE
}

// settings is s without destinations, for an Op.
func (s *Service) settings() Service {
	c := *s
	c.Dests = nil
	return c
}

// DestKey identifies a destination within its service.
type DestKey struct {
	Addr netip.Addr
	Port uint16
}

func (k DestKey) compare(o DestKey) int {
	return cmp.Or(k.Addr.Compare(o.Addr), cmp.Compare(k.Port, o.Port))
}

func (k DestKey) String() string { return netip.AddrPortFrom(k.Addr, k.Port).String() }

// Dest is a real server as the kernel holds it.
type Dest struct {
	DestKey
	Weight       int
	Forward      Forward
	Upper, Lower uint32 // connection thresholds; 0 for none
	Encap        Encap  // with Forward Tunnel
}

// Stats are an entry's counters since it was added and the kernel's
// rate estimates (per second, refreshed every 2 s).
type Stats struct {
	Conns, InPkts, OutPkts, InBytes, OutBytes uint64
	CPS, InPPS, OutPPS, InBPS, OutBPS         uint64
}

// ServiceStats is a service as the kernel lists it: its settings, its
// counters and its destinations in the kernel's order (ipvsadm's sort
// depends on it). Dests here hides Service.Dests, which stays nil.
type ServiceStats struct {
	Service
	Stats Stats
	Dests []DestStats
}

// DestStats is a destination as the kernel lists it.
type DestStats struct {
	Dest
	ActiveConns, InactConns uint32
	PersistConns            uint32 // persistence templates pointing to it
	Stats                   Stats
}

// Table is a whole IPVS table.
type Table map[ServiceKey]*Service

// Clone copies t deeply.
func (t Table) Clone() Table {
	out := make(Table, len(t))
	for k, s := range t {
		c := *s
		c.Dests = maps.Clone(s.Dests)
		if c.Dests == nil {
			c.Dests = map[DestKey]Dest{}
		}
		out[k] = &c
	}
	return out
}

// String renders t in a stable order, one line per service and
// destination, for tests and logs.
func (t Table) String() string {
	var b strings.Builder
	for _, k := range sortedKeys(t) {
		s := t[k]
		fmt.Fprintf(&b, "%s %s flags=%#x timeout=%d netmask=%d", k, s.Scheduler, uint32(s.Flags), s.Timeout, s.Netmask)
		if s.PE != "" {
			fmt.Fprintf(&b, " pe=%s", s.PE)
		}
		b.WriteString("\n")
		for _, dk := range sortedDests(s.Dests) {
			d := s.Dests[dk]
			fmt.Fprintf(&b, "  -> %s %s w=%d u=%d l=%d", dk, d.Forward, d.Weight, d.Upper, d.Lower)
			if d.Encap != (Encap{}) {
				fmt.Fprintf(&b, " encap=%+v", d.Encap)
			}
			b.WriteString("\n")
		}
	}
	return b.String()
}

func sortedKeys(t Table) []ServiceKey {
	return slices.SortedFunc(maps.Keys(t), ServiceKey.compare)
}

func sortedDests(m map[DestKey]Dest) []DestKey {
	return slices.SortedFunc(maps.Keys(m), DestKey.compare)
}
