package config

import (
	"encoding"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/zclconf/go-cty/cty"
)

// RenderOptions say how Render writes a configuration.
type RenderOptions struct {
	// Defaults writes every attribute, also those equal to their default
	// (tandem config show); without it they are left out (a converted
	// configuration that says only what differs).
	Defaults bool
	// Comments, when set, returns comment lines (without "#") to write
	// above a block (attr "") or above one of its attributes. block is the
	// pointer to the block's struct: *Config for the top of the file,
	// *VRRPInstance, *Check, *GARP...
	Comments func(block any, attr string) []string
}

// Render writes cfg as HCL in schema order, attributes aligned, such that
// parsing the result gives a configuration Equal to cfg. Attributes left
// unset that have no default are left out; so are values a setting next to
// them makes meaningless (family of an address service, protocol of a
// fwmark service, preempt_delay without preempt, authentication of type
// "none"), which the checks would otherwise report.
func Render(cfg *Config, opts RenderOptions) ([]byte, error) {
	r := &renderer{opts: opts}
	var b strings.Builder
	r.comments(&b, cfg, "")
	if b.Len() > 0 {
		b.WriteString("\n")
	}
	body, err := r.body(reflect.ValueOf(cfg).Elem(), "")
	if err != nil {
		return nil, err
	}
	b.WriteString(body)
	return hclwrite.Format([]byte(b.String())), nil
}

type renderer struct {
	opts RenderOptions
}

func (r *renderer) comments(b *strings.Builder, block any, attr string) {
	if r.opts.Comments == nil {
		return
	}
	for _, line := range r.opts.Comments(block, attr) {
		for _, l := range strings.Split(line, "\n") {
			b.WriteString(strings.TrimRight("# "+l, " ") + "\n")
		}
	}
}

// body writes the attributes, then the nested blocks, of the struct v;
// kind is the block's first label (a check's type).
func (r *renderer) body(v reflect.Value, kind string) (string, error) {
	info := infoOf(v.Type())
	ptr := v.Addr().Interface()
	var attrs, blocks strings.Builder
	for _, f := range info.fields {
		field := f.in(v)
		switch f.kind {
		case kindAttr:
			if r.omit(v, f, kind) {
				continue
			}
			var text string
			var err error
			if side, ok := objectsField(v, f); ok || isObjectList(field.Type()) {
				text, err = r.listText(field, side)
			} else {
				text, err = valueText(field)
			}
			if err != nil {
				return "", fmt.Errorf("%s: %w", f.name, err)
			}
			r.comments(&attrs, ptr, f.name)
			attrs.WriteString(f.name + " = " + text + "\n")
		case kindBlock:
			if field.Kind() == reflect.Pointer {
				if field.IsNil() {
					continue
				}
				field = field.Elem()
			} else if omitBlock(field) {
				continue
			}
			inner, err := r.body(field, "")
			if err != nil {
				return "", fmt.Errorf("%s: %w", f.name, err)
			}
			// A block that may be left out is left out when it says nothing.
			if inner == "" && f.typ.Kind() != reflect.Pointer {
				continue
			}
			r.block(&blocks, field, f.name, nil, inner)
		case kindBlocks:
			for i := range field.Len() {
				elem := field.Index(i).Elem()
				labels := labelsOf(elem)
				inner, err := r.body(elem, strings.Join(labels[:min(1, len(labels))], ""))
				if err != nil {
					return "", fmt.Errorf("%s %q: %w", f.name, labels, err)
				}
				r.block(&blocks, elem, f.name, labels, inner)
			}
		}
	}
	out := attrs.String()
	if out != "" && blocks.Len() > 0 {
		out += "\n"
	}
	return out + strings.TrimSuffix(blocks.String(), "\n"), nil
}

// block writes one block and the blank line after it.
func (r *renderer) block(b *strings.Builder, v reflect.Value, name string, labels []string, inner string) {
	r.comments(b, v.Addr().Interface(), "")
	b.WriteString(name)
	for _, l := range labels {
		b.WriteString(" " + quote(l))
	}
	b.WriteString(" {\n" + inner)
	if inner != "" && !strings.HasSuffix(inner, "\n") {
		b.WriteString("\n")
	}
	b.WriteString("}\n\n")
}

func labelsOf(v reflect.Value) []string {
	var out []string
	for _, f := range infoOf(v.Type()).fields {
		if f.kind == kindLabel {
			out = append(out, f.in(v).String())
		}
	}
	return out
}

// omit reports whether the attribute f of block v stays unwritten.
func (r *renderer) omit(v reflect.Value, f fieldInfo, kind string) bool {
	field := f.in(v)
	if len(f.only) > 0 && kind != "" && !slices.Contains(f.only, kind) {
		return true // the decoder refuses it for this check type
	}
	if implied(v, f.name) {
		return true
	}
	switch {
	case f.required:
		return false
	case !f.hasDef:
		return field.IsZero() // unset
	case r.opts.Defaults:
		return false
	}
	def := reflect.New(f.typ).Elem()
	(&decoder{}).def(f, def)
	return equal(field, def)
}

// implied lists the attributes that other settings of their block make
// meaningless; writing them would only draw a diagnostic.
func implied(v reflect.Value, name string) bool {
	switch b := v.Addr().Interface().(type) {
	case *VirtualServer:
		switch name {
		case "family": // an error with address
			return b.Fwmark == 0
		case "protocol": // a warning with fwmark
			return b.Fwmark != 0 && b.Protocol == TCP
		}
	case *VRRPInstance:
		return name == "preempt_delay" && !b.Preempt && b.PreemptDelay == 0
	case *Authentication: // the settings of signed adverts are an error with another type
		switch name {
		case "anti_replay", "mode":
			return b.Type != "hmac"
		case "time_window": // computed from advert_interval unless written
			return b.Type != "hmac" || !b.Has(name)
		case "active_key": // the only key's unless written
			return b.Type != "hmac" || !b.Has(name) && len(b.Keys) == 1
		}
	}
	return false
}

// omitBlock reports whether an optional block is better left out whole:
// authentication of type "none" is an error on a VRRPv3 instance.
func omitBlock(v reflect.Value) bool {
	if a, ok := v.Addr().Interface().(*Authentication); ok {
		return (a.Type == "" || a.Type == "none") && a.Password == ""
	}
	return false
}

// valueText is the HCL expression for one attribute's value.
func valueText(v reflect.Value) (string, error) {
	t := v.Type()
	switch {
	case t == durationType:
		return quote(durationText(time.Duration(v.Int()))), nil
	case t.Implements(reflect.TypeFor[encoding.TextMarshaler]()):
		b, err := v.Interface().(encoding.TextMarshaler).MarshalText()
		if err != nil {
			return "", err
		}
		return quote(string(b)), nil
	case t.Kind() == reflect.String:
		return quote(v.String()), nil
	case t.Kind() == reflect.Bool:
		return strconv.FormatBool(v.Bool()), nil
	case t.Kind() == reflect.Int:
		return strconv.FormatInt(v.Int(), 10), nil
	case t.Kind() == reflect.Slice:
		var elems []string
		for i := range v.Len() {
			e, err := valueText(v.Index(i))
			if err != nil {
				return "", err
			}
			elems = append(elems, e)
		}
		return "[" + strings.Join(elems, ", ") + "]", nil
	case t.Kind() == reflect.Map:
		keys := v.MapKeys()
		slices.SortFunc(keys, func(a, b reflect.Value) int { return strings.Compare(a.String(), b.String()) })
		var pairs []string
		for _, k := range keys {
			val, err := valueText(v.MapIndex(k))
			if err != nil {
				return "", err
			}
			pairs = append(pairs, quote(k.String())+" = "+val)
		}
		if len(pairs) == 0 {
			return "{}", nil
		}
		return "{ " + strings.Join(pairs, ", ") + " }", nil
	}
	return "", fmt.Errorf("config: no HCL form for %s", t)
}

// quote writes s as an HCL string, escaping what HCL would interpolate.
func quote(s string) string {
	return string(hclwrite.TokensForValue(cty.StringVal(s)).Bytes())
}

// durationText writes d in whole seconds or milliseconds when it can, as
// the examples do (300s, 500ms), else Go's form.
func durationText(d time.Duration) string {
	switch {
	case d%time.Second == 0:
		return strconv.FormatInt(int64(d/time.Second), 10) + "s"
	case d%time.Millisecond == 0:
		return strconv.FormatInt(int64(d/time.Millisecond), 10) + "ms"
	}
	return d.String()
}
