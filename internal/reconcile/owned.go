package reconcile

import (
	"iter"
	"maps"
	"slices"

	"github.com/tandemlb/tandem/internal/statefile"
)

// owned is the set of entries tandem created, kept in a state file.
type owned[K comparable] struct {
	path    string
	compare func(a, b K) int
	keys    map[K]bool
	dirty   bool // changed since the file was written
}

// loadOwned reads the state file: a missing one is an empty set; a
// damaged one is set aside and gives an empty set and an error wrapping
// statefile.ErrDamaged.
func loadOwned[K comparable](path string, compare func(a, b K) int) (*owned[K], error) {
	o := &owned[K]{path: path, compare: compare, keys: map[K]bool{}}
	var keys []K
	if _, err := statefile.Load(path, &keys); err != nil {
		return o, err
	}
	for _, k := range keys {
		o.keys[k] = true
	}
	return o, nil
}

func (o *owned[K]) has(k K) bool { return o.keys[k] }

// update follows a pass: what tandem removed is no longer its own; what
// the desired state names is, even if it was there before tandem; and an
// entry gone from both desired and the kernel is forgotten, so that
// someone else's entry of that name is never taken for tandem's.
func (o *owned[K]) update(desired, actual iter.Seq[K], removed []K) {
	for _, k := range removed {
		o.set(k, false)
	}
	want := map[K]bool{}
	for k := range desired {
		want[k] = true
		o.set(k, true)
	}
	if len(o.keys) == len(want) {
		return // the common case: tandem owns exactly what it wants
	}
	present := map[K]bool{}
	for k := range actual {
		present[k] = true
	}
	for k := range o.keys {
		if !want[k] && !present[k] {
			o.set(k, false)
		}
	}
}

func (o *owned[K]) set(k K, on bool) {
	if o.keys[k] == on {
		return
	}
	if on {
		o.keys[k] = true
	} else {
		delete(o.keys, k)
	}
	o.dirty = true
}

// save writes the file if the set changed since it was last written.
func (o *owned[K]) save() error {
	if !o.dirty {
		return nil
	}
	keys := slices.AppendSeq(make([]K, 0, len(o.keys)), maps.Keys(o.keys))
	if o.compare != nil {
		slices.SortFunc(keys, o.compare)
	}
	if err := statefile.Save(o.path, keys); err != nil {
		return err
	}
	o.dirty = false
	return nil
}
