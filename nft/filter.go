package nft

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/google/nftables/expr"
	"golang.org/x/sys/unix"
)

// FilterTable is the table of accept = false's filters.
const FilterTable = "tandem"

// AcceptFilter is one VRRP instance's accept = false (RFC 5798
// Accept_Mode off): while it holds VIPs, traffic from Ingress to them is
// dropped.
type AcceptFilter struct {
	Key     string // unique per instance: interface, family and VRID
	Ingress string
	VIPs    []netip.Addr // held now; none: no chain
}

// chainName is the filter's chain: accept_ and the key, with anything
// but letters, digits and '_' made '_'.
func (f AcceptFilter) chainName() string {
	return "accept_" + strings.Map(func(r rune) rune {
		if r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' {
			return r
		}
		return '_'
	}, f.Key)
}

// Filters is the desired table inet tandem: an input chain per filter
// that holds VIPs (priority filter), one drop rule per VIP. The table is
// absent when no filter holds any.
func Filters(fs []AcceptFilter) State {
	t := &Table{TableKey: TableKey{Inet, FilterTable}}
	for _, f := range fs {
		if len(f.VIPs) == 0 {
			continue
		}
		c := &Chain{Name: f.chainName(), Type: "filter", Hook: "input", Priority: 0}
		for _, vip := range f.VIPs {
			c.Rules = append(c.Rules, dropRule(f, vip))
		}
		t.Chains = append(t.Chains, c)
	}
	if len(t.Chains) == 0 {
		return State{}
	}
	slices.SortFunc(t.Chains, func(a, b *Chain) int { return strings.Compare(a.Name, b.Name) })
	return State{t.TableKey: t}
}

func dropRule(f AcceptFilter, vip netip.Addr) Rule {
	ifname := make([]byte, unix.IFNAMSIZ)
	copy(ifname, f.Ingress)
	ip, nfproto, off := "ip", byte(unix.NFPROTO_IPV4), uint32(16)
	if vip.Is6() {
		ip, nfproto, off = "ip6", unix.NFPROTO_IPV6, 24
	}
	ex := []expr.Any{
		&expr.Meta{Key: expr.MetaKeyIIFNAME, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: ifname},
		&expr.Meta{Key: expr.MetaKeyNFPROTO, Register: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: []byte{nfproto}},
		&expr.Payload{Base: expr.PayloadBaseNetworkHeader, Offset: off, Len: uint32(len(vip.AsSlice())), DestRegister: reg1},
		&expr.Cmp{Op: expr.CmpOpEq, Register: reg1, Data: vip.AsSlice()},
		&expr.Verdict{Kind: expr.VerdictDrop},
	}
	text := fmt.Sprintf("iifname %q %s daddr %s drop", f.Ingress, ip, vip)
	return newRule(fmt.Sprintf("tandem accept=false %s %s", f.Key, vip), text, ex)
}

// Merge joins states of different tables (the fullnat and the filter
// tables) into one desired state.
func Merge(states ...State) State {
	out := State{}
	for _, s := range states {
		for k, t := range s {
			out[k] = t
		}
	}
	return out
}
