package config

import (
	"bytes"
	"strconv"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// fastParse reads the part of HCL that configurations are written in
// (blocks with labels, attributes whose values are strings, numbers, bools,
// lists and maps of those, comments) straight into hclsyntax's tree, the
// same nodes and ranges hclsyntax.ParseConfig builds. hclsyntax first
// turns the whole file into a slice of tokens, with grapheme clusters
// counted for every column: at 36k real servers that was most of a
// load's time and memory. Anything else (expressions, templates,
// heredocs, single-line blocks, non-ASCII, CR, any syntax error) returns
// false and the caller parses with hclsyntax, which is also what reports
// the errors. FuzzFastParse holds the two to the same tree.
func fastParse(src []byte, filename string) (*hcl.File, bool) {
	if !fastASCII(src) {
		return nil, false
	}
	p := &fastParser{src: src, file: filename, line: 1}
	body, ok := p.body(true)
	if !ok {
		return nil, false
	}
	return &hcl.File{Body: body, Bytes: src}, true
}

// fastASCII reports whether src has only the bytes fastParse counts
// columns for: printable ASCII, tabs and newlines.
func fastASCII(src []byte) bool {
	for _, c := range src {
		if c >= 0x80 || c == '\r' || (c < ' ' && c != '\n' && c != '\t') {
			return false
		}
	}
	return true
}

// topBlock reads the next block of the top level, for decoding it before
// the next is read; eof at the end. A top-level attribute is not ok: the
// top level takes none, and hclsyntax says so.
func (p *fastParser) topBlock() (blk *hclsyntax.Block, eof, ok bool) {
	for {
		if !p.space() {
			return nil, false, false
		}
		if ok, eof := p.lineEnd(); ok {
			if eof {
				return nil, true, true
			}
			continue
		}
		if !isIdentStart(p.peek()) {
			return nil, false, false
		}
		name, nameRange := p.ident()
		if !p.space() || p.peek() == '=' {
			return nil, false, false
		}
		blk, ok := p.block(name, nameRange)
		return blk, false, ok
	}
}

type fastParser struct {
	src       []byte
	file      string
	pos       int // byte offset
	line      int
	lineStart int // byte offset of the line's first byte
}

func (p *fastParser) at() hcl.Pos {
	return hcl.Pos{Line: p.line, Column: p.pos - p.lineStart + 1, Byte: p.pos}
}

func (p *fastParser) rng(start hcl.Pos) hcl.Range {
	return hcl.Range{Filename: p.file, Start: start, End: p.at()}
}

func (p *fastParser) peek() byte {
	if p.pos < len(p.src) {
		return p.src[p.pos]
	}
	return 0
}

func (p *fastParser) peek2() byte {
	if p.pos+1 < len(p.src) {
		return p.src[p.pos+1]
	}
	return 0
}

func (p *fastParser) newline() {
	p.pos++
	p.line++
	p.lineStart = p.pos
}

// space skips blanks and /* */ comments on the way to the next token;
// it reports false on an unclosed comment.
func (p *fastParser) space() bool {
	for p.pos < len(p.src) {
		switch c := p.src[p.pos]; {
		case c == ' ' || c == '\t':
			p.pos++
		case c == '/' && p.peek2() == '*':
			end := bytes.Index(p.src[p.pos+2:], []byte("*/"))
			if end < 0 {
				return false
			}
			stop := p.pos + 2 + end + 2
			for p.pos < stop {
				if p.src[p.pos] == '\n' {
					p.newline()
				} else {
					p.pos++
				}
			}
		default:
			return true
		}
	}
	return true
}

// lineEnd consumes a newline, or a # or // comment with its newline, and
// reports whether one was there. At the end of the file it reports eof.
func (p *fastParser) lineEnd() (ok, eof bool) {
	switch c := p.peek(); {
	case p.pos >= len(p.src):
		return true, true
	case c == '\n':
		p.newline()
		return true, false
	case c == '#' || (c == '/' && p.peek2() == '/'):
		for p.pos < len(p.src) && p.src[p.pos] != '\n' {
			p.pos++
		}
		if p.pos < len(p.src) {
			p.newline()
			return true, false
		}
		return true, true
	}
	return false, false
}

// gap skips everything that separates items where newlines do not count
// (inside brackets and braces of values).
func (p *fastParser) gap() bool {
	for {
		if !p.space() {
			return false
		}
		if ok, eof := p.lineEnd(); !ok || eof {
			return true
		}
	}
}

func isIdentStart(c byte) bool {
	return c == '_' || (c|0x20 >= 'a' && c|0x20 <= 'z')
}

func isIdentByte(c byte) bool {
	return isIdentStart(c) || c == '-' || (c >= '0' && c <= '9')
}

func (p *fastParser) ident() (string, hcl.Range) {
	start := p.at()
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
		p.pos++
	}
	return string(p.src[start.Byte:p.pos]), p.rng(start)
}

// body reads items up to the end of the file (top) or the closing brace,
// which it consumes.
func (p *fastParser) body(top bool) (*hclsyntax.Body, bool) {
	b := &hclsyntax.Body{Attributes: hclsyntax.Attributes{}, Blocks: hclsyntax.Blocks{}}
	// hclsyntax's body starts at the token before it (the open brace, or
	// the start of the file) and ends at its closing brace or end of file.
	start := p.at()
	if !top {
		start.Byte--
		start.Column--
	} else {
		start = p.firstToken()
	}
	for {
		if !p.space() {
			return nil, false
		}
		if ok, eof := p.lineEnd(); ok {
			if !eof {
				continue
			}
			if !top {
				return nil, false
			}
			end := p.rng(p.at())
			b.SrcRange = hcl.RangeBetween(hcl.Range{Filename: p.file, Start: start, End: start}, end)
			b.EndRange = end
			return b, true
		}
		c := p.peek()
		if c == '}' {
			if top {
				return nil, false
			}
			open := p.at()
			p.pos++
			closing := p.rng(open)
			b.SrcRange = hcl.RangeBetween(hcl.Range{Filename: p.file, Start: start, End: start}, closing)
			b.EndRange = hcl.Range{Filename: p.file, Start: closing.End, End: closing.End}
			return b, true
		}
		if !isIdentStart(c) {
			return nil, false
		}
		name, nameRange := p.ident()
		if !p.space() {
			return nil, false
		}
		if p.peek() == '=' && p.peek2() != '=' {
			a, ok := p.attribute(name, nameRange)
			if !ok {
				return nil, false
			}
			if _, dup := b.Attributes[name]; dup {
				return nil, false
			}
			b.Attributes[name] = a
			continue
		}
		blk, ok := p.block(name, nameRange)
		if !ok {
			return nil, false
		}
		b.Blocks = append(b.Blocks, blk)
	}
}

// firstToken is where the file's first token starts, which is where
// hclsyntax starts the top-level body: blanks and /* */ comments are not
// tokens to it, and a # comment without a newline at the end is skipped.
func (p *fastParser) firstToken() hcl.Pos {
	q := *p
	q.space()
	if c := q.peek(); c == '#' || (c == '/' && q.peek2() == '/') {
		if bytes.IndexByte(q.src[q.pos:], '\n') < 0 {
			q.pos = len(q.src)
			q.space()
		}
	}
	return q.at()
}

func (p *fastParser) attribute(name string, nameRange hcl.Range) (*hclsyntax.Attribute, bool) {
	eqStart := p.at()
	p.pos++
	eq := p.rng(eqStart)
	if !p.space() {
		return nil, false
	}
	expr, ok := p.expr()
	if !ok || !p.space() {
		return nil, false
	}
	if ok, _ := p.lineEnd(); !ok {
		return nil, false
	}
	return &hclsyntax.Attribute{
		Name: name, Expr: expr,
		SrcRange: hcl.RangeBetween(nameRange, expr.Range()), NameRange: nameRange, EqualsRange: eq,
	}, true
}

func (p *fastParser) block(typ string, typeRange hcl.Range) (*hclsyntax.Block, bool) {
	blk := &hclsyntax.Block{Type: typ, TypeRange: typeRange}
	for {
		switch c := p.peek(); {
		case c == '"':
			s, r, ok := p.quoted()
			if !ok {
				return nil, false
			}
			blk.Labels = append(blk.Labels, s)
			blk.LabelRanges = append(blk.LabelRanges, r)
		case isIdentStart(c):
			s, r := p.ident()
			blk.Labels = append(blk.Labels, s)
			blk.LabelRanges = append(blk.LabelRanges, r)
		case c == '{':
			open := p.at()
			p.pos++
			blk.OpenBraceRange = p.rng(open)
			// Only the multi-line form: a one-line block's body is
			// hclsyntax's business.
			mark := *p
			if !p.space() {
				return nil, false
			}
			if ok, eof := p.lineEnd(); (!ok || eof) && p.peek() != '}' {
				return nil, false
			}
			*p = mark
			body, ok := p.body(false)
			if !ok {
				return nil, false
			}
			blk.Body = body
			blk.CloseBraceRange = hcl.Range{Filename: p.file, Start: hcl.Pos{Line: p.line, Column: p.pos - p.lineStart, Byte: p.pos - 1}, End: p.at()}
			if !p.space() {
				return nil, false
			}
			if ok, _ := p.lineEnd(); !ok {
				return nil, false
			}
			return blk, true
		default:
			return nil, false
		}
		if !p.space() {
			return nil, false
		}
	}
}

// expr reads one value; what may follow it is the caller's to check, so
// an operator after it ends the fast path there.
func (p *fastParser) expr() (hclsyntax.Expression, bool) {
	start := p.at()
	switch c := p.peek(); {
	case c == '"':
		return p.template()
	case c >= '0' && c <= '9':
		return p.number()
	case c == '-' && p.peek2() >= '0' && p.peek2() <= '9':
		p.pos++
		minus := p.rng(start)
		num, ok := p.number()
		if !ok {
			return nil, false
		}
		return &hclsyntax.UnaryOpExpr{Op: hclsyntax.OpNegate, Val: num, SrcRange: hcl.RangeBetween(minus, num.Range()), SymbolRange: minus}, true
	case c == '[':
		return p.tuple()
	case c == '{':
		return p.object()
	case isIdentStart(c):
		name, r := p.ident()
		var v cty.Value
		switch name {
		case "true":
			v = cty.True
		case "false":
			v = cty.False
		case "null":
			v = cty.NullVal(cty.DynamicPseudoType)
		default:
			return nil, false // a variable or function: hclsyntax's
		}
		return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: r}, p.followable()
	}
	return nil, false
}

// followable reports whether what follows a value is not something that
// would make it part of a larger expression (an operator, an index, a
// call): only then is the value the whole expression.
func (p *fastParser) followable() bool {
	mark := *p
	defer func() { *p = mark }()
	if !p.space() {
		return false
	}
	switch p.peek() {
	case 0, '\n', '#', ',', ']', '}', '=', ':':
		return p.peek() != '=' || p.peek2() != '='
	case '/':
		return p.peek2() == '/'
	}
	return false
}

func (p *fastParser) number() (hclsyntax.Expression, bool) {
	start := p.at()
	digits := func() int {
		n := 0
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
			n++
		}
		return n
	}
	digits()
	if p.peek() == '.' {
		p.pos++
		if digits() == 0 {
			return nil, false
		}
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if digits() == 0 {
			return nil, false
		}
	}
	if isIdentByte(p.peek()) || p.peek() == '.' {
		return nil, false
	}
	v, err := cty.ParseNumberVal(string(p.src[start.Byte:p.pos]))
	if err != nil {
		return nil, false
	}
	return &hclsyntax.LiteralValueExpr{Val: v, SrcRange: p.rng(start)}, p.followable()
}

// quoted reads a string without template sequences: its value and its
// range, quotes included.
func (p *fastParser) quoted() (string, hcl.Range, bool) {
	start := p.at()
	p.pos++
	var sb strings.Builder
	plain := p.pos // the run of bytes with no escape, not yet copied
	for {
		if p.pos >= len(p.src) {
			return "", hcl.Range{}, false
		}
		switch c := p.src[p.pos]; c {
		case '"':
			s := string(p.src[plain:p.pos])
			if sb.Len() > 0 {
				sb.WriteString(s)
				s = sb.String()
			}
			p.pos++
			return s, p.rng(start), true
		case '\n':
			return "", hcl.Range{}, false
		case '$', '%':
			if p.peek2() == '{' {
				return "", hcl.Range{}, false
			}
			p.pos++
		case '\\':
			sb.Write(p.src[plain:p.pos])
			r, n := unescape(p.src[p.pos:])
			if n == 0 {
				return "", hcl.Range{}, false
			}
			sb.WriteRune(r)
			p.pos += n
			plain = p.pos
		default:
			p.pos++
		}
	}
}

// unescape decodes one of HCL's escapes at the start of b; n is 0 for one
// it does not know (hclsyntax reports it).
func unescape(b []byte) (r rune, n int) {
	if len(b) < 2 {
		return 0, 0
	}
	switch b[1] {
	case 'n':
		return '\n', 2
	case 'r':
		return '\r', 2
	case 't':
		return '\t', 2
	case '"':
		return '"', 2
	case '\\':
		return '\\', 2
	case 'u', 'U':
		digits := 4
		if b[1] == 'U' {
			digits = 8
		}
		if len(b) < 2+digits {
			return 0, 0
		}
		v, err := strconv.ParseUint(string(b[2:2+digits]), 16, 32)
		if err != nil || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF) {
			return 0, 0
		}
		return rune(v), 2 + digits
	}
	return 0, 0
}

func (p *fastParser) template() (hclsyntax.Expression, bool) {
	s, r, ok := p.quoted()
	if !ok {
		return nil, false
	}
	inner := hcl.Range{Filename: p.file,
		Start: hcl.Pos{Line: r.Start.Line, Column: r.Start.Column + 1, Byte: r.Start.Byte + 1},
		End:   hcl.Pos{Line: r.End.Line, Column: r.End.Column - 1, Byte: r.End.Byte - 1}}
	if r.End.Byte-r.Start.Byte == 2 {
		// hclsyntax's empty string is one empty part after the quotes.
		inner = hcl.Range{Filename: p.file, Start: r.End, End: r.End}
	}
	t := &hclsyntax.TemplateExpr{SrcRange: r, Parts: []hclsyntax.Expression{&hclsyntax.LiteralValueExpr{Val: cty.StringVal(s), SrcRange: inner}}}
	return t, p.followable()
}

func (p *fastParser) tuple() (hclsyntax.Expression, bool) {
	start := p.at()
	p.pos++
	t := &hclsyntax.TupleConsExpr{OpenRange: p.rng(start)}
	for {
		if !p.gap() {
			return nil, false
		}
		if p.peek() == ']' {
			p.pos++
			t.SrcRange = p.rng(start)
			return t, p.followable()
		}
		e, ok := p.expr()
		if !ok {
			return nil, false
		}
		t.Exprs = append(t.Exprs, e)
		if !p.gap() {
			return nil, false
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
		default:
			return nil, false
		}
	}
}

func (p *fastParser) object() (hclsyntax.Expression, bool) {
	start := p.at()
	p.pos++
	o := &hclsyntax.ObjectConsExpr{OpenRange: p.rng(start)}
	for {
		if !p.gap() {
			return nil, false
		}
		if p.peek() == '}' {
			p.pos++
			o.SrcRange = p.rng(start)
			return o, p.followable()
		}
		var key hclsyntax.Expression
		switch c := p.peek(); {
		case c == '"':
			k, ok := p.template()
			if !ok {
				return nil, false
			}
			key = k
		case isIdentStart(c):
			name, r := p.ident()
			if name == "true" || name == "false" || name == "null" {
				return nil, false
			}
			key = &hclsyntax.ScopeTraversalExpr{Traversal: hcl.Traversal{hcl.TraverseRoot{Name: name, SrcRange: r}}, SrcRange: r}
		default:
			return nil, false
		}
		if !p.space() {
			return nil, false
		}
		if c := p.peek(); (c != '=' || p.peek2() == '=') && c != ':' {
			return nil, false
		}
		p.pos++
		if !p.space() {
			return nil, false
		}
		val, ok := p.expr()
		if !ok {
			return nil, false
		}
		o.Items = append(o.Items, hclsyntax.ObjectConsItem{KeyExpr: &hclsyntax.ObjectConsKeyExpr{Wrapped: key}, ValueExpr: val})
		if !p.space() {
			return nil, false
		}
		switch c := p.peek(); {
		case c == ',':
			p.pos++
		case c == '}':
		default:
			// A newline (or a comment ending the line) also separates items.
			if ok, eof := p.lineEnd(); !ok || eof {
				return nil, false
			}
		}
	}
}
