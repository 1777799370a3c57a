// Package reconcile keeps one kind of kernel state (the IPVS table, an
// nftables table, routes and rules) equal to what tandem wants. The
// table's package supplies the pure part, a differ from (desired, actual,
// owned) to ops, and a Backend that reads the whole state and applies one
// op; a Loop owns that backend, applies each new desired state and
// re-reads the kernel every interval to repair what changed behind
// tandem's back. The entries tandem created are recorded in a state file,
// so that one the configuration drops is removed (after a restart too)
// and nobody else's ever is.
package reconcile

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"iter"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tandemlb/tandem/internal/statefile"
)

// Backend is where a table lives: the kernel, or memory in tests. Only
// its Loop calls it, from one goroutine, so a handle that is not safe for
// concurrent use (moby/ipvs's) is fine.
type Backend[S, O any] interface {
	// Read returns the whole state, as far as this table goes.
	Read() (S, error)
	// Apply makes one change.
	Apply(O) error
}

// Spec is what a Loop knows of a table; the table's package fills it in.
type Spec[S any, K comparable, O any] struct {
	Name  string // the table in logs: "IPVS"
	Entry string // the log key of an entry: "vs"
	// Diff returns the ops that turn actual into desired. An entry of
	// actual that desired lacks may be removed only when owned says
	// tandem created it.
	Diff func(desired, actual S, owned func(K) bool) []O
	// Keys are the entries of a state.
	Keys func(S) iter.Seq[K]
	// Describe says what an op does, for counters and ownership.
	Describe func(O) OpInfo[K]
	// Kinds names the op kinds, by OpInfo.Kind (metrics labels).
	Kinds []string
	// Compare orders the state file; nil leaves it unordered.
	Compare func(a, b K) int
	// Clone and Patch make Loop.Patch possible (nil: Patch is a full
	// pass). Clone copies a state, so that Set's caller may go on
	// changing its own; Patch makes an op's change to a state.
	Clone func(S) S
	Patch func(state S, op O)
}

// Batcher is a Backend that can apply many ops at once (several kernel
// requests per system call). ApplyBatch returns nil when every op
// succeeded, else one error (or nil) per op.
type Batcher[O any] interface {
	ApplyBatch(ops []O) []error
}

// OpInfo is what an op does.
type OpInfo[K comparable] struct {
	Kind    int  // an index of Spec.Kinds
	Key     K    // the entry it changes
	Removes bool // the entry is gone once it succeeded: no longer tandem's
}

// ErrStopped is returned by calls made after Run has returned.
var ErrStopped = errors.New("reconcile: the loop has stopped")

// Loop owns a Backend: it applies each new desired state and, every
// interval, re-reads the state and repairs drift. Everything that touches
// the backend runs on Run's goroutine; the other methods may be called
// from any goroutine.
type Loop[S any, K comparable, O any] struct {
	spec     Spec[S, K, O]
	backend  Backend[S, O]
	owned    *owned[K]
	interval time.Duration
	log      *slog.Logger

	// Set and Patch leave their work here for Run, in order.
	mu      sync.Mutex
	pendSet *S  // a new desired state, nil for none
	pendOps []O // patches made after it (or after the last one taken)
	wake    chan struct{}

	calls     chan call
	intervals chan time.Duration
	applied   chan struct{} // closed after the first pass without errors
	once      sync.Once
	stopped   chan struct{} // closed when Run returns

	// Owned by Run.
	desired S
	have    bool            // desired has been set
	tried   bool            // desired has been through a pass already
	failed  map[string]bool // ops of that pass that failed: retries, not drift

	// Counters, readable from any goroutine.
	Ops          []atomic.Uint64 // successful ops, by OpInfo.Kind
	DriftRepairs atomic.Uint64   // ops that undid a change made behind tandem's back
	Errors       atomic.Uint64   // failed reads, ops and state file writes
	LastDuration atomic.Int64    // nanoseconds of the last pass
}

type call struct {
	f    func() error
	done chan error
}

// New prepares a loop over b; Run starts it, and re-reads the state every
// interval (0: never). statePath is the ownership file. A damaged one
// does not stop tandem: it is set aside with a warning that says where,
// and ownership starts empty, which is conservative (the differ removes
// only owned entries, so the first pass removes nothing, and what the
// desired state names becomes tandem's). The error is for a file that
// cannot be read at all.
func New[S any, K comparable, O any](spec Spec[S, K, O], b Backend[S, O], statePath string, interval time.Duration, log *slog.Logger) (*Loop[S, K, O], error) {
	o, err := loadOwned(statePath, spec.Compare)
	if errors.Is(err, statefile.ErrDamaged) {
		log.Warn("the record of the "+spec.Name+" entries tandem created is damaged; starting afresh: tandem owns what the configuration names and removes nothing else (remove by hand what an earlier configuration left)", "err", err)
	} else if err != nil {
		return nil, fmt.Errorf("%s ownership: %w (tandem needs it to know which entries it created: make it readable, or move it away to start afresh)", spec.Name, err)
	}
	return &Loop[S, K, O]{spec: spec, backend: b, owned: o, interval: interval, log: log,
		wake: make(chan struct{}, 1), calls: make(chan call),
		intervals: make(chan time.Duration, 1), applied: make(chan struct{}), stopped: make(chan struct{}),
		Ops: make([]atomic.Uint64, len(spec.Kinds))}, nil
}

// Set hands over a new desired state; only the latest one matters.
// With Spec.Clone the loop keeps a copy, and the caller may change
// desired afterwards (and tell the loop with Patch).
func (l *Loop[S, K, O]) Set(desired S) {
	if l.spec.Clone != nil {
		desired = l.spec.Clone(desired)
	}
	l.mu.Lock()
	l.pendSet, l.pendOps = &desired, nil
	l.mu.Unlock()
	l.signal()
}

// Patch hands over a change of the desired state as the ops that make
// it (a real server that came up: one add-dest), so that the loop writes
// just those instead of reading and diffing the whole table: the cost of
// a health transition does not grow with the table. The ops must change
// entries, not add or remove them (that is Set's). They are applied in
// order after what was handed over before; one that fails makes a full
// pass, which repairs whatever the kernel holds. Without Spec.Patch, or
// before the first Set, a Patch is a full pass over the latest state.
func (l *Loop[S, K, O]) Patch(ops ...O) {
	l.mu.Lock()
	l.pendOps = append(l.pendOps, ops...)
	l.mu.Unlock()
	l.signal()
}

func (l *Loop[S, K, O]) signal() {
	select {
	case l.wake <- struct{}{}:
	default: // already signalled: Run takes everything pending at once
	}
}

// pending takes what Set and Patch left.
func (l *Loop[S, K, O]) pending() (*S, []O) {
	l.mu.Lock()
	defer l.mu.Unlock()
	s, ops := l.pendSet, l.pendOps
	l.pendSet, l.pendOps = nil, nil
	return s, ops
}

// work applies what Set and Patch left; the error is the first one.
func (l *Loop[S, K, O]) work() error {
	s, ops := l.pending()
	switch {
	case s != nil:
		l.take(*s)
		l.patchDesired(ops)
		return l.pass()
	case len(ops) == 0 || !l.have:
		return nil
	case l.spec.Patch == nil:
		return l.pass()
	}
	l.patchDesired(ops)
	return l.patch(ops)
}

func (l *Loop[S, K, O]) patchDesired(ops []O) {
	if l.spec.Patch == nil {
		return
	}
	for _, op := range ops {
		l.spec.Patch(l.desired, op)
	}
}

// SetInterval changes how often the state is re-read (a reload).
func (l *Loop[S, K, O]) SetInterval(d time.Duration) {
	select {
	case <-l.intervals:
	default:
	}
	l.intervals <- d
}

// Applied is closed once a desired state has been applied without error
// (readiness).
func (l *Loop[S, K, O]) Applied() <-chan struct{} { return l.applied }

// Stopped is closed when Run has returned: the backend is free.
func (l *Loop[S, K, O]) Stopped() <-chan struct{} { return l.stopped }

// Reconcile makes a pass now (taking a state handed over just before) and
// returns its first error; nil when no state was ever set.
func (l *Loop[S, K, O]) Reconcile(ctx context.Context) error {
	return l.Do(ctx, func() error {
		s, ops := l.pending()
		if s != nil {
			l.take(*s)
		}
		l.patchDesired(ops)
		if !l.have {
			return nil
		}
		return l.pass()
	})
}

// Do runs f on the loop's goroutine, between passes and after what Set
// and Patch handed over before, and returns its error: the way to make a one-off call on the backend's handle (the
// kernel's timeouts) without a second user of it.
func (l *Loop[S, K, O]) Do(ctx context.Context, f func() error) error {
	c := call{f: f, done: make(chan error, 1)}
	select {
	case l.calls <- c:
	case <-l.stopped:
		return ErrStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-c.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Run applies desired states and repairs drift until ctx ends. Call it
// once.
func (l *Loop[S, K, O]) Run(ctx context.Context) {
	defer close(l.stopped)
	var ticker *time.Ticker
	var tick <-chan time.Time
	every := func(d time.Duration) {
		if ticker != nil {
			ticker.Stop()
			ticker, tick = nil, nil
		}
		if d > 0 { // none: no re-reading
			ticker = time.NewTicker(d)
			tick = ticker.C
		}
	}
	every(l.interval)
	defer func() { every(0) }()
	for {
		select {
		case <-ctx.Done():
			return
		case <-l.wake:
			l.work()
		case d := <-l.intervals:
			every(d)
		case <-tick:
			if l.have {
				l.pass()
			}
		case c := <-l.calls:
			l.work()
			c.done <- c.f()
		}
	}
}

// take makes s the desired state: its first pass applies it, so its ops
// are not drift.
func (l *Loop[S, K, O]) take(s S) {
	l.desired, l.have, l.tried, l.failed = s, true, false, nil
}

// pass brings the state to desired and returns the first error.
func (l *Loop[S, K, O]) pass() error {
	start := time.Now()
	defer func() { l.LastDuration.Store(int64(time.Since(start))) }()
	actual, err := l.backend.Read()
	if err != nil {
		l.Errors.Add(1)
		l.log.Error("reading the "+l.spec.Name+" state; retrying at the next reconcile", "err", err)
		return err
	}
	var first error
	var removed []K
	failed := map[string]bool{}
	ops := l.spec.Diff(l.desired, actual, l.owned.has)
	for _, op := range ops {
		// Once desired has been through a pass, an op that pass did not
		// already try undoes a change made behind tandem's back. (Ops are
		// told apart by their text, made only when needed: a first apply
		// of 10,000 services is 110,000 ops.)
		if l.tried && (len(l.failed) == 0 || !l.failed[fmt.Sprint(op)]) {
			l.DriftRepairs.Add(1)
			l.log.Warn("repairing "+l.spec.Name+" drift", l.spec.Entry, fmt.Sprint(l.spec.Describe(op).Key), "op", fmt.Sprint(op))
		}
	}
	errs := l.apply(ops)
	for i, op := range ops {
		info := l.spec.Describe(op)
		if errs != nil && errs[i] != nil {
			err := errs[i]
			l.Errors.Add(1)
			failed[fmt.Sprint(op)] = true
			l.log.Error(l.spec.Name+" change failed; retrying at the next reconcile", l.spec.Entry, fmt.Sprint(info.Key), "op", fmt.Sprint(op), "err", err)
			first = cmp.Or(first, err)
			continue
		}
		l.Ops[info.Kind].Add(1)
		if info.Removes {
			removed = append(removed, info.Key)
		}
	}
	l.tried, l.failed = true, failed
	if first == nil {
		l.once.Do(func() { close(l.applied) })
	}
	l.owned.update(l.spec.Keys(l.desired), l.spec.Keys(actual), removed)
	if err := l.owned.save(); err != nil {
		l.Errors.Add(1)
		l.log.Error("saving the record of "+l.spec.Name+" entries tandem created; retrying at the next reconcile", "err", err)
		first = cmp.Or(first, err)
	}
	return first
}

// apply makes ops, in order, in as few calls as the backend allows; nil
// when all succeeded, else an error (or nil) per op.
func (l *Loop[S, K, O]) apply(ops []O) []error {
	if len(ops) == 0 {
		return nil
	}
	if b, ok := l.backend.(Batcher[O]); ok {
		return b.ApplyBatch(ops)
	}
	var errs []error
	for i, op := range ops {
		if err := l.backend.Apply(op); err != nil {
			if errs == nil {
				errs = make([]error, len(ops))
			}
			errs[i] = err
		}
	}
	return errs
}

// patch writes ops already made to desired. The kernel was equal to the
// old desired state, so the same ops bring it to the new one; if one
// fails the kernel was not (drift, or a write that failed before), and a
// full pass repairs it.
func (l *Loop[S, K, O]) patch(ops []O) error {
	start := time.Now()
	errs := l.apply(ops)
	l.LastDuration.Store(int64(time.Since(start)))
	var bad []O
	for i, op := range ops {
		if errs != nil && errs[i] != nil {
			bad = append(bad, op)
			continue
		}
		l.Ops[l.spec.Describe(op).Kind].Add(1)
	}
	if len(bad) == 0 {
		return nil
	}
	// The pass's own attempt at these is a retry, not drift.
	if l.failed == nil {
		l.failed = map[string]bool{}
	}
	for _, op := range bad {
		l.failed[fmt.Sprint(op)] = true
	}
	l.log.Info(l.spec.Name+" patch did not apply; reading the table to repair it", "ops", len(ops), "failed", len(bad), "err", errs[slices.IndexFunc(errs, func(e error) bool { return e != nil })])
	return l.pass()
}
