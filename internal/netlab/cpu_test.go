package netlab

import (
	"os"
	"testing"
	"time"
)

// ProcCPU reads this process's own CPU time: it grows while the test
// spins, and a gone process has none.
func TestProcCPU(t *testing.T) {
	before := ProcCPU(os.Getpid()) // may be 0: USER_HZ ticks of 10 ms
	// Spin until 50 ms more show (bounded: a loaded machine gives less
	// CPU per wall second, a broken reader none).
	for end := time.Now().Add(10 * time.Second); ProcCPU(os.Getpid())-before < 50*time.Millisecond; {
		if time.Now().After(end) {
			t.Fatalf("CPU still %v after 10 s of spinning", ProcCPU(os.Getpid()))
		}
	}
	if got := ProcCPU(1 << 30); got != 0 {
		t.Errorf("a pid that does not exist has %v of CPU", got)
	}
}
