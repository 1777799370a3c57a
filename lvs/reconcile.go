package lvs

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Owned is the set of services tandem created, kept in a state file so
// that a service removed from the configuration is removed from the kernel
// after a restart too, and nobody else's service ever is.
type Owned struct {
	path string
	keys map[ServiceKey]bool
}

// LoadOwned reads the state file; a missing file is an empty set.
func LoadOwned(path string) (*Owned, error) {
	o := &Owned{path: path, keys: map[ServiceKey]bool{}}
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return o, nil
	}
	if err != nil {
		return nil, fmt.Errorf("lvs: reading %s: %w", path, err)
	}
	var keys []ServiceKey
	if err := json.Unmarshal(b, &keys); err != nil {
		return nil, fmt.Errorf("lvs: %s is damaged (%w); move it away to start afresh (tandem then owns only what it creates from now on)", path, err)
	}
	for _, k := range keys {
		o.keys[k] = true
	}
	return o, nil
}

// Has reports whether tandem created k.
func (o *Owned) Has(k ServiceKey) bool { return o.keys[k] }

func (o *Owned) set(k ServiceKey, on bool) {
	if on {
		o.keys[k] = true
	} else {
		delete(o.keys, k)
	}
}

// save writes the file atomically (temporary file, then rename).
func (o *Owned) save() error {
	keys := slices.SortedFunc(maps.Keys(o.keys), ServiceKey.compare)
	b, err := json.MarshalIndent(keys, "", " ")
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(o.path), 0o755); err != nil {
		return fmt.Errorf("lvs: state directory: %w", err)
	}
	tmp := o.path + ".tmp"
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		return fmt.Errorf("lvs: writing %s: %w", tmp, err)
	}
	return os.Rename(tmp, o.path)
}

// Reconciler owns the Backend: it applies each new desired table and, every
// interval, re-reads the kernel and repairs drift.
type Reconciler struct {
	backend  Backend
	owned    *Owned
	interval time.Duration
	log      *slog.Logger

	updates   chan Table
	now       chan chan error
	intervals chan time.Duration
	applied   chan struct{} // closed after the first table was applied
	once      sync.Once

	// Counters, readable from any goroutine.
	Ops          [DelDest + 1]atomic.Uint64 // by OpKind
	DriftRepairs atomic.Uint64
	Errors       atomic.Uint64
	LastDuration atomic.Int64 // nanoseconds of the last reconcile
}

// NewReconciler prepares a reconciler; Run starts it.
func NewReconciler(b Backend, owned *Owned, interval time.Duration, log *slog.Logger) *Reconciler {
	return &Reconciler{backend: b, owned: owned, interval: interval, log: log,
		updates: make(chan Table, 1), now: make(chan chan error), intervals: make(chan time.Duration, 1),
		applied: make(chan struct{})}
}

// SetInterval changes how often the kernel is re-read (a reload).
func (r *Reconciler) SetInterval(d time.Duration) {
	select {
	case <-r.intervals:
	default:
	}
	r.intervals <- d
}

// Applied is closed once the first table handed over has been applied
// without error (readiness).
func (r *Reconciler) Applied() <-chan struct{} { return r.applied }

// Set hands over a new desired table; only the latest one matters.
func (r *Reconciler) Set(t Table) {
	for {
		select {
		case r.updates <- t:
			return
		default:
			select { // replace a table not yet taken
			case <-r.updates:
			default:
			}
		}
	}
}

// Reconcile re-reads the kernel now and repairs it; it returns the first
// error of that pass.
func (r *Reconciler) Reconcile(ctx context.Context) error {
	done := make(chan error, 1)
	select {
	case r.now <- done:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run applies tables until ctx ends.
func (r *Reconciler) Run(ctx context.Context) {
	tick := time.NewTicker(r.interval)
	defer tick.Stop()
	var desired Table
	applied := false // desired has been applied once: later ops are drift
	for {
		select {
		case <-ctx.Done():
			return
		case desired = <-r.updates:
			r.pass(desired, false)
			applied = true
		case d := <-r.intervals:
			tick.Reset(d)
		case <-tick.C:
			if desired != nil {
				r.pass(desired, applied)
			}
		case done := <-r.now:
			select { // a table handed over just before counts
			case desired = <-r.updates:
				applied = false
			default:
			}
			var err error
			if desired != nil {
				err = r.pass(desired, applied)
				applied = true
			}
			done <- err
		}
	}
}

// pass brings the kernel to desired. With drift set, the table was already
// applied, so every op needed repairs a change made behind our back.
func (r *Reconciler) pass(desired Table, drift bool) error {
	start := time.Now()
	defer func() { r.LastDuration.Store(int64(time.Since(start))) }()
	actual, err := r.backend.Table()
	if err != nil {
		r.Errors.Add(1)
		r.log.Error("reading the IPVS table", "err", err)
		return err
	}
	ops := Diff(desired, actual, r.owned.Has)
	var first error
	changed := false
	for _, op := range ops {
		if drift {
			r.DriftRepairs.Add(1)
			r.log.Warn("repairing IPVS drift", "vs", op.Service.ServiceKey.String(), "op", op.String())
		}
		if err := r.backend.Apply(op); err != nil {
			r.Errors.Add(1)
			r.log.Error("IPVS change failed; retrying at the next reconcile", "vs", op.Service.ServiceKey.String(), "op", op.String(), "err", err)
			first = cmp.Or(first, err)
			continue
		}
		r.Ops[op.Kind].Add(1)
		switch op.Kind {
		case DelService:
			r.owned.set(op.Service.ServiceKey, false)
			changed = true
		}
	}
	// What the configuration names is ours from now on, even if it was in
	// the kernel before tandem.
	for k := range desired {
		if !r.owned.Has(k) {
			r.owned.set(k, true)
			changed = true
		}
	}
	if changed {
		if err := r.owned.save(); err != nil {
			r.log.Error("saving the list of tandem's IPVS services", "err", err)
			first = cmp.Or(first, err)
		}
	}
	if first == nil {
		r.once.Do(func() { close(r.applied) })
	}
	return first
}
