package reconcile_test

import (
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"maps"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/reconcile"
	"github.com/tandemlb/tandem/internal/reconcile/reconciletest"
	"github.com/tandemlb/tandem/internal/statefile"
)

// The table of these tests: keys and values, an op sets or deletes one.
type state = map[string]string

type op struct {
	Key, Val string
	Del      bool
}

func (o op) String() string {
	if o.Del {
		return "del " + o.Key
	}
	return "set " + o.Key + "=" + o.Val
}

func diff(desired, actual state, owned func(string) bool) []op {
	var ops []op
	for _, k := range slices.Sorted(maps.Keys(actual)) {
		if _, keep := desired[k]; !keep && owned(k) {
			ops = append(ops, op{Key: k, Del: true})
		}
	}
	for _, k := range slices.Sorted(maps.Keys(desired)) {
		if v, ok := actual[k]; !ok || v != desired[k] {
			ops = append(ops, op{Key: k, Val: desired[k]})
		}
	}
	return ops
}

var spec = reconcile.Spec[state, string, op]{
	Name: "test", Entry: "key", Diff: diff,
	Keys: func(s state) iter.Seq[string] { return maps.Keys(s) },
	Describe: func(o op) reconcile.OpInfo[string] {
		if o.Del {
			return reconcile.OpInfo[string]{Kind: 1, Key: o.Key, Removes: true}
		}
		return reconcile.OpInfo[string]{Kind: 0, Key: o.Key}
	},
	Kinds:   []string{"set", "del"},
	Compare: strings.Compare,
}

// memory is a map-backed Backend. It counts calls that overlap (a kernel
// handle has one user); fail makes that many next applies fail; hold,
// when set, stops the next Read until it is closed, after a word on
// reading.
type memory struct {
	m        state
	writes   int
	fail     int
	busy     atomic.Int32
	overlaps atomic.Int32
	hold     chan struct{}
	reading  chan struct{}
}

func newMemory(kv ...string) *memory {
	m := &memory{m: state{}}
	for i := 0; i+1 < len(kv); i += 2 {
		m.m[kv[i]] = kv[i+1]
	}
	return m
}

func (m *memory) enter() func() {
	if m.busy.Add(1) > 1 {
		m.overlaps.Add(1)
	}
	return func() { m.busy.Add(-1) }
}

func (m *memory) Read() (state, error) {
	defer m.enter()()
	if m.hold != nil {
		m.reading <- struct{}{}
		<-m.hold
		m.hold = nil
	}
	return maps.Clone(m.m), nil
}

func (m *memory) Apply(o op) error {
	defer m.enter()()
	m.writes++
	if m.fail > 0 {
		m.fail--
		return fmt.Errorf("%s: %w", o, syscall.ENOMEM)
	}
	if o.Del {
		delete(m.m, o.Key)
	} else {
		m.m[o.Key] = o.Val
	}
	return nil
}

// start runs a loop over b with its ownership file at path, without
// periodic passes, until ctx ends.
func start(t *testing.T, ctx context.Context, b *memory, path string, log *slog.Logger) *reconcile.Loop[state, string, op] {
	t.Helper()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	l, err := reconcile.New(spec, b, path, 0, log)
	if err != nil {
		t.Fatal(err)
	}
	go l.Run(ctx)
	return l
}

func statePath(t *testing.T) string { return filepath.Join(t.TempDir(), "owned.json") }

func reconcileNow(t *testing.T, l *reconcile.Loop[state, string, op]) {
	t.Helper()
	if err := l.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
}

func ownedKeys(t *testing.T, path string) []string {
	t.Helper()
	var keys []string
	if _, err := statefile.Load(path, &keys); err != nil {
		t.Fatal(err)
	}
	return keys
}

func TestApplyRepairAndOwnership(t *testing.T) {
	b := newMemory("theirs", "x")
	path := statePath(t)
	ctx, stop := context.WithCancel(t.Context())
	l := start(t, ctx, b, path, nil)
	l.Set(state{"a": "1", "b": "2"})
	reconcileNow(t, l)
	if !maps.Equal(b.m, state{"a": "1", "b": "2", "theirs": "x"}) || l.Ops[0].Load() != 2 || l.DriftRepairs.Load() != 0 {
		t.Fatalf("applied %v, %d sets, %d drift repairs", b.m, l.Ops[0].Load(), l.DriftRepairs.Load())
	}
	if got := ownedKeys(t, path); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("owned %v", got)
	}

	// Changed behind tandem's back: repaired, and counted as drift.
	b.m["a"] = "9"
	delete(b.m, "b")
	reconcileNow(t, l)
	if !maps.Equal(b.m, state{"a": "1", "b": "2", "theirs": "x"}) || l.DriftRepairs.Load() != 2 {
		t.Fatalf("after drift: %v, %d drift repairs", b.m, l.DriftRepairs.Load())
	}

	// A restart whose desired state drops b: tandem created it, so it
	// goes; theirs stays.
	stop()
	<-l.Stopped()
	l = start(t, t.Context(), b, path, nil)
	l.Set(state{"a": "1"})
	reconcileNow(t, l)
	if !maps.Equal(b.m, state{"a": "1", "theirs": "x"}) || l.Ops[1].Load() != 1 || l.DriftRepairs.Load() != 0 {
		t.Fatalf("after the restart: %v, %d deletes, %d drift repairs", b.m, l.Ops[1].Load(), l.DriftRepairs.Load())
	}
	if got := ownedKeys(t, path); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("owned %v", got)
	}
}

// An owned entry that leaves both the desired state and the kernel is
// forgotten: someone else's entry of that name later is left alone.
func TestGoneEntryIsForgotten(t *testing.T) {
	b := newMemory()
	path := statePath(t)
	l := start(t, t.Context(), b, path, nil)
	l.Set(state{"a": "1", "b": "2"})
	reconcileNow(t, l)
	delete(b.m, "b") // by hand, as the configuration drops it
	l.Set(state{"a": "1"})
	reconcileNow(t, l)
	if got := ownedKeys(t, path); !slices.Equal(got, []string{"a"}) {
		t.Fatalf("owned %v", got)
	}
	b.m["b"] = "theirs"
	reconcileNow(t, l)
	if b.m["b"] != "theirs" {
		t.Fatalf("someone else's b was removed: %v", b.m)
	}
}

// A pass that retries a state that failed to apply is not drift; a change
// made behind tandem's back afterwards is.
func TestRetryIsNotDrift(t *testing.T) {
	b := newMemory()
	b.fail = 1
	b.hold, b.reading = make(chan struct{}), make(chan struct{})
	l := start(t, t.Context(), b, statePath(t), nil)
	l.Set(state{"a": "1", "b": "2"})
	<-b.reading // the pass of Set
	close(b.hold)
	l.Do(t.Context(), func() error { return nil }) // runs after that pass
	select {
	case <-l.Applied():
		t.Fatal("Applied closed after a failed pass")
	default:
	}
	if l.Errors.Load() != 1 {
		t.Fatalf("%d errors after a failed apply, want 1", l.Errors.Load())
	}
	reconcileNow(t, l)
	<-l.Applied()
	if !maps.Equal(b.m, state{"a": "1", "b": "2"}) || l.DriftRepairs.Load() != 0 || l.Errors.Load() != 1 {
		t.Fatalf("after the retry: %v, %d drift repairs, %d errors, want 0 and 1", b.m, l.DriftRepairs.Load(), l.Errors.Load())
	}
	delete(b.m, "a")
	reconcileNow(t, l)
	if l.DriftRepairs.Load() != 1 {
		t.Fatalf("a deletion by hand: %d drift repairs, want 1", l.DriftRepairs.Load())
	}
}

// A damaged ownership file is set aside with a warning that says where;
// ownership starts afresh: nothing is removed, and what the desired state
// names (there already or created) becomes tandem's.
func TestDamagedOwnershipFile(t *testing.T) {
	path := statePath(t)
	if err := os.WriteFile(path, []byte(`["a", "the`), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newMemory("a", "0", "theirs", "x")
	var logs strings.Builder
	l := start(t, t.Context(), b, path, slog.New(slog.NewTextHandler(&logs, nil)))
	l.Set(state{"a": "1", "b": "2"})
	reconcileNow(t, l)
	if !maps.Equal(b.m, state{"a": "1", "b": "2", "theirs": "x"}) {
		t.Fatalf("applied %v", b.m)
	}
	aside, _ := filepath.Glob(path + ".damaged-*")
	if len(aside) != 1 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), aside[0]) {
		t.Fatalf("set aside %v; the warning should name it:\n%s", aside, logs.String())
	}
	if got := ownedKeys(t, path); !slices.Equal(got, []string{"a", "b"}) {
		t.Fatalf("owned %v", got)
	}
	l.Set(state{})
	reconcileNow(t, l)
	if !maps.Equal(b.m, state{"theirs": "x"}) {
		t.Fatalf("after the desired state dropped a and b: %v", b.m)
	}
}

// An ownership file that cannot be read at all stops New with an error
// that names it; one that cannot be written is an error of the pass, and
// the kernel is applied all the same.
func TestOwnershipFileErrors(t *testing.T) {
	dir := t.TempDir()
	notDir := filepath.Join(dir, "file")
	os.WriteFile(notDir, nil, 0o644)
	if _, err := reconcile.New(spec, newMemory(), filepath.Join(notDir, "owned.json"), 0, slog.New(slog.DiscardHandler)); err == nil || !strings.Contains(err.Error(), notDir) {
		t.Fatalf("unreadable ownership file: %v", err)
	}

	stateDir := filepath.Join(dir, "state")
	b := newMemory()
	l := start(t, t.Context(), b, filepath.Join(stateDir, "owned.json"), nil)
	os.WriteFile(stateDir, nil, 0o644) // the directory cannot be made
	l.Set(state{"a": "1"})
	if err := l.Reconcile(t.Context()); err == nil || l.Errors.Load() == 0 {
		t.Fatalf("unwritable ownership file: %v, %d errors", err, l.Errors.Load())
	}
	<-l.Applied()
	if b.m["a"] != "1" {
		t.Fatalf("not applied: %v", b.m)
	}
}

// Do runs its call on the loop's goroutine, never during a pass: the
// backend's handle has one user.
func TestDoRunsBetweenPasses(t *testing.T) {
	b := newMemory()
	b.hold, b.reading = make(chan struct{}), make(chan struct{})
	l := start(t, t.Context(), b, statePath(t), nil)
	l.Set(state{"a": "1"})
	<-b.reading // the pass of Set is reading
	called := errors.New("called")
	done := make(chan error, 1)
	go func() {
		done <- l.Do(t.Context(), func() error {
			defer b.enter()()
			b.m["do"] = "x" // unlocked: the race detector sees a second user
			return called
		})
	}()
	select {
	case <-done:
		t.Fatal("Do ran during a pass")
	case <-time.After(50 * time.Millisecond):
	}
	close(b.hold)
	if err := <-done; err != called {
		t.Fatalf("Do returned %v, want its call's error", err)
	}
	if n := b.overlaps.Load(); n != 0 {
		t.Fatalf("%d calls overlapped", n)
	}
}

// After Run has returned, calls fail at once; before it starts they wait
// for it or for their context.
func TestStopped(t *testing.T) {
	l, err := reconcile.New(spec, newMemory(), statePath(t), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	short, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	if err := l.Do(short, func() error { return nil }); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Do before Run: %v", err)
	}
	ctx, stop := context.WithCancel(t.Context())
	stop()
	l.Run(ctx)
	if err := l.Do(t.Context(), func() error { return nil }); err != reconcile.ErrStopped {
		t.Fatalf("Do after Run: %v", err)
	}
	if err := l.Reconcile(t.Context()); err != reconcile.ErrStopped {
		t.Fatalf("Reconcile after Run: %v", err)
	}
}

// Only the latest state handed over is applied.
func TestLatestWins(t *testing.T) {
	b := newMemory()
	l, err := reconcile.New(spec, b, statePath(t), 0, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		l.Set(state{"a": fmt.Sprint(i), fmt.Sprint("k", i): "v"})
	}
	go l.Run(t.Context())
	reconcileNow(t, l)
	if !maps.Equal(b.m, state{"a": "4", "k4": "v"}) || b.writes != 2 {
		t.Fatalf("applied %v in %d writes", b.m, b.writes)
	}
}

// SetInterval starts periodic passes, which repair drift on their own.
func TestSetInterval(t *testing.T) {
	b := newMemory()
	l := start(t, t.Context(), b, statePath(t), nil)
	l.Set(state{"a": "1"})
	reconcileNow(t, l)
	// The drift is made on the loop's goroutine: b has one user.
	l.Do(t.Context(), func() error { delete(b.m, "a"); return nil })
	l.SetInterval(5 * time.Millisecond)
	for deadline := time.Now().Add(10 * time.Second); l.DriftRepairs.Load() == 0; time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no periodic pass within 10 s of a 5 ms interval")
		}
	}
	l.SetInterval(0)
	var got string
	l.Do(t.Context(), func() error { got = b.m["a"]; return nil })
	if got != "1" || l.LastDuration.Load() <= 0 {
		t.Fatalf("a = %q, last pass %v", got, time.Duration(l.LastDuration.Load()))
	}
}

// randomStates are overlapping states over a few keys and values.
func randomStates(r *rand.Rand, n int) []state {
	var out []state
	for range n {
		s := state{}
		for range r.IntN(6) {
			s[fmt.Sprint("k", r.IntN(8))] = fmt.Sprint(r.IntN(3))
		}
		out = append(out, s)
	}
	return out
}

func TestNoWritesWhenUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for range 20 {
		b := newMemory("theirs", "x", "k7", "theirs too")
		reconciletest.NoWritesWhenUnchanged(t, spec, b, randomStates(r, 10))
	}
}
