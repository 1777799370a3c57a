package lvs

import (
	"log/slog"
	"path/filepath"
	"testing"
	"time"
)

func TestReconcilerRepairsDriftAndOwnsWhatItCreated(t *testing.T) {
	state := filepath.Join(t.TempDir(), "ipvs-services.json")
	owned, err := LoadOwned(state)
	if err != nil {
		t.Fatal(err)
	}
	m := NewMemory()
	foreign := &Service{ServiceKey: ServiceKey{Protocol: UDP, Addr: addr("198.51.100.77"), Port: 53}, Scheduler: "rr", Dests: map[DestKey]Dest{}}
	m.T[foreign.ServiceKey] = foreign
	r := NewReconciler(m, owned, time.Hour, slog.New(slog.DiscardHandler))
	ctx := t.Context()
	go r.Run(ctx)

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
	owned2, err := LoadOwned(state)
	if err != nil || !owned2.Has(ServiceKey{Protocol: TCP, Addr: addr("198.51.100.10"), Port: 80}) || owned2.Has(foreign.ServiceKey) {
		t.Fatalf("state file: %v %v", owned2, err)
	}
	r2 := NewReconciler(m, owned2, time.Hour, slog.New(slog.DiscardHandler))
	go r2.Run(ctx)
	r2.Set(Table{})
	if err := r2.Reconcile(ctx); err != nil {
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
