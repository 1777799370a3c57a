package main

import (
	"regexp"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// import keepalived prints every diagnostic as FILE:LINE:COL on stderr and
// exits 1 when something was dropped; a missing file is exit 1, a missing
// argument exit 2.
func TestImportKeepalived(t *testing.T) {
	code, stdout, stderr := tandem(t, "import", "keepalived", "--config-id", "lb1", "../../internal/keepalived/testdata/vrrp.conf")
	if code != exitFailed {
		t.Errorf("exit %d, want 1 (the test config has dropped keywords)", code)
	}
	// What could be converted is still printed, and it validates.
	if cfg, diags := config.Parse("imported.hcl", []byte(stdout)); cfg == nil || !strings.Contains(stdout, `vrrp_instance "web"`) {
		t.Errorf("the printed HCL does not load (%v):\n%s", diags.Err(), stdout)
	}
	heads := regexp.MustCompile(`(?m)^\S+vrrp\.conf:\d+:\d+: (error|warning): .*$`).FindAllString(stderr, -1)
	if len(heads) != 13 || !strings.Contains(stderr, "vrrp.conf:4:4: error: notification_email is not converted yet") {
		t.Errorf("got %d diagnostics, want the 13 of the golden file:\n%s", len(heads), stderr)
	}

	code, _, stderr = tandem(t, "import", "keepalived", "none.conf")
	if code != exitFailed || !strings.Contains(stderr, "none.conf: error: File not found") {
		t.Errorf("missing file: exit %d, stderr:\n%s", code, stderr)
	}
	if code, _, _ = tandem(t, "import", "keepalived"); code != exitUsage {
		t.Errorf("no FILE: exit %d, want 2", code)
	}
}
