package pyrt

import (
	"encoding/base64"
	"fmt"
	"math"
	"math/big"
	"time"
)

// The tagged encoding -> Go values (docs/values.md).

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
