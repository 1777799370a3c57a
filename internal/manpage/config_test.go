package manpage

import (
	"strings"
	"testing"

	"github.com/tandemlb/tandem/config"
)

// The page's example is a valid configuration.
func TestExampleValidates(t *testing.T) {
	_, diags := config.Parse("example.hcl", []byte(example))
	if len(diags.Diags) > 0 {
		t.Fatal(diags.Err())
	}
}

func TestEscape(t *testing.T) {
	for in, want := range map[string]string{
		"--json":     `\-\-json`,
		".hcl files": `\&.hcl files`,
		"'quoted":    `\&'quoted`,
		`C:\path`:    `C:\epath`,
		"plain text": "plain text",
	} {
		if got := Escape(in); got != want {
			t.Errorf("Escape(%q) = %q, want %q", in, got, want)
		}
	}
	p := New("x", 1, "2026-01-01", "x 1", "x")
	p.Text("para one\n\n  kept   as written\nfilled again")
	if !strings.Contains(p.String(), ".PP\n.RS 2\n.nf\nkept   as written\n.fi\n.RE\nfilled again\n") {
		t.Errorf("Text:\n%s", p.String())
	}
}
