package nft

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/google/nftables/binaryutil"
	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// FullNATTable is the name of the fullnat tables (one per family).
const FullNATTable = "tandem_fullnat"

// HashSeed is the seed of the hash that spreads connections over the
// LIPs: fixed, so that both directors of a pair and every restart map a
// client's connection to the same LIP.
const HashSeed = 0x74616e64 // "tand"

// Service is a fullnat virtual service: the connections IPVS forwards for
// it get their source translated to one of LIPs.
type Service struct {
	Name string
	// An address service: Addr, Proto (IPPROTO_*) and Port (0: all). A
	// fwmark service: Fwmark, IPv6.
	Addr   netip.Addr
	Proto  uint8
	Port   uint16
	Fwmark uint32
	IPv6   bool
	LIPs   []netip.Addr
}

func (s Service) family() Family {
	if s.Fwmark != 0 && s.IPv6 || s.Fwmark == 0 && s.Addr.Is6() {
		return IPv6
	}
	return IPv4
}

// FullNAT is the desired fullnat tables of services: a postrouting NAT
// chain per family with one rule per LIP. A rule matches the conntrack
// entry's original tuple (VIP, protocol, port), which IPVS leaves as the
// client sent it (with net.ipv4.vs.conntrack = 1), so the director's own
// connections (health checks) never match; a fwmark service matches the
// packet's mark, which IPVS leaves on the packet. With several LIPs a
// jhash of the client's address and port, mod the number of LIPs, picks
// one.
func FullNAT(services []Service) State {
	out := State{}
	for _, s := range services {
		fam := s.family()
		k := TableKey{fam, FullNATTable}
		t := out[k]
		if t == nil {
			t = &Table{TableKey: k, Chains: []*Chain{{Name: "postrouting", Type: "nat", Hook: "postrouting", Priority: 100}}}
			out[k] = t
		}
		c := t.Chains[0]
		for i, lip := range s.LIPs {
			c.Rules = append(c.Rules, snatRule(s, i, lip))
		}
	}
	return out
}

var protoNames = map[uint8]string{unix.IPPROTO_TCP: "tcp", unix.IPPROTO_UDP: "udp", unix.IPPROTO_SCTP: "sctp"}

// Registers as nft uses them: the 16-byte registers 1 and 2, and the
// 32-bit parts of register 2 and on.
const (
	reg1     = unix.NFT_REG_1
	reg2     = unix.NFT_REG_2
	reg32_08 = unix.NFT_REG32_08
	reg32_05 = unix.NFT_REG32_05
)

func snatRule(s Service, i int, lip netip.Addr) Rule {
	fam := s.family()
	ip := "ip"
	nfproto := uint32(unix.NFPROTO_IPV4)
	if fam == IPv6 {
		ip, nfproto = "ip6", unix.NFPROTO_IPV6
	}
	var text []string
	var ex []expr.Any
	if s.Fwmark != 0 {
		text = append(text, fmt.Sprintf("meta mark 0x%08x", s.Fwmark))
		ex = append(ex,
			&expr.Meta{Key: expr.MetaKeyMARK, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(s.Fwmark)})
	} else {
		// nft leaves "meta l4proto" out when "tcp sport" implies it.
		if len(s.LIPs) > 1 {
			text = append(text, fmt.Sprintf("ct original %s daddr %s", ip, s.Addr))
		} else {
			text = append(text, fmt.Sprintf("ct original %s daddr %s meta l4proto %s", ip, s.Addr, protoNames[s.Proto]))
		}
		ex = append(ex,
			&expr.Ct{Key: expr.CtKeyDST, Register: reg1, Direction: 0},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: s.Addr.AsSlice()},
			&expr.Meta{Key: expr.MetaKeyL4PROTO, Register: reg1},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{s.Proto}})
		if s.Port != 0 {
			text = append(text, fmt.Sprintf("ct original proto-dst %d", s.Port))
			ex = append(ex,
				&expr.Ct{Key: expr.CtKeyPROTODST, Register: reg1, Direction: 0},
				&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.BigEndian.PutUint16(s.Port)})
		}
	}
	if n := len(s.LIPs); n > 1 {
		// The client's address and port, from the packet (the first of
		// a connection, the only one a nat chain sees: IPVS changed its
		// destination, not its source), concatenated in 32-bit
		// registers as nft does (the port padded to 4 bytes).
		portReg, length, saddrOff, alen := uint32(reg32_05), uint32(8), uint32(12), uint32(4)
		if fam == IPv6 {
			portReg, length, saddrOff, alen = reg32_08, 20, 8, 16
		}
		th := "th"
		if s.Fwmark == 0 {
			th = protoNames[s.Proto]
		}
		text = append(text, fmt.Sprintf("jhash %s saddr . %s sport mod %d seed 0x%x %d", ip, th, n, HashSeed, i))
		ex = append(ex,
			&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: saddrOff, Len: alen, DestRegister: reg2},
			&expr.Payload{Base: expr.PayloadBaseTransportHeader, Offset: 0, Len: 2, DestRegister: portReg},
			&expr.Hash{SourceRegister: reg2, DestRegister: reg1, Length: length, Modulus: uint32(n), Seed: HashSeed, Type: expr.HashTypeJenkins},
			&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: binaryutil.NativeEndian.PutUint32(uint32(i))})
	}
	text = append(text, "counter packets 0 bytes 0", fmt.Sprintf("snat to %s", lip))
	ex = append(ex,
		&expr.Counter{},
		&expr.Immediate{Register: reg1, Data: lip.AsSlice()},
		&expr.NAT{Type: expr.NATTypeSourceNAT, Family: nfproto, RegAddrMin: reg1})
	return newRule(fmt.Sprintf("tandem fullnat %s lip %s vs %s", s.Key(), lip, s.Name), strings.Join(text, " "), ex)
}

// Key names the IPVS service as the comments of its rules do: "TCP
// 198.51.100.10:80", "UDP [2001:db8::10]:53", "FWM 7 ipv4".
func (s Service) Key() string {
	if s.Fwmark != 0 {
		f := "ipv4"
		if s.IPv6 {
			f = "ipv6"
		}
		return fmt.Sprintf("FWM %d %s", s.Fwmark, f)
	}
	return strings.ToUpper(protoNames[s.Proto]) + " " + netip.AddrPortFrom(s.Addr, s.Port).String()
}

// LIPs reads the LIPs in force from the comments of the fullnat rules
// of a state (the kernel's, read back): by Service.Key.
func LIPs(st State) map[string][]netip.Addr {
	out := map[string][]netip.Addr{}
	for k, t := range st {
		if k.Name != FullNATTable {
			continue
		}
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				rest, ok := strings.CutPrefix(r.Comment, "tandem fullnat ")
				key, rest, ok2 := strings.Cut(rest, " lip ")
				lip, _, _ := strings.Cut(rest, " ")
				a, err := netip.ParseAddr(lip)
				if ok && ok2 && err == nil {
					out[key] = append(out[key], a)
				}
			}
		}
	}
	return out
}
