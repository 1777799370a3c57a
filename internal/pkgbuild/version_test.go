package pkgbuild

import (
	"os/exec"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/testenv"
)

// Versions are valid Debian versions (dpkg says so) and sort as releases
// do: a clone without tags below any release, a release candidate below
// its release, commits after a tag above it.
func TestDebianVersion(t *testing.T) {
	dpkg := testenv.NeedCommand(t, "dpkg")
	at := time.Date(2026, 12, 2, 23, 30, 0, 0, time.UTC)
	const sha = "abc1234def5678"
	cases := []struct {
		describe string
		dirty    bool
		want     string
	}{
		{"", false, "0.0~git20261202.abc1234"},
		{"", true, "0.0~git20261202.abc1234+dirty"},
		{"v0.3.0-rc1", false, "0.3.0~rc1"},
		{"v0.3.0", false, "0.3.0"},
		{"v0.3.0-2-gabc1234", false, "0.3.0+2.gabc1234"},
		{"v0.3.0-2-gabc1234", true, "0.3.0+2.gabc1234+dirty"},
		{"vnext", false, "0.0~git20261202.abc1234"}, // not a version: as untagged
	}
	var prev string
	for i, c := range cases {
		got := DebianVersion(c.describe, at, sha, c.dirty)
		if got != c.want {
			t.Errorf("DebianVersion(%q, dirty=%v) = %q, want %q", c.describe, c.dirty, got, c.want)
		}
		if out, err := exec.Command(dpkg, "--validate-version", got).CombinedOutput(); err != nil {
			t.Errorf("dpkg --validate-version %s: %v %s", got, err, out)
		}
		// Cases 0..5 are in ascending order.
		if i > 0 && i <= 5 {
			if err := exec.Command(dpkg, "--compare-versions", prev, "lt", got).Run(); err != nil {
				t.Errorf("dpkg does not sort %s before %s", prev, got)
			}
		}
		prev = got
	}
}

// The version of this clone is valid too, tags or not.
func TestReadSource(t *testing.T) {
	testenv.NeedCommand(t, "git")
	s, err := ReadSource("../..")
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Commit) != 40 || s.Time.IsZero() || !validVersion.MatchString(s.Version) {
		t.Errorf("source %+v", s)
	}
}
