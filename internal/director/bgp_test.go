package director

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/vrrp"
)

// decide: announced only while every tracked virtual server has quorum,
// the followed instance is MASTER, the node is not drained and not
// stopping; the reason says which.
func TestDecideAnnouncements(t *testing.T) {
	cfg := &config.Config{
		BGP: &config.BGP{ASN: 64512, Neighbors: []*config.Neighbor{{Address: "198.51.100.1", ASN: 64500}}},
		Announces: []*config.Announce{
			{Name: "plain", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.10/32")}},
			{Name: "tracked", TrackVirtualServers: []string{"a", "b"}, Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.11/32")}},
			{Name: "follows", Follow: "web", Prefixes: []netip.Prefix{netip.MustParsePrefix("198.51.100.12/32")}},
		},
	}
	states := map[string]vrrp.State{"web": vrrp.Master}
	state := func(n string) (vrrp.State, bool) { s, ok := states[n]; return s, ok }
	quorum := map[string]bool{"a": true, "b": true}

	check := func(name string, v map[string]verdict, want map[string]string) {
		t.Helper()
		for a, why := range want {
			got := v[a]
			if why == "" && !got.announced || why != "" && (got.announced || !strings.Contains(got.why, why)) {
				t.Errorf("%s: %s = %+v, want %q", name, a, got, why)
			}
		}
	}
	check("all well", decide(cfg, quorum, state, false, false), map[string]string{"plain": "", "tracked": "", "follows": ""})
	quorum["b"] = false
	states["web"] = vrrp.Backup
	check("quorum lost, backup", decide(cfg, quorum, state, false, false),
		map[string]string{"plain": "", "tracked": "virtual_server b has lost quorum", "follows": "web is BACKUP, not MASTER"})
	delete(states, "web")
	check("instance gone", decide(cfg, quorum, state, false, false), map[string]string{"follows": "not running"})
	check("drained", decide(cfg, quorum, state, true, false), map[string]string{"plain": "drained", "tracked": "drained"})
	check("stopping", decide(cfg, quorum, state, true, true), map[string]string{"plain": "stopping"})

	// Attributes: local_pref only towards iBGP.
	cfg.Announces[0].LocalPref, cfg.Announces[0].Communities = 200, []string{"64512:100"}
	r := routesOf(cfg, map[string]verdict{"plain": {announced: true}})
	if len(r) != 1 || r[0].LocalPref != 0 || len(r[0].Communities) != 1 || r[0].Communities[0] != 64512<<16|100 {
		t.Errorf("eBGP routes %+v: want no local_pref, community 64512:100", r)
	}
	cfg.BGP.Neighbors[0].ASN = 64512
	if r := routesOf(cfg, map[string]verdict{"plain": {announced: true}}); r[0].LocalPref != 200 {
		t.Errorf("iBGP route %+v: want local_pref 200", r[0])
	}
}
