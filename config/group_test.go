package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/tandemlb/tandem/config"
)

// TestGroupMismatches runs CheckGroup over each testdata/group/NAME/
// (lb1.hcl, lb2.hcl, lb3.hcl when there is one): the diagnostics must be
// exactly the files' "# want: LINE:COL: SEVERITY: SUMMARY" comments, each
// must name the other director's position, and the rendered text must
// equal NAME/group.golden.
func TestGroupMismatches(t *testing.T) {
	dirs, _ := filepath.Glob("testdata/group/*")
	if len(dirs) < 8 {
		t.Fatalf("found %d group cases", len(dirs))
	}
	for _, dir := range dirs {
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files, _ := filepath.Glob(filepath.Join(dir, "lb*.hcl"))
			var cfgs []*config.Config
			var want []string
			for _, f := range files {
				cfg, diags := config.Load(f)
				if cfg == nil || len(diags.Diags) > 0 {
					t.Fatalf("%s is not a clean director configuration:\n%v", f, diags.Err())
				}
				cfgs = append(cfgs, cfg)
				src, _ := os.ReadFile(f)
				for _, line := range strings.Split(string(src), "\n") {
					if m := wantLine.FindStringSubmatch(line); m != nil {
						want = append(want, f+":"+m[1])
					}
				}
			}
			if len(want) == 0 {
				t.Fatalf("%s has no # want: comment", dir)
			}
			diags := config.CheckGroup(cfgs)
			var got []string
			for _, d := range diags.Diags {
				got = append(got, config.Headline(d))
				// Both positions: the subject's, and another director's in the
				// detail (errors: as FILE:LINE:COL).
				named, positioned := false, false
				for _, f := range files {
					if f != d.Subject.Filename {
						named = named || strings.Contains(d.Detail, f)
						positioned = positioned || regexp.MustCompile(regexp.QuoteMeta(f)+`:\d+:\d+`).MatchString(d.Detail)
					}
				}
				if !named || (d.Severity == hcl.DiagError && !positioned) {
					t.Errorf("%s: the detail does not name the other director's position: %s", config.Headline(d), d.Detail)
				}
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("diagnostics differ\n got: %q\nwant: %q", got, want)
			}
			var text bytes.Buffer
			diags.WriteText(&text)
			golden := filepath.Join(dir, "group.golden")
			if *update {
				if err := os.WriteFile(golden, text.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantText, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestGroupMismatches -update to write it, then read it)", err)
			}
			if text.String() != string(wantText) {
				t.Errorf("rendered diagnostics differ from %s\n got:\n%s\nwant:\n%s", golden, text.String(), wantText)
			}
		})
	}
}

// The example pairs are groups that agree: no diagnostic at all.
func TestGroupExamplesAgree(t *testing.T) {
	dirs, _ := filepath.Glob("../examples/*/lb1.hcl")
	if len(dirs) < 5 {
		t.Fatalf("found %d example pairs", len(dirs))
	}
	for _, lb1 := range dirs {
		var cfgs []*config.Config
		for _, f := range []string{lb1, filepath.Join(filepath.Dir(lb1), "lb2.hcl")} {
			cfg, diags := config.Load(f)
			if cfg == nil {
				t.Fatal(diags.Err())
			}
			cfgs = append(cfgs, cfg)
		}
		if diags := config.CheckGroup(cfgs); len(diags.Diags) > 0 {
			var b bytes.Buffer
			diags.WriteText(&b)
			t.Errorf("%s pair:\n%s", filepath.Dir(lb1), b.String())
		}
	}
}
