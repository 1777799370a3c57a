package lvs

import (
	"context"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/reconcile/reconciletest"
	"github.com/tandemlb/tandem/internal/statefile"
)

func TestReconcilerRepairsDriftAndOwnsWhatItCreated(t *testing.T) {
	state := filepath.Join(t.TempDir(), "ipvs-services.json")
	m := NewMemory()
	foreign := &Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.77"), Port: 53}, Scheduler: "rr", Dests: map[DestKey]Dest{}}
	m.T[foreign.ServiceKey] = foreign
	ctx, stop := context.WithCancel(t.Context())
	r := newTestReconciler(t, ctx, m, state, slog.New(slog.DiscardHandler))

	two := func(reals ...Real) Table {
		tab, _ := Desired([]VirtualServer{web(reals...)}, State{Up: func(string, string) bool { return true }})
		return tab
	}
	want := two(real(21, 1), real(22, 2))
	r.Set(want)
	if err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !Equal(m.T, merge(want, foreign)) || r.DriftRepairs.Load() != 0 {
		t.Fatalf("after set:\n%s", m.T)
	}

	// Someone deletes our service and changes nothing else: repaired.
	writes := m.Writes
	delete(m.T, ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80})
	if err := r.Reconcile(ctx); err != nil {
		t.Fatal(err)
	}
	if !Equal(m.T, merge(want, foreign)) || r.DriftRepairs.Load() != 3 || m.Writes != writes+3 {
		t.Fatalf("drift not repaired (repairs %d, writes %d):\n%s", r.DriftRepairs.Load(), m.Writes-writes, m.T)
	}
	// Nothing changed: no writes.
	writes = m.Writes
	if err := r.Reconcile(ctx); err != nil || m.Writes != writes {
		t.Fatalf("an idle reconcile wrote %d times (%v)", m.Writes-writes, err)
	}

	// A restart with a configuration without the virtual server: the state
	// file says it is ours, so it goes; the foreign one stays.
	stop()
	<-r.Stopped()
	var keys []ServiceKey
	if _, err := statefile.Load(state, &keys); err != nil || !slices.Equal(keys, sortedKeys(want)) {
		t.Fatalf("state file: %v %v", keys, err)
	}
	r2 := newTestReconciler(t, t.Context(), m, state, slog.New(slog.DiscardHandler))
	r2.Set(Table{})
	if err := r2.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !Equal(m.T, merge(Table{}, foreign)) {
		t.Fatalf("after restart with an empty configuration:\n%s", m.T)
	}
}

// merge is t plus the services.
func merge(t Table, extra ...*Service) Table {
	out := t.Clone()
	for _, s := range extra {
		out[s.ServiceKey] = s
	}
	return out
}

// newTestReconciler opens a reconciler over b with its ownership file at
// path, and runs it until ctx ends.
func newTestReconciler(t *testing.T, ctx context.Context, b Backend, path string, log *slog.Logger) *Reconciler {
	t.Helper()
	r, err := NewReconciler(b, path, time.Hour, log)
	if err != nil {
		t.Fatal(err)
	}
	go r.Run(ctx)
	return r
}

// A damaged ownership file does not stop tandem: it is set aside with a
// warning that says where, and ownership is rebuilt conservatively: what
// the configuration names is tandem's, nothing else is removed.
func TestDamagedOwnershipFile(t *testing.T) {
	state := filepath.Join(t.TempDir(), "ipvs-services.json")
	if err := os.WriteFile(state, []byte(`[{"Fwmark": 0, "Proto`), 0o644); err != nil {
		t.Fatal(err)
	}
	m := NewMemory()
	foreign := &Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.77"), Port: 53}, Scheduler: "rr", Dests: map[DestKey]Dest{}}
	m.T[foreign.ServiceKey] = foreign
	want, _ := Desired([]VirtualServer{web(real(21, 1), real(22, 2))}, State{Up: func(string, string) bool { return true }})
	webKey := ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}
	m.T[webKey] = Table{webKey: want[webKey]}.Clone()[webKey] // in the kernel before tandem, and desired
	delete(m.T[webKey].Dests, DestKey{addr("203.0.113.22"), 80})

	var logs strings.Builder
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelWarn}))
	r := newTestReconciler(t, t.Context(), m, state, log)
	r.Set(want)
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !Equal(m.T, merge(want, foreign)) {
		t.Fatalf("after the first pass:\n%s", m.T)
	}
	aside, _ := filepath.Glob(state + ".damaged-*")
	if len(aside) != 1 || !strings.Contains(logs.String(), "level=WARN") || !strings.Contains(logs.String(), aside[0]) {
		t.Fatalf("set aside: %v; the warning should name it:\n%s", aside, logs.String())
	}
	// The configuration loses the virtual server: it goes (tandem owns
	// it now), the foreign service stays.
	r.Set(Table{})
	if err := r.Reconcile(t.Context()); err != nil {
		t.Fatal(err)
	}
	if !Equal(m.T, merge(Table{}, foreign)) {
		t.Fatalf("after the virtual server left the configuration:\n%s", m.T)
	}
}

// failFirst fails the first Apply, as a kernel short of memory would.
type failFirst struct {
	*Memory
	failed bool
}

func (f *failFirst) Apply(op Op) error {
	if !f.failed {
		f.failed = true
		return fmt.Errorf("%s: %w", op, syscall.ENOMEM)
	}
	return f.Memory.Apply(op)
}

// A pass that retries a table that failed to apply repairs no drift; a
// change made behind tandem's back afterwards does.
func TestRetryIsNotDrift(t *testing.T) {
	m := &failFirst{Memory: NewMemory()}
	r := newTestReconciler(t, t.Context(), m, filepath.Join(t.TempDir(), "ipvs-services.json"), slog.New(slog.DiscardHandler))
	want, _ := Desired([]VirtualServer{web(real(21, 1), real(22, 2))}, State{Up: func(string, string) bool { return true }})
	r.Set(want)
	var err error
	for range 3 { // the pass of Set and a retry, in either order
		if err = r.Reconcile(t.Context()); err == nil {
			break
		}
	}
	if err != nil || !Equal(m.T, want) {
		t.Fatalf("not applied after a retry (%v):\n%s", err, m.T)
	}
	if n, e := r.DriftRepairs.Load(), r.Errors.Load(); n != 0 || e == 0 {
		t.Errorf("a retry after a failed apply: %d drift repairs and %d errors, want 0 and some", n, e)
	}
	delete(m.T[sortedKeys(want)[0]].Dests, DestKey{addr("203.0.113.21"), 80})
	if err := r.Reconcile(t.Context()); err != nil || r.DriftRepairs.Load() != 1 {
		t.Errorf("a destination deleted by hand: %d drift repairs, want 1 (%v)", r.DriftRepairs.Load(), err)
	}
}

// The reconciler writes nothing to the kernel or the state file when the
// table is applied already, whatever the tables.
func TestReconcilerNoWritesWhenUnchanged(t *testing.T) {
	r := rand.New(rand.NewPCG(5, 6))
	for range 20 {
		var tables []Table
		for range 10 {
			tables = append(tables, randomTable(r, r.IntN(8)))
		}
		reconciletest.NoWritesWhenUnchanged(t, spec, loopBackend{&Memory{T: randomTable(r, 4)}}, tables)
	}
}
