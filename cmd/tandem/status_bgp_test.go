package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/bgp"
	"github.com/tandemlb/tandem/internal/director"
)

// The text status shows each neighbor and each announce block, with why
// one is not announced.
func TestStatusTextBGP(t *testing.T) {
	st := &director.Status{RouterID: "lb1", BGP: &director.BGPStatus{
		Drained:   true,
		Neighbors: []bgp.NeighborStatus{{Address: "198.51.100.1", ASN: 64500, State: "established", Since: time.Now(), PrefixesSent: 1, UpdatesSent: 3}},
		Announcements: []director.AnnounceStatus{
			{Name: "web", Prefixes: []string{"198.51.100.10/32"}, Announced: false, Reason: "node drained (tandem drain-node --release to end it)"},
			{Name: "dns", Prefixes: []string{"198.51.100.53/32"}, Announced: true},
		},
	}}
	var b strings.Builder
	writeStatusAt(&b, st, time.Now(), true)
	out := b.String()
	for _, want := range []string{
		"BGP (NODE DRAINED: tandem drain-node --release)",
		"198.51.100.1  64500  established  -         1              3",
		"web       198.51.100.10/32  no         node drained",
		"dns       198.51.100.53/32  yes",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("status text lacks %q:\n%s", want, out)
		}
	}
}
