package vmtest

import (
	"os/exec"
	"strings"
	"testing"
)

// Helpers of the guest tests that use IPVS in the guest's root namespace
// (packages lvs and internal/ipvsadm), with ipvsadm as the witness.

// NeedIPVS skips t outside a guest (NeedVM) and starts it from an empty
// IPVS table, the default timeouts and no sync daemon, which it leaves
// behind as well. A table that is not empty after the reset fails t
// there, not in a later comparison.
func NeedIPVS(t testing.TB) {
	t.Helper()
	NeedVM(t)
	ResetIPVS(t)
	t.Cleanup(func() { ResetIPVS(t) })
}

// ResetIPVS empties the table of the guest's root namespace, sets the
// default timeouts and stops the sync daemons, then checks with ipvsadm.
func ResetIPVS(t testing.TB) {
	t.Helper()
	Tool(t, "", GuestIPVSAdm, "-C")
	Tool(t, "", GuestIPVSAdm, "--set", "900", "120", "300")
	for _, role := range []string{"master", "backup"} {
		exec.Command(GuestIPVSAdm, "--stop-daemon", role).Run() // none running is fine
	}
	if left := Tool(t, "", GuestIPVSAdm, "-S", "-n") + Tool(t, "", GuestIPVSAdm, "-L", "-n", "--daemon"); left != "" {
		t.Fatalf("the IPVS table is not clean after ipvsadm -C and --stop-daemon:\n%s", left)
	}
}

// Tool runs prog with stdin and returns its stdout; it fails t on error,
// with what prog printed.
func Tool(t testing.TB, stdin, prog string, args ...string) string {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s%s", prog, strings.Join(args, " "), err, out, stderr.String())
	}
	return string(out)
}
