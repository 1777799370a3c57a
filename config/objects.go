package config

import (
	"fmt"
	"reflect"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// Lists of objects: an attribute whose elements are objects decoded into
// a struct (virtual_routes = [{ to = ..., via = ... }]), and lists whose
// elements are plain values or objects (virtual_ips: "198.51.100.10/24"
// or { address = ..., dev = ... }). For the latter the tag objects:"Field"
// names a sibling field (hcl:"-") that receives the objects; the object's
// first attribute is the plain value, appended to the list itself, so
// that code reading the list alone sees every entry.

// isObjectList reports whether t is a slice of plain structs.
func isObjectList(t reflect.Type) bool {
	return t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Struct && !isText(t.Elem()) && t.Elem() != durationType
}

// objectList decodes a list whose every element is an object.
func (d *decoder) objectList(expr hcl.Expression, field reflect.Value, name string, src *Source) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		d.errorf(expr.Range(), "Expected a list of objects", "%q takes a list of objects, such as [{ %s = ... }].", name, infoOf(field.Type().Elem()).fields[0].name)
		return
	}
	out := reflect.MakeSlice(field.Type(), 0, len(exprs))
	var ranges []hcl.Range
	for _, e := range exprs {
		elem := reflect.New(field.Type().Elem()).Elem()
		if d.object(e, elem, name) {
			setIndex(elem, out.Len())
			out = reflect.Append(out, elem)
			ranges = append(ranges, e.Range())
		}
	}
	field.Set(out)
	src.setElems(name, ranges)
}

// mixedList decodes a list of plain values and objects: objects go to the
// sibling field side as well.
func (d *decoder) mixedList(expr hcl.Expression, field, side reflect.Value, name string, src *Source) {
	exprs, diags := hcl.ExprList(expr)
	if diags.HasErrors() {
		d.list(expr, field, name, src) // its message
		return
	}
	out := reflect.MakeSlice(field.Type(), 0, len(exprs))
	objs := reflect.MakeSlice(side.Type(), 0, 0)
	var ranges []hcl.Range
	for _, e := range exprs {
		if _, ok := e.(*hclsyntax.ObjectConsExpr); ok {
			obj := reflect.New(side.Type().Elem()).Elem()
			if !d.object(e, obj, name) {
				continue
			}
			setIndex(obj, out.Len())
			out = reflect.Append(out, obj.Field(infoOf(obj.Type()).fields[0].index))
			objs = reflect.Append(objs, obj)
			ranges = append(ranges, e.Range())
			continue
		}
		if elem, ok := d.element(e, field.Type().Elem(), name); ok {
			out = reflect.Append(out, elem)
			ranges = append(ranges, e.Range())
		}
	}
	field.Set(out)
	if objs.Len() > 0 {
		side.Set(objs)
	}
	src.setElems(name, ranges)
}

// setIndex records an element's position in its list (field Index).
func setIndex(v reflect.Value, i int) {
	if f := v.FieldByName("Index"); f.IsValid() && f.Kind() == reflect.Int {
		f.SetInt(int64(i))
	}
}

// object decodes one { key = value, ... } into the struct v.
func (d *decoder) object(e hcl.Expression, v reflect.Value, name string) bool {
	info := infoOf(v.Type())
	pairs, diags := hcl.ExprMap(e)
	if diags.HasErrors() {
		d.errorf(e.Range(), "Expected an object", "Each entry of %q is an object, such as { %s = ... }.", name, info.fields[0].name)
		return false
	}
	ok := true
	seen := map[string]bool{}
	var keys []string
	for _, f := range info.fields {
		keys = append(keys, f.name)
	}
	for _, p := range pairs {
		kv, kd := p.Key.Value(nil)
		if kd.HasErrors() || !kv.Type().Equals(cty.String) {
			d.errorf(p.Key.Range(), "Invalid key", "The keys of an entry of %q are names, such as %s.", name, keys[0])
			ok = false
			continue
		}
		k := kv.AsString()
		i, known := info.byName[k]
		if !known {
			hint := ""
			if s := suggest(k, keys); s != "" {
				hint = fmt.Sprintf(" Did you mean %q?", s)
			}
			d.errorf(p.Key.Range(), "Unsupported argument", "An entry of %q takes %s, not %q.%s", name, strings.Join(keys, ", "), k, hint)
			ok = false
			continue
		}
		if seen[k] {
			d.errorf(p.Key.Range(), "Duplicate argument", "%q is set twice in this entry of %q.", k, name)
			ok = false
			continue
		}
		seen[k] = true
		f := info.fields[i]
		n := len(d.diags)
		d.attr(p.Value, v.Field(f.index), k, &Source{})
		if d.diags[n:].HasErrors() {
			ok = false
		}
	}
	for _, f := range info.fields {
		if seen[f.name] || f.kind != kindAttr {
			continue
		}
		if f.required {
			d.errorf(e.Range(), "Missing required argument", "An entry of %q needs %q; add it to the object.", name, f.name)
			ok = false
			continue
		}
		if f.hasDef {
			d.def(f, v.Field(f.index))
		}
	}
	return ok
}

// objectText writes one struct as an HCL object, leaving out what equals
// its default (or is unset); the first attribute always.
func (r *renderer) objectText(v reflect.Value) (string, error) {
	var pairs []string
	for _, f := range infoOf(v.Type()).fields {
		if f.kind != kindAttr {
			continue
		}
		if r.omit(v, f, "") {
			continue
		}
		text, err := valueText(v.Field(f.index))
		if err != nil {
			return "", err
		}
		pairs = append(pairs, f.name+" = "+text)
	}
	return "{ " + strings.Join(pairs, ", ") + " }", nil
}

// listText writes a list attribute; objects of a mixed list come from
// side, by position.
func (r *renderer) listText(field, side reflect.Value) (string, error) {
	var elems []string
	for i := range field.Len() {
		e := field.Index(i)
		var text string
		var err error
		switch {
		case e.Kind() == reflect.Struct && isObjectList(field.Type()):
			text, err = r.objectText(e)
		default:
			obj := reflect.Value{}
			if side.IsValid() {
				for j := range side.Len() {
					if side.Index(j).FieldByName("Index").Int() == int64(i) {
						obj = side.Index(j)
					}
				}
			}
			if obj.IsValid() {
				text, err = r.objectText(obj)
			} else {
				text, err = valueText(e)
			}
		}
		if err != nil {
			return "", err
		}
		elems = append(elems, text)
	}
	return "[" + strings.Join(elems, ", ") + "]", nil
}

// objectsField is the sibling field named by f's objects tag.
func objectsField(v reflect.Value, f fieldInfo) (reflect.Value, bool) {
	if f.objects < 0 {
		return reflect.Value{}, false
	}
	return v.Field(f.objects), true
}

// objectAttrs are the reference rows of an object entry's keys.
func objectAttrs(t reflect.Type) []RefAttr {
	var out []RefAttr
	for _, f := range infoOf(t).fields {
		if f.kind != kindAttr {
			continue
		}
		a := RefAttr{Name: f.name, Type: typeName(f.typ), Required: f.required, Doc: f.doc}
		if f.hasDef {
			a.Default = f.def
		}
		out = append(out, a)
	}
	return out
}
