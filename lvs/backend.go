package lvs

import (
	"errors"
	"fmt"
	"maps"
	"syscall"
)

// Backend is where the table lives: the kernel, or memory in tests. Its
// calls come from one goroutine (the kernel client's handle is not safe for
// concurrent use).
type Backend interface {
	// Table reads the whole table.
	Table() (Table, error)
	// Apply makes one change; errors wrap the kernel's errno.
	Apply(Op) error
}

// Memory is an in-memory Backend with the kernel's rules: adding what
// exists fails with EEXIST, changing or deleting what does not with
// ENOENT. It counts writes, so tests can see that nothing was written.
type Memory struct {
	T      Table
	Writes int
}

// NewMemory returns an empty table.
func NewMemory() *Memory { return &Memory{T: Table{}} }

func (m *Memory) Table() (Table, error) { return m.T.Clone(), nil }

func (m *Memory) Apply(op Op) error {
	m.Writes++
	return m.T.apply(op)
}

// apply makes op's change to t, with the kernel's errors. A service's
// destinations map is changed in place.
func (t Table) apply(op Op) error {
	k := op.Service.ServiceKey
	s := t[k]
	if s == nil && op.Kind != AddService {
		return fmt.Errorf("%s: %w", op, syscall.ENOENT)
	}
	switch op.Kind {
	case AddService:
		if s != nil {
			return fmt.Errorf("%s: %w", op, syscall.EEXIST)
		}
		c := op.Service
		c.Dests = map[DestKey]Dest{}
		t[k] = &c
	case UpdateService:
		dests := s.Dests
		*s = op.Service
		s.Dests = dests
	case DelService:
		delete(t, k)
	case AddDest:
		if _, ok := s.Dests[op.Dest.DestKey]; ok {
			return fmt.Errorf("%s: %w", op, syscall.EEXIST)
		}
		s.Dests[op.Dest.DestKey] = op.Dest
	case UpdateDest, DelDest:
		if _, ok := s.Dests[op.Dest.DestKey]; !ok {
			return fmt.Errorf("%s: %w", op, syscall.ENOENT)
		}
		if op.Kind == DelDest {
			delete(s.Dests, op.Dest.DestKey)
		} else {
			s.Dests[op.Dest.DestKey] = op.Dest
		}
	default:
		return errors.New("lvs: unknown op")
	}
	return nil
}

// Patch makes op's change to t (the desired table a director keeps and
// hands to Reconciler.Patch); the error is the kernel's that the same op
// would meet on a table equal to t.
func (t Table) Patch(op Op) error { return t.apply(op) }

// Equal reports whether two tables hold the same services and destinations.
func Equal(a, b Table) bool {
	if len(a) != len(b) {
		return false
	}
	for k, s := range a {
		o, ok := b[k]
		if !ok || !s.sameSettings(o) || !maps.Equal(s.Dests, o.Dests) {
			return false
		}
	}
	return true
}
