package vmtest_test

import (
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// TestGuest boots Debian's kernel under qemu and runs the tests of
// internal/vmtest/guest there, each reported as a subtest of the same name.
// One guest alone: go test -v -run 'TestGuest/TestNATRoundRobin' ./internal/vmtest/
func TestGuest(t *testing.T) {
	vmtest.Run(t, vmtest.Options{
		TestPackage: "github.com/tandemlb/tandem/internal/vmtest/guest",
		// nft: the witness of tandem's nftables tables; conntrackd: the
		// NAT-state sync measured beside fullnat's failover.
		Binaries: map[string]string{"/usr/sbin/tandem": vmtest.BuildTandem(t), "/usr/sbin/nft": "/usr/sbin/nft",
			"/usr/sbin/conntrackd": "/usr/sbin/conntrackd"},
		Timeout: 4 * time.Minute,
	})
}
