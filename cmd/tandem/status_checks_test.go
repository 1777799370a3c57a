package main

import (
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/director"
)

// The text status lists the checks of a real server with several checks,
// retries or a weight of the checks' own: kind, state, last result with
// its reason, retries.
func TestStatusTextChecks(t *testing.T) {
	st := &director.Status{VirtualServers: []director.VSStatus{{Name: "mail", Address: "198.51.100.10:25", QuorumUp: true,
		RealServers: []director.RSStatus{
			{Address: "203.0.113.41:25", Health: "down", Weight: 0, DynamicWeight: -1, Reason: "smtp: banner: timed out after 1s (3 attempts)",
				Checks: []director.CheckStatus{
					{Kind: "smtp", Health: "down", LastResult: "down", Reason: "smtp: banner: timed out after 1s (3 attempts)", Retries: 2, Attempts: 3},
					{Kind: "ping", Health: "up", LastResult: "up", Reason: "ping: echo reply (seq 7)"},
				}},
			{Address: "203.0.113.42:25", Health: "up", Weight: 1, DynamicWeight: -1, Reason: "tcp: connected",
				Checks: []director.CheckStatus{{Kind: "tcp", Health: "up", LastResult: "up", Reason: "tcp: connected"}}},
		}}}}
	var b strings.Builder
	writeStatusAt(&b, st, time.Now(), true)
	out := b.String()
	t.Log("\n" + out)
	for _, want := range [][]string{
		{"check smtp", "down", "last down, retries 2, last run 3 attempts: smtp: banner: timed out after 1s (3 attempts)"},
		{"check ping", "up", "last up: ping: echo reply (seq 7)"},
	} {
		found := false
		for line := range strings.Lines(out) {
			if f := strings.Fields(line); len(f) > 2 && strings.Join(f[:2], " ") == want[0] && f[2] == want[1] && strings.Contains(line, want[2]) {
				found = true
			}
		}
		if !found {
			t.Errorf("status lacks a line %q", want)
		}
	}
	if strings.Contains(out, "check tcp") {
		t.Error("a single check without retries got a line of its own")
	}
}
