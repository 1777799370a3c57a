package main

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"
)

func tandem(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb bytes.Buffer
	code = run(args, &out, &errb)
	return code, out.String(), errb.String()
}

func TestValidateReportsEveryMistake(t *testing.T) {
	code, out, _ := tandem(t, "validate", "../../config/testdata/bad/three_mistakes.hcl")
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	heads := regexp.MustCompile(`(?m)^\S+three_mistakes.hcl:\d+:\d+: error: .*$`).FindAllString(out, -1)
	if len(heads) != 3 {
		t.Errorf("got %d error lines, want 3:\n%s", len(heads), out)
	}
	if !strings.Contains(out, "three_mistakes.hcl: invalid: 3 errors, 0 warnings") {
		t.Errorf("no summary line:\n%s", out)
	}
}

func TestValidateExamples(t *testing.T) {
	files, _ := filepath.Glob("../../examples/*/lb*.hcl")
	if len(files) < 10 {
		t.Fatalf("found %d example files", len(files))
	}
	args := append([]string{"validate", "../../examples/reference.hcl"}, files...)
	if code, out, errs := tandem(t, args...); code != exitOK || strings.Count(out, ": valid\n") != len(files)+1 {
		t.Errorf("exit %d\n%s%s", code, out, errs)
	}
}

func TestValidateJSON(t *testing.T) {
	// Flags may follow the positional arguments.
	code, out, _ := tandem(t, "validate", "../../examples/reference.hcl", "../../config/testdata/bad/three_mistakes.hcl", "/nonexistent.hcl", "--json")
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	var r struct {
		Valid        bool `json:"valid"`
		ErrorCount   int  `json:"error_count"`
		WarningCount int  `json:"warning_count"`
		Diagnostics  []struct {
			Severity, Summary, Detail, Snippet string
			Range                              struct {
				Filename   string
				Start, End *struct{ Line, Column, Byte int }
			}
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if r.Valid || r.ErrorCount != 4 || len(r.Diagnostics) != 4 {
		t.Fatalf("valid=%v errors=%d diagnostics=%d, want false 4 4\n%s", r.Valid, r.ErrorCount, len(r.Diagnostics), out)
	}
	d := r.Diagnostics[0]
	if d.Severity != "error" || d.Summary != "Invalid duration" || d.Range.Start == nil ||
		d.Range.Start.Line != 5 || d.Range.Start.Column != 23 || !strings.Contains(d.Snippet, `advert_interval   = "1x"`) {
		t.Errorf("first diagnostic: %+v", d)
	}
	if last := r.Diagnostics[3]; last.Range.Filename != "/nonexistent.hcl" || last.Range.Start != nil {
		t.Errorf("unreadable path: %+v", last)
	}
}

func TestValidateDirectoryMerges(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("global {\n  router_id = \"lb1\"\n}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "b.hcl"), []byte("vrrp_instance \"v\" {\n  interface = \"lan0\"\n  virtual_router_id = 1\n  virtual_ips = [\"198.51.100.10/24\"]\n}\n"), 0o644)
	if code, out, _ := tandem(t, "validate", dir); code != exitOK || !strings.Contains(out, dir+": valid") {
		t.Errorf("exit %d\n%s", code, out)
	}
	empty := t.TempDir()
	if code, out, _ := tandem(t, "validate", empty); code != exitFailed || !strings.Contains(out, "No configuration files") {
		t.Errorf("empty dir: exit %d\n%s", code, out)
	}
}

func TestExitCodes(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		msg  string
	}{
		{[]string{}, exitUsage, "no command given"},
		{[]string{"frobnicate"}, exitUsage, `unknown command "frobnicate"`},
		{[]string{"validate"}, exitUsage, "at least one PATH"},
		{[]string{"validate", "--bogus", "x.hcl"}, exitUsage, "unknown flag"},
		{[]string{"drain", "web"}, exitUsage, "takes VS and RS"},
		{[]string{"failover"}, exitUsage, "one INSTANCE"},
		{[]string{"ipvs"}, exitUsage, "list or save"},
		{[]string{"run", "-c", "/nonexistent/tandem"}, exitFailed, "configuration /nonexistent/tandem is invalid"},
		{[]string{"run", "--log-format", "xml"}, exitUsage, "--log-format must be text or json"},
		{[]string{"status", "--json", "--socket", "/nonexistent.sock"}, exitFailed, "no tandem daemon answers on /nonexistent.sock"},
		{[]string{"failover", "web", "--socket", "/nonexistent.sock"}, exitFailed, "no tandem daemon answers"},
		{[]string{"drain", "web_http", "203.0.113.21:80", "--socket", "/nonexistent.sock"}, exitFailed, "no tandem daemon answers"},
		{[]string{"reload", "--socket", "/nonexistent.sock"}, exitFailed, "no tandem daemon answers"},
		{[]string{"ipvs", "list", "-n", "--stats"}, exitFailed, "IPVS is not available in this kernel"},
		// Never a valid realserver call here: it would change this machine.
		{[]string{"realserver", "--vip", "198.51.100.10", "--mode", "nat"}, exitUsage, "--mode must be dr or tun"},
	} {
		code, _, errs := tandem(t, tc.args...)
		if code != tc.code || !strings.Contains(errs, tc.msg) {
			t.Errorf("tandem %v: exit %d, stderr %q; want exit %d and %q", tc.args, code, errs, tc.code, tc.msg)
		}
	}
}

func TestVersion(t *testing.T) {
	code, out, _ := tandem(t, "version")
	if code != exitOK || !strings.HasPrefix(out, "tandem ") || !strings.Contains(out, runtime.Version()) || !strings.Contains(out, "commit ") {
		t.Errorf("exit %d\n%s", code, out)
	}
}

func TestHelp(t *testing.T) {
	code, out, _ := tandem(t, "--help")
	for _, sub := range []string{"run", "validate", "status", "ipvs", "failover", "drain", "undrain", "reload", "version", "demo", "realserver"} {
		if !regexp.MustCompile(`(?m)^  ` + sub + `\s`).MatchString(out) {
			t.Errorf("--help does not list %s", sub)
		}
	}
	if code != exitOK {
		t.Errorf("exit %d", code)
	}
	if _, out, _ := tandem(t, "validate", "--help"); !strings.Contains(out, "FILE:LINE:COL") || !strings.Contains(out, "Exit status") {
		t.Errorf("validate --help:\n%s", out)
	}
}
