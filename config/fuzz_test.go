package config_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// FuzzParse: any input gives a configuration or diagnostics, never a
// panic, and the diagnostics render; a configuration renders (Render)
// to HCL that parses back to an Equal one. Seeds are every example and bad
// config; crashers found are kept in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"../examples/*.hcl", "../examples/*/*.hcl", "testdata/*/*.hcl"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			b, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, src []byte) {
		cfg, diags := config.Parse("fuzz.hcl", src)
		if (cfg == nil) != diags.HasErrors() {
			t.Fatalf("config returned = %v with errors = %v", cfg != nil, diags.HasErrors())
		}
		var b bytes.Buffer
		if err := diags.WriteText(&b); err != nil {
			t.Fatal(err)
		}
		diags.JSON()
		if cfg == nil {
			return
		}
		out, err := config.Render(cfg, config.RenderOptions{Defaults: true})
		if err != nil {
			t.Fatal(err)
		}
		back, bdiags := config.Parse("fuzz.hcl", out)
		if back == nil || !config.Equal(cfg, back) {
			t.Fatalf("the rendered configuration does not parse back the same:\n%v\n%s", bdiags.Err(), out)
		}
	})
}
