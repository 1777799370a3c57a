package vmtest_test

import (
	"os"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// ipvsBenchVar sets the number of services (x 10 destinations) of the
// programming benchmark, lvs.TestProgrammingSpeed: 1000 when unset (the
// CI run), 10000 under make bench. Set, it also gives the guest more
// time and memory.
const ipvsBenchVar = "TANDEM_IPVS_BENCH_SERVICES"

// ipvsReadVar lists the table sizes of lvs.TestReadSpeed: "100" when
// unset (CI), "1000,10000" under make bench-ipvs.
const ipvsReadVar = "TANDEM_IPVS_READ_SERVICES"

// TestGuestLVS boots Debian's kernel under qemu and runs the tests of
// package lvs there against the real IPVS, with ipvsadm as the witness:
// the Kernel client and backend, the Reconciler, the sync daemon, and the
// programming benchmark against ipvsadm -R. One test alone:
//
//	go test -count=1 -v -run 'TestGuestLVS/TestReconcilerOverKernel' ./internal/vmtest/
//
// The benchmark at 10,000 services (make bench):
//
//	TANDEM_IPVS_BENCH_SERVICES=10000 go test -count=1 -v -timeout 30m -run 'TestGuestLVS/TestProgrammingSpeed' ./internal/vmtest/
func TestGuestLVS(t *testing.T) {
	opts := vmtest.Options{
		TestPackage: "github.com/tandemlb/tandem/lvs",
		Timeout:     3 * time.Minute,
	}
	if n := os.Getenv(ipvsBenchVar); n != "" {
		opts.Env = map[string]string{ipvsBenchVar: n}
		opts.Timeout = 25 * time.Minute
		opts.MemoryMB = 1024
	}
	if sizes := os.Getenv(ipvsReadVar); sizes != "" {
		if opts.Env == nil {
			opts.Env = map[string]string{}
		}
		opts.Env[ipvsReadVar] = sizes
		opts.Timeout = 35 * time.Minute
		opts.MemoryMB = 1024
	}
	vmtest.Run(t, opts)
}

// TestGuestIPVSAdm boots Debian's kernel under qemu and runs the tests of
// package internal/ipvsadm there: tandem ipvs list and save (the binary
// at /usr/sbin/tandem) against ipvsadm, byte for byte, on the same table.
//
//	go test -count=1 -v -run 'TestGuestIPVSAdm/TestTandemListMatchesIPVSAdm' ./internal/vmtest/
func TestGuestIPVSAdm(t *testing.T) {
	vmtest.Run(t, vmtest.Options{
		TestPackage: "github.com/tandemlb/tandem/internal/ipvsadm",
		Binaries:    map[string]string{"/usr/sbin/tandem": vmtest.BuildTandem(t)},
		Timeout:     3 * time.Minute,
	})
}
