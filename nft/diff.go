package nft

import (
	"fmt"
	"slices"
)

// OpKind is what an Op does to a table.
type OpKind int

const (
	AddTable     OpKind = iota // create it with its chains and rules
	ReplaceTable               // delete and create it again, in one transaction
	DelTable
)

func (k OpKind) String() string {
	return [...]string{"add_table", "replace_table", "del_table"}[k]
}

// Op is one change: a whole table, applied atomically (one netlink
// batch), so a packet never sees half a rule set.
type Op struct {
	Kind  OpKind
	Table *Table // the desired table; for DelTable, the actual one
}

func (o Op) String() string { return fmt.Sprintf("%s %s", o.Kind, o.Table.TableKey) }

// Diff returns the ops that turn actual into desired: nothing when they
// are equal. A table of actual that desired lacks is deleted only when
// owned says tandem created it. Ops come in key order.
func Diff(desired, actual State, owned func(TableKey) bool) []Op {
	var ops []Op
	for k, t := range desired {
		switch a, ok := actual[k]; {
		case !ok:
			ops = append(ops, Op{AddTable, t})
		case !t.Equal(a):
			ops = append(ops, Op{ReplaceTable, t})
		}
	}
	for k, a := range actual {
		if _, ok := desired[k]; !ok && owned(k) {
			ops = append(ops, Op{DelTable, a})
		}
	}
	slices.SortFunc(ops, func(a, b Op) int { return a.Table.TableKey.compare(b.Table.TableKey) })
	return ops
}
