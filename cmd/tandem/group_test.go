package main

import (
	"encoding/json"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestValidateGroupExamples(t *testing.T) {
	pairs, _ := filepath.Glob("../../examples/*/lb1.hcl")
	if len(pairs) < 5 {
		t.Fatalf("found %d example pairs", len(pairs))
	}
	for _, lb1 := range pairs {
		lb2 := filepath.Join(filepath.Dir(lb1), "lb2.hcl")
		if code, out, errs := tandem(t, "validate", "--group", lb1, lb2); code != exitOK || !strings.HasSuffix(out, "group of 2 directors: valid\n") {
			t.Errorf("validate --group %s %s: exit %d\n%s%s", lb1, lb2, code, out, errs)
		}
	}
}

func TestValidateGroupMismatch(t *testing.T) {
	lb1, lb2 := "../../config/testdata/group/unicast/lb1.hcl", "../../config/testdata/group/unicast/lb2.hcl"
	code, out, _ := tandem(t, "validate", lb1, lb2, "--group")
	if code != exitFailed {
		t.Errorf("exit %d, want 1", code)
	}
	// lb2's peers miss lb1's source: reported at lb2, naming lb1's position.
	if !regexp.MustCompile(`(?m)^`+regexp.QuoteMeta(lb2)+`:8:23: error: Unicast peers do not point at each other\n.*`+regexp.QuoteMeta(lb1)+`:7:23`).MatchString(out) ||
		!strings.Contains(out, "group of 2 directors: invalid: 2 errors, 0 warnings") {
		t.Errorf("output:\n%s", out)
	}

	code, out, _ = tandem(t, "validate", "--group", "--json", lb1, lb2)
	var r struct {
		Valid       bool `json:"valid"`
		ErrorCount  int  `json:"error_count"`
		Diagnostics []struct {
			Severity, Summary, Detail string
			Range                     struct{ Filename string }
		}
	}
	if err := json.Unmarshal([]byte(out), &r); err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if code != exitFailed || r.Valid || r.ErrorCount != 2 || len(r.Diagnostics) != 2 {
		t.Fatalf("exit %d valid=%v errors=%d diagnostics=%d, want 1 false 2 2\n%s", code, r.Valid, r.ErrorCount, len(r.Diagnostics), out)
	}
	for _, d := range r.Diagnostics {
		other := lb1
		if d.Range.Filename == lb1 {
			other = lb2
		}
		if d.Severity != "error" || !regexp.MustCompile(regexp.QuoteMeta(other)+`:\d+:\d+`).MatchString(d.Detail) {
			t.Errorf("diagnostic at %s does not name %s's position: %+v", d.Range.Filename, other, d)
		}
	}
}

func TestValidateGroupWarningsAndInvalid(t *testing.T) {
	dir := "../../config/testdata/group/one_side/"
	if code, out, _ := tandem(t, "validate", "--group", dir+"lb1.hcl", dir+"lb2.hcl"); code != exitOK || !strings.HasSuffix(out, "group of 2 directors: valid, 3 warnings\n") {
		t.Errorf("warnings only: exit %d\n%s", code, out)
	}
	code, out, _ := tandem(t, "validate", "--group", dir+"lb1.hcl", "../../config/testdata/bad/three_mistakes.hcl")
	if code != exitFailed || !strings.Contains(out, "group of 2 directors: not checked") {
		t.Errorf("an invalid director: exit %d\n%s", code, out)
	}
	if code, _, errs := tandem(t, "validate", "--group", dir+"lb1.hcl"); code != exitUsage || !strings.Contains(errs, "two directors or more") {
		t.Errorf("one PATH: exit %d, stderr %q", code, errs)
	}
}
