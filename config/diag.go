package config

import (
	"bytes"
	"fmt"
	"io"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// Diagnostics are the errors and warnings of a load, with the sources they
// point into so that they can be shown with a snippet.
type Diagnostics struct {
	Diags   hcl.Diagnostics
	Sources map[string][]byte
}

// HasErrors reports whether any diagnostic is an error.
func (d Diagnostics) HasErrors() bool { return d.Diags.HasErrors() }

// Count returns the number of errors and warnings.
func (d Diagnostics) Count() (errors, warnings int) {
	for _, dg := range d.Diags {
		if dg.Severity == hcl.DiagError {
			errors++
		} else {
			warnings++
		}
	}
	return errors, warnings
}

// Err is nil without errors, else an error whose text is the rendered
// diagnostics.
func (d Diagnostics) Err() error {
	if !d.HasErrors() {
		return nil
	}
	var b bytes.Buffer
	d.WriteText(&b)
	n, _ := d.Count()
	return fmt.Errorf("invalid configuration (%d errors):\n%s", n, strings.TrimRight(b.String(), "\n"))
}

func (d *Diagnostics) sort() {
	sort.SliceStable(d.Diags, func(i, j int) bool {
		a, b := d.Diags[i].Subject, d.Diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}

// Headline is the first line of a diagnostic: FILE:LINE:COL: SEVERITY: SUMMARY.
func Headline(dg *hcl.Diagnostic) string {
	sev := "error"
	if dg.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	switch r := dg.Subject; {
	case r == nil:
		return fmt.Sprintf("%s: %s", sev, dg.Summary)
	case r.Start.Line == 0:
		return fmt.Sprintf("%s: %s: %s", r.Filename, sev, dg.Summary)
	default:
		return fmt.Sprintf("%s:%d:%d: %s: %s", r.Filename, r.Start.Line, r.Start.Column, sev, dg.Summary)
	}
}

// WriteText prints each diagnostic as its headline, its detail indented,
// and the source lines with the range underlined.
func (d Diagnostics) WriteText(w io.Writer) error {
	var b bytes.Buffer
	for _, dg := range d.Diags {
		b.WriteString(Headline(dg) + "\n")
		if dg.Detail != "" {
			for _, line := range strings.Split(dg.Detail, "\n") {
				b.WriteString("  " + line + "\n")
			}
		}
		if snip := d.render(dg.Subject); snip != "" {
			b.WriteString(snip)
		}
		b.WriteString("\n")
	}
	_, err := w.Write(b.Bytes())
	return err
}

// render shows the first line of r with a gutter, underlined.
func (d Diagnostics) render(r *hcl.Range) string {
	line, lineStart, ok := d.line(r)
	if !ok {
		return ""
	}
	end := r.End.Byte - lineStart
	if r.End.Line != r.Start.Line || end > len(line) {
		end = len(line)
	}
	start := r.Start.Byte - lineStart
	var mark strings.Builder
	for _, c := range line[:start] {
		if c == '\t' {
			mark.WriteRune('\t')
		} else {
			mark.WriteRune(' ')
		}
	}
	n := len([]rune(line[start:end]))
	mark.WriteString("^" + strings.Repeat("~", max(0, n-1)))
	num := fmt.Sprint(r.Start.Line)
	pad := strings.Repeat(" ", len(num))
	return fmt.Sprintf("  %s | %s\n  %s | %s\n", num, line, pad, mark.String())
}

// line returns the source line where r starts and that line's byte offset.
func (d Diagnostics) line(r *hcl.Range) (string, int, bool) {
	if r == nil || r.Start.Line == 0 {
		return "", 0, false
	}
	src, ok := d.Sources[r.Filename]
	if !ok || r.Start.Byte > len(src) {
		return "", 0, false
	}
	lineStart := bytes.LastIndexByte(src[:r.Start.Byte], '\n') + 1
	lineEnd := bytes.IndexByte(src[lineStart:], '\n')
	if lineEnd < 0 {
		lineEnd = len(src) - lineStart
	}
	line := strings.TrimRight(string(src[lineStart:lineStart+lineEnd]), "\r")
	if r.Start.Byte-lineStart > len(line) {
		return "", 0, false
	}
	return line, lineStart, true
}

// JSON shapes of `tandem validate --json` (DESIGN.md).
type (
	JSONReport struct {
		Valid        bool             `json:"valid"`
		ErrorCount   int              `json:"error_count"`
		WarningCount int              `json:"warning_count"`
		Diagnostics  []JSONDiagnostic `json:"diagnostics"`
	}
	JSONDiagnostic struct {
		Severity string     `json:"severity"`
		Summary  string     `json:"summary"`
		Detail   string     `json:"detail"`
		Range    *JSONRange `json:"range,omitempty"`
		Snippet  string     `json:"snippet,omitempty"`
	}
	JSONRange struct {
		Filename string   `json:"filename"`
		Start    *JSONPos `json:"start,omitempty"`
		End      *JSONPos `json:"end,omitempty"`
	}
	JSONPos struct {
		Line   int `json:"line"`
		Column int `json:"column"`
		Byte   int `json:"byte"`
	}
)

// JSON converts the diagnostics; the snippet is the source line where each
// starts.
func (d Diagnostics) JSON() []JSONDiagnostic {
	out := []JSONDiagnostic{}
	for _, dg := range d.Diags {
		j := JSONDiagnostic{Severity: "error", Summary: dg.Summary, Detail: dg.Detail}
		if dg.Severity == hcl.DiagWarning {
			j.Severity = "warning"
		}
		if r := dg.Subject; r != nil {
			j.Range = &JSONRange{Filename: r.Filename}
			if r.Start.Line > 0 {
				j.Range.Start = &JSONPos{r.Start.Line, r.Start.Column, r.Start.Byte}
				j.Range.End = &JSONPos{r.End.Line, r.End.Column, r.End.Byte}
			}
			j.Snippet, _, _ = d.line(r)
		}
		out = append(out, j)
	}
	return out
}
