package config_test

import (
	"os"
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

const (
	refBegin = "<!-- BEGIN CONFIG REFERENCE -->\n"
	refEnd   = "<!-- END CONFIG REFERENCE -->"
)

// The README's configuration reference is the one generated from the
// schema; `make docs` (this test with -update) rewrites it.
func TestReadmeReference(t *testing.T) {
	b, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start, end := strings.Index(readme, refBegin), strings.Index(readme, refEnd)
	if start < 0 || end < start {
		t.Fatalf("README.md lacks the %q ... %q markers", refBegin, refEnd)
	}
	want := config.Reference()
	got := readme[start+len(refBegin) : end]
	if *update {
		readme = readme[:start+len(refBegin)] + want + readme[end:]
		if err := os.WriteFile("../README.md", []byte(readme), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got != want {
		t.Errorf("README.md's configuration reference is stale: run 'make docs'")
	}
}
