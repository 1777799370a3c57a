package lvs

import (
	"context"
	"iter"
	"log/slog"
	"maps"
	"time"

	"github.com/tandemlb/tandem/internal/reconcile"
)

// Reconciler keeps the kernel's IPVS table equal to the desired one: a
// reconcile.Loop over a Backend with Diff, and the services tandem created
// recorded in a state file.
type Reconciler struct {
	*reconcile.Loop[Table, ServiceKey, Op]
	backend Backend
}

// spec is the IPVS table as a reconcile.Loop knows it.
var spec = reconcile.Spec[Table, ServiceKey, Op]{
	Name: "IPVS", Entry: "vs",
	Diff: Diff,
	Keys: func(t Table) iter.Seq[ServiceKey] { return maps.Keys(t) },
	Describe: func(op Op) reconcile.OpInfo[ServiceKey] {
		return reconcile.OpInfo[ServiceKey]{Kind: int(op.Kind), Key: op.Service.ServiceKey, Removes: op.Kind == DelService}
	},
	Kinds:   opKinds(),
	Compare: ServiceKey.compare,
	Clone:   Table.Clone,
	Patch:   func(t Table, op Op) { t.apply(op) },
}

func opKinds() []string {
	var out []string
	for k := AddService; k <= DelDest; k++ {
		out = append(out, k.String())
	}
	return out
}

// loopBackend is a Backend as a reconcile.Loop calls it.
type loopBackend struct{ Backend }

func (b loopBackend) Read() (Table, error) { return b.Table() }

// ApplyBatch writes ops in as few kernel calls as the backend allows.
func (b loopBackend) ApplyBatch(ops []Op) []error {
	if bb, ok := b.Backend.(interface{ ApplyBatch([]Op) []error }); ok {
		return bb.ApplyBatch(ops)
	}
	var errs []error
	for i, op := range ops {
		if err := b.Apply(op); err != nil {
			if errs == nil {
				errs = make([]error, len(ops))
			}
			errs[i] = err
		}
	}
	return errs
}

// NewReconciler prepares the reconciler of b; Run starts it. statePath
// records the services tandem created. A damaged record is set aside
// with a warning and rebuilt from what the configuration names (nothing
// else is removed); the error is for a record that cannot be read.
func NewReconciler(b Backend, statePath string, interval time.Duration, log *slog.Logger) (*Reconciler, error) {
	l, err := reconcile.New(spec, loopBackend{b}, statePath, interval, log)
	if err != nil {
		return nil, err
	}
	return &Reconciler{Loop: l, backend: b}, nil
}

// SetTimeouts sets the kernel's TCP, TCP FIN and UDP timeouts (a zero
// keeps the value) on the reconciler's goroutine, the one user of the
// kernel handle. A backend without timeouts (Memory) has nothing to set.
func (r *Reconciler) SetTimeouts(ctx context.Context, tcp, tcpFin, udp time.Duration) error {
	k, ok := r.backend.(interface {
		SetTimeouts(tcp, tcpFin, udp time.Duration) error
	})
	if !ok {
		return nil
	}
	return r.Do(ctx, func() error { return k.SetTimeouts(tcp, tcpFin, udp) })
}
