package pyrt

import (
	"fmt"
	"math"
	"math/big"
	"reflect"
	"strings"
)

// Assign stores v — a value as Call, Object.Value and friends return it —
// into out, a non-nil pointer, converting where the Go types differ:
//
//   - numbers to any numeric type that holds them exactly (an int64 to int8
//     only when it fits; a float64 to an int only when it is integral), and
//     *big.Int to big.Int, *big.Int or a fitting int;
//   - []any, Tuple, Set and FrozenSet to slices and arrays (an array's length
//     must match), and to structs, item i to exported field i;
//   - map[string]any to maps with string keys and to structs (fields matched
//     by json tag, then by name ignoring case, as encoding/json does);
//   - Dict to maps with any key type;
//   - nil to the zero value; anything assignable as it is (time.Time,
//     *Object, []byte, complex128, ...).
//
// A value that does not fit is an error matching ErrConversion that names
// the path inside the value ($[0]["key"]).
func Assign(out any, v any) error {
	rv := reflect.ValueOf(out)
	if !rv.IsValid() || rv.Kind() != reflect.Pointer || rv.IsNil() {
		return newError(CodeInvalidArgument, "out must be a non-nil pointer, got %T", out)
	}
	return assign(rv.Elem(), v, "$")
}

var (
	bigIntValueType = reflect.TypeOf(big.Int{})
	anyType         = reflect.TypeOf((*any)(nil)).Elem()
)

func assignErr(path string, v any, dst reflect.Type, why string) error {
	if why != "" {
		why = ": " + why
	}
	return newError(CodeConversion, "cannot assign %T to %s at %s%s", v, dst, path, why)
}

func assign(dst reflect.Value, v any, path string) error {
	t := dst.Type()
	if v == nil {
		dst.SetZero()
		return nil
	}
	vt := reflect.TypeOf(v)
	if vt.AssignableTo(t) {
		dst.Set(reflect.ValueOf(v))
		return nil
	}
	switch {
	case t.Kind() == reflect.Pointer:
		p := reflect.New(t.Elem())
		if err := assign(p.Elem(), v, path); err != nil {
			return err
		}
		dst.Set(p)
		return nil
	case t == bigIntValueType:
		switch x := v.(type) {
		case int64:
			b := new(big.Int).SetInt64(x)
			dst.Set(reflect.ValueOf(*b))
			return nil
		case *big.Int:
			dst.Set(reflect.ValueOf(*new(big.Int).Set(x)))
			return nil
		}
		return assignErr(path, v, t, "")
	case vt.ConvertibleTo(t) && sameKindFamily(vt.Kind(), t.Kind()):
		// Named types of the same kind (type Celsius float64, type Name string,
		// Tuple -> []any) convert directly; numbers are checked below.
		if !isNumberKind(t.Kind()) {
			dst.Set(reflect.ValueOf(v).Convert(t))
			return nil
		}
	}
	switch x := v.(type) {
	case int64:
		return assignInt(dst, big.NewInt(x), v, path)
	case *big.Int:
		return assignInt(dst, x, v, path)
	case float64:
		switch t.Kind() {
		case reflect.Float32, reflect.Float64:
			if t.Kind() == reflect.Float32 && !math.IsInf(x, 0) && !math.IsNaN(x) && math.Abs(x) > math.MaxFloat32 {
				return assignErr(path, v, t, "out of range")
			}
			dst.SetFloat(x)
			return nil
		case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
			reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
			if x != math.Trunc(x) || math.IsInf(x, 0) {
				return assignErr(path, v, t, "not an integral value")
			}
			b, _ := big.NewFloat(x).Int(nil)
			return assignInt(dst, b, v, path)
		}
	case []any:
		return assignList(dst, x, v, path)
	case Tuple:
		return assignList(dst, x, v, path)
	case Set:
		return assignList(dst, x, v, path)
	case FrozenSet:
		return assignList(dst, x, v, path)
	case map[string]any:
		switch t.Kind() {
		case reflect.Map:
			if t.Key().Kind() != reflect.String {
				return assignErr(path, v, t, "map key must be a string kind")
			}
			m := reflect.MakeMapWithSize(t, len(x))
			for k, e := range x {
				ev := reflect.New(t.Elem()).Elem()
				if err := assign(ev, e, fmt.Sprintf("%s[%q]", path, k)); err != nil {
					return err
				}
				m.SetMapIndex(reflect.ValueOf(k).Convert(t.Key()), ev)
			}
			dst.Set(m)
			return nil
		case reflect.Struct:
			return assignStruct(dst, x, path)
		}
	case Dict:
		if t.Kind() == reflect.Map {
			m := reflect.MakeMapWithSize(t, len(x))
			for i, p := range x {
				kv := reflect.New(t.Key()).Elem()
				if err := assign(kv, p.Key, fmt.Sprintf("%s<key %d>", path, i)); err != nil {
					return err
				}
				ev := reflect.New(t.Elem()).Elem()
				if err := assign(ev, p.Value, fmt.Sprintf("%s[%v]", path, p.Key)); err != nil {
					return err
				}
				m.SetMapIndex(kv, ev)
			}
			dst.Set(m)
			return nil
		}
	case []byte:
		if t.Kind() == reflect.String {
			dst.SetString(string(x))
			return nil
		}
	case ByteArray:
		if t.Kind() == reflect.Slice && t.Elem().Kind() == reflect.Uint8 {
			dst.SetBytes(append([]byte(nil), x...))
			return nil
		}
	}
	return assignErr(path, v, t, "")
}

func isNumberKind(k reflect.Kind) bool {
	return (k >= reflect.Int && k <= reflect.Float64) || k == reflect.Complex64 || k == reflect.Complex128
}

func sameKindFamily(a, b reflect.Kind) bool {
	if isNumberKind(a) || isNumberKind(b) {
		return isNumberKind(a) && isNumberKind(b)
	}
	return a == b
}

func assignInt(dst reflect.Value, b *big.Int, v any, path string) error {
	t := dst.Type()
	switch t.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if !b.IsInt64() || dst.OverflowInt(b.Int64()) {
			return assignErr(path, v, t, "out of range")
		}
		dst.SetInt(b.Int64())
		return nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if !b.IsUint64() || dst.OverflowUint(b.Uint64()) {
			return assignErr(path, v, t, "out of range")
		}
		dst.SetUint(b.Uint64())
		return nil
	case reflect.Float32, reflect.Float64:
		f, _ := new(big.Float).SetInt(b).Float64()
		dst.SetFloat(f)
		return nil
	case reflect.Interface:
		if t == anyType || t.NumMethod() == 0 {
			dst.Set(reflect.ValueOf(v))
			return nil
		}
	}
	return assignErr(path, v, t, "")
}

func assignList(dst reflect.Value, items []any, v any, path string) error {
	t := dst.Type()
	switch t.Kind() {
	case reflect.Slice:
		s := reflect.MakeSlice(t, len(items), len(items))
		for i, e := range items {
			if err := assign(s.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		dst.Set(s)
		return nil
	case reflect.Array:
		if t.Len() != len(items) {
			return assignErr(path, v, t, fmt.Sprintf("%d items for an array of %d", len(items), t.Len()))
		}
		for i, e := range items {
			if err := assign(dst.Index(i), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	case reflect.Struct:
		// A tuple into a struct: item i into exported field i (the Go form
		// pyrt-gen gives tuple[int, str]).
		var fields []int
		for i := 0; i < t.NumField(); i++ {
			if t.Field(i).IsExported() {
				fields = append(fields, i)
			}
		}
		if len(fields) != len(items) {
			return assignErr(path, v, t, fmt.Sprintf("%d items for a struct of %d fields", len(items), len(fields)))
		}
		for i, e := range items {
			if err := assign(dst.Field(fields[i]), e, fmt.Sprintf("%s[%d]", path, i)); err != nil {
				return err
			}
		}
		return nil
	}
	return assignErr(path, v, t, "")
}

// assignStruct fills exported fields by json tag, then by case-insensitive
// name; keys without a field are ignored (as encoding/json does).
func assignStruct(dst reflect.Value, m map[string]any, path string) error {
	t := dst.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name := f.Name
		if tag, ok := f.Tag.Lookup("json"); ok {
			tagName, _, _ := strings.Cut(tag, ",")
			if tagName == "-" {
				continue
			}
			if tagName != "" {
				name = tagName
			}
		}
		e, ok := m[name]
		if !ok {
			for k, kv := range m {
				if strings.EqualFold(k, name) {
					e, ok = kv, true
					break
				}
			}
		}
		if !ok {
			continue
		}
		if err := assign(dst.Field(i), e, fmt.Sprintf("%s[%q]", path, name)); err != nil {
			return err
		}
	}
	return nil
}
