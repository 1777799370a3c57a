package main

import (
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/director"
)

// A changed line is marked for highlightFrames frames, then not; a line
// only re-spaced (a column widened elsewhere) is not a change.
func TestWatchChanged(t *testing.T) {
	f1 := []string{"INSTANCE  STATE   PRIORITY", "web       BACKUP  150", "api       MASTER  150"}
	f2 := []string{"INSTANCE  STATE   PRIORITY", "web       MASTER  150", "api       MASTER  150"}
	f3 := []string{"INSTANCE  STATE     PRIORITY", "web       MASTER    150", "api       MASTER    150", "db        FAULT     100"}
	var hist []map[string]bool
	push := func(key []string) {
		set := map[string]bool{}
		for _, k := range key {
			set[norm(k)] = true
		}
		hist = append(hist, set)
		if len(hist) > highlightFrames {
			hist = hist[1:]
		}
	}
	if got := changed(hist, f1); slices.Contains(got, true) {
		t.Errorf("first frame: %v, want nothing marked", got)
	}
	push(f1)
	if got := changed(hist, f2); !slices.Equal(got, []bool{false, true, false}) {
		t.Errorf("web's state changed: %v", got)
	}
	push(f2)
	if got := changed(hist, f3); !slices.Equal(got, []bool{false, true, false, true}) {
		t.Errorf("one more frame, db added, columns widened: %v", got)
	}
	push(f3)
	push(f3)
	if got := changed(hist, f3); !slices.Equal(got, []bool{false, false, false, true}) {
		t.Errorf("web's change is %d frames old: %v", highlightFrames, got)
	}
	push(f3)
	if got := changed(hist, f3); slices.Contains(got, true) {
		t.Errorf("nothing changed for %d frames: %v", highlightFrames, got)
	}
}

// Not on a terminal: a frame is printed when it changed, after a line
// with the time, frames separated by a blank line, without escape
// sequences.
func TestWatchPlain(t *testing.T) {
	var b strings.Builder
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	w := watcher{out: &b, fd: -1, clock: func() time.Time { at = at.Add(time.Second); return at }}
	a := []string{"web  MASTER  for 1s"}
	w.show(a, []string{"web MASTER"})
	w.show([]string{"web  MASTER  for 2s"}, []string{"web  MASTER"})
	w.show([]string{"web  BACKUP  for 0s"}, []string{"web BACKUP"})
	if got, want := b.String(), "--- 2026-12-02T10:00:01Z\nweb  MASTER  for 1s\n\n--- 2026-12-02T10:00:02Z\nweb  BACKUP  for 0s\n"; got != want {
		t.Errorf("plain output %q, want %q", got, want)
	}
}

// With no daemon the frame says so (the watch keeps asking).
func TestWatchFrameNoDaemon(t *testing.T) {
	shown, key := frame(t.Context(), filepath.Join(t.TempDir(), "none.sock"))
	if len(shown) != 2 || !strings.Contains(shown[0], "no tandem daemon answers on") || !strings.Contains(shown[1], "retrying every second") || !slices.Equal(shown, key) {
		t.Errorf("frame without a daemon: %q (key %q)", shown, key)
	}
}

func TestWatchJSONIsUsage(t *testing.T) {
	if code, _, errs := tandem(t, "status", "--watch", "--json"); code != exitUsage || !strings.Contains(errs, "--watch and --json") {
		t.Errorf("status --watch --json: exit %d, %q; want 2", code, errs)
	}
}

// A fullnat virtual server's status line names its LIPs, their
// connections and the limit.
func TestStatusFullNAT(t *testing.T) {
	st := &director.Status{RouterID: "lb1", VirtualServers: []director.VSStatus{{
		Name: "web", Address: "198.51.100.10:80", QuorumUp: true, Forwarding: "fullnat",
		LocalAddresses: []director.LIPStatus{{Address: "203.0.113.250", Connections: 12}, {Address: "203.0.113.251", Connections: -1}},
		LimitPerRS:     129024,
	}}}
	var b strings.Builder
	writeStatusAt(&b, st, time.Now(), true)
	want := "  fullnat from 203.0.113.250 (12 connections), 203.0.113.251 (connections unknown); limit 129024 concurrent connections per real server\n"
	if !strings.Contains(b.String(), want) {
		t.Errorf("status:\n%s\nwant a line:\n%s", b.String(), want)
	}
}
