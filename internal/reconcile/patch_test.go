package reconcile_test

import (
	"context"
	"log/slog"
	"maps"
	"path/filepath"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/reconcile"
)

// readCounting counts whole-state reads.
type readCounting struct {
	*memory
	reads int
}

func (r *readCounting) Read() (state, error) { r.reads++; return r.memory.Read() }

// Patch writes its ops without reading the state; Set keeps a copy (the
// caller may go on changing its own); ops after a Set apply to it, in
// order; a patch that fails makes a full pass, which repairs, and is not
// counted as drift.
func TestPatchWritesWithoutReading(t *testing.T) {
	pspec := spec
	pspec.Clone = func(s state) state { return maps.Clone(s) }
	pspec.Patch = func(s state, o op) {
		if o.Del {
			delete(s, o.Key)
		} else {
			s[o.Key] = o.Val
		}
	}
	b := &readCounting{memory: newMemory()}
	l, err := reconcile.New(pspec, reconcile.Backend[state, op](b), filepath.Join(t.TempDir(), "owned.json"), time.Hour, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer func() { cancel(); <-l.Stopped() }()
	go l.Run(ctx)
	barrier := func() {
		t.Helper()
		if err := l.Do(ctx, func() error { return nil }); err != nil {
			t.Fatal(err)
		}
	}
	mine := state{"a": "1", "b": "1"}
	l.Set(mine)
	barrier()
	if b.reads != 1 || !maps.Equal(b.m, state{"a": "1", "b": "1"}) {
		t.Fatalf("after Set: %d reads, %v", b.reads, b.m)
	}
	mine["a"] = "2" // the caller's own copy
	l.Patch(op{Key: "a", Val: "2"})
	l.Patch(op{Key: "b", Val: "3"})
	barrier()
	if b.reads != 1 || !maps.Equal(b.m, state{"a": "2", "b": "3"}) {
		t.Fatalf("after two patches: %d reads (want 1), %v", b.reads, b.m)
	}
	b.fail = 1
	l.Patch(op{Key: "a", Val: "4"})
	barrier()
	if b.reads != 2 || !maps.Equal(b.m, state{"a": "4", "b": "3"}) || l.DriftRepairs.Load() != 0 {
		t.Fatalf("after a failed patch: %d reads (want 2: the repair), %v, %d drift repairs", b.reads, b.m, l.DriftRepairs.Load())
	}
	l.Set(state{"a": "5"})
	l.Patch(op{Key: "a", Val: "6"})
	barrier()
	if !maps.Equal(b.m, state{"a": "6"}) {
		t.Fatalf("a patch after a Set applies to it: %v", b.m)
	}
	if w := l.Ops[0].Load(); w < 6 {
		t.Errorf("%d set ops counted", w)
	}
}
