package config

import "reflect"

// Equal reports whether two parts of a configuration (a *VRRPInstance, a
// *LVSSync, a []*TrackScript...) mean the same, ignoring where they were
// written: a reload must not see a change in a block that only moved in
// its file.
func Equal(a, b any) bool {
	return equal(reflect.ValueOf(a), reflect.ValueOf(b))
}

func equal(a, b reflect.Value) bool {
	if a.IsValid() != b.IsValid() {
		return false
	}
	if !a.IsValid() {
		return true
	}
	if a.Type() != b.Type() {
		return false
	}
	switch a.Kind() {
	case reflect.Pointer, reflect.Interface:
		if a.Kind() == reflect.Pointer && a.Pointer() == b.Pointer() {
			return true // shared by Compact, or both nil
		}
		if a.IsNil() || b.IsNil() {
			return a.IsNil() == b.IsNil()
		}
		return equal(a.Elem(), b.Elem())
	case reflect.Slice, reflect.Array:
		if a.Kind() == reflect.Slice && (a.IsNil() != b.IsNil() || a.Len() != b.Len()) {
			return a.Len() == 0 && b.Len() == 0
		}
		if a.Kind() == reflect.Slice && a.Len() > 0 && a.Pointer() == b.Pointer() {
			return true // the same elements: checks shared by Compact
		}
		for i := range a.Len() {
			if !equal(a.Index(i), b.Index(i)) {
				return false
			}
		}
		return true
	case reflect.Map:
		if a.Len() != b.Len() {
			return false
		}
		for _, k := range a.MapKeys() {
			bv := b.MapIndex(k)
			if !bv.IsValid() || !equal(a.MapIndex(k), bv) {
				return false
			}
		}
		return true
	case reflect.String:
		return a.String() == b.String() // the kinds below without boxing: a reload compares 36k checks
	case reflect.Bool:
		return a.Bool() == b.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return a.Int() == b.Int()
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return a.Uint() == b.Uint()
	case reflect.Struct:
		if a.Type().PkgPath() != sourceType.PkgPath() {
			if a.Type().Comparable() {
				return a.Equal(b) // netip, time...
			}
			return reflect.DeepEqual(a.Interface(), b.Interface())
		}
		for i := range a.NumField() {
			f := a.Type().Field(i)
			if f.Type == sourceType || !f.IsExported() {
				continue
			}
			af, bf := a.Field(i), b.Field(i)
			if f.Anonymous && f.Type.Kind() == reflect.Pointer && af.IsNil() != bf.IsNil() {
				// A check's settings struct: unallocated is all zero.
				if af.IsNil() {
					af = reflect.New(f.Type.Elem())
				} else {
					bf = reflect.New(f.Type.Elem())
				}
			}
			if !equal(af, bf) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a.Interface(), b.Interface())
}
