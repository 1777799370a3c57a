package config

import (
	"fmt"
	"net/netip"
	"reflect"
	"strings"
)

// Reference renders the configuration reference (every block and
// attribute, its type, default and meaning) as Markdown, from the schema.
func Reference() string {
	var b strings.Builder
	var walk func(t reflect.Type, path string)
	walk = func(t reflect.Type, path string) {
		info := infoOf(t)
		var nested []fieldInfo
		hasAttrs := false
		for _, f := range info.fields {
			switch f.kind {
			case kindBlock, kindBlocks:
				nested = append(nested, f)
			case kindAttr:
				hasAttrs = true
			}
		}
		if path != "" && hasAttrs {
			fmt.Fprintf(&b, "| attribute | type | default | meaning |\n|---|---|---|---|\n")
			for _, f := range info.fields {
				if f.kind != kindAttr {
					continue
				}
				def := "-"
				switch {
				case f.required:
					def = "required"
				case f.defDoc != "":
					def = f.defDoc
				case f.hasDef:
					def = "`" + f.def + "`"
				}
				doc := f.doc
				if len(f.only) > 0 {
					doc = "(" + strings.Join(f.only, ", ") + ") " + doc
				}
				fmt.Fprintf(&b, "| `%s` | %s | %s | %s |\n", f.name, typeName(f.typ), def, strings.ReplaceAll(doc, "|", "\\|"))
			}
			b.WriteString("\n")
		}
		for _, f := range nested {
			et := f.typ
			for et.Kind() == reflect.Pointer || et.Kind() == reflect.Slice {
				et = et.Elem()
			}
			head := f.name
			for _, lf := range infoOf(et).fields {
				if lf.kind == kindLabel {
					head += fmt.Sprintf(" \"%s\"", strings.ToUpper(lf.name))
				}
			}
			full := strings.TrimSpace(path + " " + head)
			times := "once"
			if f.kind == kindBlocks {
				times = "repeatable"
			}
			fmt.Fprintf(&b, "#### `%s`\n\n%s (%s)\n\n", full, f.doc, times)
			walk(et, full)
		}
	}
	walk(reflect.TypeFor[Config](), "")
	return b.String()
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
	}
	return "string"
}
