package config

import (
	"encoding"
	"fmt"
	"math/big"
	"reflect"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// Source records where a block and its attributes were written, so that
// checks after decoding can point at the right expression. Only positions
// are kept, not HCL's syntax tree, and compactly: a loaded configuration
// holds what diagnostics need and no more (36k real servers add up).
type Source struct {
	file  string // every position of a block is in its file
	def   span   // the block's type and labels
	label span   // the first label (diagnostics point at no other); zero when none
	attrs []attrSpan
	elems map[string][]hcl.Range // list attributes: one range per element; nil when none
	bad   map[string]bool        // attributes that failed to decode; nil when none
}

// span is an hcl.Range without its file name.
type span struct {
	startLine, startCol, startByte int32
	endLine, endCol, endByte       int32
}

func toSpan(r hcl.Range) span {
	return span{int32(r.Start.Line), int32(r.Start.Column), int32(r.Start.Byte),
		int32(r.End.Line), int32(r.End.Column), int32(r.End.Byte)}
}

func (s *Source) rangeOf(sp span) hcl.Range {
	return hcl.Range{Filename: s.file,
		Start: hcl.Pos{Line: int(sp.startLine), Column: int(sp.startCol), Byte: int(sp.startByte)},
		End:   hcl.Pos{Line: int(sp.endLine), Column: int(sp.endCol), Byte: int(sp.endByte)}}
}

type attrSpan struct {
	name string // the schema's own string: no copy
	expr span
}

// DefRange is the block's type and labels; the zero Range when the block
// was not written (its defaults stand).
func (s *Source) DefRange() hcl.Range {
	if s.file == "" {
		return hcl.Range{}
	}
	return s.rangeOf(s.def)
}

// setBlock records the block's header.
func (s *Source) setBlock(def hcl.Range, labels []hcl.Range) {
	s.file, s.def = def.Filename, toSpan(def)
	if len(labels) > 0 {
		s.label = toSpan(labels[0])
	}
}

func (s *Source) addAttr(name string, expr hcl.Range) {
	if s.file == "" {
		s.file = expr.Filename
	}
	s.attrs = append(s.attrs, attrSpan{name, toSpan(expr)})
}

func (s *Source) attr(name string) (hcl.Range, bool) {
	for _, a := range s.attrs {
		if a.name == name {
			return s.rangeOf(a.expr), true
		}
	}
	return hcl.Range{}, false
}

// forget drops the attributes' positions (Config.Compact).
func (s *Source) forget() { s.attrs, s.elems, s.bad = nil, nil, nil }

// Has reports whether the attribute was written (not defaulted).
func (s *Source) Has(name string) bool { _, ok := s.attr(name); return ok }

func (s *Source) setBad(name string) {
	if s.bad == nil {
		s.bad = map[string]bool{}
	}
	s.bad[name] = true
}

// decoded reports whether none of the attributes failed to decode: checks
// that look across attributes run only on values the operator wrote, not
// on defaults standing in for a mistake already reported.
func (s *Source) decoded(names ...string) bool {
	for _, n := range names {
		if s.bad[n] {
			return false
		}
	}
	return true
}

// Range is the attribute's expression, or the block's label (its type
// when it has none) when the attribute was not written.
func (s *Source) Range(name string) hcl.Range {
	if r, ok := s.attr(name); ok {
		return r
	}
	return s.LabelRange()
}

// ElemRange is the i-th element of a list attribute, or the whole
// attribute when elements cannot be told apart.
func (s *Source) ElemRange(name string, i int) hcl.Range {
	if r := s.elems[name]; i < len(r) {
		return r[i]
	}
	return s.Range(name)
}

func (s *Source) LabelRange() hcl.Range {
	if s.label.startLine > 0 { // lines count from 1
		return s.rangeOf(s.label)
	}
	return s.DefRange()
}

type fieldKind int

const (
	kindAttr fieldKind = iota
	kindLabel
	kindBlock
	kindBlocks
)

type fieldInfo struct {
	index    int // the field of the block's struct
	sub      int // the field within a squashed settings struct at index, or -1
	name     string
	kind     fieldKind
	def      string
	hasDef   bool
	defDoc   string
	required bool
	only     []string
	doc      string
	typ      reflect.Type
	defVal   reflect.Value // def decoded once; copied into each block that omits the attribute
	objects  int           // index of the field taking a mixed list's objects, or -1
	enum     []string      // a label's values when its type is an enum (a check's type)
}

type blockInfo struct {
	fields []fieldInfo
	schema *hcl.BodySchema
	source int            // index of the embedded Source, or -1
	byName map[string]int // attribute, label or block name -> index in fields
}

var (
	infoCache      sync.Map // reflect.Type -> *blockInfo
	sourceType     = reflect.TypeFor[Source]()
	durationType   = reflect.TypeFor[time.Duration]()
	unmarshalerTyp = reflect.TypeFor[encoding.TextUnmarshaler]()
	enumType       = reflect.TypeFor[interface{ Values() []string }]()
)

func infoOf(t reflect.Type) *blockInfo {
	if bi, ok := infoCache.Load(t); ok {
		return bi.(*blockInfo)
	}
	bi := &blockInfo{schema: &hcl.BodySchema{}, source: -1, byName: map[string]int{}}
	for i := range t.NumField() {
		sf := t.Field(i)
		if sf.Type == sourceType {
			bi.source = i
			continue
		}
		if sf.Tag.Get("hcl") == ",squash" {
			// A settings struct behind a pointer: its attributes are the
			// block's own.
			st := sf.Type.Elem()
			for j := range st.NumField() {
				bi.add(t, i, j, st.Field(j))
			}
			continue
		}
		bi.add(t, i, -1, sf)
	}
	infoCache.Store(t, bi)
	return bi
}

// add records field sf of struct t (of the settings struct at index i,
// as its field sub, when sub >= 0).
func (bi *blockInfo) add(t reflect.Type, i, sub int, sf reflect.StructField) {
	tag := sf.Tag.Get("hcl")
	if tag == "" || tag == "-" {
		return
	}
	name, k, _ := strings.Cut(tag, ",")
	f := fieldInfo{index: i, sub: sub, name: name, typ: sf.Type, doc: sf.Tag.Get("doc"), defDoc: sf.Tag.Get("defaultdoc"), objects: -1}
	if o := sf.Tag.Get("objects"); o != "" {
		of, ok := t.FieldByName(o)
		if !ok || sub >= 0 {
			panic("config: no field " + o + " for the objects of " + name)
		}
		f.objects = of.Index[0]
	}
	f.def, f.hasDef = sf.Tag.Lookup("default")
	if f.hasDef {
		f.defVal = decodeDefault(name, f.def, sf.Type)
	}
	f.required = sf.Tag.Get("required") == "true"
	if o := sf.Tag.Get("only"); o != "" {
		f.only = strings.Split(o, ",")
	}
	if sub >= 0 && (k != "" || f.required || f.hasDef && f.only == nil) {
		// Else every block would allocate it.
		panic("config: " + name + ": a squashed settings struct holds optional attributes, with no default unless of some check types only")
	}
	switch k {
	case "":
		f.kind = kindAttr
		bi.schema.Attributes = append(bi.schema.Attributes, hcl.AttributeSchema{Name: name})
	case "label":
		f.kind = kindLabel
		if sf.Type.Implements(enumType) {
			f.enum = reflect.Zero(sf.Type).Interface().(interface{ Values() []string }).Values()
		}
	case "block", "blocks":
		f.kind = kindBlock
		if k == "blocks" {
			f.kind = kindBlocks
		}
		et := f.typ
		for et.Kind() == reflect.Pointer || et.Kind() == reflect.Slice {
			et = et.Elem()
		}
		var labels []string
		for _, lf := range infoOf(et).fields {
			if lf.kind == kindLabel {
				labels = append(labels, lf.name)
			}
		}
		bi.schema.Blocks = append(bi.schema.Blocks, hcl.BlockHeaderSchema{Type: name, LabelNames: labels})
	default:
		panic("config: bad hcl tag " + tag)
	}
	bi.byName[name] = len(bi.fields)
	bi.fields = append(bi.fields, f)
}

// in is f's value in the struct v, to read: an unallocated settings
// struct reads as zero values.
func (f *fieldInfo) in(v reflect.Value) reflect.Value {
	fv := v.Field(f.index)
	if f.sub < 0 {
		return fv
	}
	if fv.IsNil() {
		return reflect.Zero(f.typ)
	}
	return fv.Elem().Field(f.sub)
}

// to is f's field in the struct v, to write: its settings struct is
// allocated when it is not yet.
func (f *fieldInfo) to(v reflect.Value) reflect.Value {
	fv := v.Field(f.index)
	if f.sub < 0 {
		return fv
	}
	if fv.IsNil() {
		fv.Set(reflect.New(fv.Type().Elem()))
	}
	return fv.Elem().Field(f.sub)
}

// decoder turns HCL bodies into the structs of types.go, collecting every
// diagnostic instead of stopping at the first.
type decoder struct {
	diags hcl.Diagnostics
}

func (d *decoder) errorf(r hcl.Range, summary, format string, args ...any) {
	d.diags = append(d.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError, Summary: summary, Detail: fmt.Sprintf(format, args...), Subject: r.Ptr(),
	})
}

// body decodes body into the struct v points at; labels are the block's
// label values (for check blocks, whose type decides which attributes apply).
func (d *decoder) body(body hcl.Body, v reflect.Value, block *hcl.Block) {
	info := infoOf(v.Type())
	content, diags := body.Content(info.schema)
	d.diags = append(d.diags, hintPlacement(diags)...)

	src := &Source{}
	if block != nil {
		src.setBlock(block.DefRange, block.LabelRanges)
	}
	if len(content.Attributes) > 0 {
		src.attrs = make([]attrSpan, 0, len(content.Attributes))
		for _, f := range info.fields {
			if a, ok := content.Attributes[f.name]; ok && f.kind == kindAttr {
				src.addAttr(f.name, a.Expr.Range())
			}
		}
	}
	var kind string // the block's first label, for `only`
	li := 0
	for _, f := range info.fields {
		if f.kind == kindLabel && block != nil && li < len(block.Labels) {
			d.label(block.Labels[li], block.LabelRanges[li], f.to(v), block.Type+" "+f.name)
			if li == 0 {
				kind = block.Labels[li]
			}
			li++
		}
	}

	byType := map[string][]*hcl.Block{}
	for _, b := range content.Blocks {
		byType[b.Type] = append(byType[b.Type], b)
	}

	for _, f := range info.fields {
		var field reflect.Value
		if f.sub < 0 {
			field = v.Field(f.index)
		}
		switch f.kind {
		case kindAttr:
			applies := len(f.only) == 0 || slices.Contains(f.only, kind) || kind == ""
			if a, ok := content.Attributes[f.name]; ok {
				if !applies && slices.Contains(CheckType("").Values(), kind) {
					d.errorf(a.NameRange, "Argument not valid for this check",
						"%q applies to %s checks, not to a %q check.", f.name, strings.Join(f.only, " and "), kind)
					continue
				}
				n := len(d.diags)
				field = f.to(v)
				if side, ok := objectsField(v, f); ok {
					d.mixedList(a.Expr, field, side, f.name, src)
				} else {
					d.attr(a.Expr, field, f.name, src)
				}
				if d.diags[n:].HasErrors() {
					src.setBad(f.name)
					if f.hasDef && applies {
						// Later checks see the default, not a zero value.
						d.def(f, field)
					}
				}
				continue
			}
			if f.required {
				src.setBad(f.name)
				r := src.LabelRange()
				if block == nil {
					r = body.MissingItemRange()
				}
				d.errorf(r, "Missing required argument", "The argument %q is required here; add it to this block.", f.name)
				continue
			}
			if f.hasDef && applies {
				d.def(f, f.to(v))
			}
		case kindBlock:
			bs := byType[f.name]
			for _, extra := range bs[min(1, len(bs)):] {
				d.errorf(extra.DefRange, "Duplicate "+f.name+" block",
					"A %s block may appear only once here; the first is at %s. Merge the two.", f.name, rangeText(bs[0].DefRange))
			}
			if field.Kind() == reflect.Pointer {
				if len(bs) == 0 {
					continue
				}
				field.Set(reflect.New(f.typ.Elem()))
				field = field.Elem()
			}
			if len(bs) == 0 {
				d.body(hcl.EmptyBody(), field, nil)
			} else {
				d.body(bs[0].Body, field, bs[0])
			}
		case kindBlocks:
			for _, b := range byType[f.name] {
				elem := reflect.New(f.typ.Elem().Elem())
				d.body(b.Body, elem.Elem(), b)
				field.Set(reflect.Append(field, elem))
			}
		}
	}
	if info.source >= 0 {
		v.Field(info.source).Set(reflect.ValueOf(*src))
	}
}

// def sets field to the default of its tag: a copy, so that no two
// blocks share a slice or map.
func (d *decoder) def(f fieldInfo, field reflect.Value) {
	v := f.defVal
	switch v.Kind() {
	case reflect.Slice:
		if v.IsNil() {
			field.Set(v)
			return
		}
		c := reflect.MakeSlice(v.Type(), v.Len(), v.Len())
		reflect.Copy(c, v)
		field.Set(c)
	case reflect.Map:
		if v.IsNil() {
			field.Set(v)
			return
		}
		c := reflect.MakeMapWithSize(v.Type(), v.Len())
		for it := v.MapRange(); it.Next(); {
			c.SetMapIndex(it.Key(), it.Value())
		}
		field.Set(c)
	default:
		field.Set(v)
	}
}

// decodeDefault decodes a default tag once, when the schema is first read.
func decodeDefault(name, def string, t reflect.Type) reflect.Value {
	expr, diags := hclsyntax.ParseExpression([]byte(def), "default", hcl.InitialPos)
	if diags.HasErrors() {
		panic("config: bad default for " + name + ": " + diags.Error())
	}
	v := reflect.New(t).Elem()
	d := &decoder{}
	d.attr(expr, v, name, &Source{})
	if d.diags.HasErrors() {
		panic("config: bad default for " + name + ": " + d.diags.Error())
	}
	return v
}

func (d *decoder) label(s string, r hcl.Range, field reflect.Value, name string) {
	if field.Type().Implements(enumType) {
		d.enum(s, r, field, name)
		return
	}
	if strings.TrimSpace(s) == "" {
		d.errorf(r, "Empty "+name, "The %s must not be empty; write it between the quotes.", name)
	}
	field.SetString(s)
}

// attr decodes one attribute's expression into field.
func (d *decoder) attr(expr hcl.Expression, field reflect.Value, name string, src *Source) {
	if isObjectList(field.Type()) {
		d.objectList(expr, field, name, src)
		return
	}
	if field.Kind() == reflect.Slice && !isText(field.Type()) {
		d.list(expr, field, name, src)
		return
	}
	val, diags := expr.Value(nil)
	d.diags = append(d.diags, diags...)
	if diags.HasErrors() || val.IsNull() || !val.IsWhollyKnown() {
		return
	}
	if field.Kind() == reflect.Map {
		d.dict(expr, val, field, name)
		return
	}
	d.scalar(val, expr.Range(), field, name)
}

func isText(t reflect.Type) bool { return reflect.PointerTo(t).Implements(unmarshalerTyp) }

func (d *decoder) list(expr hcl.Expression, field reflect.Value, name string, src *Source) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		val, vd := expr.Value(nil)
		d.diags = append(d.diags, vd...)
		if vd.HasErrors() || val.IsNull() {
			return
		}
		if !val.CanIterateElements() || val.Type().IsMapType() || val.Type().IsObjectType() {
			d.errorf(expr.Range(), "Expected a list", "%q takes a list, such as [%s]; wrap the value in brackets.", name, exampleOf(field.Type().Elem()))
			return
		}
		out := reflect.MakeSlice(field.Type(), 0, val.LengthInt())
		for it := val.ElementIterator(); it.Next(); {
			_, ev := it.Element()
			elem := reflect.New(field.Type().Elem()).Elem()
			if d.scalar(ev, expr.Range(), elem, name) {
				out = reflect.Append(out, elem)
			}
		}
		field.Set(out)
		return
	}
	out := reflect.MakeSlice(field.Type(), 0, len(exprs))
	var ranges []hcl.Range
	for _, e := range exprs {
		if elem, ok := d.element(e, field.Type().Elem(), name); ok {
			out = reflect.Append(out, elem)
			ranges = append(ranges, e.Range())
		}
	}
	field.Set(out)
	src.setElems(name, ranges)
}

// element decodes one plain list element of type t.
func (d *decoder) element(e hcl.Expression, t reflect.Type, name string) (reflect.Value, bool) {
	val, vd := e.Value(nil)
	d.diags = append(d.diags, vd...)
	if vd.HasErrors() {
		return reflect.Value{}, false
	}
	elem := reflect.New(t).Elem()
	return elem, d.scalar(val, e.Range(), elem, name)
}

// setElems records the ranges of a list attribute's elements.
func (src *Source) setElems(name string, ranges []hcl.Range) {
	if src.elems == nil {
		src.elems = map[string][]hcl.Range{}
	}
	src.elems[name] = ranges
}

func (d *decoder) dict(expr hcl.Expression, val cty.Value, field reflect.Value, name string) {
	pairs, diags := hcl.ExprMap(expr)
	if diags.HasErrors() {
		d.errorf(expr.Range(), "Expected a map", "%q takes a map of strings, such as { \"User-Agent\" = \"tandem\" }.", name)
		return
	}
	out := reflect.MakeMap(field.Type())
	for _, p := range pairs {
		kv, kd := p.Key.Value(nil)
		vv, vd := p.Value.Value(nil)
		d.diags = append(d.diags, kd...)
		d.diags = append(d.diags, vd...)
		if kd.HasErrors() || vd.HasErrors() {
			continue
		}
		k := reflect.New(field.Type().Key()).Elem()
		e := reflect.New(field.Type().Elem()).Elem()
		if d.scalar(kv, p.Key.Range(), k, name) && d.scalar(vv, p.Value.Range(), e, name) {
			out.SetMapIndex(k, e)
		}
	}
	field.Set(out)
}

// scalar sets field from one value; it reports whether that worked.
func (d *decoder) scalar(val cty.Value, r hcl.Range, field reflect.Value, name string) bool {
	if val.IsNull() {
		d.errorf(r, "Missing value", "%q needs a value here, not null.", name)
		return false
	}
	t := field.Type()
	switch {
	case t == durationType:
		s, ok := d.str(val, r, name, `"1s"`)
		if !ok {
			return false
		}
		dur, err := time.ParseDuration(s)
		if err != nil {
			d.errorf(r, "Invalid duration", "%q is not a duration: write a number with a unit, such as \"500ms\", \"1s\" or \"2m\".", s)
			return false
		}
		if dur < 0 {
			d.errorf(r, "Invalid duration", "%q is negative; %q must be 0s or more.", s, name)
			return false
		}
		field.SetInt(int64(dur))
	case isText(t):
		s, ok := d.str(val, r, name, exampleOf(t))
		if !ok {
			return false
		}
		if t == reflect.TypeFor[netipPrefix]() && !strings.Contains(s, "/") {
			s = hostPrefix(s)
		}
		if err := field.Addr().Interface().(encoding.TextUnmarshaler).UnmarshalText([]byte(s)); err != nil {
			summary, detail := textError(t, s, err)
			d.errorf(r, summary, "%s", detail)
			return false
		}
	case t.Implements(enumType):
		s, ok := d.str(val, r, name, exampleOf(t))
		if !ok {
			return false
		}
		return d.enum(s, r, field, name)
	case t.Kind() == reflect.String:
		s, ok := d.str(val, r, name, `"text"`)
		if !ok {
			return false
		}
		field.SetString(s)
	case t.Kind() == reflect.Bool:
		b, err := convert.Convert(val, cty.Bool)
		if err != nil {
			d.errorf(r, "Expected true or false", "%q takes a boolean: true or false, without quotes.", name)
			return false
		}
		field.SetBool(b.True())
	case t.Kind() == reflect.Int:
		n, err := convert.Convert(val, cty.Number)
		if err != nil {
			d.errorf(r, "Expected a number", "%q takes a whole number, without quotes.", name)
			return false
		}
		bf := n.AsBigFloat()
		i, acc := bf.Int64()
		if !bf.IsInt() || acc != big.Exact || i > 1<<40 || i < -(1<<40) {
			d.errorf(r, "Expected a whole number", "%q takes a whole number; %s is not one.", name, bf.Text('g', -1))
			return false
		}
		field.SetInt(i)
	default:
		panic(fmt.Sprintf("config: no decoder for %s (%s)", t, name))
	}
	return true
}

func (d *decoder) str(val cty.Value, r hcl.Range, name, example string) (string, bool) {
	if val.Type() == cty.String {
		return val.AsString(), true
	}
	if val.Type() == cty.Number {
		if example == `"1s"` {
			d.errorf(r, "Invalid duration", "%q takes a duration with its unit, in quotes, such as %s; a bare number is ambiguous.", name, example)
			return "", false
		}
		s, _ := convert.Convert(val, cty.String)
		return s.AsString(), true
	}
	d.errorf(r, "Expected a string", "%q takes a string in quotes, such as %s.", name, example)
	return "", false
}

func (d *decoder) enum(s string, r hcl.Range, field reflect.Value, name string) bool {
	values := field.Interface().(interface{ Values() []string }).Values()
	if !slices.Contains(values, s) {
		hint := ""
		if sug := suggest(s, values); sug != "" {
			hint = fmt.Sprintf(" Did you mean %q?", sug)
		}
		d.errorf(r, "Invalid "+name, "%q is not a valid %s; use one of: %s.%s", s, name, strings.Join(values, ", "), hint)
		return false
	}
	field.SetString(s)
	return true
}

// suggest returns the value closest to s, if close enough to be a typo.
func suggest(s string, values []string) string {
	best, bestDist := "", 3
	for _, v := range values {
		if dist := levenshtein(strings.ToLower(s), strings.ToLower(v)); dist < bestDist {
			best, bestDist = v, dist
		}
	}
	return best
}

func levenshtein(a, b string) int {
	ra, rb := []rune(a), []rune(b)
	prev := make([]int, len(rb)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(ra); i++ {
		cur := make([]int, len(rb)+1)
		cur[0] = i
		for j := 1; j <= len(rb); j++ {
			cost := 1
			if ra[i-1] == rb[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev = cur
	}
	return prev[len(rb)]
}

// hintPlacement adds to HCL's "Unsupported argument/block" diagnostics
// where the item belongs when HCL found no close name.
func hintPlacement(diags hcl.Diagnostics) hcl.Diagnostics {
	for _, dg := range diags {
		if strings.Contains(dg.Detail, "Did you mean") {
			continue
		}
		var what string
		switch dg.Summary {
		case "Unsupported argument":
			what = "attr"
		case "Unsupported block type":
			what = "block"
		default:
			continue
		}
		m := quotedName.FindStringSubmatch(dg.Detail)
		if m == nil {
			continue
		}
		if where := placements()[what+" "+m[1]]; len(where) > 0 {
			dg.Detail += fmt.Sprintf(" It belongs in a %s block.", strings.Join(where, " or "))
		}
	}
	return diags
}

var quotedName = regexp.MustCompile(`(?:named|type) "([^"]+)"`)

var placements = sync.OnceValue(func() map[string][]string {
	m := map[string][]string{}
	var walk func(t reflect.Type, block string)
	walk = func(t reflect.Type, block string) {
		for _, f := range infoOf(t).fields {
			switch f.kind {
			case kindAttr:
				m["attr "+f.name] = appendNew(m["attr "+f.name], block)
			case kindBlock, kindBlocks:
				if block != "" {
					m["block "+f.name] = appendNew(m["block "+f.name], block)
				}
				et := f.typ
				for et.Kind() == reflect.Pointer || et.Kind() == reflect.Slice {
					et = et.Elem()
				}
				walk(et, f.name)
			}
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return m
})

func appendNew(s []string, v string) []string {
	if v == "" || slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

func rangeText(r hcl.Range) string {
	return fmt.Sprintf("%s:%d:%d", r.Filename, r.Start.Line, r.Start.Column)
}
