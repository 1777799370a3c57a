package keepalived

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

var update = flag.Bool("update", false, "rewrite the .golden files of testdata")

// Scripts under /etc/keepalived/bin are executable files for the tests;
// anything else is not, whatever this machine holds.
func testExecutable(p string) bool { return strings.HasPrefix(p, "/etc/keepalived/bin/") }

func importTest(file string) *Import {
	return ImportFile(file, Options{ConfigID: "lb1"}, ConvertOptions{IsExecutable: testExecutable})
}

func diagLines(ds Diags) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "%s\n  %s\n", d.Error(), d.Detail)
	}
	return b.String()
}

// Each testdata/*.conf converts to the HCL and the diagnostics of its
// .golden file, and the HCL loads with tandem's own config loader with no
// error (warnings of the loader are part of the golden too).
func TestConvertGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.conf")
	if len(files) < 2 {
		t.Fatal("no testdata/*.conf")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			imp := importTest(file)
			hcl := testHCL(imp.Config)
			cfg, diags := config.Parse("converted.hcl", []byte(hcl))
			var loaded strings.Builder
			for _, d := range diags.Diags {
				loaded.WriteString(config.Headline(d) + "\n  " + d.Detail + "\n")
			}
			if cfg == nil {
				t.Errorf("the converted config does not load:\n%s\n%s", loaded.String(), hcl)
			}
			got := "# diagnostics of the import\n" + diagLines(imp.Diags) +
				"\n# diagnostics of loading the HCL\n" + loaded.String() +
				"\n# the HCL\n" + hcl
			golden := strings.TrimSuffix(file, ".conf") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./internal/keepalived -run TestConvertGolden -update to write it, then read it)", err)
			}
			if got != string(want) {
				t.Errorf("%s differs from the conversion:\n%s", golden, got)
			}
		})
	}
}
