package vmtest_test

import (
	"os"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// TestGuest boots Debian's kernel under qemu and runs the tests of
// internal/vmtest/guest there, each reported as a subtest of the same name.
// One guest alone: go test -v -run 'TestGuest/TestNATRoundRobin' ./internal/vmtest/
func TestGuest(t *testing.T) {
	timeout := 4 * time.Minute
	if healthBenchEnv() != nil {
		timeout = 20 * time.Minute
	}
	vmtest.Run(t, vmtest.Options{
		TestPackage: "github.com/tandemlb/tandem/internal/vmtest/guest",
		// keepalived (with its libraries): the checker tandem's health
		// checks are measured beside; nft: the witness of tandem's
		// nftables tables; conntrackd: the NAT-state sync measured beside
		// fullnat's failover.
		Binaries: map[string]string{"/usr/sbin/tandem": vmtest.BuildTandem(t), "/usr/sbin/keepalived": "/usr/sbin/keepalived",
			"/usr/sbin/nft": "/usr/sbin/nft", "/usr/sbin/conntrackd": "/usr/sbin/conntrackd"},
		Timeout: timeout,
		Env:     healthBenchEnv(),
	})
}

// healthBenchVar (make bench-health) makes the guest's
// TestHealthCPUBesideKeepalived the full benchmark.
const healthBenchVar = "TANDEM_HEALTH_BENCH"

func healthBenchEnv() map[string]string {
	if v := os.Getenv(healthBenchVar); v != "" {
		return map[string]string{healthBenchVar: v}
	}
	return nil
}
