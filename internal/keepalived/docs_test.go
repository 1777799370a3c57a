package keepalived

import (
	"os"
	"strings"
	"testing"
)

const (
	tableBegin = "<!-- BEGIN KEYWORD TABLE -->\n"
	tableEnd   = "<!-- END KEYWORD TABLE -->"
	migrating  = "../../docs/migrating.md"
)

// docs/migrating.md's keyword table is Table(), so that the importer and
// the docs say the same; `make docs` (this test with -update) rewrites it.
func TestMigratingDoc(t *testing.T) {
	b, err := os.ReadFile(migrating)
	if err != nil {
		t.Fatal(err)
	}
	doc := string(b)
	start, end := strings.Index(doc, tableBegin), strings.Index(doc, tableEnd)
	if start < 0 || end < start {
		t.Fatalf("%s lacks the %q ... %q markers", migrating, tableBegin, tableEnd)
	}
	want := Table()
	if *update {
		doc = doc[:start+len(tableBegin)] + want + doc[end:]
		if err := os.WriteFile(migrating, []byte(doc), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	if got := doc[start+len(tableBegin) : end]; got != want {
		t.Errorf("%s's keyword table is stale: run 'make docs'", migrating)
	}
}
