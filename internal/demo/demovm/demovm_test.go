// Package demovm runs `tandem demo` in a qemu guest whose kernel has IPVS,
// where the master forwards the client's requests to the real servers
// (NAT, round robin) instead of answering itself.
package demovm

import (
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/tandemlb/tandem/internal/vmtest"
)

// OptIn is the variable that runs TestDemoVM: it boots qemu (TCG) for
// about a minute, so it stays out of the ordinary test run.
const OptIn = "TANDEM_DEMO_VM"

// TestDemoVM boots the guest and runs itself there, where it runs the
// demo (one test name on both sides, so nothing is reported skipped).
func TestDemoVM(t *testing.T) {
	if vmtest.InVM() {
		demoWithIPVS(t)
		return
	}
	if os.Getenv(OptIn) != "1" {
		t.Skipf("boots qemu; run it with %s=1 go test -count=1 -v ./internal/demo/demovm/", OptIn)
	}
	vmtest.Run(t, vmtest.Options{
		TestPackage: "github.com/tandemlb/tandem/internal/demo/demovm",
		Run:         "TestDemoVM",
		Binaries:    map[string]string{"/usr/sbin/tandem": vmtest.BuildTandem(t)},
		Timeout:     4 * time.Minute,
	})
}

// demoWithIPVS runs the whole demo in the guest: the answers come
// from the real servers through IPVS, alternate, and after rs2 stops come
// from rs1 alone.
func demoWithIPVS(t *testing.T) {
	cmd := exec.Command("/usr/sbin/tandem", "demo")
	out, err := cmd.CombinedOutput()
	text := string(out)
	t.Logf("tandem demo:\n%s", text)
	if err != nil {
		t.Fatalf("tandem demo: %v", err)
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^IPVS: present\.`),
		// A slow guest can leave the client silent for a while, so
		// an answer may come back as "again after N ms without one".
		regexp.MustCompile(`(?m)^\S+ client: answer "rs1"(?: again after \d+ ms without one)?$`),
		regexp.MustCompile(`(?m)^\S+ client: answer "rs2"(?: again after \d+ ms without one)?$`),
		regexp.MustCompile(`(?m)^\S+ failover done: lb2 is master; the client's outage was \d+ ms`),
		regexp.MustCompile(`(?m)^\S+ lb2 status: rs2 down\b`),
		regexp.MustCompile(`answers since then come from rs1 only`),
		regexp.MustCompile(`(?m)^cleaning up: .* done$`),
	} {
		if !want.MatchString(text) {
			t.Errorf("no %q in the output", want)
		}
	}
	if strings.Contains(text, "(itself)") {
		t.Error("a director answered itself although IPVS is there")
	}
}
