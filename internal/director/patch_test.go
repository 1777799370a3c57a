package director

import (
	"fmt"
	"log/slog"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
	"github.com/tandemlb/tandem/lvs"
)

// patchConfig has virtual servers of every kind a transition meets:
// quorum with hysteresis, a sorry server, inhibit_on_failure, drained
// real servers, weights that differ.
func patchConfig(t testing.TB, perVS int) *config.Config {
	t.Helper()
	var b strings.Builder
	b.WriteString("global {\n  router_id = \"d1\"\n  state_dir = \"/nonexistent\"\n}\n")
	kinds := []string{
		"", "quorum = 7\n  hysteresis = 2\n", "quorum = 5\n  sorry_server = \"203.0.113.250:80\"\n",
		"inhibit_on_failure = true\n  quorum = 3\n", "quorum = 4\n  inhibit_on_failure = true\n  sorry_server = \"203.0.113.251:80\"\n",
	}
	for i, k := range kinds {
		fmt.Fprintf(&b, "virtual_server \"vs%d\" {\n  address = \"198.51.100.%d:80\"\n  %s", i, 10+i, k)
		for j := range perVS {
			fmt.Fprintf(&b, "  real_server \"10.%d.%d.%d:80\" {\n    weight = %d\n    check \"tcp\" {}\n  }\n", i, j/250, 1+j%250, j%4)
		}
		b.WriteString("}\n")
	}
	cfg, diags := config.Parse("patch.hcl", []byte(b.String()))
	if cfg == nil || diags.HasErrors() {
		t.Fatal(diags.Err())
	}
	return cfg
}

// A patched transition leaves the desired table and quorum exactly as
// lvs.Desired computes them from scratch, whatever the virtual server's
// settings; when it cannot (quorum changes), it says so and reapply does
// it.
func TestPatchEqualsDesired(t *testing.T) {
	cfg := patchConfig(t, 12)
	s := &lvsSide{log: slog.New(slog.DiscardHandler), quorumUp: map[string]bool{}, up: map[rsKey]bool{}, drained: map[rsKey]bool{}, dynWeight: map[rsKey]int{}}
	s.setVirtualServers(cfg)
	var keys []rsKey
	for k := range s.reals {
		keys = append(keys, k)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, k := range keys {
		s.up[k] = rng.IntN(2) == 0
		s.drained[k] = rng.IntN(8) == 0
		if rng.IntN(6) == 0 {
			s.dynWeight[k] = rng.IntN(5) // a weight the checks asked for
		}
	}
	s.reapply()
	patched, full, flips := 0, 0, 0
	for step := range 3000 {
		k := keys[rng.IntN(len(keys))]
		was := s.up[k]
		s.up[k] = !was
		quorum := s.quorum()
		if ok, flipped := s.patch(k, was); ok {
			patched++
			want, q := lvs.Desired(s.lvsVirtualServers(), lvs.State{
				Up:       func(vs, rs string) bool { return s.up[rsKey{vs, rs}] },
				Drained:  func(vs, rs string) bool { return s.drained[rsKey{vs, rs}] },
				QuorumUp: quorum,
			})
			if !lvs.Equal(s.table, want) {
				t.Fatalf("step %d: %v %s -> up=%v: patched table\n%s\nwant\n%s", step, k.VS, k.RS, s.up[k], s.table, want)
			}
			for vs, ok := range q {
				if want := quorum[vs] != (flipped && vs == k.VS); want != ok || s.quorumUp[vs] != ok {
					t.Fatalf("step %d: quorum of %s: %v (flipped %v), recomputed %v", step, vs, s.quorumUp[vs], flipped, ok)
				}
			}
			if flipped {
				flips++
			}
			continue
		}
		full++
		s.reapply()
	}
	if patched < 2000 || full == 0 || flips == 0 {
		t.Errorf("%d patched, %d full: the test did not exercise both", patched, full)
	}
	t.Logf("%d transitions patched (%d of them changed quorum), %d recomputed", patched, flips, full)
}
