package pyrt

import (
	"errors"
	"math"
	"math/big"
	"os"
	"reflect"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"testing"
	"time"
)

func mustObject(t *testing.T) func(*Object, error) *Object {
	return func(o *Object, err error) *Object {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return o
	}
}

// pySame calls helpers.same(a, b): equality that also checks types and
// float bits (see testdata/helpers.py).
func pySame(t *testing.T, a, b any) bool {
	t.Helper()
	v, err := testRT.CallValue(bg, "helpers", "same", a, b)
	if err != nil {
		t.Fatal(err)
	}
	return v == true
}

// Every kind of the tagged encoding survives Python -> Go -> Python exactly
// (floats bit-identical), nested too.
func TestObjectTaggedRoundTripPython(t *testing.T) {
	if err := testRT.Run(bg, "import datetime, decimal"); err != nil {
		t.Fatal(err)
	}
	values := []string{
		"None", "True", "0", "-7", "10**100", "-(10**100)", "0.1", "-0.0", "float('nan')", "float('inf')",
		"float('-inf')", "5e-324", "'text é 😀'", "b'\\x00\\xffbytes'", "bytearray(b'ab')", "b''",
		"(1, 'a', (2.5,))", "()", "{1, 2, 3}", "frozenset({'a'})", "set()",
		"{1: 'int key', (1, 2): 'tuple key', None: 0, True: 'bool', 2.5: 'float'}",
		"{'__pyrt__': 'looks like a tag', 'v': 1}", "{'plain': [1, {'nested': (1,)}]}",
		"complex(1.5, -2)", "complex(float('nan'), float('inf'))",
		"decimal.Decimal('3.14159265358979323846264338327950288')", "decimal.Decimal('-0')",
		"datetime.datetime(2024, 2, 29, 13, 45, 30, 123456)",
		"datetime.datetime(2024, 1, 2, 3, 4, 5, tzinfo=datetime.timezone(datetime.timedelta(hours=5, minutes=30)))",
		"datetime.date(1999, 12, 31)", "datetime.time(23, 59, 59, 999999)",
		"datetime.timedelta(days=-3, seconds=5, microseconds=7)",
		"[{'k': (b'x', {1.5: float('nan')})}, [frozenset({(1, 2)})]]",
	}
	for _, expr := range values {
		orig := mustObject(t)(testRT.EvalObject(bg, expr))
		goValue, err := orig.Value(bg)
		if err != nil {
			t.Fatalf("%s: Value: %v", expr, err)
		}
		back, err := testRT.NewObject(bg, goValue)
		if err != nil {
			t.Fatalf("%s: NewObject(%#v): %v", expr, goValue, err)
		}
		if !pySame(t, orig, back) {
			r, _ := back.Repr(bg)
			t.Errorf("%s -> Go %#v -> Python %s: not the same", expr, goValue, r)
		}
		orig.Close()
		back.Close()
	}
}

// Go values -> Python -> Go come back equal, with their Go types.
func TestObjectTaggedRoundTripGo(t *testing.T) {
	nan := math.Float64frombits(0x7ff8000000000001)
	big100, _ := new(big.Int).SetString(strings.Repeat("9", 100), 10)
	zone := time.FixedZone("", 5*3600+30*60)
	values := []any{
		nil, true, int64(-7), big100, 0.1, math.Copysign(0, -1), math.Inf(1), math.Inf(-1), 5e-324,
		"text é 😀", []byte{0, 255, 'b'}, ByteArray("ab"), Tuple{int64(1), "a", Tuple{2.5}}, Tuple{},
		Set{int64(3)}, FrozenSet{"a"}, complex(1.5, -2), Decimal("3.14159265358979323846264338327950288"),
		time.Date(2024, 1, 2, 3, 4, 5, 123456000, zone), Date{Year: 1999, Month: 12, Day: 31},
		TimeOfDay{Hour: 23, Minute: 59, Second: 59, Microsecond: 999999},
		-3*24*time.Hour + 5*time.Second + 7*time.Microsecond,
		Dict{{Key: int64(1), Value: "int key"}, {Key: Tuple{int64(1), int64(2)}, Value: "tuple key"}, {Key: nil, Value: int64(0)}},
		Dict{{Key: "__pyrt__", Value: "looks like a tag"}, {Key: "v", Value: int64(1)}},
		map[string]any{"plain": []any{int64(1), map[string]any{"nested": Tuple{int64(1)}}}},
		[]any{map[string]any{"k": Tuple{[]byte("x"), Dict{{Key: 1.5, Value: 2.5}}}}},
	}
	for _, v := range values {
		o, err := testRT.NewObject(bg, v)
		if err != nil {
			t.Fatalf("NewObject(%#v): %v", v, err)
		}
		got, err := o.Value(bg)
		if err != nil {
			t.Fatalf("Value of %#v: %v", v, err)
		}
		o.Close()
		if !deepEqualTagged(v, got) {
			t.Errorf("%#v came back as %#v", v, got)
		}
	}
	// NaN keeps its payload bits only as far as Python does; it stays NaN.
	o := mustObject(t)(testRT.NewObject(bg, nan))
	got, err := o.Value(bg)
	if f, ok := got.(float64); err != nil || !ok || !math.IsNaN(f) {
		t.Errorf("NaN came back as %#v, %v", got, err)
	}
	o.Close()
}

func deepEqualTagged(a, b any) bool {
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case float64:
		y, ok := b.(float64)
		return ok && math.Float64bits(x) == math.Float64bits(y)
	case time.Time:
		y, ok := b.(time.Time)
		_, xo := x.Zone()
		_, yo := y.Zone()
		return ok && x.Equal(y) && xo == yo
	case []any:
		y, ok := b.([]any)
		return ok && equalSlices(x, y)
	case Tuple:
		y, ok := b.(Tuple)
		return ok && equalSlices(x, y)
	case Dict:
		y, ok := b.(Dict)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !deepEqualTagged(x[i].Key, y[i].Key) || !deepEqualTagged(x[i].Value, y[i].Value) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k := range x {
			if !deepEqualTagged(x[k], y[k]) {
				return false
			}
		}
		return true
	}
	return reflect.DeepEqual(a, b)
}

func equalSlices(x, y []any) bool {
	if len(x) != len(y) {
		return false
	}
	for i := range x {
		if !deepEqualTagged(x[i], y[i]) {
			return false
		}
	}
	return true
}

// The example: a dict with bytes, a tuple key, NaN and a 100-digit
// integer, through Python and back.
func TestObjectRoundTripExample(t *testing.T) {
	digits, _ := new(big.Int).SetString("1"+strings.Repeat("0", 99), 10)
	in := Dict{
		{Key: "data", Value: []byte{1, 2, 3}},
		{Key: Tuple{int64(1), "a"}, Value: math.NaN()},
		{Key: "big", Value: digits},
	}
	v, err := testRT.CallValue(bg, "helpers", "echo", in)
	if err != nil {
		t.Fatal(err)
	}
	d, ok := v.(Dict)
	if !ok || len(d) != 3 {
		t.Fatalf("got %#v", v)
	}
	if !reflect.DeepEqual(d[0], Pair{"data", []byte{1, 2, 3}}) {
		t.Errorf("bytes: %#v", d[0])
	}
	if k, ok := d[1].Key.(Tuple); !ok || !reflect.DeepEqual(k, Tuple{int64(1), "a"}) {
		t.Errorf("tuple key: %#v", d[1].Key)
	}
	if f, ok := d[1].Value.(float64); !ok || !math.IsNaN(f) {
		t.Errorf("NaN: %#v", d[1].Value)
	}
	if b, ok := d[2].Value.(*big.Int); !ok || b.Cmp(digits) != 0 {
		t.Errorf("big: %#v", d[2].Value)
	}
	kinds, err := testRT.CallValue(bg, "builtins", "eval",
		"[type(k).__name__ + ':' + type(v).__name__ for k, v in x.items()]", map[string]any{"x": in})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(kinds, []any{"str:bytes", "tuple:float", "str:int"}) {
		t.Errorf("Python saw %v", kinds)
	}
}

// The Counter example: 10,000 updates from Go, then most_common(3).
func TestObjectCounter(t *testing.T) {
	counter := mustObject(t)(testRT.CallObject(bg, "collections", "Counter"))
	defer counter.Close()
	words := []string{"a", "b", "a", "c", "a", "b", "d"}
	for i := 0; i < 10000; i++ {
		if _, err := counter.CallMethod(bg, "update", []any{words[i%len(words)]}); err != nil {
			t.Fatal(err)
		}
	}
	top, err := counter.CallMethod(bg, "most_common", 3)
	if err != nil {
		t.Fatal(err)
	}
	// 10,000 = 1428 full rounds (a:3 b:2 c:1 d:1 each) + 4 more: a, b, a, c.
	want := []any{Tuple{"a", int64(1428*3 + 2)}, Tuple{"b", int64(1428*2 + 1)}, Tuple{"c", int64(1428 + 1)}}
	if !reflect.DeepEqual(top, want) {
		t.Errorf("most_common(3) = %#v, want %#v", top, want)
	}
}

// A user-module class instance kept alive across calls; attributes; kwargs;
// handles as arguments.
func TestObjectInstance(t *testing.T) {
	g := mustObject(t)(testRT.CallObject(bg, "helpers", "Greeter", "Hello"))
	defer g.Close()
	for i := 0; i < 3; i++ {
		s, err := g.CallMethodKw(bg, "greet", []any{"Go"}, map[string]any{"punctuation": "?"})
		if err != nil || s != "Hello, Go?" {
			t.Fatalf("greet = %v, %v", s, err)
		}
	}
	if n, err := g.Attr(bg, "calls"); err != nil || n != int64(3) {
		t.Errorf("calls = %v, %v", n, err)
	}
	if err := g.SetAttr(bg, "greeting", "Hi"); err != nil {
		t.Fatal(err)
	}
	if s, _ := g.CallMethod(bg, "greet", "there"); s != "Hi, there!" {
		t.Errorf("after SetAttr: %v", s)
	}
	// An *Object as an argument and as an attribute value: Python gets the object itself.
	other := mustObject(t)(testRT.CallObject(bg, "helpers", "Greeter", "Yo"))
	defer other.Close()
	if err := g.SetAttr(bg, "friend", other); err != nil {
		t.Fatal(err)
	}
	friend := mustObject(t)(g.AttrObject(bg, "friend"))
	defer friend.Close()
	if same, _ := testRT.CallValue(bg, "builtins", "eval", "a is b", map[string]any{"a": friend, "b": other}); same != true {
		t.Errorf("friend is not the same object: %v", same)
	}
	greet := mustObject(t)(g.AttrObject(bg, "greet"))
	defer greet.Close()
	if s, err := greet.Call(bg, "bound"); err != nil || s != "Hi, bound!" {
		t.Errorf("bound method call = %v, %v", s, err)
	}
	if r, _ := g.Repr(bg); !strings.Contains(r, "Greeter object") {
		t.Errorf("repr = %q", r)
	}
	var decoded struct {
		Greeting string `json:"greeting"`
		Calls    int
	}
	vars := mustObject(t)(testRT.CallObject(bg, "builtins", "vars", g))
	defer vars.Close()
	// vars() holds the friend object (no encoding): Decode with handles.
	if err := vars.Decode(bg, &decoded, WithHandles()); err != nil {
		t.Fatal(err)
	}
	if decoded.Greeting != "Hi" || decoded.Calls != 5 {
		t.Errorf("decoded %+v", decoded)
	}
	// Errors from Python are *PythonError.
	_, err := g.CallMethod(bg, "no_such_method")
	var pe *PythonError
	if !errors.As(err, &pe) || pe.Type != "AttributeError" {
		t.Errorf("missing method: %v", err)
	}
	// No encoding: a conversion error naming the type, or a handle on request.
	_, err = testRT.CallValue(bg, "builtins", "object")
	if !errors.Is(err, ErrConversion) || !strings.Contains(err.Error(), "object") {
		t.Errorf("object(): %v", err)
	}
	v, err := testRT.CallValue(bg, "builtins", "list", []any{"x"})
	if err != nil || !reflect.DeepEqual(v, []any{"x"}) {
		t.Errorf("list: %v %v", v, err)
	}
}

func TestObjectClosed(t *testing.T) {
	o := mustObject(t)(testRT.EvalObject(bg, "[1, 2]"))
	if err := o.Close(); err != nil {
		t.Fatal(err)
	}
	o.Close() // idempotent
	if _, err := o.Value(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("Value after Close: %v", err)
	}
	if _, err := testRT.CallValue(bg, "helpers", "echo", o); !errors.Is(err, ErrClosed) {
		t.Errorf("closed object as argument: %v", err)
	}
	if _, err := o.CallFloat(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("CallFloat after Close: %v", err)
	}
	var nilObj *Object
	if _, err := nilObj.Call(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("nil object: %v", err)
	}
}

// Objects dropped without Close are released by the cleanup (the safety
// net), and the Python objects are freed.
func TestObjectDroppedWithoutCloseReleased(t *testing.T) {
	base, err := testRT.CallValue(bg, "helpers", "live")
	if err != nil {
		t.Fatal(err)
	}
	// No collection may run while the 500 are made, or some are released
	// before they are counted (the test would measure the GC's timing).
	stress := os.Getenv("PYRT_GO_STRESS") == "1"
	if !stress {
		defer debug.SetGCPercent(debug.SetGCPercent(-1))
	}
	func() {
		for i := 0; i < 500; i++ {
			if _, err := testRT.CallObject(bg, "helpers", "Tracked"); err != nil {
				t.Fatal(err)
			}
		}
	}()
	// (In the GC stress mode a collection runs every millisecond, so some are already gone.)
	if n, _ := testRT.CallValue(bg, "helpers", "live"); n.(int64) < base.(int64)+500 && !stress {
		t.Fatalf("live = %v before GC, want >= %v", n, base.(int64)+500)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		runtime.GC()
		n, err := testRT.CallValue(bg, "helpers", "live") // drains released references first
		if err != nil {
			t.Fatal(err)
		}
		if n.(int64) <= base.(int64) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("live = %v, want %v: dropped objects were not released", n, base)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// The typed fast path: no JSON for scalar arguments and results.
func TestObjectTypedFastPath(t *testing.T) {
	sqrt := mustObject(t)(testRT.EvalObject(bg, "__import__('math').sqrt"))
	defer sqrt.Close()
	if v, err := sqrt.CallFloat(bg, 16.0); err != nil || v != 4 {
		t.Errorf("sqrt(16.0) = %v, %v", v, err)
	}
	if v, err := sqrt.CallFloat(bg, 2); err != nil || v != math.Sqrt2 {
		t.Errorf("sqrt(2) = %v, %v", v, err)
	}
	add := mustObject(t)(testRT.EvalObject(bg, "lambda *a: a[0] + a[1] if len(a) == 2 else a"))
	defer add.Close()
	if v, err := add.CallInt(bg, int64(40), uint8(2)); err != nil || v != 42 {
		t.Errorf("add ints = %v, %v", v, err)
	}
	if v, err := add.CallTyped(bg, "a", "b"); err != nil || v != "ab" {
		t.Errorf("add strs = %v, %v", v, err)
	}
	if v, err := add.CallTyped(bg, []byte("x"), []byte("y")); err != nil || !reflect.DeepEqual(v, []byte("xy")) {
		t.Errorf("add bytes = %#v, %v", v, err)
	}
	lst := mustObject(t)(testRT.EvalObject(bg, "[1]"))
	defer lst.Close()
	if v, err := add.CallTyped(bg, true, nil, lst, 2.5, float32(0.5)); err != nil ||
		!reflect.DeepEqual(v, Tuple{true, nil, []any{int64(1)}, 2.5, 0.5}) {
		t.Errorf("mixed = %#v, %v", v, err)
	}
	o, err := add.CallTypedObject(bg, int64(1), int64(2))
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := o.Value(bg); v != int64(3) {
		t.Errorf("object result %v", v)
	}
	o.Close()
	// Errors: a result of the wrong type, an argument with no typed form, a Python exception.
	if _, err := add.CallFloat(bg, "a", "b"); err == nil {
		t.Error("CallFloat of a str result succeeded")
	}
	if _, err := add.CallFloat(bg, map[string]any{}); !errors.Is(err, ErrConversion) {
		t.Errorf("map argument: %v", err)
	}
	if _, err := add.CallInt(bg, uint64(math.MaxUint64), 1); !errors.Is(err, ErrConversion) {
		t.Errorf("uint64 overflow: %v", err)
	}
	if _, err := sqrt.CallFloat(bg, -1.0); !errors.Is(err, ErrPython) {
		t.Errorf("sqrt(-1): %v", err)
	}
	big := mustObject(t)(testRT.EvalObject(bg, "lambda: 2**70"))
	defer big.Close()
	if _, err := big.CallInt(bg); err == nil {
		t.Error("CallInt of 2**70 succeeded")
	}
}

// Many goroutines share objects; every result is checked (run under -race).
func TestObjectConcurrent(t *testing.T) {
	g := mustObject(t)(testRT.CallObject(bg, "helpers", "Greeter", "Hey"))
	defer g.Close()
	sqrt := mustObject(t)(testRT.EvalObject(bg, "__import__('math').sqrt"))
	defer sqrt.Close()
	var wg sync.WaitGroup
	errs := make(chan error, 32)
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 200; j++ {
				s, err := g.CallMethod(bg, "greet", "g")
				if err != nil || s != "Hey, g!" {
					errs <- errors.New("greet failed")
					return
				}
				f, err := sqrt.CallFloat(bg, float64(j*j))
				if err != nil || f != float64(j) {
					errs <- errors.New("sqrt failed")
					return
				}
				tmp, err := testRT.NewObject(bg, Tuple{int64(i), int64(j)})
				if err != nil {
					errs <- err
					return
				}
				if j%2 == 0 {
					tmp.Close() // the others are left to the cleanup
				}
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n, _ := g.Attr(bg, "calls"); n != int64(16*200) {
		t.Errorf("calls = %v", n)
	}
}

func TestAssign(t *testing.T) {
	type inner struct {
		X int8 `json:"x"`
	}
	var out struct {
		Name   string
		Nums   []uint16
		Pair   [2]float32
		Inner  *inner
		Big    big.Int
		Keys   map[int]string
		Skip   string `json:"-"`
		Tagged string `json:"t"`
	}
	v := map[string]any{
		"name": "n", "Nums": []any{int64(1), int64(65535)}, "Pair": Tuple{1.5, int64(2)},
		"Inner": map[string]any{"x": int64(-5)}, "Big": int64(7), "Keys": Dict{{Key: int64(1), Value: "one"}},
		"Skip": "no", "t": "yes",
	}
	if err := Assign(&out, v); err != nil {
		t.Fatal(err)
	}
	if out.Name != "n" || !reflect.DeepEqual(out.Nums, []uint16{1, 65535}) || out.Pair != [2]float32{1.5, 2} ||
		out.Inner == nil || out.Inner.X != -5 || out.Big.Int64() != 7 || out.Keys[1] != "one" || out.Skip != "" || out.Tagged != "yes" {
		t.Errorf("assigned %+v", out)
	}
	var small int8
	if err := Assign(&small, int64(300)); !errors.Is(err, ErrConversion) {
		t.Errorf("overflow: %v", err)
	}
	var n int
	if err := Assign(&n, 2.5); !errors.Is(err, ErrConversion) {
		t.Errorf("2.5 into int: %v", err)
	}
	if err := Assign(n, 1); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("non-pointer: %v", err)
	}
}
