package main

import (
	"strings"
	"testing"
)

// Usage mistakes exit 2 before anything is touched.
func TestRealserverUsage(t *testing.T) {
	for _, args := range [][]string{
		{"realserver", "--mode", "dr"},
		{"realserver", "--vip", "198.51.100.10", "--mode", "nat"},
		{"realserver", "--vip", "198.51.100.10/24"},
		{"realserver", "--vip", "nope"},
		{"realserver", "--vip", "198.51.100.10", "extra"},
		{"realserver", "--undo", "--mode", "nat"},
	} {
		code, _, errs := tandem(t, args...)
		if code != exitUsage {
			t.Errorf("%s: exit %d, want 2: %s", strings.Join(args, " "), code, errs)
		}
	}
}
