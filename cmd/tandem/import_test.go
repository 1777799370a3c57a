package main

import (
	"bytes"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// import keepalived prints every diagnostic as FILE:LINE:COL on stderr and
// exits 1 when something was dropped; a missing file is exit 1, a missing
// argument exit 2.
func TestImportKeepalived(t *testing.T) {
	// lvs.conf drops something (exit 1); vrrp.conf converts whole (exit 0).
	if code, _, _ := tandem(t, "import", "keepalived", "../../internal/keepalived/testdata/lvs.conf"); code != exitFailed {
		t.Errorf("lvs.conf: exit %d, want 1 (the test config has dropped keywords)", code)
	}
	code, stdout, stderr := tandem(t, "import", "keepalived", "--config-id", "lb1", "../../internal/keepalived/testdata/vrrp.conf")
	if code != 0 {
		t.Errorf("vrrp.conf: exit %d, want 0 (everything converted, warnings only)", code)
	}
	// What could be converted is still printed, and it validates.
	if cfg, diags := config.Parse("imported.hcl", []byte(stdout)); cfg == nil || !strings.Contains(stdout, `vrrp_instance "web"`) {
		t.Errorf("the printed HCL does not load (%v):\n%s", diags.Err(), stdout)
	}
	heads := regexp.MustCompile(`(?m)^\S+vrrp\.conf:\d+:\d+: (error|warning): .*$`).FindAllString(stderr, -1)
	golden, _ := os.ReadFile("../../internal/keepalived/testdata/vrrp.golden")
	imported, _, _ := strings.Cut(string(golden), "# diagnostics of loading the HCL")
	want := len(regexp.MustCompile(`(?m)^testdata/vrrp\.conf:\d+:\d+: `).FindAllString(imported, -1))
	if len(heads) != want || want == 0 || !strings.Contains(stderr, "vrrp.conf:8:4: warning: vrrp_skip_check_adv_addr: converted with a caveat") {
		t.Errorf("got %d diagnostics, want the %d of the golden file:\n%s", len(heads), want, stderr)
	}

	code, _, stderr = tandem(t, "import", "keepalived", "none.conf")
	if code != exitFailed || !strings.Contains(stderr, "none.conf: error: File not found") {
		t.Errorf("missing file: exit %d, stderr:\n%s", code, stderr)
	}
	if code, _, _ = tandem(t, "import", "keepalived"); code != exitUsage {
		t.Errorf("no FILE: exit %d, want 2", code)
	}
}

// import ipvsadm reads a file or stdin; a clean table exits 0 and prints
// HCL that loads, names exit 1 with FILE:LINE:COL, two FILEs exit 2.
func TestImportIPVSAdm(t *testing.T) {
	table := "../../internal/keepalived/testdata/ipvsadm/table.rules"
	code, stdout, stderr := tandem(t, "import", "ipvsadm", table)
	if code != 0 || stderr != "" {
		t.Errorf("exit %d, stderr %q; want 0 and nothing", code, stderr)
	}
	if cfg, diags := config.Parse("imported.hcl", []byte(stdout)); cfg == nil || len(cfg.VirtualServers) != 9 {
		t.Errorf("the printed HCL does not load as 9 virtual servers (%v):\n%s", diags.Err(), stdout)
	}
	code, stdout, stderr = tandemStdin(t, "-A -t www.example.org:http -s wlc\n-A -f 7 -s rr\n", "import", "ipvsadm")
	if code != exitFailed || !strings.Contains(stderr, "<stdin>:1:7: error: Host name instead of an address") || !strings.Contains(stdout, `virtual_server "fwmark_7"`) {
		t.Errorf("names on stdin: exit %d, stdout:\n%s\nstderr:\n%s", code, stdout, stderr)
	}
	if code, _, _ = tandem(t, "import", "ipvsadm", "a", "b"); code != exitUsage {
		t.Errorf("two FILEs: exit %d, want 2", code)
	}
	if code, _, stderr = tandem(t, "import", "ipvsadm", "none.rules"); code != exitFailed || !strings.Contains(stderr, "none.rules: error: Cannot read the table") {
		t.Errorf("missing file: exit %d, stderr:\n%s", code, stderr)
	}
}

func tandemStdin(t *testing.T, stdin string, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = runIO(args, strings.NewReader(stdin), &out, &errb)
	return code, out.String(), errb.String()
}
