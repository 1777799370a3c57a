package vrrp

import (
	"fmt"
	"sync/atomic"
)

// noStepDown is a deliberate fault for the chaos harness's own test (its
// checker must see what this breaks): a master ignores better adverts, so
// a healed split brain stays split.
var noStepDown atomic.Bool

// TestFaults are the names InjectFault knows.
var TestFaults = []string{"no-step-down"}

// InjectFault breaks tandem on purpose ("tandem run --test-fault", hidden):
// only for checking that the chaos harness reports what it breaks.
func InjectFault(name string) error {
	switch name {
	case "":
	case "no-step-down":
		noStepDown.Store(true)
	default:
		return fmt.Errorf("unknown test fault %q (known: %v)", name, TestFaults)
	}
	return nil
}
