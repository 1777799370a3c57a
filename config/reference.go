package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"unicode/utf8"
)

// RefBlock is one block of the configuration reference, as the schema
// describes it. The README (Markdown), `tandem config reference` (text) and
// tandem.hcl(5) (roff) are renderings of the same list.
type RefBlock struct {
	Path       string // "virtual_server \"NAME\" real_server \"ADDRESS\""
	Name       string // the block's own name: real_server
	Labels     []string
	Doc        string
	Repeatable bool
	Attrs      []RefAttr
}

// RefAttr is one attribute of a block.
type RefAttr struct {
	Name string
	Type string // "duration", "one of tcp, udp, sctp", ...
	// Default is the default in HCL syntax ("\"wlc\"", "1", "[]"); DefaultDoc
	// a default computed at load time, in words. Both empty: no default.
	Default    string
	DefaultDoc string
	Required   bool
	Only       []string // check types that take it (check blocks)
	Doc        string
}

// DefaultText is the default as the reference prints it, without markup:
// "required", a value in HCL syntax, words, or "-".
func (a RefAttr) DefaultText() string {
	switch {
	case a.Required:
		return "required"
	case a.DefaultDoc != "":
		return a.DefaultDoc
	case a.Default != "":
		return a.Default
	}
	return "-"
}

// Summary is the type and default in words: "number, default 1",
// "string, required", "duration".
func (a RefAttr) Summary() string {
	switch d := a.DefaultText(); d {
	case "required":
		return a.Type + ", required"
	case "-":
		return a.Type
	default:
		return a.Type + ", default " + d
	}
}

// Meaning is the attribute's doc, prefixed with the check types that take it.
func (a RefAttr) Meaning() string {
	if len(a.Only) > 0 {
		return "(" + strings.Join(a.Only, ", ") + ") " + a.Doc
	}
	return a.Doc
}

// Times says how often the block may appear: "once" or "repeatable".
func (b RefBlock) Times() string {
	if b.Repeatable {
		return "repeatable"
	}
	return "once"
}

// ReferenceBlocks walks the schema: every block, depth first in schema
// order, with its attributes.
func ReferenceBlocks() []RefBlock {
	var out []RefBlock
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		for _, f := range infoOf(t).fields {
			if f.kind != kindBlock && f.kind != kindBlocks {
				continue
			}
			et := f.typ
			for et.Kind() == reflect.Pointer || et.Kind() == reflect.Slice {
				et = et.Elem()
			}
			blk := RefBlock{Name: f.name, Doc: f.doc, Repeatable: f.kind == kindBlocks}
			head := f.name
			for _, lf := range infoOf(et).fields {
				switch lf.kind {
				case kindLabel:
					blk.Labels = append(blk.Labels, strings.ToUpper(lf.name))
					head += fmt.Sprintf(" \"%s\"", strings.ToUpper(lf.name))
				case kindAttr:
					a := RefAttr{Name: lf.name, Type: typeName(lf.typ), DefaultDoc: lf.defDoc,
						Required: lf.required, Only: lf.only, Doc: lf.doc}
					if lf.hasDef {
						a.Default = lf.def
					}
					blk.Attrs = append(blk.Attrs, a)
				}
			}
			blk.Path = strings.TrimSpace(path + " " + head)
			out = append(out, blk)
			// Entries of the attributes that take objects.
			for _, lf := range infoOf(et).fields {
				ot := lf.typ
				if lf.objects >= 0 {
					ot = et.Field(lf.objects).Type
				} else if !isObjectList(ot) {
					continue
				}
				out = append(out, RefBlock{Path: blk.Path + " " + lf.name + " = [{ ... }]", Name: lf.name,
					Doc: "An object in the list " + lf.name + ".", Repeatable: true, Attrs: objectAttrs(ot.Elem())})
			}
			walk(et, blk.Path)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return out
}

// Reference renders the configuration reference (every block and
// attribute, its type, default and meaning) as Markdown, from the schema.
func Reference() string {
	var b strings.Builder
	for _, blk := range ReferenceBlocks() {
		fmt.Fprintf(&b, "#### `%s`\n\n%s (%s)\n\n", blk.Path, blk.Doc, blk.Times())
		if len(blk.Attrs) == 0 {
			continue
		}
		b.WriteString("| attribute | type | default | meaning |\n|---|---|---|---|\n")
		for _, a := range blk.Attrs {
			def := a.DefaultText()
			if !a.Required && a.DefaultDoc == "" && a.Default != "" {
				def = "`" + a.Default + "`"
			}
			fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", a.Name, a.Type, def, strings.ReplaceAll(a.Meaning(), "|", "\\|"))
		}
		b.WriteString("\n")
	}
	return b.String()
}

// ReferenceText renders the reference as plain text for a terminal,
// wrapped at width columns.
func ReferenceText(width int) string {
	var b strings.Builder
	for i, blk := range ReferenceBlocks() {
		if i > 0 {
			b.WriteString("\n")
		}
		fmt.Fprintf(&b, "%s  (%s)\n", blk.Path, blk.Times())
		wrap(&b, blk.Doc, "  ", width)
		for _, a := range blk.Attrs {
			head := "  " + a.Name + "  (" + a.Summary() + ")"
			if utf8.RuneCountInString(head) <= width {
				b.WriteString("\n" + head + "\n")
			} else {
				b.WriteString("\n  " + a.Name + "\n")
				wrap(&b, "("+a.Summary()+")", "      ", width)
			}
			wrap(&b, a.Meaning(), "      ", width)
		}
	}
	return b.String()
}

// wrap writes text as lines of at most width columns, each indented.
func wrap(b *strings.Builder, text, indent string, width int) {
	line := indent
	for _, w := range strings.Fields(text) {
		if line != indent && utf8.RuneCountInString(line)+1+utf8.RuneCountInString(w) > width {
			b.WriteString(line + "\n")
			line = indent
		}
		if line != indent {
			line += " "
		}
		line += w
	}
	if line != indent {
		b.WriteString(line + "\n")
	}
}

func typeName(t reflect.Type) string {
	switch t {
	case durationType:
		return "duration"
	case reflect.TypeFor[netip.Addr]():
		return "IP address"
	case reflect.TypeFor[netip.Prefix]():
		return "address/length"
	case reflect.TypeFor[netip.AddrPort]():
		return "address:port"
	case reflect.TypeFor[Endpoint]():
		return "address[:port]"
	case reflect.TypeFor[StatusRange]():
		return "status or range"
	case reflect.TypeFor[HexBytes]():
		return "hex"
	case reflect.TypeFor[HexPattern]():
		return "hex with XX"
	}
	if t.Implements(enumType) {
		vals := reflect.Zero(t).Interface().(interface{ Values() []string }).Values()
		return "one of " + strings.Join(vals, ", ")
	}
	switch t.Kind() {
	case reflect.Slice:
		return "list of " + typeName(t.Elem())
	case reflect.Map:
		return "map of " + typeName(t.Elem())
	case reflect.Int:
		return "number"
	case reflect.Bool:
		return "bool"
	case reflect.Struct:
		return "object"
	}
	return "string"
}
