package track

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

// A script flips with rise/fall; Close waits for every script goroutine
// (they were never waited for: a result could arrive after the stop).
func TestScriptsRiseFallAndClose(t *testing.T) {
	defer goleak.VerifyNone(t)
	dir := t.TempDir()
	flag := filepath.Join(dir, "ok")
	os.WriteFile(flag, nil, 0o644)
	s := NewScripts[int](context.Background())
	s.Start(1, []Script{{Name: "flag", Command: []string{"test", "-e", flag}, Interval: 20 * time.Millisecond, Timeout: time.Second, Rise: 2, Fall: 2}})
	s.Start(2, []Script{{Name: "slow", Command: []string{"sleep", "5"}, Interval: 50 * time.Millisecond, Timeout: 30 * time.Millisecond, Rise: 1, Fall: 1}})
	next := func(owner int) Result[int] {
		t.Helper()
		deadline := time.After(10 * time.Second)
		for {
			select {
			case r := <-s.Results():
				if r.Owner == owner {
					return r
				}
			case <-deadline:
				t.Fatalf("no result for owner %d", owner)
			}
		}
	}
	if r := next(2); r.OK || r.Name != "slow" || !strings.Contains(r.Why, "timed out after 30ms") {
		t.Fatalf("slow: %+v", r)
	}
	os.Remove(flag)
	if r := next(1); r.OK || !strings.Contains(r.Why, "exit status 1") {
		t.Fatalf("flag removed: %+v", r)
	}
	os.WriteFile(flag, nil, 0o644)
	if r := next(1); !r.OK || r.Why != "succeeded" {
		t.Fatalf("flag back: %+v", r)
	}
	s.Stop(2)
	s.Close()
}
