package nft

import (
	"iter"
	"log/slog"
	"maps"
	"time"

	"github.com/tandemlb/tandem/internal/reconcile"
)

// Backend is where the tables live: Kernel, or Memory in tests.
type Backend = reconcile.Backend[State, Op]

// Reconciler keeps tandem's nftables tables equal to the desired ones,
// re-reading them every interval to repair drift; the tables it created
// are recorded in a state file.
type Reconciler struct {
	*reconcile.Loop[State, TableKey, Op]
	backend Backend
}

// Backend is the reconciler's backend; read it only through Do (one
// user of the handle at a time), or when it is Memory in tests.
func (r *Reconciler) Backend() Backend { return r.backend }

var spec = reconcile.Spec[State, TableKey, Op]{
	Name: "nftables", Entry: "table",
	Diff: Diff,
	Keys: func(s State) iter.Seq[TableKey] { return maps.Keys(s) },
	Describe: func(op Op) reconcile.OpInfo[TableKey] {
		return reconcile.OpInfo[TableKey]{Kind: int(op.Kind), Key: op.Table.TableKey, Removes: op.Kind == DelTable}
	},
	Kinds:   []string{AddTable.String(), ReplaceTable.String(), DelTable.String()},
	Compare: TableKey.compare,
}

// NewReconciler prepares the reconciler of b; Run starts it.
func NewReconciler(b Backend, statePath string, interval time.Duration, log *slog.Logger) (*Reconciler, error) {
	l, err := reconcile.New(spec, b, statePath, interval, log)
	if err != nil {
		return nil, err
	}
	return &Reconciler{l, b}, nil
}

// Memory is an in-memory Backend.
type Memory struct {
	Tables State
	Writes int // ops applied
}

func (m *Memory) Read() (State, error) { return maps.Clone(m.Tables), nil }

func (m *Memory) Apply(op Op) error {
	m.Writes++
	if m.Tables == nil {
		m.Tables = State{}
	}
	if op.Kind == DelTable {
		delete(m.Tables, op.Table.TableKey)
	} else {
		m.Tables[op.Table.TableKey] = op.Table
	}
	return nil
}
