package pyrt

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"time"
)

// Go values -> the tagged encoding (docs/values.md).

// tagEnc encodes Go values in the tagged encoding. It collects the *Objects
// referenced by the value (kept alive until the foreign call returns) and
// the flags of CallOptions met among call arguments.
type tagEnc struct {
	objs  []*Object
	flags uint32
}

func tagOpen(b []byte, kind string) []byte {
	b = append(b, `{"__pyrt__":"`...)
	b = append(b, kind...)
	return append(b, `","v":`...)
}

const tagKey = "__pyrt__"

var (
	timeType     = reflect.TypeFor[time.Time]()
	durationType = reflect.TypeFor[time.Duration]()
)

// args appends the JSON array of args; CallOptions are taken out.
func (e *tagEnc) args(b []byte, args []any) ([]byte, error) {
	b = append(b, '[')
	n := 0
	for i, a := range args {
		if o, ok := a.(CallOption); ok {
			e.flags |= o.flags
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		var err *encodeError
		if b, err = e.value(b, a, 0); err != nil {
			return b, err.push(indexSeg(i)).public("$")
		}
	}
	return append(b, ']'), nil
}

func (e *tagEnc) kwargs(b []byte, kwargs map[string]any) ([]byte, error) {
	b, err := e.value(b, kwargs, 0)
	if err != nil {
		return b, err.public("kwargs")
	}
	return b, nil
}

// marshal encodes one value (the root).
func (e *tagEnc) marshal(b []byte, v any) ([]byte, error) {
	b, err := e.value(b, v, 0)
	if err != nil {
		return b, err.public("$")
	}
	return b, nil
}

// MarshalTagged returns the tagged JSON pyrt sends to Python for v (the
// encoding of the object API). Exported for tests and debugging; an *Object
// inside v is written as its handle number but not kept alive.
func MarshalTagged(v any) ([]byte, error) {
	var e tagEnc
	return e.marshal(nil, v)
}

func (e *tagEnc) value(b []byte, v any, depth int) ([]byte, *encodeError) {
	if depth > maxEncodeDepth {
		return b, encErr("nested deeper than %d levels (cycle?)", maxEncodeDepth)
	}
	switch x := v.(type) {
	case nil:
		return append(b, "null"...), nil
	case string:
		return appendString(b, x)
	case bool:
		return strconv.AppendBool(b, x), nil
	case int:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case float64:
		return appendTaggedFloat(b, x, 64), nil
	case float32:
		return appendTaggedFloat(b, float64(x), 32), nil
	case []byte:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendBytesTag(b, "bytes", x), nil
	case ByteArray:
		if x == nil {
			return append(b, "null"...), nil
		}
		return appendBytesTag(b, "bytearray", x), nil
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return e.list(b, x, depth)
	case Tuple:
		return e.tagList(b, "tuple", x, depth)
	case Set:
		return e.tagList(b, "set", x, depth)
	case FrozenSet:
		return e.tagList(b, "frozenset", x, depth)
	case Dict:
		return e.dict(b, x, depth)
	case map[string]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return e.strMap(b, reflect.ValueOf(x), depth)
	case map[any]any:
		if x == nil {
			return append(b, "null"...), nil
		}
		return e.anyMap(b, reflect.ValueOf(x), depth)
	case complex128:
		return appendComplex(b, x), nil
	case complex64:
		return appendComplex(b, complex128(x)), nil
	case time.Time:
		return appendDateTime(b, x)
	case time.Duration:
		return appendDuration(b, x), nil
	case Date:
		return appendDate(b, x)
	case TimeOfDay:
		return appendTimeOfDay(b, x)
	case Decimal:
		b = tagOpen(b, "decimal")
		b, err := appendString(b, string(x))
		return append(b, '}'), err
	case *Object:
		return e.object(b, x)
	case CallOption:
		return b, encErr("a pyrt.CallOption is only valid as a call argument, not inside a value")
	case json.Number:
		return appendNumber(b, string(x))
	case *big.Int:
		if x == nil {
			return append(b, "null"...), nil
		}
		return x.Append(b, 10), nil
	case big.Int:
		return x.Append(b, 10), nil
	case *big.Float:
		if x == nil {
			return append(b, "null"...), nil
		}
		f, _ := x.Float64()
		return appendTaggedFloat(b, f, 64), nil
	case json.RawMessage:
		if x == nil {
			return append(b, "null"...), nil
		}
		if !json.Valid(x) {
			return b, encErr("json.RawMessage is not valid JSON")
		}
		return append(b, x...), nil
	}
	return e.reflect(b, reflect.ValueOf(v), depth)
}

func (e *tagEnc) object(b []byte, o *Object) ([]byte, *encodeError) {
	if o == nil {
		return append(b, "null"...), nil
	}
	if o.closed.Load() {
		closed := encErr("the *pyrt.Object was closed")
		closed.cause = errObjectClosed
		return b, closed
	}
	e.objs = append(e.objs, o)
	b = tagOpen(b, "object")
	b = strconv.AppendUint(b, uint64(o.id), 10)
	return append(b, '}'), nil
}

func (e *tagEnc) list(b []byte, x []any, depth int) ([]byte, *encodeError) {
	b = append(b, '[')
	for i, el := range x {
		if i > 0 {
			b = append(b, ',')
		}
		var err *encodeError
		if b, err = e.value(b, el, depth+1); err != nil {
			return b, err.push(indexSeg(i))
		}
	}
	return append(b, ']'), nil
}

func (e *tagEnc) tagList(b []byte, kind string, x []any, depth int) ([]byte, *encodeError) {
	if x == nil {
		x = []any{}
	}
	b = tagOpen(b, kind)
	b, err := e.list(b, x, depth)
	return append(b, '}'), err
}

func (e *tagEnc) dict(b []byte, d Dict, depth int) ([]byte, *encodeError) {
	b = tagOpen(b, "dict")
	b = append(b, '[')
	for i, p := range d {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		var err *encodeError
		if b, err = e.value(b, p.Key, depth+2); err != nil {
			return b, err.push(fmt.Sprintf("[key %d]", i))
		}
		b = append(b, ',')
		if b, err = e.value(b, p.Value, depth+2); err != nil {
			return b, err.push(fmt.Sprintf("[value %d]", i))
		}
		b = append(b, ']')
	}
	return append(b, "]}"...), nil
}

// strMap encodes a map with string keys: a JSON object (keys sorted), or the
// general dict form when a key is "__pyrt__" (so it is not read as a tag).
func (e *tagEnc) strMap(b []byte, m reflect.Value, depth int) ([]byte, *encodeError) {
	keys := make([]string, 0, m.Len())
	vals := make(map[string]reflect.Value, m.Len())
	iter := m.MapRange()
	for iter.Next() {
		k := iter.Key().String()
		keys = append(keys, k)
		vals[k] = iter.Value()
	}
	slices.Sort(keys)
	escape := slices.Contains(keys, tagKey)
	if escape {
		b = tagOpen(b, "dict")
		b = append(b, '[')
	} else {
		b = append(b, '{')
	}
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		if escape {
			b = append(b, '[')
		}
		var err *encodeError
		if b, err = appendString(b, k); err != nil {
			return b, err.push(keySeg(k))
		}
		if escape {
			b = append(b, ',')
		} else {
			b = append(b, ':')
		}
		if b, err = e.elem(b, vals[k], depth+1); err != nil {
			return b, err.push(keySeg(k))
		}
		if escape {
			b = append(b, ']')
		}
	}
	if escape {
		return append(b, "]}"...), nil
	}
	return append(b, '}'), nil
}

// anyMap encodes a map with non-string keys as the general dict form; the
// keys keep their type (an int key stays an int). Items are sorted by the
// encoding of their key.
func (e *tagEnc) anyMap(b []byte, m reflect.Value, depth int) ([]byte, *encodeError) {
	type item struct {
		key []byte
		val reflect.Value
	}
	items := make([]item, 0, m.Len())
	iter := m.MapRange()
	for iter.Next() {
		k, err := e.elem(nil, iter.Key(), depth+2)
		if err != nil {
			return b, err.push("[key]")
		}
		items = append(items, item{k, iter.Value()})
	}
	slices.SortFunc(items, func(a, b item) int { return bytes.Compare(a.key, b.key) })
	b = tagOpen(b, "dict")
	b = append(b, '[')
	for i, it := range items {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, '[')
		b = append(b, it.key...)
		b = append(b, ',')
		var err *encodeError
		if b, err = e.elem(b, it.val, depth+2); err != nil {
			return b, err.push("[" + string(it.key) + "]")
		}
		b = append(b, ']')
	}
	return append(b, "]}"...), nil
}

func (e *tagEnc) elem(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	if !v.IsValid() {
		return append(b, "null"...), nil
	}
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		v = v.Elem()
	}
	return e.value(b, v.Interface(), depth)
}

func (e *tagEnc) reflect(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	if depth > maxEncodeDepth {
		return b, encErr("nested deeper than %d levels (cycle?)", maxEncodeDepth)
	}
	if !v.IsValid() {
		return append(b, "null"...), nil
	}
	t := v.Type()
	switch t {
	case timeType:
		return appendDateTime(b, v.Interface().(time.Time))
	case durationType:
		return appendDuration(b, time.Duration(v.Int())), nil
	}
	if t.Kind() == reflect.Pointer && t.Elem() == bigIntType {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return v.Interface().(*big.Int).Append(b, 10), nil
	}
	if t.Implements(jsonMarshalerType) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		return appendMarshaler(b, v.Interface().(json.Marshaler))
	}
	if t.Implements(textMarshalerType) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		txt, err := v.Interface().(interface{ MarshalText() ([]byte, error) }).MarshalText()
		if err != nil {
			return b, encErr("MarshalText: %v", err)
		}
		return appendString(b, string(txt))
	}
	switch t.Kind() {
	case reflect.Bool:
		return strconv.AppendBool(b, v.Bool()), nil
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return strconv.AppendInt(b, v.Int(), 10), nil
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return strconv.AppendUint(b, v.Uint(), 10), nil
	case reflect.Float32:
		return appendTaggedFloat(b, v.Float(), 32), nil
	case reflect.Float64:
		return appendTaggedFloat(b, v.Float(), 64), nil
	case reflect.Complex64, reflect.Complex128:
		return appendComplex(b, v.Complex()), nil
	case reflect.String:
		return appendString(b, v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return e.value(b, v.Elem().Interface(), depth+1)
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if t.Elem().Kind() == reflect.Uint8 {
			return appendBytesTag(b, "bytes", v.Bytes()), nil
		}
		fallthrough
	case reflect.Array:
		b = append(b, '[')
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var err *encodeError
			if b, err = e.elem(b, v.Index(i), depth+1); err != nil {
				return b, err.push(indexSeg(i))
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if t.Key().Kind() == reflect.String {
			return e.strMap(b, v, depth)
		}
		return e.anyMap(b, v, depth)
	case reflect.Struct:
		return e.structValue(b, v, depth)
	}
	return b, encErr("Go type %s has no Python form", t)
}

func (e *tagEnc) structValue(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	return appendStructWith(b, v, depth, e.elem)
}

// appendTaggedFloat writes a finite float as a JSON number that Python
// reads as a float (see appendFloat), and NaN/±Inf as tags.
func appendTaggedFloat(b []byte, f float64, bits int) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b = tagOpen(b, "float")
		b = append(b, '"')
		b = append(b, nonFiniteName(f)...)
		return append(b, `"}`...)
	}
	b, _ = appendFloat(b, f, bits)
	return b
}

func nonFiniteName(f float64) string {
	switch {
	case math.IsNaN(f):
		return "nan"
	case f > 0:
		return "inf"
	}
	return "-inf"
}

func appendFloatPart(b []byte, f float64) []byte {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		b = append(b, '"')
		b = append(b, nonFiniteName(f)...)
		return append(b, '"')
	}
	b, _ = appendFloat(b, f, 64)
	return b
}

func appendComplex(b []byte, c complex128) []byte {
	b = tagOpen(b, "complex")
	b = append(b, '[')
	b = appendFloatPart(b, real(c))
	b = append(b, ',')
	b = appendFloatPart(b, imag(c))
	return append(b, "]}"...)
}

func appendBytesTag(b []byte, kind string, data []byte) []byte {
	b = tagOpen(b, kind)
	b = append(b, '"')
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, `"}`...)
}

// appendOffset writes a UTC offset as Python's isoformat() does: +05:30, or
// +05:30:15 with seconds.
func appendOffset(b []byte, off int) []byte {
	sign := byte('+')
	if off < 0 {
		sign, off = '-', -off
	}
	b = append(b, sign)
	b = fmt.Appendf(b, "%02d:%02d", off/3600, off/60%60)
	if off%60 != 0 {
		b = fmt.Appendf(b, ":%02d", off%60)
	}
	return b
}

// appendDateTime writes a datetime tag as Python's isoformat() does (no
// fraction when the microseconds are 0), so that a value read from Python
// is written back unchanged. Nanoseconds below the microsecond are dropped
// (Python's resolution); the year must be 1...9999.
func appendDateTime(b []byte, t time.Time) ([]byte, *encodeError) {
	if y := t.Year(); y < 1 || y > 9999 {
		return b, encErr("time.Time %v: the year is outside Python's 1...9999", t)
	}
	b = tagOpen(b, "datetime")
	b = append(b, '"')
	b = t.AppendFormat(b, "2006-01-02T15:04:05")
	if us := t.Nanosecond() / 1000; us != 0 {
		b = fmt.Appendf(b, ".%06d", us)
	}
	if t.Location() != Naive {
		_, off := t.Zone()
		b = appendOffset(b, off)
	}
	return append(b, `"}`...), nil
}

func appendDate(b []byte, d Date) ([]byte, *encodeError) {
	if d.Year < 1 || d.Year > 9999 || DateOf(d.In(time.UTC)) != d {
		return b, encErr("pyrt.Date %+v is not a date Python can hold", d)
	}
	b = tagOpen(b, "date")
	b = append(b, '"')
	b = append(b, d.String()...)
	return append(b, `"}`...), nil
}

func appendTimeOfDay(b []byte, t TimeOfDay) ([]byte, *encodeError) {
	if t.Hour < 0 || t.Hour > 23 || t.Minute < 0 || t.Minute > 59 || t.Second < 0 || t.Second > 59 ||
		t.Microsecond < 0 || t.Microsecond > 999999 || t.Aware && (t.Offset <= -86400 || t.Offset >= 86400) {
		return b, encErr("pyrt.TimeOfDay %+v is not a time Python can hold", t)
	}
	b = tagOpen(b, "time")
	b = append(b, '"')
	b = append(b, t.String()...)
	return append(b, `"}`...), nil
}

// appendDuration writes a timedelta tag, normalized as Python does
// (0 <= seconds < 86400, 0 <= microseconds < 10**6). Nanoseconds below the
// microsecond are dropped (truncated toward zero).
func appendDuration(b []byte, d time.Duration) []byte {
	us := int64(d / time.Microsecond)
	const usPerDay = 86400 * 1000000
	days := us / usPerDay
	rem := us % usPerDay
	if rem < 0 {
		days--
		rem += usPerDay
	}
	b = tagOpen(b, "timedelta")
	b = fmt.Appendf(b, "[%d,%d,%d]}", days, rem/1000000, rem%1000000)
	return b
}
