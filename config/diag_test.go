package config_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/tandemlb/tandem/config"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata/bad")

var wantLine = regexp.MustCompile(`#\s*want:\s*(\d+:\d+: (?:error|warning): .*?)\s*$`)

// TestBadConfigs loads each testdata/bad/*.hcl and compares its
// diagnostics with the file's own "# want: LINE:COL: SEVERITY: SUMMARY"
// comments (exactly that set), and the rendered text with its .golden file.
func TestBadConfigs(t *testing.T) {
	files, err := filepath.Glob("testdata/bad/*.hcl")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test configs: %v", err)
	}
	for _, file := range files {
		t.Run(strings.TrimSuffix(filepath.Base(file), ".hcl"), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			var want []string
			for _, line := range strings.Split(string(src), "\n") {
				if m := wantLine.FindStringSubmatch(line); m != nil {
					want = append(want, m[1])
				}
			}
			if len(want) == 0 {
				t.Fatalf("%s has no # want: comment", file)
			}
			cfg, diags := config.Load(file)
			var got []string
			for _, d := range diags.Diags {
				got = append(got, strings.TrimPrefix(config.Headline(d), file+":"))
			}
			slices.Sort(want)
			slices.Sort(got)
			if !slices.Equal(got, want) {
				t.Errorf("diagnostics differ\n got: %q\nwant: %q", got, want)
			}
			if (cfg == nil) != diags.HasErrors() {
				t.Errorf("config returned = %v with errors = %v", cfg != nil, diags.HasErrors())
			}
			for _, d := range diags.Diags {
				if d.Severity == hcl.DiagError && d.Detail == "" {
					t.Errorf("%s: no detail to tell the operator what to do", config.Headline(d))
				}
			}
			var text bytes.Buffer
			diags.WriteText(&text)
			golden := strings.TrimSuffix(file, ".hcl") + ".golden"
			if *update {
				if err := os.WriteFile(golden, text.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			wantText, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./config -run TestBadConfigs -update to write it, then read it)", err)
			}
			if text.String() != string(wantText) {
				t.Errorf("rendered diagnostics differ from %s\n got:\n%s\nwant:\n%s", golden, text.String(), wantText)
			}
		})
	}
}
