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

// Forward is a destination's packet-forwarding method.
type Forward uint8

const (
	Masq   Forward = iota // NAT
	Route                 // direct routing
	Tunnel                // IP-in-IP
)

func (f Forward) String() string { return [...]string{"Masq", "Route", "Tunnel"}[f] }

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
	Netmask   uint32 // persistence granularity: prefix length (32 or 128 when unset)
	Dests     map[DestKey]Dest
}

// sameSettings reports whether s and o differ only in destinations.
func (s *Service) sameSettings(o *Service) bool {
	return s.Scheduler == o.Scheduler && s.Flags == o.Flags && s.Timeout == o.Timeout && s.Netmask == o.Netmask
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
		fmt.Fprintf(&b, "%s %s flags=%#x timeout=%d netmask=%d\n", k, s.Scheduler, uint32(s.Flags), s.Timeout, s.Netmask)
		for _, dk := range sortedDests(s.Dests) {
			d := s.Dests[dk]
			fmt.Fprintf(&b, "  -> %s %s w=%d u=%d l=%d\n", dk, d.Forward, d.Weight, d.Upper, d.Lower)
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
