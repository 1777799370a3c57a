package keepalived

import (
	"encoding/hex"
	"fmt"
	"net/netip"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tandemlb/tandem/config"
)

// testHCL writes a typed config as plain HCL, for the goldens and to load
// the conversion with the real config loader. It is a stand-in for the
// test only, until config.Render lands: every attribute that differs from
// its zero value or has a non-zero default is written, in struct order.
func testHCL(cfg *config.Config) string {
	var b strings.Builder
	writeBody(&b, reflect.ValueOf(cfg).Elem(), "", "")
	return b.String()
}

func writeBody(b *strings.Builder, v reflect.Value, indent, checkType string) {
	t := v.Type()
	for i := range t.NumField() {
		sf := t.Field(i)
		tag := sf.Tag.Get("hcl")
		if tag == "" || tag == "-" {
			continue
		}
		name, kind, _ := strings.Cut(tag, ",")
		f := v.Field(i)
		switch kind {
		case "label":
			continue
		case "block", "blocks":
			for _, e := range elems(f) {
				if e.Kind() == reflect.Pointer {
					if e.IsNil() {
						continue
					}
					e = e.Elem()
				}
				if a, ok := e.Interface().(config.Authentication); ok && a.Type == "none" {
					continue // a block of its own is refused on version 3
				}
				fmt.Fprintf(b, "\n%s%s", indent, name)
				ct := ""
				for j := range e.NumField() {
					if _, k, _ := strings.Cut(e.Type().Field(j).Tag.Get("hcl"), ","); k == "label" {
						fmt.Fprintf(b, " %q", e.Field(j).String())
						if name == "check" {
							ct = e.Field(j).String()
						}
					}
				}
				b.WriteString(" {\n")
				writeBody(b, e, indent+"  ", ct)
				b.WriteString(indent + "}\n")
			}
			continue
		}
		if only := sf.Tag.Get("only"); only != "" && !slices.Contains(strings.Split(only, ","), checkType) {
			continue
		}
		if (name == "family" && v.FieldByName("Fwmark").Int() == 0) || (name == "protocol" && v.FieldByName("Fwmark").Int() != 0) {
			continue
		}
		def, hasDef := sf.Tag.Lookup("default")
		if f.IsZero() && (!hasDef || def == "0" || def == `"0s"` || def == "[]" || def == `""`) && f.Kind() != reflect.Bool {
			continue
		}
		if f.Kind() == reflect.Slice && f.Len() == 0 && !isHexBytes(f) {
			if def == "[]" || !hasDef {
				continue
			}
		}
		fmt.Fprintf(b, "%s%s = %s\n", indent, name, value(f))
	}
}

func isHexBytes(f reflect.Value) bool { return f.Type() == reflect.TypeFor[config.HexBytes]() }

func elems(f reflect.Value) []reflect.Value {
	if f.Kind() == reflect.Slice {
		var out []reflect.Value
		for i := range f.Len() {
			out = append(out, f.Index(i))
		}
		return out
	}
	return []reflect.Value{f}
}

func quote(s string) string {
	q := strconv.Quote(s)
	return strings.NewReplacer("${", "$${", "%{", "%%{").Replace(q)
}

func value(f reflect.Value) string {
	switch x := f.Interface().(type) {
	case time.Duration:
		return quote(x.String())
	case netip.Addr, netip.Prefix, netip.AddrPort, config.Endpoint, config.StatusRange:
		return quote(fmt.Sprint(x))
	case config.HexBytes:
		return quote(hex.EncodeToString(x))
	case config.HexPattern:
		var s strings.Builder
		for i, c := range x.Bytes {
			if x.Any[i] {
				s.WriteString("XX")
			} else {
				fmt.Fprintf(&s, "%02x", c)
			}
		}
		return quote(s.String())
	}
	switch f.Kind() {
	case reflect.String:
		return quote(f.String())
	case reflect.Int:
		return strconv.FormatInt(f.Int(), 10)
	case reflect.Bool:
		return strconv.FormatBool(f.Bool())
	case reflect.Slice:
		var parts []string
		for i := range f.Len() {
			parts = append(parts, value(f.Index(i)))
		}
		return "[" + strings.Join(parts, ", ") + "]"
	case reflect.Map:
		var parts []string
		for _, k := range f.MapKeys() {
			parts = append(parts, quote(k.String())+" = "+value(f.MapIndex(k)))
		}
		slices.Sort(parts)
		return "{ " + strings.Join(parts, ", ") + " }"
	}
	panic("testHCL: no form for " + f.Type().String())
}
