package pyrt

import (
	"bytes"
	"encoding"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/big"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"
)

// ConversionError reports a Go value that has no JSON form, with the path of
// the value inside the arguments (e.g. `$[1]["k"]`). It matches
// ErrConversion with errors.Is.
type ConversionError struct {
	Path   string
	Reason string
	// Err is the underlying error, if any (an *Object argument that was
	// closed: Err matches ErrClosed).
	Err error
}

func (e *ConversionError) Error() string {
	if e.Path == "" || e.Path == "$" {
		return "pyrt: cannot convert Go value: " + e.Reason
	}
	return "pyrt: cannot convert Go value at " + e.Path + ": " + e.Reason
}

// Is reports whether target is ErrConversion.
func (e *ConversionError) Is(target error) bool { return target == ErrConversion }

// Unwrap returns Err.
func (e *ConversionError) Unwrap() error { return e.Err }

// encodeError is the internal form of ConversionError; the path is built
// while unwinding (innermost segment first), so the success path pays nothing.
type encodeError struct {
	segs   []string
	reason string
	cause  error
}

func (e *encodeError) Error() string { return e.reason }

func (e *encodeError) push(seg string) *encodeError {
	e.segs = append(e.segs, seg)
	return e
}

func (e *encodeError) public(root string) *ConversionError {
	var b strings.Builder
	b.WriteString(root)
	for i := len(e.segs) - 1; i >= 0; i-- {
		b.WriteString(e.segs[i])
	}
	return &ConversionError{Path: b.String(), Reason: e.reason, Err: e.cause}
}

func indexSeg(i int) string  { return "[" + strconv.Itoa(i) + "]" }
func keySeg(k string) string { return "[" + strconv.Quote(k) + "]" }

func encErr(format string, args ...any) *encodeError {
	return &encodeError{reason: fmt.Sprintf(format, args...)}
}

const maxEncodeDepth = 1000

// appendArgs appends the JSON array of args to b.
func appendArgs(b []byte, args []any) ([]byte, error) {
	b = append(b, '[')
	for i, a := range args {
		if i > 0 {
			b = append(b, ',')
		}
		var err *encodeError
		b, err = appendValue(b, a, 0)
		if err != nil {
			return b, err.push(indexSeg(i)).public("$")
		}
	}
	return append(b, ']'), nil
}

// appendCallArgs is appendArgs leaving out the nopts CallOptions among args
// (argOptions counted them).
func appendCallArgs(b []byte, args []any, nopts int) ([]byte, error) {
	if nopts == 0 {
		return appendArgs(b, args)
	}
	b = append(b, '[')
	n := 0
	for i, a := range args {
		if _, ok := a.(CallOption); ok {
			continue
		}
		if n > 0 {
			b = append(b, ',')
		}
		n++
		var err *encodeError
		if b, err = appendValue(b, a, 0); err != nil {
			return b, err.push(indexSeg(i)).public("$")
		}
	}
	return append(b, ']'), nil
}

// retag makes the plain JSON arguments in f (args at argsOff, kwargs at
// kwOff >= 0, each NUL-terminated, the last strings of f.buf) safe to send
// as tagged JSON, and returns kwargs' new offset. They read the same in
// both encodings unless an object has the key "__pyrt__", which the tagged
// encoding reads as a tag: then (rarely) they are decoded and written again
// in the tagged encoding, where such a dict takes the general form. Plain
// JSON decodes to values the tagged encoder writes as the same Python
// values (int64/*big.Int, float64, string, []any, map[string]any).
func (f *frame) retag(argsOff, kwOff int) (int, error) {
	if !hasTag(f.buf[argsOff:]) {
		return kwOff, nil
	}
	segs := []int{argsOff}
	if kwOff >= 0 {
		segs = append(segs, kwOff)
	}
	var texts [][]byte
	for _, off := range segs {
		end := off + bytes.IndexByte(f.buf[off:], 0)
		texts = append(texts, append([]byte(nil), f.buf[off:end]...))
	}
	b := f.buf[:argsOff]
	for i, text := range texts {
		v, err := Unmarshal(text)
		if err != nil {
			return kwOff, err
		}
		if i == 1 {
			kwOff = len(b)
		}
		var e tagEnc
		if b, err = e.marshal(b, v); err != nil {
			return kwOff, err
		}
		b = append(b, 0)
	}
	f.buf = b
	return kwOff, nil
}

// appendKwargs appends the JSON object of kwargs to b (keys sorted).
func appendKwargs(b []byte, kwargs map[string]any) ([]byte, error) {
	b, err := appendMapAny(b, kwargs, 0)
	if err != nil {
		return b, err.public("kwargs")
	}
	return b, nil
}

// Marshal returns the JSON text pyrt sends to Python for v. It is exported
// for tests and debugging; calls use the same encoder.
func Marshal(v any) ([]byte, error) {
	b, err := appendValue(nil, v, 0)
	if err != nil {
		return nil, err.public("$")
	}
	return b, nil
}

// appendValue is the fast path: common types without reflection.
func appendValue(b []byte, v any, depth int) ([]byte, *encodeError) {
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
	case int8:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int16:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int32:
		return strconv.AppendInt(b, int64(x), 10), nil
	case int64:
		return strconv.AppendInt(b, x, 10), nil
	case uint:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint8:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint16:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint32:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case uint64:
		return strconv.AppendUint(b, x, 10), nil
	case uintptr:
		return strconv.AppendUint(b, uint64(x), 10), nil
	case float64:
		return appendFloat(b, x, 64)
	case float32:
		return appendFloat(b, float64(x), 32)
	case json.Number:
		return appendNumber(b, string(x))
	case Buffer:
		return b, encErr("a pyrt.Buffer is lent only to typed calls (Object.CallFloat, CallInt, CallTyped, CallTypedObject)")
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
		if x.IsInf() {
			return b, encErr("infinite *big.Float")
		}
		f, _ := x.Float64()
		return appendFloat(b, f, 64)
	case []any:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err *encodeError
			if b, err = appendValue(b, e, depth+1); err != nil {
				return b, err.push(indexSeg(i))
			}
		}
		return append(b, ']'), nil
	case []string:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err *encodeError
			if b, err = appendString(b, e); err != nil {
				return b, err.push(indexSeg(i))
			}
		}
		return append(b, ']'), nil
	case []int:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, int64(e), 10)
		}
		return append(b, ']'), nil
	case []int64:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			b = strconv.AppendInt(b, e, 10)
		}
		return append(b, ']'), nil
	case []float64:
		if x == nil {
			return append(b, "null"...), nil
		}
		b = append(b, '[')
		for i, e := range x {
			if i > 0 {
				b = append(b, ',')
			}
			var err *encodeError
			if b, err = appendFloat(b, e, 64); err != nil {
				return b, err.push(indexSeg(i))
			}
		}
		return append(b, ']'), nil
	case map[string]any:
		return appendMapAny(b, x, depth)
	case map[string]string:
		if x == nil {
			return append(b, "null"...), nil
		}
		keys := sortedKeys(x)
		b = append(b, '{')
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			var err *encodeError
			if b, err = appendString(b, k); err != nil {
				return b, err.push(keySeg(k))
			}
			b = append(b, ':')
			if b, err = appendString(b, x[k]); err != nil {
				return b, err.push(keySeg(k))
			}
		}
		return append(b, '}'), nil
	case json.RawMessage:
		if x == nil {
			return append(b, "null"...), nil
		}
		if !json.Valid(x) {
			return b, encErr("json.RawMessage is not valid JSON")
		}
		return append(b, x...), nil
	}
	return appendReflect(b, reflect.ValueOf(v), depth)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func appendMapAny(b []byte, m map[string]any, depth int) ([]byte, *encodeError) {
	if m == nil {
		return append(b, "null"...), nil
	}
	b = append(b, '{')
	if len(m) == 1 {
		for k, v := range m {
			var err *encodeError
			if b, err = appendString(b, k); err != nil {
				return b, err.push(keySeg(k))
			}
			b = append(b, ':')
			if b, err = appendValue(b, v, depth+1); err != nil {
				return b, err.push(keySeg(k))
			}
		}
		return append(b, '}'), nil
	}
	for i, k := range sortedKeys(m) {
		if i > 0 {
			b = append(b, ',')
		}
		var err *encodeError
		if b, err = appendString(b, k); err != nil {
			return b, err.push(keySeg(k))
		}
		b = append(b, ':')
		if b, err = appendValue(b, m[k], depth+1); err != nil {
			return b, err.push(keySeg(k))
		}
	}
	return append(b, '}'), nil
}

// appendFloat writes a JSON number that always reads back as a float in
// Python (it contains '.' or an exponent): 4 -> 4.0, 1e21 -> 1e+21.
func appendFloat(b []byte, f float64, bits int) ([]byte, *encodeError) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return b, encErr("%v has no JSON form", f)
	}
	abs := math.Abs(f)
	if abs < 1e15 && f == math.Trunc(f) && !(f == 0 && math.Signbit(f)) {
		// Integral values (16.0, counts, ids): digits and ".0", no shortest-form search.
		return append(strconv.AppendInt(b, int64(f), 10), '.', '0'), nil
	}
	format := byte('f')
	if abs != 0 && (bits == 64 && (abs < 1e-6 || abs >= 1e21) || bits == 32 && (float32(abs) < 1e-6 || float32(abs) >= 1e21)) {
		format = 'e'
	}
	start := len(b)
	b = strconv.AppendFloat(b, f, format, -1, bits)
	if format == 'e' {
		return b, nil
	}
	for _, c := range b[start:] {
		if c == '.' {
			return b, nil
		}
	}
	return append(b, '.', '0'), nil
}

// appendNumber writes a json.Number after checking it is a JSON number.
func appendNumber(b []byte, s string) ([]byte, *encodeError) {
	if s == "" {
		return append(b, '0'), nil // as encoding/json does
	}
	if !isJSONNumber(s) {
		return b, encErr("json.Number %q is not a JSON number", s)
	}
	return append(b, s...), nil
}

func isJSONNumber[T ~string | ~[]byte](s T) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	if i >= len(s) {
		return false
	}
	if s[i] == '0' {
		i++
	} else if s[i] >= '1' && s[i] <= '9' {
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
	} else {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		d := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == d {
			return false
		}
	}
	return i == len(s)
}

const hexDigits = "0123456789abcdef"

// appendString writes s as a JSON string. Invalid UTF-8 is an error (rather
// than silently replaced), since Python would receive different text.
func appendString(b []byte, s string) ([]byte, *encodeError) {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				return b, encErr("string is not valid UTF-8 (byte %d)", i)
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, '\\', 'n')
		case '\r':
			b = append(b, '\\', 'r')
		case '\t':
			b = append(b, '\\', 't')
		default:
			b = append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"'), nil
}

var (
	jsonMarshalerType = reflect.TypeFor[json.Marshaler]()
	textMarshalerType = reflect.TypeFor[encoding.TextMarshaler]()
	bigIntType        = reflect.TypeFor[big.Int]()
	numberType        = reflect.TypeFor[json.Number]()
)

// appendReflect handles every other type: named basic types, pointers,
// interfaces, slices, arrays, maps with string (or integer) keys, structs,
// and types implementing json.Marshaler or encoding.TextMarshaler.
func appendReflect(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	if depth > maxEncodeDepth {
		return b, encErr("nested deeper than %d levels (cycle?)", maxEncodeDepth)
	}
	if !v.IsValid() {
		return append(b, "null"...), nil
	}
	t := v.Type()
	switch t {
	case numberType:
		return appendNumber(b, v.String())
	case bigIntType:
		if v.CanAddr() {
			return v.Addr().Interface().(*big.Int).Append(b, 10), nil
		}
		x := v.Interface().(big.Int)
		return x.Append(b, 10), nil
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
	if v.CanAddr() && reflect.PointerTo(t).Implements(jsonMarshalerType) {
		return appendMarshaler(b, v.Addr().Interface().(json.Marshaler))
	}
	if t.Implements(textMarshalerType) {
		if t.Kind() == reflect.Pointer && v.IsNil() {
			return append(b, "null"...), nil
		}
		txt, err := v.Interface().(encoding.TextMarshaler).MarshalText()
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
		return appendFloat(b, v.Float(), 32)
	case reflect.Float64:
		return appendFloat(b, v.Float(), 64)
	case reflect.String:
		return appendString(b, v.String())
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		e := v.Elem()
		if t.Kind() == reflect.Interface {
			return appendValue(b, e.Interface(), depth+1)
		}
		return appendReflect(b, e, depth+1)
	case reflect.Slice:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		if t.Elem().Kind() == reflect.Uint8 && !reflect.PointerTo(t.Elem()).Implements(jsonMarshalerType) {
			// []byte: base64 text, as encoding/json does.
			b = append(b, '"')
			b = base64.StdEncoding.AppendEncode(b, v.Bytes())
			return append(b, '"'), nil
		}
		fallthrough
	case reflect.Array:
		b = append(b, '[')
		for i, n := 0, v.Len(); i < n; i++ {
			if i > 0 {
				b = append(b, ',')
			}
			var err *encodeError
			if b, err = appendElem(b, v.Index(i), depth+1); err != nil {
				return b, err.push(indexSeg(i))
			}
		}
		return append(b, ']'), nil
	case reflect.Map:
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return appendReflectMap(b, v, depth)
	case reflect.Struct:
		return appendStruct(b, v, depth)
	}
	return b, encErr("Go type %s has no JSON form", t)
}

// appendElem encodes an element: interface elements take the fast path.
func appendElem(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	if v.Kind() == reflect.Interface {
		if v.IsNil() {
			return append(b, "null"...), nil
		}
		return appendValue(b, v.Elem().Interface(), depth)
	}
	return appendReflect(b, v, depth)
}

func appendMarshaler(b []byte, m json.Marshaler) ([]byte, *encodeError) {
	out, err := m.MarshalJSON()
	if err != nil {
		return b, encErr("MarshalJSON: %v", err)
	}
	if !json.Valid(out) {
		return b, encErr("MarshalJSON returned invalid JSON")
	}
	return append(b, out...), nil
}

func appendReflectMap(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	kt := v.Type().Key()
	type kv struct {
		k string
		v reflect.Value
	}
	entries := make([]kv, 0, v.Len())
	iter := v.MapRange()
	for iter.Next() {
		k := iter.Key()
		var ks string
		switch {
		case kt.Kind() == reflect.String:
			ks = k.String()
		case kt.Implements(textMarshalerType):
			txt, err := k.Interface().(encoding.TextMarshaler).MarshalText()
			if err != nil {
				return b, encErr("map key MarshalText: %v", err)
			}
			ks = string(txt)
		case k.CanInt():
			ks = strconv.FormatInt(k.Int(), 10)
		case k.CanUint():
			ks = strconv.FormatUint(k.Uint(), 10)
		default:
			return b, encErr("map key type %s is not a string", kt)
		}
		entries = append(entries, kv{ks, iter.Value()})
	}
	slices.SortFunc(entries, func(a, b kv) int { return strings.Compare(a.k, b.k) })
	b = append(b, '{')
	for i, e := range entries {
		if i > 0 {
			b = append(b, ',')
		}
		var err *encodeError
		if b, err = appendString(b, e.k); err != nil {
			return b, err.push(keySeg(e.k))
		}
		b = append(b, ':')
		if b, err = appendElem(b, e.v, depth+1); err != nil {
			return b, err.push(keySeg(e.k))
		}
	}
	return append(b, '}'), nil
}

// structInfo is the cached encoding plan of a struct type.
type structInfo struct {
	useStdlib bool // embedded fields or ",string" options: leave it to encoding/json
	fields    []fieldInfo
}

type fieldInfo struct {
	index     int
	name      string
	omitEmpty bool
	omitZero  bool
}

var structCache sync.Map // reflect.Type -> *structInfo

func structPlan(t reflect.Type) *structInfo {
	if si, ok := structCache.Load(t); ok {
		return si.(*structInfo)
	}
	si := &structInfo{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if f.Anonymous {
			si.useStdlib = true
			break
		}
		if !f.IsExported() {
			continue
		}
		tag := f.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		if name == "" {
			name = f.Name
		}
		fi := fieldInfo{index: i, name: name}
		for opts != "" {
			var o string
			o, opts, _ = strings.Cut(opts, ",")
			switch o {
			case "omitempty":
				fi.omitEmpty = true
			case "omitzero":
				fi.omitZero = true
			case "string":
				si.useStdlib = true
			}
		}
		si.fields = append(si.fields, fi)
	}
	structCache.Store(t, si)
	return si
}

// appendStruct encodes a struct following encoding/json's rules (json tags,
// "-", omitempty, omitzero) but with pyrt's number formatting, so a float64
// field holding 4 arrives in Python as 4.0. Structs with embedded fields or
// ",string" options are encoded by encoding/json itself.
func appendStruct(b []byte, v reflect.Value, depth int) ([]byte, *encodeError) {
	return appendStructWith(b, v, depth, appendElem)
}

// appendStructWith encodes a struct's fields with elem (the plain or the
// tagged element encoder).
func appendStructWith(b []byte, v reflect.Value, depth int, elem func([]byte, reflect.Value, int) ([]byte, *encodeError)) ([]byte, *encodeError) {
	si := structPlan(v.Type())
	if si.useStdlib {
		out, err := json.Marshal(v.Interface())
		if err != nil {
			return b, encErr("encoding/json: %v", err)
		}
		return append(b, out...), nil
	}
	b = append(b, '{')
	first := true
	for _, fi := range si.fields {
		fv := v.Field(fi.index)
		if fi.omitEmpty && isEmptyValue(fv) || fi.omitZero && isZeroValue(fv) {
			continue
		}
		if !first {
			b = append(b, ',')
		}
		first = false
		var err *encodeError
		if b, err = appendString(b, fi.name); err != nil {
			return b, err.push(keySeg(fi.name))
		}
		b = append(b, ':')
		if b, err = elem(b, fv, depth+1); err != nil {
			return b, err.push(keySeg(fi.name))
		}
	}
	return append(b, '}'), nil
}

func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

type isZeroer interface{ IsZero() bool }

var isZeroerType = reflect.TypeFor[isZeroer]()

func isZeroValue(v reflect.Value) bool {
	if v.Type().Implements(isZeroerType) {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return v.Interface().(isZeroer).IsZero()
	}
	return v.IsZero()
}
