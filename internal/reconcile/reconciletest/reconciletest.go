// Package reconciletest checks what every table's reconcile.Loop must do,
// whatever the table: the IPVS table, nftables, routes.
package reconciletest

import (
	"context"
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandemlb/tandem/internal/reconcile"
)

// counting counts the writes that reach a backend.
type counting[S, O any] struct {
	reconcile.Backend[S, O]
	writes int
}

func (c *counting[S, O]) Apply(op O) error {
	c.writes++
	return c.Backend.Apply(op)
}

// NoWritesWhenUnchanged hands the states to one Loop over b in turn, each
// from where the previous one left b, and checks that a pass over an
// applied state writes nothing: no op reaches b, and the state file is not
// rewritten.
func NoWritesWhenUnchanged[S any, K comparable, O any](t *testing.T, spec reconcile.Spec[S, K, O], b reconcile.Backend[S, O], states []S) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "owned.json")
	cb := &counting[S, O]{Backend: b}
	l, err := reconcile.New(spec, cb, path, 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer func() { cancel(); <-l.Stopped() }()
	go l.Run(ctx)
	for i, s := range states {
		l.Set(s)
		if err := l.Reconcile(ctx); err != nil {
			t.Fatalf("state %d: %v", i, err)
		}
		writes, before := cb.writes, stat(path)
		if err := l.Reconcile(ctx); err != nil {
			t.Fatalf("state %d, second pass: %v", i, err)
		}
		if n := cb.writes - writes; n != 0 {
			t.Fatalf("state %d: a pass over the applied state wrote %d ops", i, n)
		}
		if after := stat(path); (before == nil) != (after == nil) || before != nil && !os.SameFile(before, after) {
			t.Fatalf("state %d: a pass over the applied state rewrote the ownership file", i)
		}
	}
}

func stat(path string) os.FileInfo {
	fi, _ := os.Stat(path)
	return fi
}
