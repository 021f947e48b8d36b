package pyrt

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// The shared value corpus (docs/values.md): every binding reads each tagged
// form and writes it back unchanged, and libpyrt writes exactly these forms.
const corpusPath = "../../tests/corpus/values.json"

type corpusCase struct {
	Name   string          `json:"name"`
	Python string          `json:"python"`
	Tagged json.RawMessage `json:"tagged"`
	// Plain is nil when the value has no plain JSON form (no "plain" key;
	// a "plain": null is the JSON text null).
	Plain *json.RawMessage `json:"-"`
}

func (c *corpusCase) UnmarshalJSON(data []byte) error {
	type fields corpusCase // without this method
	if err := json.Unmarshal(data, (*fields)(c)); err != nil {
		return err
	}
	var keys map[string]json.RawMessage
	if err := json.Unmarshal(data, &keys); err != nil {
		return err
	}
	if p, ok := keys["plain"]; ok {
		c.Plain = &p
	}
	return nil
}

func readCorpus(t *testing.T) []corpusCase {
	t.Helper()
	data, err := os.ReadFile(corpusPath)
	if err != nil {
		t.Fatalf("reading the corpus: %v", err)
	}
	var c struct {
		Cases []corpusCase `json:"cases"`
	}
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatalf("%s: %v", corpusPath, err)
	}
	if len(c.Cases) == 0 {
		t.Fatalf("%s has no cases", corpusPath)
	}
	return c.Cases
}

// jsonTree parses JSON for an exact comparison of trees: numbers are read
// as text (json.Number) and made canonical, so that an integer (of any size)
// differs from a float of the same value (4 vs 4.0), floats compare by their
// bits (-0.0 differs from 0.0), and only the spelling of a float (1e300 as
// libpyrt writes it, 1e+300 as Go and Python do) does not matter. Objects
// compare regardless of key order.
func jsonTree(data []byte) (any, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	if dec.More() {
		return nil, fmt.Errorf("trailing data after %s", data)
	}
	return canonicalNumbers(v)
}

// numberKey is a canonical JSON number: "int 12", "float 0x1.8p+01".
type numberKey string

func canonicalNumbers(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		s := string(x)
		if strings.ContainsAny(s, ".eE") {
			f, err := strconv.ParseFloat(s, 64)
			if err != nil {
				return nil, err
			}
			return numberKey("float " + strconv.FormatFloat(f, 'x', -1, 64)), nil
		}
		n, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("bad integer %s", s)
		}
		return numberKey("int " + n.String()), nil
	case []any:
		for i := range x {
			var err error
			if x[i], err = canonicalNumbers(x[i]); err != nil {
				return nil, err
			}
		}
	case map[string]any:
		for k := range x {
			var err error
			if x[k], err = canonicalNumbers(x[k]); err != nil {
				return nil, err
			}
		}
	}
	return v, nil
}

// sameValue is reflect.DeepEqual for decoded values, except that floats
// compare by their bits (so -0.0 differs from 0.0) with every NaN equal,
// *big.Ints by value, and time.Times by instant, UTC offset and naiveness.
// Types must match exactly: a Tuple is not a []any.
func sameValue(a, b any) bool {
	if reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	switch x := a.(type) {
	case float64:
		y := b.(float64)
		return math.IsNaN(x) && math.IsNaN(y) || math.Float64bits(x) == math.Float64bits(y)
	case complex128:
		y := b.(complex128)
		return sameValue(real(x), real(y)) && sameValue(imag(x), imag(y))
	case *big.Int:
		return x.Cmp(b.(*big.Int)) == 0
	case time.Time:
		y := b.(time.Time)
		_, xo := x.Zone()
		_, yo := y.Zone()
		return x.Equal(y) && xo == yo && (x.Location() == Naive) == (y.Location() == Naive)
	case Dict:
		y := b.(Dict)
		if len(x) != len(y) {
			return false
		}
		for i := range x {
			if !sameValue(x[i].Key, y[i].Key) || !sameValue(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case map[string]any:
		y := b.(map[string]any)
		if len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !sameValue(v, w) {
				return false
			}
		}
		return true
	}
	if av := reflect.ValueOf(a); av.Kind() == reflect.Slice && av.Type().Elem().Kind() == reflect.Interface {
		bv := reflect.ValueOf(b)
		if av.Len() != bv.Len() || av.IsNil() != bv.IsNil() {
			return false
		}
		for i := range av.Len() {
			if !sameValue(av.Index(i).Interface(), bv.Index(i).Interface()) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

// corpusCheck defines the Python side of the corpus test: whether a value
// that went through Go is the same as eval(expr), comparing types exactly
// at every level, floats by value and sign (NaN equal to NaN), Decimals by
// their text and datetimes by their UTC offset as well.
var corpusCheck = sync.OnceValue(func() error {
	return testRT.Run(bg, `
def _pyrt_corpus_same(a, b):
    import datetime, decimal, math
    if type(a) is not type(b):
        return False
    if isinstance(a, float):
        if math.isnan(a) or math.isnan(b):
            return math.isnan(a) and math.isnan(b)
        return a == b and math.copysign(1.0, a) == math.copysign(1.0, b)
    if isinstance(a, complex):
        return _pyrt_corpus_same(a.real, b.real) and _pyrt_corpus_same(a.imag, b.imag)
    if isinstance(a, (list, tuple)):
        return len(a) == len(b) and all(_pyrt_corpus_same(x, y) for x, y in zip(a, b))
    if isinstance(a, dict):
        if len(a) != len(b):
            return False
        for ka, va in a.items():
            kb = [k for k in b if _pyrt_corpus_same(k, ka)]
            if len(kb) != 1 or not _pyrt_corpus_same(va, b[kb[0]]):
                return False
        return True
    if isinstance(a, (set, frozenset)):
        return len(a) == len(b) and all(any(_pyrt_corpus_same(x, y) for y in b) for x in a)
    if isinstance(a, decimal.Decimal):
        return str(a) == str(b)
    if isinstance(a, (datetime.datetime, datetime.time)):
        return a == b and a.utcoffset() == b.utcoffset()
    return a == b

def _pyrt_corpus_check(a, expr):
    b = eval(expr)
    return [_pyrt_corpus_same(a, b), repr(a), repr(b)]
`)
})

// sameTree reports whether two JSON texts are the same tree (see jsonTree).
func sameTree(t *testing.T, a, b []byte) bool {
	t.Helper()
	ta, err := jsonTree(a)
	if err != nil {
		t.Errorf("%s: %v", a, err)
		return false
	}
	tb, err := jsonTree(b)
	if err != nil {
		t.Errorf("%s: %v", b, err)
		return false
	}
	return reflect.DeepEqual(ta, tb)
}

// evalTaggedText returns libpyrt's tagged JSON text for the value of a
// Python expression.
func evalTaggedText(expr string) ([]byte, error) {
	o, err := testRT.EvalObject(bg, expr)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	f := getFrame()
	defer putFrame(f)
	if err := o.invoke(bg, f, func() int32 { return o.rt.lib.pyrt_object_to_json(o.id, valueTagged, f.outArg(), f.errArg()) }); err != nil {
		return nil, err
	}
	var text []byte
	err = o.rt.takeResult(f, func(data []byte) error { text = bytes.Clone(data); return nil })
	return text, err
}

// TestCorpusCodec: the Go tagged codec reads every tagged form of the corpus
// and writes it back as the same JSON (see jsonTree), and the plain codec
// every plain form.
func TestCorpusCodec(t *testing.T) {
	for _, c := range readCorpus(t) {
		v, err := UnmarshalTagged(c.Tagged)
		if err != nil {
			t.Errorf("%s: UnmarshalTagged(%s): %v", c.Name, c.Tagged, err)
			continue
		}
		back, err := MarshalTagged(v)
		if err != nil {
			t.Errorf("%s: MarshalTagged(%#v): %v", c.Name, v, err)
			continue
		}
		if !sameTree(t, back, c.Tagged) {
			t.Errorf("%s: tagged %s decodes to %#v, which encodes as %s", c.Name, c.Tagged, v, back)
		}
		if c.Plain == nil {
			continue
		}
		// The plain codec (Call's) round-trips the plain form the same way.
		p, err := Unmarshal(*c.Plain)
		if err != nil {
			t.Errorf("%s: Unmarshal(plain %s): %v", c.Name, *c.Plain, err)
			continue
		}
		if back, err := Marshal(p); err != nil {
			t.Errorf("%s: Marshal(%#v): %v", c.Name, p, err)
		} else if !sameTree(t, back, *c.Plain) {
			t.Errorf("%s: plain %s decodes to %#v, which encodes as %s", c.Name, *c.Plain, p, back)
		}
	}
}

// TestCorpusPython: each corpus expression, evaluated by a real runtime, is
// written by libpyrt as the corpus's tagged form and comes back through the
// object API as that form decoded; Eval and Runtime.Call give exactly the
// same Go value (one decoding for both call families); that Go value passed
// back into Python equals the expression's value, type for type; and with
// WithPlainJSON, Eval and Call give the decoded plain form, or
// ErrConversion for a value that has none.
func TestCorpusPython(t *testing.T) {
	if err := corpusCheck(); err != nil {
		t.Fatal(err)
	}
	if err := testRT.Run(bg, "def _pyrt_corpus_eval(expr):\n    return eval(expr)\n"); err != nil {
		t.Fatal(err)
	}
	for _, c := range readCorpus(t) {
		want, err := UnmarshalTagged(c.Tagged)
		if err != nil {
			t.Errorf("%s: UnmarshalTagged(%s): %v", c.Name, c.Tagged, err)
			continue
		}
		if text, err := evalTaggedText(c.Python); err != nil {
			t.Errorf("%s: %s: %v", c.Name, c.Python, err)
		} else if !sameTree(t, text, c.Tagged) {
			t.Errorf("%s: libpyrt writes %s, the corpus says %s", c.Name, text, c.Tagged)
		}

		got, err := testRT.EvalValue(bg, c.Python)
		if err != nil {
			t.Errorf("%s: EvalValue(%s): %v", c.Name, c.Python, err)
		} else if !sameValue(got, want) {
			t.Errorf("%s: EvalValue(%s) = %#v, the corpus's tagged form decodes to %#v", c.Name, c.Python, got, want)
		}
		if got, err := testRT.Eval(bg, c.Python); err != nil {
			t.Errorf("%s: Eval(%s): %v", c.Name, c.Python, err)
		} else if !sameValue(got, want) {
			t.Errorf("%s: Eval(%s) = %#v, the corpus's tagged form decodes to %#v", c.Name, c.Python, got, want)
		}
		if got, err := testRT.Call(bg, "__main__", "_pyrt_corpus_eval", c.Python); err != nil {
			t.Errorf("%s: Call(eval %s): %v", c.Name, c.Python, err)
		} else if !sameValue(got, want) {
			t.Errorf("%s: Call(eval %s) = %#v, the corpus's tagged form decodes to %#v", c.Name, c.Python, got, want)
		}

		res, err := testRT.CallValue(bg, "__main__", "_pyrt_corpus_check", want, c.Python)
		if err != nil {
			t.Errorf("%s: passing %#v back to Python: %v", c.Name, want, err)
		} else if r, ok := res.([]any); !ok || len(r) != 3 || r[0] != true {
			t.Errorf("%s: %#v arrives in Python unlike %s: [same, from Go, expected] = %v", c.Name, want, c.Python, res)
		}

		plain, err := testRT.Eval(bg, c.Python, WithPlainJSON())
		plainCall, callErr := testRT.Call(bg, "__main__", "_pyrt_corpus_eval", c.Python, WithPlainJSON())
		if c.Plain == nil {
			if !errors.Is(err, ErrConversion) {
				t.Errorf("%s: Eval(%s, WithPlainJSON()) = %#v, %v; the value has no plain form (want ErrConversion)", c.Name, c.Python, plain, err)
			}
			if !errors.Is(callErr, ErrConversion) {
				t.Errorf("%s: Call(eval %s, WithPlainJSON()) = %#v, %v; the value has no plain form (want ErrConversion)", c.Name, c.Python, plainCall, callErr)
			}
			continue
		}
		wantPlain, perr := Unmarshal(*c.Plain)
		switch {
		case perr != nil:
			t.Errorf("%s: Unmarshal(plain %s): %v", c.Name, *c.Plain, perr)
		case err != nil:
			t.Errorf("%s: Eval(%s, WithPlainJSON()): %v", c.Name, c.Python, err)
		case !sameValue(plain, wantPlain):
			t.Errorf("%s: Eval(%s, WithPlainJSON()) = %#v, the corpus's plain form decodes to %#v", c.Name, c.Python, plain, wantPlain)
		case callErr != nil:
			t.Errorf("%s: Call(eval %s, WithPlainJSON()): %v", c.Name, c.Python, callErr)
		case !sameValue(plainCall, wantPlain):
			t.Errorf("%s: Call(eval %s, WithPlainJSON()) = %#v, the corpus's plain form decodes to %#v", c.Name, c.Python, plainCall, wantPlain)
		}
	}
}

// UnmarshalTagged has no Runtime to own an object handle: such a tag is a
// conversion error, never an *Object.
func TestUnmarshalTaggedObject(t *testing.T) {
	v, err := UnmarshalTagged([]byte(`[1, {"__pyrt__": "object", "v": 5}]`))
	if !errors.Is(err, ErrConversion) || v != nil {
		t.Errorf("UnmarshalTagged(object) = %#v, %v; want ErrConversion", v, err)
	}
}
