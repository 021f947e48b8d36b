package pyrt

import (
	"math"
	"math/big"
	"strconv"
	"unicode/utf16"
	"unicode/utf8"
	"unsafe"
)

// Unmarshal decodes a JSON document the way pyrt decodes Python results:
// integers become int64 (or *big.Int when they do not fit), numbers written
// with '.' or an exponent become float64, and objects and arrays become
// map[string]any and []any. It is exported for tests and debugging.
func Unmarshal(data []byte) (any, error) {
	d := decoder{data: data}
	if len(data) > 0 && (data[0] == '-' || data[0]-'0' < 10) {
		// A bare number, the most common result: one pass.
		if v, ok := d.plainNumber(); ok && d.pos == len(data) {
			return v, nil
		}
		d.pos = 0
	}
	d.skipSpace()
	v, err := d.value(0)
	if err != nil {
		return nil, err
	}
	d.skipSpace()
	if d.pos != len(d.data) {
		return nil, d.errorf("trailing data")
	}
	return v, nil
}

type decoder struct {
	data []byte
	pos  int
}

const maxDecodeDepth = 10000

func (d *decoder) errorf(msg string) error {
	return &Error{Code: CodeConversion, Message: "decoding result JSON at offset " + strconv.Itoa(d.pos) + ": " + msg}
}

func (d *decoder) skipSpace() {
	for d.pos < len(d.data) {
		switch d.data[d.pos] {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return
		}
	}
}

func (d *decoder) literal(s string) bool {
	if len(d.data)-d.pos >= len(s) && string(d.data[d.pos:d.pos+len(s)]) == s {
		d.pos += len(s)
		return true
	}
	return false
}

func (d *decoder) value(depth int) (any, error) {
	if depth > maxDecodeDepth {
		return nil, d.errorf("nested too deeply")
	}
	if d.pos >= len(d.data) {
		return nil, d.errorf("unexpected end of input")
	}
	switch c := d.data[d.pos]; c {
	case '{':
		d.pos++
		m := make(map[string]any)
		d.skipSpace()
		if d.pos < len(d.data) && d.data[d.pos] == '}' {
			d.pos++
			return m, nil
		}
		for {
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
			v, err := d.value(depth + 1)
			if err != nil {
				return nil, err
			}
			m[k] = v
			d.skipSpace()
			if d.pos >= len(d.data) {
				return nil, d.errorf("unexpected end of object")
			}
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.data[d.pos] == '}' {
				d.pos++
				return m, nil
			}
			return nil, d.errorf("expected ',' or '}'")
		}
	case '[':
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
			if d.data[d.pos] == ',' {
				d.pos++
				continue
			}
			if d.data[d.pos] == ']' {
				d.pos++
				return a, nil
			}
			return nil, d.errorf("expected ',' or ']'")
		}
	case '"':
		return d.str()
	case 't':
		if d.literal("true") {
			return true, nil
		}
	case 'f':
		if d.literal("false") {
			return false, nil
		}
	case 'n':
		if d.literal("null") {
			return nil, nil
		}
	case 'N':
		// Python's json module writes NaN/Infinity; accept them.
		if d.literal("NaN") {
			return math.NaN(), nil
		}
	case 'I':
		if d.literal("Infinity") {
			return math.Inf(1), nil
		}
	default:
		if c == '-' || c >= '0' && c <= '9' {
			if c == '-' && d.literal("-Infinity") {
				return math.Inf(-1), nil
			}
			return d.number()
		}
	}
	return nil, d.errorf("unexpected character " + strconv.QuoteRune(rune(d.data[d.pos])))
}

// pow10 holds the powers of ten a float64 represents exactly.
var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15}

// simpleFloat reads -?digits.digits with at most 15 significant digits and no
// exponent (what Python prints for most floats) exactly: the digits as an
// integer below 2^53 divided by an exact power of ten is correctly rounded
// (Clinger's fast path), as strconv.ParseFloat would be. ok is false for
// anything else.
func simpleFloat(s []byte) (float64, bool) {
	i, neg := 0, false
	if len(s) > 0 && s[0] == '-' {
		i, neg = 1, true
	}
	var m uint64
	digits, frac, dot := 0, 0, false
	for ; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			m = m*10 + uint64(c-'0')
			digits++
			if dot {
				frac++
			}
		case c == '.' && !dot:
			dot = true
		default:
			return 0, false
		}
	}
	if digits == 0 || digits > 15 || frac >= len(pow10) {
		return 0, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	return f, true
}

func (d *decoder) number() (any, error) {
	if v, ok := d.plainNumber(); ok {
		return v, nil
	}
	return d.numberGeneral()
}

func (d *decoder) numberGeneral() (any, error) {
	start := d.pos
	isFloat := false
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c >= '0' && c <= '9' || c == '-' || c == '+' {
			d.pos++
		} else if c == '.' || c == 'e' || c == 'E' {
			isFloat = true
			d.pos++
		} else {
			break
		}
	}
	s := d.data[start:d.pos]
	if !isJSONNumber(s) {
		return nil, d.errorf("malformed number")
	}
	if isFloat {
		if f, ok := simpleFloat(s); ok {
			return f, nil
		}
		f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(s), len(s)), 64)
		if err != nil && !isRangeErr(err) {
			return nil, d.errorf("malformed number")
		}
		return f, nil // out of range: ±Inf, as Python's float() would give
	}
	if len(s) <= 18 { // always fits in int64: skip strconv's checks
		var n int64
		neg := s[0] == '-'
		i := 0
		if neg {
			i = 1
		}
		for ; i < len(s); i++ {
			n = n*10 + int64(s[i]-'0')
		}
		if neg {
			n = -n
		}
		return n, nil
	}
	if n, err := strconv.ParseInt(string(s), 10, 64); err == nil {
		return n, nil
	}
	z, ok := new(big.Int).SetString(string(s), 10)
	if !ok {
		return nil, d.errorf("malformed integer")
	}
	return z, nil
}

// plainNumber reads, in one pass, the numbers most results are: an integer
// of at most 18 digits, or -?int.frac with at most 15 digits in all and no
// exponent, followed by a character that cannot continue a number. Their
// values are exactly what number's general path computes (the same digits
// as an int64, or Clinger's fast path as in simpleFloat). ok is false, and
// nothing consumed, for anything else, which the general path then reads
// (or rejects with its error).
func (d *decoder) plainNumber() (any, bool) {
	s := d.data[d.pos:]
	i, neg := 0, false
	if i < len(s) && s[i] == '-' {
		i, neg = 1, true
	}
	start := i
	var m uint64
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		m = m*10 + uint64(s[i]-'0')
		i++
	}
	digits := i - start
	if digits == 0 || digits > 1 && s[start] == '0' {
		return nil, false
	}
	frac := -1
	if i < len(s) && s[i] == '.' {
		i++
		fs := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			m = m*10 + uint64(s[i]-'0')
			i++
		}
		frac = i - fs
		digits += frac
		if frac == 0 {
			return nil, false
		}
	}
	if i < len(s) {
		switch s[i] {
		case 'e', 'E', '.', '+', '-':
			return nil, false
		}
	}
	if frac < 0 {
		if digits > 18 {
			return nil, false
		}
		n := int64(m)
		if neg {
			n = -n
		}
		d.pos += i
		return n, true
	}
	if digits > 15 || frac >= len(pow10) {
		return nil, false
	}
	f := float64(m) / pow10[frac]
	if neg {
		f = -f
	}
	d.pos += i
	return f, true
}

func isRangeErr(err error) bool {
	ne, ok := err.(*strconv.NumError)
	return ok && ne.Err == strconv.ErrRange
}

// str decodes a JSON string starting at d.data[d.pos] == '"'.
func (d *decoder) str() (string, error) {
	d.pos++
	start := d.pos
	// Fast path: no escapes.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			s := string(d.data[start:d.pos])
			d.pos++
			return s, nil
		}
		if c == '\\' {
			break
		}
		if c < 0x20 {
			return "", d.errorf("control character in string")
		}
		d.pos++
	}
	buf := make([]byte, 0, d.pos-start+16)
	buf = append(buf, d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(buf), nil
		case c < 0x20:
			return "", d.errorf("control character in string")
		case c != '\\':
			buf = append(buf, c)
			d.pos++
			continue
		}
		d.pos++
		if d.pos >= len(d.data) {
			break
		}
		e := d.data[d.pos]
		d.pos++
		switch e {
		case '"', '\\', '/':
			buf = append(buf, e)
		case 'b':
			buf = append(buf, '\b')
		case 'f':
			buf = append(buf, '\f')
		case 'n':
			buf = append(buf, '\n')
		case 'r':
			buf = append(buf, '\r')
		case 't':
			buf = append(buf, '\t')
		case 'u':
			r, ok := d.hex4()
			if !ok {
				return "", d.errorf("bad \\u escape")
			}
			if utf16.IsSurrogate(r) {
				r2 := rune(-1)
				save := d.pos
				if d.pos+1 < len(d.data) && d.data[d.pos] == '\\' && d.data[d.pos+1] == 'u' {
					d.pos += 2
					var ok2 bool
					if r2, ok2 = d.hex4(); !ok2 {
						return "", d.errorf("bad \\u escape")
					}
				}
				if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
					r = dec
				} else {
					// A lone surrogate (Python allows them in str):
					// keep the escape's position, emit U+FFFD.
					d.pos = save
					r = utf8.RuneError
				}
			}
			buf = utf8.AppendRune(buf, r)
		default:
			return "", d.errorf("bad escape")
		}
	}
	return "", d.errorf("unterminated string")
}

func (d *decoder) hex4() (rune, bool) {
	if d.pos+4 > len(d.data) {
		return 0, false
	}
	var r rune
	for _, c := range d.data[d.pos : d.pos+4] {
		r <<= 4
		switch {
		case c >= '0' && c <= '9':
			r |= rune(c - '0')
		case c >= 'a' && c <= 'f':
			r |= rune(c - 'a' + 10)
		case c >= 'A' && c <= 'F':
			r |= rune(c - 'A' + 10)
		default:
			return 0, false
		}
	}
	d.pos += 4
	return r, true
}
