package main

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// config show prints HCL that validates to the same configuration, with
// the defaults the file leaves out written.
func TestConfigShow(t *testing.T) {
	for _, src := range []string{"../../examples/reference.hcl", "../../examples/dr-pair/lb1.hcl"} {
		code, out, errs := tandem(t, "config", "show", "-c", src)
		if code != exitOK || errs != "" {
			t.Fatalf("config show -c %s: exit %d, stderr %q", src, code, errs)
		}
		shown := filepath.Join(t.TempDir(), "shown.hcl")
		if err := os.WriteFile(shown, []byte(out), 0o644); err != nil {
			t.Fatal(err)
		}
		if code, vout, _ := tandem(t, "validate", shown); code != exitOK || vout != shown+": valid\n" {
			t.Errorf("the output of config show -c %s does not validate cleanly:\n%s\n%s", src, vout, out)
		}
		want, _ := config.Load(src)
		got, _ := config.Load(shown)
		got.Files = want.Files
		if !config.Equal(want, got) {
			t.Errorf("config show -c %s means another configuration:\n%s", src, out)
		}
	}
	// dr-pair/lb1.hcl writes neither unicast_min_ttl nor the lvs block.
	_, out, _ := tandem(t, "config", "show", "--config", "../../examples/dr-pair/lb1.hcl")
	for _, re := range []string{`(?m)^  unicast_min_ttl\s+= 255$`, `(?m)^  reconcile_interval = "30s"$`, `(?m)^# tandem config show: the effective configuration of \.\./\.\./examples/dr-pair/lb1\.hcl`} {
		if !regexp.MustCompile(re).MatchString(out) {
			t.Errorf("no %s in\n%s", re, out)
		}
	}
}

func TestConfigShowDirectoryAndErrors(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("global {\n  router_id = \"lb1\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.hcl"), []byte("vrrp_instance \"v\" {\n  interface = \"lan0\"\n  virtual_router_id = 1\n  virtual_ips = [\"198.51.100.10/24\"]\n  priority = 255\n}\n"), 0o644)
	code, out, errs := tandem(t, "config", "show", "-c", dir)
	if code != exitOK || !regexp.MustCompile(`router_id\s+= "lb1"`).MatchString(out) || !strings.Contains(out, `vrrp_instance "v" {`) {
		t.Errorf("merged directory: exit %d\n%s", code, out)
	}
	// Warnings go to stderr: stdout stays HCL.
	if !strings.Contains(errs, "b.hcl:5:14: warning: Address owner") || strings.Contains(out, "warning") {
		t.Errorf("warning: stdout\n%s\nstderr\n%s", out, errs)
	}
	code, out, _ = tandem(t, "config", "show", "-c", "../../config/testdata/bad/three_mistakes.hcl")
	if code != exitFailed || !strings.Contains(out, "three_mistakes.hcl:5:23: error: Invalid duration") || !strings.Contains(out, "invalid: 3 errors, 0 warnings") {
		t.Errorf("invalid: exit %d\n%s", code, out)
	}
	if code, _, errs := tandem(t, "config", "show", "extra"); code != exitUsage || !strings.Contains(errs, "takes no arguments") {
		t.Errorf("extra argument: exit %d, stderr %q", code, errs)
	}
}
