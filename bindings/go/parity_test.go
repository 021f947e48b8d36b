package pyrt

import (
	"errors"
	"testing"
	"time"
)

// The two call families decode results the same way (issue 16): Runtime.Call
// and Runtime.Eval give exactly the Go values Object.Call gives, and
// WithPlainJSON restores plain JSON decoding.

const parityCode = `
import datetime, decimal
def parity_tuple(): return (1, 'a', (2.5,))
def parity_set(): return {7}
def parity_bytes(): return b'\x00\xffhi'
def parity_intkeys(): return {1: 'one', 2: [True, None]}
def parity_big(): return 2**100
def parity_datetime(): return datetime.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=datetime.timezone.utc)
def parity_naive(): return datetime.datetime(2024, 1, 2, 3, 4, 5)
def parity_nested(): return {'rows': [(1, b'a'), frozenset()], 'when': datetime.date(2020, 2, 29), 'd': decimal.Decimal('1.5')}
def parity_plain(): return {'a': [1, 2.5, 'x', None, True], 'b': {}}
def parity_tagkey(): return {'__pyrt__': 'x', 'v': 1}
def parity_echo_types(*a, **kw): return [type(x).__name__ for x in a] + sorted((k, type(v).__name__) for k, v in kw.items())
def parity_echo(*a, **kw): return [list(a), kw]
`

func TestCallParity(t *testing.T) {
	if err := testRT.Run(bg, parityCode); err != nil {
		t.Fatal(err)
	}
	mainMod, err := testRT.Import(bg, "__main__")
	if err != nil {
		t.Fatal(err)
	}
	defer mainMod.Close()
	utc := time.Date(2024, 1, 2, 3, 4, 5, 123456000, time.UTC)
	cases := []struct {
		fn   string
		want any
	}{
		{"parity_tuple", Tuple{int64(1), "a", Tuple{2.5}}},
		{"parity_set", Set{int64(7)}},
		{"parity_bytes", []byte("\x00\xffhi")},
		{"parity_intkeys", Dict{{int64(1), "one"}, {int64(2), []any{true, nil}}}},
		{"parity_big", mustBig("1267650600228229401496703205376")},
		{"parity_datetime", utc},
		{"parity_naive", time.Date(2024, 1, 2, 3, 4, 5, 0, Naive)},
		{"parity_nested", map[string]any{"rows": []any{Tuple{int64(1), []byte("a")}, FrozenSet{}}, "when": Date{2020, 2, 29}, "d": Decimal("1.5")}},
		{"parity_plain", map[string]any{"a": []any{int64(1), 2.5, "x", nil, true}, "b": map[string]any{}}},
		{"parity_tagkey", Dict{{"__pyrt__", "x"}, {"v", int64(1)}}},
	}
	for _, c := range cases {
		viaObject, err := mainMod.CallMethod(bg, c.fn)
		if err != nil {
			t.Errorf("Object.CallMethod(%s): %v", c.fn, err)
			continue
		}
		if !sameValue(viaObject, c.want) {
			t.Errorf("Object.CallMethod(%s) = %#v, want %#v", c.fn, viaObject, c.want)
		}
		got, err := testRT.Call(bg, "__main__", c.fn)
		if err != nil || !sameValue(got, viaObject) {
			t.Errorf("Call(%s) = %#v, %v; Object.Call gives %#v", c.fn, got, err, viaObject)
		}
		got, err = testRT.CallKw(bg, "__main__", c.fn, nil, map[string]any{})
		if err != nil || !sameValue(got, viaObject) {
			t.Errorf("CallKw(%s) = %#v, %v; Object.Call gives %#v", c.fn, got, err, viaObject)
		}
		var into any
		if err := testRT.CallInto(bg, &into, "__main__", c.fn); err != nil || !sameValue(into, viaObject) {
			t.Errorf("CallInto(*any, %s) = %#v, %v; Object.Call gives %#v", c.fn, into, err, viaObject)
		}
		if got, err := CallT[any](bg, testRT, "__main__", c.fn); err != nil || !sameValue(got, viaObject) {
			t.Errorf("CallT[any](%s) = %#v, %v; Object.Call gives %#v", c.fn, got, err, viaObject)
		}
		got, err = testRT.Eval(bg, c.fn+"()")
		if err != nil || !sameValue(got, viaObject) {
			t.Errorf("Eval(%s()) = %#v, %v; Object.Call gives %#v", c.fn, got, err, viaObject)
		}
		var evalInto any
		if err := testRT.EvalInto(bg, &evalInto, c.fn+"()"); err != nil || !sameValue(evalInto, viaObject) {
			t.Errorf("EvalInto(*any, %s()) = %#v, %v; Object.Call gives %#v", c.fn, evalInto, err, viaObject)
		}
	}
}

// WithPlainJSON gives the plain decoding: a tuple as []any, the rest of the
// tagged values as ErrConversion; a typed CallInto target always reads plain
// JSON (a tuple fills a slice).
func TestCallPlainJSON(t *testing.T) {
	if err := testRT.Run(bg, parityCode); err != nil {
		t.Fatal(err)
	}
	got, err := testRT.Call(bg, "__main__", "parity_tuple", WithPlainJSON())
	if want := []any{int64(1), "a", []any{2.5}}; err != nil || !sameValue(got, want) {
		t.Errorf("Call(parity_tuple, WithPlainJSON()) = %#v, %v; want %#v", got, err, want)
	}
	got, err = testRT.Eval(bg, "(1, 2)", WithPlainJSON())
	if want := []any{int64(1), int64(2)}; err != nil || !sameValue(got, want) {
		t.Errorf("Eval((1, 2), WithPlainJSON()) = %#v, %v; want %#v", got, err, want)
	}
	var into any
	if err := testRT.CallInto(bg, &into, "__main__", "parity_tuple", WithPlainJSON()); err != nil || !sameValue(into, []any{int64(1), "a", []any{2.5}}) {
		t.Errorf("CallInto(*any, parity_tuple, WithPlainJSON()) = %#v, %v", into, err)
	}
	for _, fn := range []string{"parity_set", "parity_bytes", "parity_intkeys", "parity_datetime", "parity_nested"} {
		if v, err := testRT.Call(bg, "__main__", fn, WithPlainJSON()); !errors.Is(err, ErrConversion) {
			t.Errorf("Call(%s, WithPlainJSON()) = %#v, %v; want ErrConversion", fn, v, err)
		}
		if v, err := testRT.CallKw(bg, "__main__", fn, []any{WithPlainJSON()}, nil); !errors.Is(err, ErrConversion) {
			t.Errorf("CallKw(%s, WithPlainJSON()) = %#v, %v; want ErrConversion", fn, v, err)
		}
		if v, err := testRT.Eval(bg, fn+"()", WithPlainJSON()); !errors.Is(err, ErrConversion) {
			t.Errorf("Eval(%s(), WithPlainJSON()) = %#v, %v; want ErrConversion", fn, v, err)
		}
	}
	var ints []int
	if err := testRT.CallInto(bg, &ints, "builtins", "tuple", []int{3, 4}); err != nil || len(ints) != 2 || ints[1] != 4 {
		t.Errorf("CallInto(*[]int, tuple) = %v, %v", ints, err)
	}
	var n int
	if err := testRT.EvalInto(bg, &n, "len((1, 2, 3))"); err != nil || n != 3 {
		t.Errorf("EvalInto(*int) = %v, %v", n, err)
	}
	if _, err := testRT.Call(bg, "__main__", "parity_tuple", WithPlainJSON(), WithHandles()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("WithPlainJSON with WithHandles: %v, want ErrInvalidArgument", err)
	}
	if err := testRT.CallInto(bg, &ints, "builtins", "tuple", []int{3}, WithHandles()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("CallInto(*[]int, WithHandles()): %v, want ErrInvalidArgument", err)
	}
	// The object API is always tagged.
	o, err := testRT.Import(bg, "builtins")
	if err != nil {
		t.Fatal(err)
	}
	defer o.Close()
	if _, err := o.CallMethod(bg, "len", "ab", WithPlainJSON()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Object.CallMethod with WithPlainJSON: %v, want ErrInvalidArgument", err)
	}
	if _, err := o.Value(bg, WithPlainJSON()); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Object.Value with WithPlainJSON: %v, want ErrInvalidArgument", err)
	}
}

// Arguments are encoded as plain JSON by both decodings, so Python receives
// the same values either way, a dict with the key "__pyrt__" included (the
// tagged encoding would read it as a tag: it is sent in the general form).
func TestCallArgsUnchanged(t *testing.T) {
	if err := testRT.Run(bg, parityCode); err != nil {
		t.Fatal(err)
	}
	args := []any{[]byte("hi"), []int{1, 2}, map[string]any{"__pyrt__": "bytes", "v": "aGk="}, 1.0, int64(2),
		mustBig("123456789012345678901234567890"), time.Date(2024, 1, 2, 0, 0, 0, 0, time.UTC)}
	kw := map[string]any{"k": map[string]any{"__pyrt__": "set", "v": []any{1}}}
	types := []any{"str", "list", "dict", "float", "int", "int", "str"}
	for _, plain := range []bool{false, true} {
		var opts []any
		wantTypes := append(append([]any{}, types...), Tuple{"k", "dict"})
		wantEcho := []any{[]any{Dict{{"__pyrt__", int64(1)}}}, Dict{{"__pyrt__", []any{"x"}}}}
		if plain {
			opts = []any{WithPlainJSON()}
			wantTypes[len(types)] = []any{"k", "dict"}
			wantEcho = []any{[]any{map[string]any{"__pyrt__": int64(1)}}, map[string]any{"__pyrt__": []any{"x"}}}
		}
		got, err := testRT.CallKw(bg, "__main__", "parity_echo_types", append(append([]any{}, args...), opts...), kw)
		if err != nil || !sameValue(got, wantTypes) {
			t.Errorf("parity_echo_types(plain %v) = %#v, %v; want %#v", plain, got, err, wantTypes)
		}
		got, err = testRT.CallKw(bg, "__main__", "parity_echo", append([]any{map[string]any{"__pyrt__": 1}}, opts...),
			map[string]any{"__pyrt__": []any{"x"}})
		if err != nil || !sameValue(got, wantEcho) {
			t.Errorf("parity_echo(__pyrt__ keys, plain %v) = %#v, %v; want %#v", plain, got, err, wantEcho)
		}
	}
}

// WithHandles among Call's arguments: a value with no encoding comes back as
// an *Object, as with Object.Call.
func TestCallWithHandles(t *testing.T) {
	v, err := testRT.Call(bg, "builtins", "object", WithHandles())
	if err != nil {
		t.Fatal(err)
	}
	o, ok := v.(*Object)
	if !ok {
		t.Fatalf("Call(object, WithHandles()) = %#v, want *Object", v)
	}
	defer o.Close()
	if r, err := o.Repr(bg); err != nil || len(r) < 8 || r[:8] != "<object " {
		t.Errorf("repr = %q, %v", r, err)
	}
	if _, err := testRT.Call(bg, "builtins", "object"); !errors.Is(err, ErrConversion) {
		t.Errorf("Call(object) without handles: %v, want ErrConversion", err)
	}
}
