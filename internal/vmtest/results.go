package vmtest

import (
	"strconv"
	"strings"
)

// guestTest is one test of the guest's -test.v output.
type guestTest struct {
	Name   string   // full name, "TestA/sub"
	Result string   // "PASS", "FAIL", "SKIP"; "" if it never finished
	Output []string // its own lines, without the markers and children's lines
}

// report is what the parser made of the serial console.
type report struct {
	Tests   []*guestTest // in the order they started
	Began   bool         // /init reached the test binary
	Exit    int          // the test binary's exit status; -1 if never seen
	Package []string     // lines of the test binary attributed to no test
	// Problems are /init's complaints (VMTEST-PROBLEM lines).
	Problems []string
}

// parser reads the guest's serial console line by line.
type parser struct {
	r       report
	byName  map[string]*guestTest
	current *guestTest
}

func newParser() *parser {
	return &parser{r: report{Exit: -1}, byName: map[string]*guestTest{}}
}

func (p *parser) test(name string) *guestTest {
	if t, ok := p.byName[name]; ok {
		return t
	}
	t := &guestTest{Name: name}
	p.byName[name] = t
	p.r.Tests = append(p.r.Tests, t)
	return t
}

func parentName(name string) string {
	if i := strings.LastIndexByte(name, '/'); i >= 0 {
		return name[:i]
	}
	return ""
}

// Line takes one line of serial output (without the newline).
func (p *parser) Line(line string) {
	line = strings.TrimRight(line, "\r")
	if !p.r.Began {
		if strings.HasPrefix(line, beginPrefix) {
			p.r.Began = true
		}
		return
	}
	if rest, ok := strings.CutPrefix(line, problemPrefix); ok {
		p.r.Problems = append(p.r.Problems, rest)
		return
	}
	if rest, ok := strings.CutPrefix(line, ResultPrefix); ok {
		if n, err := strconv.Atoi(strings.TrimSpace(rest)); err == nil {
			p.r.Exit = n
		}
		p.current = nil
		return
	}
	if p.r.Exit >= 0 {
		return // after the result: poweroff messages
	}
	// "=== RUN   TestX", "=== PAUSE TestX", "=== CONT  TestX", "=== NAME  TestX"
	if rest, ok := strings.CutPrefix(line, "=== "); ok {
		verb, name, _ := strings.Cut(rest, " ")
		name = strings.TrimSpace(name)
		switch verb {
		case "RUN", "PAUSE", "CONT", "NAME":
			if name != "" {
				p.current = p.test(name)
				return
			}
		}
	}
	// "--- PASS: TestX (0.00s)", indented four spaces per subtest level.
	if rest, ok := strings.CutPrefix(strings.TrimLeft(line, " "), "--- "); ok {
		verb, rest, _ := strings.Cut(rest, ": ")
		switch verb {
		case "PASS", "FAIL", "SKIP":
			name := rest
			if i := strings.LastIndex(rest, " ("); i >= 0 {
				name = rest[:i]
			}
			t := p.test(name)
			t.Result = verb
			// The parent (if it still runs) gets what follows: -test.v
			// announces a switch back with "=== NAME", but plain writes
			// to stdout come without one. After a top-level test, lines
			// are the package's ("PASS", a panic's trace)
			// (-test.v prints subtests' result lines after the
			// parent's own when the parent ends.)
			p.current = nil
			if pn := parentName(name); pn != "" {
				if parent := p.test(pn); parent.Result == "" {
					p.current = parent
				}
			}
			return
		}
	}
	if p.current != nil {
		p.current.Output = append(p.current.Output, line)
	} else {
		p.r.Package = append(p.r.Package, line)
	}
}

// Report returns what was parsed so far.
func (p *parser) Report() *report { return &p.r }
