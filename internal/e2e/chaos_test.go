package e2e

import (
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/chaos"
	"github.com/tandemlb/tandem/internal/testenv"
)

// chaosSeed is CI's schedule: the same faults at every run, so that a
// failure replays with `go run ./bench/chaos -seed 20261202 -duration 90s`.
const chaosSeed = 20261202

func runChaos(t *testing.T, o chaos.Options) *chaos.Report {
	t.Helper()
	testenv.NeedRoot(t)
	testenv.NeedCommand(t, "nft")
	var out strings.Builder
	o.Tandem, o.Out = tandemBin, &out
	rep, err := chaos.Run(t.Context(), o)
	t.Log("\n" + out.String())
	if err != nil {
		t.Fatal(err)
	}
	var b strings.Builder
	rep.Write(&b)
	t.Log("\n" + b.String())
	return rep
}

// Ninety seconds of seeded faults of every kind on three directors with two
// instances at 100 ms adverts: no invariant may break.
func TestChaos(t *testing.T) {
	rep := runChaos(t, chaos.Options{Seed: chaosSeed, Duration: 90 * time.Second})
	if rep.Episodes < 10 {
		t.Errorf("only %d fault episodes in ninety seconds", rep.Episodes)
	}
	if len(rep.Kinds) < len(chaos.Kinds)/2 {
		t.Errorf("only %d kinds of fault were drawn: %v", len(rep.Kinds), rep.Kinds)
	}
	for _, v := range rep.Violations {
		t.Errorf("violation: %s", v)
	}
}

// The checker is checked: with a tandem whose masters never step down, a
// partition's heal leaves two masters, and the same checker must say so.
func TestChaosCheckerSeesBrokenTandem(t *testing.T) {
	rep := runChaos(t, chaos.Options{Seed: chaosSeed, Duration: 10 * time.Second,
		Kinds: []chaos.Kind{chaos.Partition}, TestFault: "no-step-down"})
	twoMasters := regexp.MustCompile(`held by \[d\d d\d`)
	found := false
	for _, v := range rep.Violations {
		found = found || twoMasters.MatchString(v.What)
	}
	if !found {
		t.Errorf("a tandem that never steps down passed the chaos checks: %v", rep.Violations)
	}
}
