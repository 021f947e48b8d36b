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

// Go types for the Python values that plain JSON cannot carry. They are what
// the object API (Object.Call, Object.Value, Runtime.CallValue, ...) returns,
// and what it accepts as arguments; see "Tagged values" in the package
// documentation and docs/values.md for the whole table.
type (
	// Tuple is a Python tuple. (A list is a []any.)
	Tuple []any
	// Set is a Python set. Its order is Python's iteration order, which
	// means nothing; compare sets without regard to order.
	Set []any
	// FrozenSet is a Python frozenset (see Set).
	FrozenSet []any
	// ByteArray is a Python bytearray. (bytes is a []byte.)
	ByteArray []byte
	// Dict is a Python dict whose keys are not all strings (ints, tuples,
	// None, ...), or that has the key "__pyrt__": its items in Python's
	// order. A dict with only str keys is a map[string]any instead.
	Dict []Pair
	// Decimal is a Python decimal.Decimal, held as its exact text (str() of
	// the Decimal): "3.14", "-0", "1E+2", "NaN", "-Infinity".
	Decimal string
)

// Pair is one item of a Dict.
type Pair struct {
	Key, Value any
}

// Lookup returns the value of the first pair whose key equals key
// (reflect.DeepEqual; an int key matches int64 and any other Go integer
// type of the same value).
func (d Dict) Lookup(key any) (any, bool) {
	key = normalizeKey(key)
	for _, p := range d {
		if reflect.DeepEqual(normalizeKey(p.Key), key) {
			return p.Value, true
		}
	}
	return nil, false
}

func normalizeKey(k any) any {
	rv := reflect.ValueOf(k)
	switch {
	case !rv.IsValid():
		return nil
	case rv.CanInt():
		return rv.Int()
	case rv.CanUint() && rv.Uint() <= math.MaxInt64:
		return int64(rv.Uint())
	}
	return k
}

// String returns the decimal text.
func (d Decimal) String() string { return string(d) }

// Rat returns the value of a finite Decimal as an exact rational number;
// ok is false for NaN and infinities.
func (d Decimal) Rat() (r *big.Rat, ok bool) { return new(big.Rat).SetString(string(d)) }

// Date is a Python datetime.date: a calendar day without a time or zone.
type Date struct {
	Year  int
	Month time.Month
	Day   int
}

// DateOf returns the calendar day of t in t's location.
func DateOf(t time.Time) Date {
	y, m, d := t.Date()
	return Date{y, m, d}
}

// In returns midnight of the day in loc.
func (d Date) In(loc *time.Location) time.Time {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, loc)
}

// String formats the date as Python's isoformat() does: "1999-12-31".
func (d Date) String() string { return fmt.Sprintf("%04d-%02d-%02d", d.Year, int(d.Month), d.Day) }

// TimeOfDay is a Python datetime.time: a wall-clock time with microsecond
// precision and an optional UTC offset.
type TimeOfDay struct {
	Hour, Minute, Second, Microsecond int
	// Aware is set when the time has a UTC offset (a tzinfo in Python);
	// Offset is then that offset in seconds east of UTC.
	Aware  bool
	Offset int
}

// String formats the time as Python's isoformat() does: "23:59:59.999999+05:30".
func (t TimeOfDay) String() string {
	b := fmt.Appendf(nil, "%02d:%02d:%02d", t.Hour, t.Minute, t.Second)
	if t.Microsecond != 0 {
		b = fmt.Appendf(b, ".%06d", t.Microsecond)
	}
	if t.Aware {
		b = appendOffset(b, t.Offset)
	}
	return string(b)
}

// Naive is the location of a time.Time that stands for a naive Python
// datetime (one without tzinfo): its wall clock is the datetime's, its
// offset 0. A time.Time in any other location becomes an aware datetime
// with the UTC offset that location has at that instant.
var Naive = time.FixedZone("naive", 0)

// CallOption adjusts a call of the object API. Pass it among the arguments
// (it is not sent to Python), or to Attr, Value and Decode:
//
//	v, err := obj.CallMethod(ctx, "items", pyrt.WithHandles())
type CallOption struct{ flags uint32 }

// WithHandles makes a result value that has no encoding (an arbitrary Python
// object, also nested inside a list or dict) come back as an *Object instead
// of an error matching ErrConversion. The caller owns those objects: Close
// them, or leave them to the garbage collector.
func WithHandles() CallOption { return CallOption{flags: valueHandles} }

// MarshalJSON makes a CallOption given to the plain JSON API (Runtime.Call,
// ...) a conversion error rather than an empty dict.
func (CallOption) MarshalJSON() ([]byte, error) {
	return nil, fmt.Errorf("pyrt.CallOption is only understood by the object API (Object.Call, Runtime.CallValue, ...)")
}

// Value flags of the C API.
const (
	valueTagged  uint32 = 1 // PYRT_VALUE_TAGGED
	valueHandles uint32 = 2 // PYRT_VALUE_HANDLES
)

// ---- Go -> tagged JSON ------------------------------------------------------

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

// ---- tagged JSON -> Go ------------------------------------------------------

// tagDec decodes the tagged encoding. Handles in the input ("object" tags)
// become *Objects owned by the caller; a conversion problem does not stop
// the decoding (so that every handle is wrapped, and closed on failure).
type tagDec struct {
	decoder
	rt   *Runtime
	objs []*Object
	err  error
}

// UnmarshalTagged decodes tagged JSON (the encoding of the object API) into
// the Go values the object API returns: Tuple, Set, []byte, Dict, time.Time,
// ... (see docs/values.md). It is the inverse of MarshalTagged, exported for
// tests and debugging; an object handle ({"__pyrt__":"object",...}) is an
// error matching ErrConversion, since only a Runtime can own one.
func UnmarshalTagged(data []byte) (any, error) {
	var r *Runtime
	return r.decodeTagged(data)
}

// decodeTagged decodes a tagged result. On failure every *Object it created
// is closed again.
func (r *Runtime) decodeTagged(data []byte) (any, error) {
	d := tagDec{decoder: decoder{data: data}, rt: r}
	d.skipSpace()
	v, err := d.value(0)
	if err == nil {
		d.skipSpace()
		if d.pos != len(d.data) {
			err = d.errorf("trailing data")
		}
	}
	if err == nil {
		err = d.err
	}
	if err != nil {
		for _, o := range d.objs {
			o.Close()
		}
		// Handles in the part not read (malformed input only) are left to
		// the runtime's release.
		return nil, err
	}
	return v, nil
}

func (d *tagDec) fail(format string, args ...any) {
	if d.err == nil {
		d.err = &Error{Code: CodeConversion, Message: "decoding tagged value: " + fmt.Sprintf(format, args...)}
	}
}

func (d *tagDec) value(depth int) (any, error) {
	if depth > maxDecodeDepth {
		return nil, d.errorf("nested too deeply")
	}
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch d.data[d.pos] {
	case '{':
		return d.object(depth)
	case '[':
		return d.array(depth)
	}
	return d.decoder.value(depth)
}

func (d *tagDec) array(depth int) ([]any, error) {
	d.pos++
	a := make([]any, 0, 4)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == ']' {
		d.pos++
		return a, nil
	}
	for {
		d.skipSpace()
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		a = append(a, v)
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of array")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			continue
		case ']':
			d.pos++
			return a, nil
		}
		return nil, d.errorf("expected ',' or ']'")
	}
}

func (d *tagDec) object(depth int) (any, error) {
	d.pos++
	m := make(map[string]any)
	d.skipSpace()
	if d.pos < len(d.data) && d.data[d.pos] == '}' {
		d.pos++
		return m, nil
	}
	for first := true; ; first = false {
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != '"' {
			return nil, d.errorf("expected object key")
		}
		k, err := d.str()
		if err != nil {
			return nil, err
		}
		d.skipSpace()
		if d.pos >= len(d.data) || d.data[d.pos] != ':' {
			return nil, d.errorf("expected ':'")
		}
		d.pos++
		d.skipSpace()
		if first && k == tagKey {
			return d.tag(depth)
		}
		v, err := d.value(depth + 1)
		if err != nil {
			return nil, err
		}
		if k == tagKey {
			return nil, d.errorf(`"__pyrt__" must be the first key of a tagged value`)
		}
		m[k] = v
		d.skipSpace()
		if d.pos >= len(d.data) {
			return nil, d.errorf("unexpected end of object")
		}
		switch d.data[d.pos] {
		case ',':
			d.pos++
			continue
		case '}':
			d.pos++
			return m, nil
		}
		return nil, d.errorf("expected ',' or '}'")
	}
}

// tag reads `"kind","v":value}` after `{"__pyrt__":`.
func (d *tagDec) tag(depth int) (any, error) {
	if d.pos >= len(d.data) || d.data[d.pos] != '"' {
		return nil, d.errorf("a tag kind is a string")
	}
	kind, err := d.str()
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if !d.literal(",") {
		return nil, d.errorf(`expected "v" after the tag kind`)
	}
	d.skipSpace()
	if !d.literal(`"v"`) {
		return nil, d.errorf(`expected "v" after the tag kind`)
	}
	d.skipSpace()
	if !d.literal(":") {
		return nil, d.errorf("expected ':'")
	}
	d.skipSpace()
	v, err := d.value(depth + 1)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if !d.literal("}") {
		return nil, d.errorf(`a tagged value has only the keys "__pyrt__" and "v"`)
	}
	return d.convert(kind, v), nil
}

func (d *tagDec) convert(kind string, v any) any {
	switch kind {
	case "tuple", "set", "frozenset":
		a, ok := v.([]any)
		if !ok {
			d.fail("tag %q needs an array", kind)
			return nil
		}
		switch kind {
		case "tuple":
			return Tuple(a)
		case "set":
			return Set(a)
		}
		return FrozenSet(a)
	case "dict":
		a, ok := v.([]any)
		if !ok {
			d.fail("tag \"dict\" needs an array of pairs")
			return nil
		}
		out := make(Dict, len(a))
		for i, p := range a {
			kv, ok := p.([]any)
			if !ok || len(kv) != 2 {
				d.fail("tag \"dict\": every pair is [key, value]")
				return nil
			}
			out[i] = Pair{kv[0], kv[1]}
		}
		return out
	case "bytes", "bytearray":
		s, ok := v.(string)
		var data []byte
		var err error
		if ok {
			data, err = base64.StdEncoding.DecodeString(s)
		}
		if !ok || err != nil {
			d.fail("tag %q needs base64 text", kind)
			return nil
		}
		if kind == "bytearray" {
			return ByteArray(data)
		}
		return data
	case "float":
		f, ok := floatPart(v)
		if !ok {
			d.fail("tag \"float\": %v is not a float", v)
		}
		return f
	case "complex":
		a, ok := v.([]any)
		if !ok || len(a) != 2 {
			d.fail("tag \"complex\" is [real, imag]")
			return nil
		}
		re, ok1 := floatPart(a[0])
		im, ok2 := floatPart(a[1])
		if !ok1 || !ok2 {
			d.fail("tag \"complex\": %v is not a number pair", a)
		}
		return complex(re, im)
	case "datetime", "date", "time":
		s, ok := v.(string)
		if !ok {
			d.fail("tag %q needs a string", kind)
			return nil
		}
		var out any
		var err error
		switch kind {
		case "datetime":
			out, err = parseDateTime(s)
		case "date":
			out, err = parseDate(s)
		default:
			out, err = parseTimeOfDay(s)
		}
		if err != nil {
			d.fail("%v", err)
		}
		return out
	case "timedelta":
		a, ok := v.([]any)
		if !ok || len(a) != 3 {
			d.fail("tag \"timedelta\" is [days, seconds, microseconds]")
			return nil
		}
		td, err := durationOf(a)
		if err != nil {
			d.fail("%v", err)
		}
		return td
	case "decimal":
		s, ok := v.(string)
		if !ok {
			d.fail("tag \"decimal\" needs a string")
		}
		return Decimal(s)
	case "object":
		id, ok := v.(int64)
		if !ok || id <= 0 {
			d.fail("tag \"object\" needs a handle number")
			return nil
		}
		if d.rt == nil {
			d.fail("an object handle needs a Runtime (UnmarshalTagged cannot take one)")
			return nil
		}
		o := newObject(d.rt, uintptr(id))
		d.objs = append(d.objs, o)
		return o
	}
	d.fail("unknown tag kind %q", kind)
	return nil
}

func floatPart(v any) (float64, bool) {
	switch x := v.(type) {
	case float64:
		return x, true
	case int64:
		return float64(x), true
	case *big.Int:
		f, _ := new(big.Float).SetInt(x).Float64()
		return f, true
	case string:
		switch x {
		case "nan":
			return math.NaN(), true
		case "inf":
			return math.Inf(1), true
		case "-inf":
			return math.Inf(-1), true
		}
	}
	return 0, false
}

// durationOf converts [days, seconds, microseconds] into a time.Duration
// (±292 years; a larger timedelta is an error).
func durationOf(a []any) (time.Duration, error) {
	var n [3]int64
	for i, x := range a {
		v, ok := x.(int64)
		if !ok {
			return 0, &Error{Code: CodeConversion, Message: fmt.Sprintf("timedelta %v does not fit in a time.Duration (±292 years)", a)}
		}
		n[i] = v
	}
	days, secs, us := n[0], n[1], n[2]
	if days > -106750 && days < 106750 && secs >= -86400*2 && secs <= 86400*2 && us > -2e6 && us < 2e6 {
		return time.Duration(days*86400e9 + secs*1e9 + us*1e3), nil
	}
	t := new(big.Int).Mul(big.NewInt(days), big.NewInt(86400e9))
	t.Add(t, new(big.Int).Mul(big.NewInt(secs), big.NewInt(1e9)))
	t.Add(t, new(big.Int).Mul(big.NewInt(us), big.NewInt(1e3)))
	if !t.IsInt64() {
		return 0, &Error{Code: CodeConversion, Message: fmt.Sprintf("timedelta(days=%d, seconds=%d, microseconds=%d) does not fit in a time.Duration (±292 years)", days, secs, us)}
	}
	return time.Duration(t.Int64()), nil
}

func isoErr(kind, s string) error {
	return &Error{Code: CodeConversion, Message: fmt.Sprintf("cannot read %s %q", kind, s)}
}

// digits reads n decimal digits of s at i.
func digits(s string, i, n int) (int, bool) {
	if i+n > len(s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(s[i : i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	return v, true
}

func parseDate(s string) (Date, error) {
	y, ok1 := digits(s, 0, 4)
	m, ok2 := digits(s, 5, 2)
	d, ok3 := digits(s, 8, 2)
	if !ok1 || !ok2 || !ok3 || len(s) != 10 || s[4] != '-' || s[7] != '-' {
		return Date{}, isoErr("date", s)
	}
	return Date{y, time.Month(m), d}, nil
}

// parseClock reads "HH:MM:SS[.ffffff][+HH:MM[:SS[.ffffff]]]" (isoformat of a
// time, and the time part of a datetime).
func parseClock(s string) (t TimeOfDay, ok bool) {
	var ok1, ok2, ok3 bool
	t.Hour, ok1 = digits(s, 0, 2)
	t.Minute, ok2 = digits(s, 3, 2)
	t.Second, ok3 = digits(s, 6, 2)
	if !ok1 || !ok2 || !ok3 || len(s) < 8 || s[2] != ':' || s[5] != ':' {
		return t, false
	}
	i := 8
	if i < len(s) && s[i] == '.' {
		var ok bool
		if t.Microsecond, ok = digits(s, i+1, 6); !ok {
			return t, false
		}
		i += 7
	}
	if i == len(s) {
		return t, true
	}
	if s[i] != '+' && s[i] != '-' {
		return t, false
	}
	sign := 1
	if s[i] == '-' {
		sign = -1
	}
	oh, ok1 := digits(s, i+1, 2)
	om, ok2 := digits(s, i+4, 2)
	if !ok1 || !ok2 || len(s) < i+6 || s[i+3] != ':' {
		return t, false
	}
	off := oh*3600 + om*60
	i += 6
	if i < len(s) {
		// Seconds in the offset; a fraction of a second cannot be a Go zone.
		os, ok := digits(s, i+1, 2)
		if !ok || s[i] != ':' || len(s) != i+3 {
			return t, false
		}
		off += os
	}
	t.Aware, t.Offset = true, sign*off
	return t, true
}

func parseTimeOfDay(s string) (TimeOfDay, error) {
	t, ok := parseClock(s)
	if !ok {
		return t, isoErr("time", s)
	}
	return t, nil
}

// parseDateTime reads a Python datetime.isoformat() string into a
// time.Time: an aware datetime gets a fixed zone with its UTC offset (UTC
// itself for +00:00), a naive one the location Naive.
func parseDateTime(s string) (time.Time, error) {
	if len(s) < 19 || s[10] != 'T' {
		return time.Time{}, isoErr("datetime", s)
	}
	d, err := parseDate(s[:10])
	if err != nil {
		return time.Time{}, isoErr("datetime", s)
	}
	c, ok := parseClock(s[11:])
	if !ok {
		return time.Time{}, isoErr("datetime", s)
	}
	loc := Naive
	if c.Aware {
		loc = zoneFor(c.Offset)
	}
	return time.Date(d.Year, d.Month, d.Day, c.Hour, c.Minute, c.Second, c.Microsecond*1000, loc), nil
}

func zoneFor(off int) *time.Location {
	if off == 0 {
		return time.UTC
	}
	return time.FixedZone("", off)
}
