package keepalived

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// Each testdata/ipvsadm/*.rules (ipvsadm -S -n output, or rules that
// tandem cannot carry in full) converts to the HCL and the diagnostics of
// its .golden file, and the HCL validates.
func TestIPVSAdmGolden(t *testing.T) {
	files, _ := filepath.Glob("testdata/ipvsadm/*.rules")
	if len(files) < 3 {
		t.Fatal("no testdata/ipvsadm/*.rules")
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			src, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			checkGolden(t, ImportIPVSAdm(file, src), strings.TrimSuffix(file, ".rules")+".golden")
		})
	}
}

// FuzzImportIPVSAdm: whatever the rules, the import renders HCL that
// loads without an error: what tandem cannot hold is dropped at the
// import, with its error, never left for the loader to refuse.
func FuzzImportIPVSAdm(f *testing.F) {
	files, _ := filepath.Glob("testdata/ipvsadm/*.rules")
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		for _, svc := range strings.Split(string(b), "-A ")[1:] { // small seeds minimize fast
			f.Add([]byte("-A " + svc))
		}
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		imp := ImportIPVSAdm("f.rules", in)
		text, err := imp.HCL()
		if err != nil {
			t.Fatalf("render: %v", err)
		}
		if cfg, diags := config.Parse("f.hcl", text); cfg == nil {
			t.Errorf("the import does not load: %v\n%s", diags.Err(), text)
		}
	})
}
