// Package keepalived reads keepalived.conf (the syntax of keepalived.conf(5):
// blocks, comments, quoted strings, include, @conditional lines, $PARAM
// definitions and ~SEQ sequences) into a tree of nodes that keep their
// FILE:LINE:COL, and converts that tree into tandem's typed configuration.
package keepalived

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Pos is a place in a source file; Line and Col are 1-based, Col counts
// characters, Byte is the 0-based offset in the file.
type Pos struct {
	File      string
	Line, Col int
	Byte      int
}

func (p Pos) String() string { return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col) }

// Token is a word of the configuration; a quoted string is one token
// without its quotes.
type Token struct {
	Text   string
	Quoted bool
	Pos    Pos
	End    Pos // just after the token (for text that came from a $PARAM: after the reference)

	eol     bool   // the last token of its line
	comment string // the first token of a line: the line's comment
}

// Node is a keyword line: the keyword, its arguments and, when it opens
// a block, the block's nodes. Inside blocks such as virtual_ipaddress the
// "keyword" is the entry itself (an address) and its options are Args.
type Node struct {
	Keyword  Token
	Args     []Token
	Block    bool    // the keyword opened a { } block (Children may be empty)
	Children []*Node // the block's nodes
	Comment  string  // the comment on the keyword's line, without its '#' or '!'
	Close    Pos     // the block's closing brace
}

// Severity of a diagnostic.
type Severity int

const (
	Error Severity = iota
	Warning
)

func (s Severity) String() string {
	if s == Warning {
		return "warning"
	}
	return "error"
}

// Diag is an error or warning at a place in the source.
type Diag struct {
	Severity Severity
	Pos, End Pos
	Summary  string
	Detail   string
}

func (d *Diag) Error() string { return fmt.Sprintf("%s: %s: %s", d.Pos, d.Severity, d.Summary) }

// Diags is a list of diagnostics in the order they were found.
type Diags []*Diag

// HasErrors reports whether any diagnostic is an error.
func (ds Diags) HasErrors() bool {
	for _, d := range ds {
		if d.Severity == Error {
			return true
		}
	}
	return false
}

// FS is what the reader needs of a file system: the OS one, or an
// in-memory one in tests.
type FS interface {
	ReadFile(name string) ([]byte, error)
	Glob(pattern string) ([]string, error)
}

type osFS struct{}

func (osFS) ReadFile(name string) ([]byte, error)  { return os.ReadFile(name) }
func (osFS) Glob(pattern string) ([]string, error) { return filepath.Glob(pattern) }

// IOFS adapts an fs.FS (such as fstest.MapFS) whose names are slash
// paths without a leading slash.
func IOFS(fsys fs.FS) FS { return iofs{fsys} }

type iofs struct{ fsys fs.FS }

func (f iofs) ReadFile(name string) ([]byte, error) {
	return fs.ReadFile(f.fsys, filepath.ToSlash(name))
}
func (f iofs) Glob(pattern string) ([]string, error) {
	return fs.Glob(f.fsys, filepath.ToSlash(pattern))
}

// Options of a read.
type Options struct {
	// ConfigID is compared with @name lines (keepalived's -i); empty means
	// the first part of the host name, as keepalived does.
	ConfigID string
	// FS reads the files; nil means the OS's.
	FS FS
}

// Result is a read configuration: its top-level nodes, the diagnostics,
// and every file read (for snippets).
type Result struct {
	Nodes   []*Node
	Diags   Diags
	Sources map[string][]byte
}

// Limits that keep a hostile or mistaken input from running away.
const (
	maxIncludeDepth = 32
	maxExpandDepth  = 32
	maxLines        = 50000 // lines produced by expansion, in all
	maxSeqSteps     = 100000
	maxLineLen      = 64 << 10 // characters of a line after substitution
	maxChars        = 4 << 20  // characters tokenized in all
)

// Read reads the file and everything it includes.
func Read(file string, opt Options) *Result {
	r := &reader{
		fs:      opt.FS,
		id:      opt.ConfigID,
		params:  map[string]string{},
		sources: map[string][]byte{},
	}
	if r.fs == nil {
		r.fs = osFS{}
	}
	if r.id == "" {
		if h, err := os.Hostname(); err == nil {
			r.id, _, _ = strings.Cut(h, ".")
		}
	}
	r.readFile(file, Pos{File: file})
	p := &parser{toks: r.toks}
	nodes := p.body(nil)
	return &Result{Nodes: nodes, Diags: append(r.diags, p.diags...), Sources: r.sources}
}

// ReadBytes reads one in-memory file that includes nothing from disk
// (an include is looked up in an empty file system).
func ReadBytes(name string, src []byte, opt Options) *Result {
	opt.FS = memFS{name: name, data: src, next: opt.FS}
	return Read(name, opt)
}

type memFS struct {
	name string
	data []byte
	next FS
}

func (m memFS) ReadFile(name string) ([]byte, error) {
	if filepath.Clean(name) == filepath.Clean(m.name) {
		return m.data, nil
	}
	if m.next != nil {
		return m.next.ReadFile(name)
	}
	return nil, fs.ErrNotExist
}

func (m memFS) Glob(pattern string) ([]string, error) {
	if m.next != nil {
		return m.next.Glob(pattern)
	}
	return nil, nil
}

// pchar is a character with where it was written.
type pchar struct {
	r   rune
	pos Pos
}

type line []pchar

func (l line) String() string {
	var b strings.Builder
	for _, c := range l {
		b.WriteRune(c.r)
	}
	return b.String()
}

func (l line) trimLeft() line {
	for len(l) > 0 && isSpace(l[0].r) {
		l = l[1:]
	}
	return l
}

func (l line) trimRight() line {
	for len(l) > 0 && isSpace(l[len(l)-1].r) {
		l = l[:len(l)-1]
	}
	return l
}

func isSpace(r rune) bool { return r == ' ' || r == '\t' || r == '\r' || r == '\v' || r == '\f' }

type reader struct {
	fs      FS
	id      string
	params  map[string]string
	sources map[string][]byte
	stack   []string // files being read, for include loops
	diags   Diags
	toks    []Token
	pending string    // comment of the physical line being processed
	lines   int       // lines processed, against maxLines
	chars   int       // characters tokenized, against maxChars
	line    Pos       // where the physical line being processed starts
	multi   *multiDef // a multiline $PARAM definition being collected
}

type multiDef struct {
	name string
	at   Pos
	val  []string
}

func (r *reader) errorf(at Pos, summary, format string, args ...any) {
	r.diags = append(r.diags, &Diag{Severity: Error, Pos: at, End: at, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

func (r *reader) warnf(at Pos, summary, format string, args ...any) {
	r.diags = append(r.diags, &Diag{Severity: Warning, Pos: at, End: at, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

func (r *reader) readFile(name string, from Pos) {
	key := filepath.Clean(name)
	for _, s := range r.stack {
		if s == key {
			r.errorf(from, "Include loop", "%s includes itself (through %s); remove one of the include lines.", name, strings.Join(r.stack, " -> "))
			return
		}
	}
	if len(r.stack) >= maxIncludeDepth {
		r.errorf(from, "Includes nest too deep", "More than %d files include one another; flatten the includes.", maxIncludeDepth)
		return
	}
	data, err := r.fs.ReadFile(name)
	if err != nil {
		summary := "Cannot read file"
		if errors.Is(err, fs.ErrNotExist) {
			summary = "File not found"
		}
		r.errorf(from, summary, "%v; check the path (an include is relative to the including file's directory).", err)
		return
	}
	r.sources[name] = data
	if !utf8.Valid(data) {
		r.errorf(firstInvalid(name, data), "Not UTF-8 text", "%s is not UTF-8 text here; convert it (iconv) or remove the binary bytes.", name)
		return
	}
	r.stack = append(r.stack, key)
	defer func() { r.stack = r.stack[:len(r.stack)-1] }()

	lineNo, byteOff := 1, 0
	for len(data) > 0 {
		raw := data
		if i := strings.IndexByte(string(data), '\n'); i >= 0 {
			raw, data = data[:i], data[i+1:]
		} else {
			data = nil
		}
		var l line
		col := 1
		for i, c := range string(raw) {
			l = append(l, pchar{c, Pos{name, lineNo, col, byteOff + i}})
			col++
		}
		r.physical(l, Pos{name, lineNo, col, byteOff + len(raw)})
		byteOff += len(raw) + 1
		lineNo++
	}
	if r.multi != nil {
		// A file may not end inside a definition: it would swallow the
		// including file's next lines.
		r.define(r.multi.name, strings.Join(r.multi.val, "\n"))
		r.errorf(r.multi.at, "Unfinished multiline definition", "The file ends while $%s is continued with a trailing '\\'; remove the last '\\'.", r.multi.name)
		r.multi = nil
	}
}

// firstInvalid is the position of the first byte that is not UTF-8.
func firstInvalid(name string, data []byte) Pos {
	p := Pos{File: name, Line: 1, Col: 1}
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		if r == utf8.RuneError && n <= 1 {
			return p
		}
		p.Byte += n
		p.Col++
		if r == '\n' {
			p.Line, p.Col = p.Line+1, 1
		}
		data = data[n:]
	}
	return p
}

// physical handles one line as read from a file: its comment is cut off,
// a multiline definition is continued, then the line is processed.
func (r *reader) physical(l line, eol Pos) {
	l, comment := cutComment(l)
	l = l.trimRight()
	if r.multi != nil {
		cont := len(l) > 0 && l[len(l)-1].r == '\\'
		if cont {
			l = l[:len(l)-1].trimRight()
		}
		r.multi.val = append(r.multi.val, l.String())
		if !cont {
			r.define(r.multi.name, strings.Join(r.multi.val, "\n"))
			r.multi = nil
		}
		return
	}
	r.pending = comment
	r.line = eol
	if len(l) > 0 {
		r.line = l[0].pos
	}
	r.process(l, 0)
	r.pending = ""
}

// cutComment splits a line at its first '#' or '!' outside quotes.
func cutComment(l line) (line, string) {
	quoted := false
	for i, c := range l {
		switch {
		case c.r == '"':
			quoted = !quoted
		case !quoted && (c.r == '#' || c.r == '!'):
			return l[:i], strings.TrimSpace(line(l[i+1:]).String())
		}
	}
	return l, ""
}

var (
	defRe = regexp.MustCompile(`^\$([A-Za-z_][A-Za-z0-9_]*)=`)
	seqRe = regexp.MustCompile(`^~SEQ(x?)\(([^)]*)\)`)
)

// process handles a logical line: conditionals, definitions, sequences,
// substitution, include, and finally its tokens. depth counts expansions.
func (r *reader) process(l line, depth int) {
	r.lines++
	if r.lines > maxLines {
		if r.lines == maxLines+1 {
			r.errorf(r.posOf(l), "Configuration too large", "Expansion produced more than %d lines; check the ~SEQ ranges and $PARAM definitions.", maxLines)
		}
		return
	}
	l = l.trimLeft()
	if len(l) == 0 {
		return
	}
	s := l.String()
	at := l[0].pos

	if s[0] == '@' {
		neg := strings.HasPrefix(s, "@^")
		skip := 1
		if neg {
			skip = 2
		}
		n := skip
		for n < len(l) && !isSpace(l[n].r) {
			n++
		}
		word := line(l[skip:n]).String()
		if word == "" {
			r.errorf(at, "Empty condition", "'%s' must be followed at once by a config id, as in @lb1 router_id lb1.", s[:skip])
			return
		}
		if (word == r.id) != neg {
			r.process(l[n:], depth)
		}
		return
	}

	if m := defRe.FindStringSubmatch(s); m != nil {
		name := m[1]
		val := line(l[utf8.RuneCountInString(m[0]):]).trimLeft().trimRight()
		if val.String() == "\\" {
			r.multi = &multiDef{name: name, at: at}
			return
		}
		if len(val) > 0 && val[len(val)-1].r == '\\' {
			// A value on the definition line and then continued: keep the
			// first line and go on collecting.
			r.multi = &multiDef{name: name, at: at, val: []string{val[:len(val)-1].trimRight().String()}}
			return
		}
		r.define(name, val.String())
		return
	}

	if m := seqRe.FindStringSubmatch(s); m != nil {
		r.sequence(l, m, depth)
		return
	}

	if strings.Contains(s, "$") {
		if out, changed := r.substitute(l, at); changed {
			if out == nil {
				return
			}
			if depth >= maxExpandDepth {
				r.errorf(at, "Parameter substitution nests too deep", "After %d substitutions the line still holds a $PARAM; a parameter probably refers to itself.", maxExpandDepth)
				return
			}
			for _, sub := range splitLines(out) {
				r.process(sub, depth+1)
			}
			return
		}
	}

	// An include's file name may hold braces: it is the rest of the line.
	if w, _, _ := strings.Cut(strings.NewReplacer("\t", " ", "\r", " ", "\v", " ", "\f", " ").Replace(s), " "); isInclude(w) {
		r.include(l)
		return
	}
	r.chars += len(l)
	if r.chars > maxChars {
		r.errorf(at, "Configuration too large", "Expansion produced more than %d characters; check the ~SEQ ranges and $PARAM definitions.", maxChars)
		r.lines = maxLines + 1 // stop here, once
		return
	}
	toks, ok := r.tokens(l)
	if !ok || len(toks) == 0 {
		return
	}
	toks[0].comment = r.pending
	r.pending = "" // one node carries the comment
	toks[len(toks)-1].eol = true
	r.toks = append(r.toks, toks...)
}

func (r *reader) posOf(l line) Pos {
	if len(l) == 0 {
		return r.line
	}
	return l[0].pos
}

func (r *reader) define(name, val string) {
	r.params[name] = val
}

// sequence runs ~SEQ(var, [start,] [step,] end) over the rest of the line.
func (r *reader) sequence(l line, m []string, depth int) {
	at := l[0].pos
	hex := m[1] == "x"
	parts := strings.Split(m[2], ",")
	for i := range parts {
		parts[i] = strings.TrimSpace(parts[i])
	}
	bad := func(format string, args ...any) {
		r.errorf(at, "Invalid ~SEQ", format+" Write ~SEQ(VAR, START, STEP, END), START and STEP optional.", args...)
	}
	if len(parts) < 2 || len(parts) > 4 || !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`).MatchString(parts[0]) {
		bad("%q is not a variable name followed by one to three numbers.", m[2])
		return
	}
	var nums []int64
	for _, p := range parts[1:] {
		n, err := strconv.ParseInt(p, 0, 64)
		if err != nil || n > 1<<40 || n < -(1<<40) {
			bad("%q is not an integer.", p)
			return
		}
		nums = append(nums, n)
	}
	var start, step, end int64
	switch len(nums) {
	case 1:
		end = nums[0]
		start = 1
		if end < 0 {
			start = -1
		}
	case 2:
		start, end = nums[0], nums[1]
	case 3:
		start, step, end = nums[0], nums[1], nums[2]
	}
	if step == 0 {
		step = 1
		if end < start {
			step = -1
		}
	}
	if (step > 0 && end < start) || (step < 0 && end > start) {
		return // an empty sequence, as keepalived runs it
	}
	if (end-start)/step >= maxSeqSteps {
		bad("The sequence has more than %d steps.", maxSeqSteps)
		return
	}
	rest := l[utf8.RuneCountInString(m[0]):]
	for v := start; (step > 0 && v <= end) || (step < 0 && v >= end); v += step {
		if hex {
			r.define(parts[0], strconv.FormatInt(v, 16))
		} else {
			r.define(parts[0], strconv.FormatInt(v, 10))
		}
		r.process(rest, depth+1)
		if r.lines > maxLines {
			return
		}
	}
}

// substitute replaces ${NAME} anywhere and $NAME before a space or the
// end of the line, when NAME is defined; the new characters carry the
// position of the reference.
func (r *reader) substitute(l line, at Pos) (line, bool) {
	var out line
	changed := false
	for i := 0; i < len(l); i++ {
		if l[i].r != '$' {
			out = append(out, l[i])
			continue
		}
		name, end, braced := "", i+1, false
		if end < len(l) && l[end].r == '{' {
			braced = true
			j := end + 1
			for j < len(l) && l[j].r != '}' {
				j++
			}
			if j == len(l) {
				out = append(out, l[i])
				continue
			}
			name, end = line(l[end+1:j]).String(), j+1
		} else {
			j := end
			for j < len(l) && !isSpace(l[j].r) {
				j++
			}
			name, end = line(l[end:j]).String(), j
		}
		val, ok := r.lookup(name, braced, l[i].pos)
		if !ok {
			out = append(out, l[i])
			continue
		}
		if len(out)+len(val) > maxLineLen {
			r.errorf(at, "Line too long after substitution", "Substituting $PARAMs makes this line longer than %d characters; a parameter probably refers to itself.", maxLineLen)
			return nil, true
		}
		for _, c := range val {
			out = append(out, pchar{c, l[i].pos})
		}
		changed = true
		i = end - 1
	}
	return out, changed
}

func (r *reader) lookup(name string, braced bool, at Pos) (string, bool) {
	if v, ok := r.params[name]; ok {
		return v, true
	}
	switch {
	case name == "_PWD":
		return filepath.Dir(at.File), true
	case name == "_INSTANCE":
		return r.id, true
	case name == "_HASH":
		return "#", true
	case name == "_BANG":
		return "!", true
	case braced && (name == "_RANDOM" || strings.HasPrefix(name, "_RANDOM ")):
		// A random number would make two imports of one file differ.
		r.errorf(at, "${_RANDOM} is not supported", "The importer gives the same output for the same input; write a fixed number instead.")
		return "0", true
	}
	return "", false
}

func splitLines(l line) []line {
	var out []line
	start := 0
	for i, c := range l {
		if c.r == '\n' {
			out = append(out, l[start:i])
			start = i + 1
		}
	}
	return append(out, l[start:])
}

func isInclude(s string) bool {
	switch s {
	case "include", "includer", "includem", "includew", "includeb", "includea":
		return true
	}
	return false
}

// include reads the files an include line names, relative to the
// directory of the file the line is in, in sorted order as glob() does.
func (r *reader) include(l line) {
	at := l[0].pos
	n := 0
	for n < len(l) && !isSpace(l[n].r) {
		n++
	}
	arg := line(l[n:]).trimLeft()
	pat := arg.String()
	if len(pat) >= 2 && pat[0] == '"' && pat[len(pat)-1] == '"' {
		pat = pat[1 : len(pat)-1]
	}
	if pat == "" || strings.ContainsAny(pat, " \t\"") {
		r.errorf(at, "Invalid include", "include takes one file name or pattern; write one include per line.")
		return
	}
	patAt := arg[0].pos
	dir := filepath.Dir(patAt.File)
	var matches []string
	for _, p := range expandBraces(pat) {
		if !filepath.IsAbs(p) {
			p = filepath.Join(dir, p)
		}
		if !hasGlob(p) {
			matches = append(matches, p)
			continue
		}
		m, err := r.fs.Glob(p)
		if err != nil {
			r.errorf(patAt, "Invalid include pattern", "%v; fix the pattern %q.", err, pat)
			return
		}
		sort.Strings(m)
		matches = append(matches, m...)
	}
	if len(matches) == 0 {
		r.warnf(patAt, "Include matches no file", "No file matches %q (relative to %s); keepalived reads nothing here either.", pat, dir)
		return
	}
	for _, m := range matches {
		r.readFile(m, patAt)
	}
}

func hasGlob(s string) bool { return strings.ContainsAny(s, "*?[") }

// expandBraces expands csh-style {a,b} alternatives, as keepalived's glob
// does; unbalanced braces are left as written.
func expandBraces(s string) []string {
	open := strings.IndexByte(s, '{')
	if open < 0 {
		return []string{s}
	}
	depth, close, commas := 0, -1, []int{}
	for i := open; i < len(s) && close < 0; i++ {
		switch s[i] {
		case '{':
			depth++
		case '}':
			depth--
			if depth == 0 {
				close = i
			}
		case ',':
			if depth == 1 {
				commas = append(commas, i)
			}
		}
	}
	if close < 0 {
		return []string{s}
	}
	var out []string
	prev := open + 1
	for _, c := range append(commas, close) {
		for _, tail := range expandBraces(s[prev:c] + s[close+1:]) {
			out = append(out, s[:open]+tail)
		}
		prev = c + 1
		if len(out) > 1000 {
			break
		}
	}
	return out
}

// tokens splits a line into words; '{' and '}' are words of their own
// outside quotes, and a quoted string is one word.
func (r *reader) tokens(l line) ([]Token, bool) {
	var toks []Token
	var cur *Token
	var b strings.Builder
	flush := func(end Pos) {
		if cur != nil {
			cur.Text = b.String()
			cur.End = end
			toks = append(toks, *cur)
			cur = nil
			b.Reset()
		}
	}
	after := func(i int) Pos {
		p := l[i].pos
		p.Col++
		p.Byte += utf8.RuneLen(l[i].r)
		return p
	}
	for i := 0; i < len(l); i++ {
		c := l[i]
		switch {
		case isSpace(c.r):
			flush(c.pos)
		case c.r == '$' && i+1 < len(l) && l[i+1].r == '{':
			// An undefined ${PARAM} stays as written, braces and all.
			if cur == nil {
				cur = &Token{Pos: c.pos}
			}
			for ; i < len(l) && !isSpace(l[i].r); i++ {
				b.WriteRune(l[i].r)
				if l[i].r == '}' {
					break
				}
			}
			if i == len(l) || isSpace(l[i].r) {
				i--
			}
		case c.r == '{' || c.r == '}':
			flush(c.pos)
			toks = append(toks, Token{Text: string(c.r), Pos: c.pos, End: after(i)})
		case c.r == '"':
			if cur == nil {
				cur = &Token{Pos: c.pos}
			}
			cur.Quoted = true
			j := i + 1
			for j < len(l) && l[j].r != '"' {
				b.WriteRune(l[j].r)
				j++
			}
			if j == len(l) {
				r.errorf(c.pos, "Unterminated string", "This quote is not closed on its line; add the closing '\"'.")
				return nil, false
			}
			i = j
		default:
			if cur == nil {
				cur = &Token{Pos: c.pos}
			}
			b.WriteRune(c.r)
		}
	}
	if len(l) > 0 {
		flush(after(len(l) - 1))
	}
	return toks, true
}

// parser builds nodes from the token stream.
type parser struct {
	toks  []Token
	i     int
	diags Diags
}

func (p *parser) errorf(at Pos, summary, format string, args ...any) {
	p.diags = append(p.diags, &Diag{Severity: Error, Pos: at, End: at, Summary: summary, Detail: fmt.Sprintf(format, args...)})
}

func isBrace(t Token, b string) bool { return !t.Quoted && t.Text == b }

// body reads nodes up to the '}' that closes open (nil: the top level).
func (p *parser) body(open *Node) []*Node {
	var nodes []*Node
	for p.i < len(p.toks) {
		t := p.toks[p.i]
		p.i++
		switch {
		case isBrace(t, "}"):
			if open == nil {
				p.errorf(t.Pos, "Unexpected '}'", "This '}' closes no block; remove it or add the missing '{'.")
				continue
			}
			open.Close = t.Pos
			return nodes
		case isBrace(t, "{"):
			// A brace at the start of a line opens the previous keyword's
			// block when that keyword ended its line.
			if n := len(nodes); n > 0 && !nodes[n-1].Block && p.i >= 2 && p.toks[p.i-2].eol {
				nodes[n-1].Block = true
				nodes[n-1].Children = p.body(nodes[n-1])
				continue
			}
			p.errorf(t.Pos, "Unexpected '{'", "This '{' follows no keyword; put it after the keyword whose block it opens.")
			p.body(&Node{}) // skip the block
			continue
		}
		n := &Node{Keyword: t, Comment: t.comment}
		nodes = append(nodes, n)
		last := t
		for !last.eol && p.i < len(p.toks) {
			a := p.toks[p.i]
			if isBrace(a, "{") || isBrace(a, "}") {
				break
			}
			p.i++
			n.Args = append(n.Args, a)
			last = a
		}
		if !last.eol && p.i < len(p.toks) && isBrace(p.toks[p.i], "{") {
			p.i++
			n.Block = true
			n.Children = p.body(n)
		}
	}
	if open != nil && open.Keyword.Text != "" {
		p.errorf(open.Keyword.Pos, "Block not closed", "The block of %s is never closed; add the missing '}'.", open.Keyword.Text)
	}
	return nodes
}
