package config

import (
	"bytes"
	"encoding"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// The fast path: configurations as they are written (blocks with labels,
// attributes whose values are strings, numbers, bools, lists and maps of
// those, comments) are read and decoded in one pass, straight into the
// structs of types.go, with the same values and the same ranges in every
// Source that hclsyntax and the decoder give. hclsyntax first turns the
// whole file into a slice of tokens (counting grapheme clusters for every
// column) and a syntax tree three times the size of the configuration: at
// 36k real servers that was most of a load's time and memory. Anything
// else (expressions, templates, heredocs, one-line blocks, non-ASCII, CR,
// a value of another type than the field's, an unknown name, any syntax
// error) stops the fast path, and the files are decoded the slow way,
// which is also what reports the errors. TestStreamDecodesAsHCL and
// FuzzStreamDecode hold the two to the same result.

// fastASCII reports whether src has only the bytes the fast path counts
// columns for: printable ASCII, tabs and newlines.
func fastASCII(src []byte) bool {
	for _, c := range src {
		if c >= 0x80 || c == '\r' || (c < ' ' && c != '\n' && c != '\t') {
			return false
		}
	}
	return true
}

type fastParser struct {
	src       []byte
	file      string
	pos       int // byte offset
	line      int
	lineStart int // byte offset of the line's first byte
	// attrs is a stack of the attribute spans of the blocks being read
	// (a nested block's above its parent's): each block takes a copy of
	// its own, and 36k blocks make no garbage growing theirs.
	attrs []attrSpan
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
	b, r := p.identBytes()
	return string(b), r
}

// identBytes is ident without a copy: for names looked up in the schema
// (a string per name was a third of a load's garbage).
func (p *fastParser) identBytes() ([]byte, hcl.Range) {
	start := p.at()
	for p.pos < len(p.src) && isIdentByte(p.src[p.pos]) {
		p.pos++
	}
	return p.src[start.Byte:p.pos], p.rng(start)
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

// stream decodes the files into cfg on the fast path; false means it
// could not, and cfg is to be thrown away.
func (d *decoder) stream(srcs []source, cfg *Config) bool {
	v := reflect.ValueOf(cfg).Elem()
	top := infoOf(v.Type())
	first := map[string]bool{} // once-only blocks seen
	for _, s := range srcs {
		if !fastASCII(s.data) {
			return false
		}
		p := &fastParser{src: s.data, file: s.name, line: 1}
		for {
			if !p.space() {
				return false
			}
			if ok, eof := p.lineEnd(); ok {
				if eof {
					break
				}
				continue
			}
			if !isIdentStart(p.peek()) {
				return false
			}
			typ, typeRange := p.identBytes()
			f, ok := top.fieldBytes(typ)
			if !ok || f.kind == kindAttr || !p.space() || !p.child(d, v, f, typeRange, first) {
				return false
			}
		}
	}
	for _, f := range top.fields {
		if f.kind == kindBlock && !first[f.name] && v.Field(f.index).Kind() != reflect.Pointer {
			d.body(hcl.EmptyBody(), v.Field(f.index), nil)
		}
	}
	return true
}

// fieldBytes is field for a name in the source's bytes (the map lookup
// makes no string of them).
func (bi *blockInfo) fieldBytes(name []byte) (fieldInfo, bool) {
	i, ok := bi.byName[string(name)]
	if !ok {
		return fieldInfo{}, false
	}
	return bi.fields[i], true
}

// field finds the schema field an attribute or block name stands for.
func (bi *blockInfo) field(name string) (fieldInfo, bool) {
	i, ok := bi.byName[name]
	if !ok {
		return fieldInfo{}, false
	}
	return bi.fields[i], true
}

// child decodes a nested block of field f of v (its type has been read):
// one more of a repeated block, or the only one of a once-only block.
func (p *fastParser) child(d *decoder, v reflect.Value, f fieldInfo, typeRange hcl.Range, seen map[string]bool) bool {
	field := v.Field(f.index)
	if f.kind == kindBlocks {
		elem := reflect.New(f.typ.Elem().Elem())
		if !p.block(d, elem.Elem(), typeRange) {
			return false
		}
		field.Set(reflect.Append(field, elem))
		return true
	}
	if seen[f.name] {
		return false // a duplicate: the slow path says so
	}
	seen[f.name] = true
	if field.Kind() == reflect.Pointer {
		field.Set(reflect.New(f.typ.Elem()))
		field = field.Elem()
	}
	return p.block(d, field, typeRange)
}

// block decodes a block whose type has been read: labels, then the body
// in its multi-line form, into v.
func (p *fastParser) block(d *decoder, v reflect.Value, typeRange hcl.Range) bool {
	info := infoOf(v.Type())
	src := Source{}
	var labelBuf [2]string
	var rangeBuf [2]hcl.Range
	labels, labelRanges := labelBuf[:0], rangeBuf[:0]
	for p.peek() != '{' {
		var s string
		var r hcl.Range
		switch c := p.peek(); {
		case c == '"':
			var ok bool
			if s, r, ok = p.quoted(); !ok {
				return false
			}
		case isIdentStart(c):
			s, r = p.ident()
		default:
			return false
		}
		labels = append(labels, s)
		labelRanges = append(labelRanges, r)
		if !p.space() {
			return false
		}
	}
	def := typeRange
	if n := len(labelRanges); n > 0 {
		def = hcl.RangeBetween(typeRange, labelRanges[n-1])
	}
	src.setBlock(def, labelRanges)
	base := len(p.attrs)
	defer func() { p.attrs = p.attrs[:base] }()
	// Labels go to the label fields in order; the first is the kind that
	// `only` is about (a check's type).
	kind, li := "", 0
	for _, f := range info.fields {
		if f.kind != kindLabel {
			continue
		}
		if li >= len(labels) {
			return false
		}
		field := f.to(v)
		if f.enum != nil {
			if !slices.Contains(f.enum, labels[li]) {
				return false
			}
		} else if strings.TrimSpace(labels[li]) == "" {
			return false
		}
		field.SetString(labels[li])
		if li == 0 {
			kind = labels[li]
		}
		li++
	}
	if li != len(labels) {
		return false
	}
	p.pos++ // the brace
	// Only the multi-line form: a one-line block is hclsyntax's business.
	if !p.space() {
		return false
	}
	if ok, eof := p.lineEnd(); (!ok || eof) && p.peek() != '}' {
		return false
	}
	once := map[string]bool{}
	for {
		if !p.space() {
			return false
		}
		if ok, eof := p.lineEnd(); ok {
			if eof {
				return false
			}
			continue
		}
		if p.peek() == '}' {
			p.pos++
			break
		}
		if !isIdentStart(p.peek()) {
			return false
		}
		nameBytes, nameRange := p.identBytes()
		f, ok := info.fieldBytes(nameBytes)
		if !ok || !p.space() {
			return false
		}
		name := f.name // the schema's string
		switch f.kind {
		case kindAttr:
			if p.peek() != '=' || p.peek2() == '=' || slices.ContainsFunc(p.attrs[base:], func(a attrSpan) bool { return a.name == name }) {
				return false
			}
			applies := len(f.only) == 0 || slices.Contains(f.only, kind) || kind == ""
			if !applies && slices.Contains(CheckType("").Values(), kind) {
				return false
			}
			p.pos++
			if !p.space() {
				return false
			}
			start := p.at()
			if !p.value(f.to(v), name, &src) || !p.followable() {
				return false
			}
			p.attrs = append(p.attrs, attrSpan{f.name, toSpan(p.rng(start))})
			if !p.space() {
				return false
			}
			if ok, _ := p.lineEnd(); !ok {
				return false
			}
		case kindBlock, kindBlocks:
			if p.peek() == '=' || !p.child(d, v, f, nameRange, once) {
				return false
			}
		default:
			return false
		}
	}
	if !p.space() {
		return false
	}
	if ok, _ := p.lineEnd(); !ok {
		return false
	}
	if n := len(p.attrs) - base; n > 0 {
		src.attrs = slices.Clone(p.attrs[base:])
	}
	// What was not written: required ones stop the fast path (the slow
	// one says so), the rest get their defaults, as in decoder.body.
	for _, f := range info.fields {
		switch f.kind {
		case kindAttr:
			if src.Has(f.name) {
				continue
			}
			if f.required {
				return false
			}
			if f.hasDef && (len(f.only) == 0 || slices.Contains(f.only, kind) || kind == "") {
				d.def(f, f.to(v))
			}
		case kindBlock:
			field := v.Field(f.index)
			if !once[f.name] && field.Kind() != reflect.Pointer {
				n := len(d.diags)
				d.body(hcl.EmptyBody(), field, nil)
				if len(d.diags) > n {
					return false
				}
			}
		}
	}
	if info.source >= 0 {
		// Through a pointer: reflect.ValueOf(src) would box a copy on the heap.
		*v.Field(info.source).Addr().Interface().(*Source) = src
	}
	return true
}

// value decodes one attribute's value into field: only a literal of the
// field's own type, which the slow path would take as it is.
func (p *fastParser) value(field reflect.Value, name string, src *Source) bool {
	t := field.Type()
	switch {
	case t.Kind() == reflect.Slice && !isText(t):
		return p.list(field, name, src)
	case t.Kind() == reflect.Map:
		return p.dict(field)
	}
	return p.scalar(field)
}

// scalar mirrors decoder.scalar for the literal its type takes.
func (p *fastParser) scalar(field reflect.Value) bool {
	t := field.Type()
	switch t.Kind() {
	case reflect.Bool:
		if !isIdentStart(p.peek()) {
			return false
		}
		switch w, _ := p.identBytes(); string(w) {
		case "true":
			field.SetBool(true)
		case "false":
			field.SetBool(false)
		default:
			return false
		}
		return true
	case reflect.Int:
		start := p.pos
		if p.peek() == '-' {
			p.pos++
		}
		digits := p.pos
		for p.pos < len(p.src) && p.src[p.pos] >= '0' && p.src[p.pos] <= '9' {
			p.pos++
		}
		if p.pos == digits || isIdentByte(p.peek()) || p.peek() == '.' {
			return false
		}
		n, err := strconv.ParseInt(string(p.src[start:p.pos]), 10, 64)
		if err != nil || n > 1<<40 || n < -(1<<40) {
			return false
		}
		field.SetInt(n)
		return true
	}
	if p.peek() != '"' {
		return false
	}
	s, _, ok := p.quoted()
	if !ok {
		return false
	}
	switch {
	case t == durationType:
		dur, err := time.ParseDuration(s)
		if err != nil || dur < 0 {
			return false
		}
		field.SetInt(int64(dur))
	case isText(t):
		if t == reflect.TypeFor[netipPrefix]() && !strings.Contains(s, "/") {
			s = hostPrefix(s)
		}
		if field.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)) != nil {
			return false
		}
	case t.Implements(enumType):
		if !slices.Contains(field.Interface().(interface{ Values() []string }).Values(), s) {
			return false
		}
		field.SetString(s)
	case t.Kind() == reflect.String:
		field.SetString(s)
	default:
		return false
	}
	return true
}

// list mirrors decoder.list for a bracketed list of literals.
func (p *fastParser) list(field reflect.Value, name string, src *Source) bool {
	if p.peek() != '[' {
		return false
	}
	p.pos++
	et := field.Type().Elem()
	var elems []reflect.Value
	var ranges []hcl.Range
	for {
		if !p.gap() {
			return false
		}
		if p.peek() == ']' {
			p.pos++
			break
		}
		start := p.at()
		e := reflect.New(et).Elem()
		if !p.scalar(e) {
			return false
		}
		elems = append(elems, e)
		ranges = append(ranges, p.rng(start))
		if !p.gap() {
			return false
		}
		switch p.peek() {
		case ',':
			p.pos++
		case ']':
		default:
			return false
		}
	}
	out := reflect.MakeSlice(field.Type(), 0, len(elems))
	for _, e := range elems {
		out = reflect.Append(out, e)
	}
	field.Set(out)
	src.setElems(name, ranges)
	return true
}

// dict mirrors decoder.dict for a map of strings written as an object of
// string literals.
func (p *fastParser) dict(field reflect.Value) bool {
	t := field.Type()
	if t.Key().Kind() != reflect.String || t.Elem().Kind() != reflect.String ||
		isText(t.Key()) || isText(t.Elem()) || t.Key().Implements(enumType) || t.Elem().Implements(enumType) {
		return false
	}
	if p.peek() != '{' {
		return false
	}
	p.pos++
	out := reflect.MakeMap(t)
	for {
		if !p.gap() {
			return false
		}
		if p.peek() == '}' {
			p.pos++
			break
		}
		var key string
		switch c := p.peek(); {
		case c == '"':
			k, _, ok := p.quoted()
			if !ok {
				return false
			}
			key = k
		case isIdentStart(c):
			key, _ = p.ident()
			if key == "true" || key == "false" || key == "null" {
				return false
			}
		default:
			return false
		}
		if !p.space() {
			return false
		}
		if c := p.peek(); (c != '=' || p.peek2() == '=') && c != ':' {
			return false
		}
		p.pos++
		if !p.space() || p.peek() != '"' {
			return false
		}
		val, _, ok := p.quoted()
		if !ok || out.MapIndex(reflect.ValueOf(key)).IsValid() {
			return false
		}
		out.SetMapIndex(reflect.ValueOf(key).Convert(t.Key()), reflect.ValueOf(val).Convert(t.Elem()))
		if !p.space() {
			return false
		}
		switch c := p.peek(); {
		case c == ',':
			p.pos++
		case c == '}':
		default:
			// A newline (or a comment ending the line) also separates items.
			if ok, eof := p.lineEnd(); !ok || eof {
				return false
			}
		}
	}
	field.Set(out)
	return true
}
