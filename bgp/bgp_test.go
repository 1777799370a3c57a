package bgp

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/osrg/gobgp/v4/pkg/packet/bgp"
)

// The path of a route carries what the announce block says: next hop
// "self" (unspecified, replaced by GoBGP with the session's address),
// communities, large communities, MED, local preference and the prepends.
func TestPathAttributes(t *testing.T) {
	s := &Speaker{cfg: Config{ASN: 64512}}
	p, err := s.path(Route{Prefix: netip.MustParsePrefix("198.51.100.10/32"), Communities: []uint32{64512<<16 | 100},
		Large: [][3]uint32{{64512, 1, 2}}, MED: 10, LocalPref: 200, Prepend: 2})
	if err != nil {
		t.Fatal(err)
	}
	if p.Family != bgp.RF_IPv4_UC || p.Nlri.String() != "198.51.100.10/32" {
		t.Errorf("family %v nlri %v", p.Family, p.Nlri)
	}
	seen := map[bgp.BGPAttrType]string{}
	for _, a := range p.Attrs {
		seen[a.GetType()] = a.String()
	}
	for typ, want := range map[bgp.BGPAttrType]string{
		bgp.BGP_ATTR_TYPE_NEXT_HOP:        "0.0.0.0",
		bgp.BGP_ATTR_TYPE_COMMUNITIES:     "64512:100",
		bgp.BGP_ATTR_TYPE_LARGE_COMMUNITY: "64512:1:2",
		bgp.BGP_ATTR_TYPE_MULTI_EXIT_DISC: "10",
		bgp.BGP_ATTR_TYPE_LOCAL_PREF:      "200",
		bgp.BGP_ATTR_TYPE_AS_PATH:         "64512 64512",
	} {
		if got, ok := seen[typ]; !ok || !strings.Contains(got, want) {
			t.Errorf("attribute %v = %q, want it to show %q", typ, got, want)
		}
	}

	p6, err := s.path(Route{Prefix: netip.MustParsePrefix("2001:db8::10/128")})
	if err != nil {
		t.Fatal(err)
	}
	if p6.Family != bgp.RF_IPv6_UC {
		t.Errorf("IPv6 route in family %v", p6.Family)
	}
	for _, a := range p6.Attrs {
		if a.GetType() == bgp.BGP_ATTR_TYPE_AS_PATH || a.GetType() == bgp.BGP_ATTR_TYPE_MULTI_EXIT_DISC {
			t.Errorf("unset attribute sent: %v", a)
		}
	}
}

func TestRouteEqual(t *testing.T) {
	a := Route{Prefix: netip.MustParsePrefix("198.51.100.10/32"), Communities: []uint32{1}}
	b := a
	b.Communities = []uint32{1}
	if !a.equal(b) {
		t.Error("equal routes differ")
	}
	b.MED = 5
	if a.equal(b) {
		t.Error("a changed MED is not a change (it must be re-announced)")
	}
}
