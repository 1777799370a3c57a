// Package testenv decides what a test does when a prerequisite (root,
// network namespaces, a program such as keepalived or qemu) is missing:
// skip on a developer's laptop, fail under `make test` and CI, which set
// TANDEM_TEST_STRICT=1.
package testenv

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// StrictVar is the environment variable that turns skips into failures.
const StrictVar = "TANDEM_TEST_STRICT"

// Strict reports whether a missing prerequisite must fail the test.
func Strict() bool { return os.Getenv(StrictVar) == "1" }

// Need stops t when ok is false: a failure under Strict, else a skip.
func Need(t testing.TB, ok bool, format string, args ...any) {
	t.Helper()
	if ok {
		return
	}
	msg := "missing prerequisite: " + fmt.Sprintf(format, args...)
	if Strict() {
		t.Fatal(msg + " (" + StrictVar + "=1: run 'make test', which installs it, or install it by hand)")
	}
	t.Skip(msg)
}

// NeedRoot stops t unless it runs as root.
func NeedRoot(t testing.TB) {
	t.Helper()
	Need(t, os.Geteuid() == 0, "root (network namespaces, raw sockets)")
}

// NeedCommand stops t unless the program is on PATH, and returns its path.
func NeedCommand(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	Need(t, err == nil, "the program %s (%v)", name, err)
	return p
}
