package lvs

import (
	"fmt"
	"maps"
	"slices"
)

// OpKind is what an Op does to the kernel table.
type OpKind uint8

const (
	AddService OpKind = iota
	UpdateService
	DelService
	AddDest
	UpdateDest
	DelDest
)

func (k OpKind) String() string {
	return [...]string{"add-service", "update-service", "del-service", "add-dest", "update-dest", "del-dest"}[k]
}

// Op is one kernel call. Service carries the settings (no destinations);
// Dest is set for the destination kinds.
type Op struct {
	Kind    OpKind
	Service Service
	Dest    Dest
}

func (o Op) String() string {
	switch o.Kind {
	case AddService, UpdateService:
		return fmt.Sprintf("%s %s %s flags=%#x timeout=%d", o.Kind, o.Service.ServiceKey, o.Service.Scheduler, uint32(o.Service.Flags), o.Service.Timeout)
	case DelService:
		return fmt.Sprintf("%s %s", o.Kind, o.Service.ServiceKey)
	case DelDest:
		return fmt.Sprintf("%s %s %s", o.Kind, o.Service.ServiceKey, o.Dest.DestKey)
	}
	return fmt.Sprintf("%s %s %s %s w=%d", o.Kind, o.Service.ServiceKey, o.Dest.DestKey, o.Dest.Forward, o.Dest.Weight)
}

// Diff returns the fewest ops that turn actual into desired, in a
// deterministic order: nothing for what is equal, an update (never a
// delete and add) for changed settings or weights. A service in actual
// but not in desired is deleted only when owned says tandem created it;
// every other entry is left alone.
func Diff(desired, actual Table, owned func(ServiceKey) bool) []Op {
	var ops []Op
	var gone []ServiceKey
	for k := range actual {
		if _, keep := desired[k]; !keep && owned != nil && owned(k) {
			gone = append(gone, k)
		}
	}
	slices.SortFunc(gone, ServiceKey.compare)
	for _, k := range gone {
		ops = append(ops, Op{Kind: DelService, Service: actual[k].settings()})
	}
	for _, k := range sortedKeys(desired) {
		want, have := desired[k], actual[k]
		if have != nil && want.sameSettings(have) && maps.Equal(want.Dests, have.Dests) {
			continue // the common case: sort nothing
		}
		settings := want.settings()
		if have == nil {
			ops = append(ops, Op{Kind: AddService, Service: settings})
			for _, dk := range sortedDests(want.Dests) {
				ops = append(ops, Op{Kind: AddDest, Service: settings, Dest: want.Dests[dk]})
			}
			continue
		}
		if !want.sameSettings(have) {
			ops = append(ops, Op{Kind: UpdateService, Service: settings})
		}
		// Deletions first: a service never holds more than it will.
		for _, dk := range sortedDests(have.Dests) {
			if _, ok := want.Dests[dk]; !ok {
				ops = append(ops, Op{Kind: DelDest, Service: settings, Dest: have.Dests[dk]})
			}
		}
		for _, dk := range sortedDests(want.Dests) {
			w := want.Dests[dk]
			switch h, ok := have.Dests[dk]; {
			case !ok:
				ops = append(ops, Op{Kind: AddDest, Service: settings, Dest: w})
			case h != w:
				ops = append(ops, Op{Kind: UpdateDest, Service: settings, Dest: w})
			}
		}
	}
	return ops
}
