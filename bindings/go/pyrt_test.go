package pyrt

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"math/big"
	"os"
	"path/filepath"
	"reflect"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"
)

var bg = context.Background()

// equalValue compares decoded values, with *big.Int compared by value.
func equalValue(a, b any) bool {
	switch x := a.(type) {
	case *big.Int:
		y, ok := b.(*big.Int)
		return ok && x.Cmp(y) == 0
	case []any:
		y, ok := b.([]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for i := range x {
			if !equalValue(x[i], y[i]) {
				return false
			}
		}
		return true
	case map[string]any:
		y, ok := b.(map[string]any)
		if !ok || len(x) != len(y) {
			return false
		}
		for k, v := range x {
			if w, ok := y[k]; !ok || !equalValue(v, w) {
				return false
			}
		}
		return true
	case float64:
		y, ok := b.(float64)
		return ok && (x == y || math.IsNaN(x) && math.IsNaN(y))
	}
	return reflect.DeepEqual(a, b)
}

func mustBig(s string) *big.Int {
	z, ok := new(big.Int).SetString(s, 10)
	if !ok {
		panic(s)
	}
	return z
}

func TestCallBasics(t *testing.T) {
	cases := []struct {
		module, fn string
		args       []any
		want       any
	}{
		{"math", "sqrt", []any{16.0}, float64(4)},
		{"builtins", "len", []any{"hello"}, int64(5)},
		{"builtins", "abs", []any{-42}, int64(42)},
		{"builtins", "bool", []any{true}, true},
		{"builtins", "sum", []any{[]any{1, 2, 3}}, int64(6)},
		{"json", "dumps", []any{map[string]any{"key": "value"}}, `{"key": "value"}`},
		{"builtins", "max", []any{1, 7, 3}, int64(7)},
		{"operator", "add", []any{"a", "b"}, "ab"},
		{"builtins", "pow", []any{2, 100}, mustBig("1267650600228229401496703205376")},
		{"builtins", "list", []any{"abc"}, []any{"a", "b", "c"}},
		{"builtins", "dict", []any{[]any{[]any{"a", 1}}}, map[string]any{"a": int64(1)}},
		{"builtins", "tuple", []any{[]int{1, 2}}, Tuple{int64(1), int64(2)}},
		{"builtins", "tuple", []any{[]int{1, 2}, WithPlainJSON()}, []any{int64(1), int64(2)}},
		{"helpers", "echo", []any{nil}, nil},
	}
	for _, c := range cases {
		got, err := testRT.Call(bg, c.module, c.fn, c.args...)
		if err != nil {
			t.Errorf("%s.%s%v: %v", c.module, c.fn, c.args, err)
			continue
		}
		if !equalValue(got, c.want) {
			t.Errorf("%s.%s%v = %#v (%T), want %#v (%T)", c.module, c.fn, c.args, got, got, c.want, c.want)
		}
	}
}

type tagged struct {
	Name    string            `json:"name"`
	Age     int               `json:"age,omitempty"`
	Score   float64           `json:"score"`
	Skip    string            `json:"-"`
	Tags    []string          `json:"tags"`
	Extra   map[string]string `json:"extra,omitempty"`
	Big     *big.Int          `json:"big"`
	private int
}

type embedded struct {
	tagged
	Level int `json:"level"`
}

type celsius float64

// TestArgumentTypes checks how each Go type arrives in Python (value and
// Python type name) and comes back.
func TestArgumentTypes(t *testing.T) {
	big100 := new(big.Int).Lsh(big.NewInt(1), 100)
	negBig := new(big.Int).Neg(big100)
	cases := []struct {
		name   string
		in     any
		pyType string
		back   any
	}{
		{"string", "héllo ✓ \"q\" \\ \n\t\x01", "str", "héllo ✓ \"q\" \\ \n\t\x01"},
		{"int", 42, "int", int64(42)},
		{"int8", int8(-8), "int", int64(-8)},
		{"int16", int16(-1600), "int", int64(-1600)},
		{"int32", int32(math.MinInt32), "int", int64(math.MinInt32)},
		{"int64 min", int64(math.MinInt64), "int", int64(math.MinInt64)},
		{"int64 max", int64(math.MaxInt64), "int", int64(math.MaxInt64)},
		{"uint", uint(7), "int", int64(7)},
		{"uint8", uint8(255), "int", int64(255)},
		{"uint16", uint16(65535), "int", int64(65535)},
		{"uint32", uint32(math.MaxUint32), "int", int64(math.MaxUint32)},
		{"uint64 max", uint64(math.MaxUint64), "int", mustBig("18446744073709551615")},
		{"uintptr", uintptr(9), "int", int64(9)},
		{"float64 integral", 4.0, "float", float64(4)},
		{"float64", 0.1, "float", 0.1},
		{"float64 neg zero", math.Copysign(0, -1), "float", math.Copysign(0, -1)},
		{"float64 huge", 1e300, "float", 1e300},
		{"float64 tiny", 5e-324, "float", 5e-324},
		{"float32", float32(1.5), "float", 1.5},
		{"float32 integral", float32(2), "float", float64(2)},
		{"named float", celsius(21), "float", float64(21)},
		{"bool", false, "bool", false},
		{"nil", nil, "NoneType", nil},
		{"nil slice", []int(nil), "NoneType", nil},
		{"[]int", []int{1, 2}, "list", []any{int64(1), int64(2)}},
		{"[]float64", []float64{1, 2.5}, "list", []any{float64(1), 2.5}},
		{"[]string", []string{"a"}, "list", []any{"a"}},
		{"empty []any", []any{}, "list", []any{}},
		{"array", [3]uint8{1, 2, 3}, "list", []any{int64(1), int64(2), int64(3)}},
		{"[]byte", []byte("hi"), "str", "aGk="},
		{"map[string]int", map[string]int{"a": 1, "b": 2}, "dict", map[string]any{"a": int64(1), "b": int64(2)}},
		{"map[string]string", map[string]string{"k": "v"}, "dict", map[string]any{"k": "v"}},
		{"map[int]string", map[int]string{1: "one"}, "dict", map[string]any{"1": "one"}},
		{"nested", map[string]any{"l": []any{1, map[string]any{"f": 2.0}}}, "dict",
			map[string]any{"l": []any{int64(1), map[string]any{"f": float64(2)}}}},
		{"json.Number int", json.Number("12345678901234567890123"), "int", mustBig("12345678901234567890123")},
		{"json.Number float", json.Number("4.0"), "float", float64(4)},
		{"*big.Int", big100, "int", big100},
		{"*big.Int negative", negBig, "int", negBig},
		{"*big.Int small", big.NewInt(-5), "int", int64(-5)},
		{"nil *big.Int", (*big.Int)(nil), "NoneType", nil},
		{"pointer", func() *int { i := 3; return &i }(), "int", int64(3)},
		{"struct", tagged{Name: "Ada", Score: 2, Skip: "no", Tags: []string{"x"}, Big: big100, private: 1}, "dict",
			map[string]any{"name": "Ada", "score": float64(2), "tags": []any{"x"}, "big": big100}},
		{"struct pointer", &tagged{Name: "B", Age: 3, Extra: map[string]string{"e": "f"}}, "dict",
			map[string]any{"name": "B", "age": int64(3), "score": float64(0), "tags": nil, "extra": map[string]any{"e": "f"}, "big": nil}},
		{"embedded struct (encoding/json)", embedded{tagged: tagged{Name: "E"}, Level: 2}, "dict",
			map[string]any{"name": "E", "score": int64(0), "tags": nil, "big": nil, "level": int64(2)}},
		{"time.Time (Marshaler)", time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC), "str", "2024-01-02T03:04:05Z"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got, err := testRT.Call(bg, "helpers", "echo_typed", c.in)
			if err != nil {
				t.Fatal(err)
			}
			pair := got.([]any)[0].([]any)
			if pair[1] != c.pyType {
				t.Errorf("Python type %v, want %s", pair[1], c.pyType)
			}
			if !equalValue(pair[0], c.back) {
				t.Errorf("round trip %#v (%T), want %#v (%T)", pair[0], pair[0], c.back, c.back)
			}
		})
	}
}

func TestResults(t *testing.T) {
	cases := []struct {
		expr string
		want any
	}{
		{"4.0", float64(4)},
		{"4", int64(4)},
		{"-0.0", math.Copysign(0, -1)},
		{"1e100", 1e100},
		{"2**63-1", int64(math.MaxInt64)},
		{"-2**63", int64(math.MinInt64)},
		{"2**63", mustBig("9223372036854775808")},
		{"-2**63-1", mustBig("-9223372036854775809")},
		{"10**40", mustBig("10000000000000000000000000000000000000000")},
		{"True", true},
		{"None", nil},
		{"'\\u00e9\\U0001F600\\x00'", "é😀\x00"},
		{"(1, 'a')", Tuple{int64(1), "a"}},
		{"{'a': [1.5, None]}", map[string]any{"a": []any{1.5, nil}}},
		{"[]", []any{}},
		{"{}", map[string]any{}},
	}
	for _, c := range cases {
		got, err := testRT.Eval(bg, c.expr)
		if err != nil {
			t.Errorf("Eval(%q): %v", c.expr, err)
			continue
		}
		if !equalValue(got, c.want) {
			t.Errorf("Eval(%q) = %#v (%T), want %#v (%T)", c.expr, got, got, c.want, c.want)
		}
	}
}

func TestResultNotConvertible(t *testing.T) {
	for _, expr := range []string{"object()", "[1, object()]", "{'k': __import__('threading').Lock()}"} {
		_, err := testRT.Eval(bg, expr)
		if !errors.Is(err, ErrConversion) {
			t.Errorf("Eval(%q): err = %v, want ErrConversion", expr, err)
		}
	}
	// Plain JSON (the old decoding, WithPlainJSON) has no form for these.
	for _, expr := range []string{"{1, 2}", "object()", "b'x'", "[1, {2}]", "{1: 2}", "float('nan')"} {
		_, err := testRT.Eval(bg, expr, WithPlainJSON())
		if !errors.Is(err, ErrConversion) {
			t.Errorf("Eval(%q, WithPlainJSON()): err = %v, want ErrConversion", expr, err)
		}
	}
}

func TestArgumentNotConvertible(t *testing.T) {
	before, err := testRT.Call(bg, "helpers", "get_counter")
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		args []any
		path string
	}{
		{[]any{math.NaN()}, "$[0]"},
		{[]any{1, math.Inf(1)}, "$[1]"},
		{[]any{map[string]any{"k": []any{1, math.Inf(-1)}}}, `$[0]["k"][1]`},
		{[]any{float32(math.NaN())}, "$[0]"},
		{[]any{make(chan int)}, "$[0]"},
		{[]any{func() {}}, "$[0]"},
		{[]any{complex(1, 2)}, "$[0]"},
		{[]any{"\xff"}, "$[0]"},
		{[]any{map[float64]int{1: 1}}, "$[0]"},
		{[]any{json.Number("1.2.3")}, "$[0]"},
		{[]any{tagged{Score: math.NaN()}}, `$[0]["score"]`},
	}
	for _, c := range cases {
		_, err := testRT.Call(bg, "helpers", "bump", c.args...)
		var ce *ConversionError
		if !errors.Is(err, ErrConversion) || !errors.As(err, &ce) {
			t.Errorf("args %#v: err = %v, want a ConversionError", c.args, err)
			continue
		}
		if ce.Path != c.path {
			t.Errorf("args %#v: path %q, want %q (%v)", c.args, ce.Path, c.path, err)
		}
	}
	_, err = testRT.CallKw(bg, "helpers", "bump", nil, map[string]any{"x": math.NaN()})
	if !errors.Is(err, ErrConversion) {
		t.Errorf("kwargs NaN: %v", err)
	}
	after, err := testRT.Call(bg, "helpers", "get_counter")
	if err != nil {
		t.Fatal(err)
	}
	if before != after {
		t.Errorf("Python was entered for an argument that cannot be converted (%v -> %v)", before, after)
	}
}

func TestCallKw(t *testing.T) {
	got, err := testRT.CallKw(bg, "helpers", "kw", []any{1, "two"}, map[string]any{"x": 3.0, "y": []int{4}})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"args": []any{int64(1), "two"}, "kwargs": map[string]any{"x": float64(3), "y": []any{int64(4)}}}
	if !equalValue(got, want) {
		t.Errorf("got %#v", got)
	}
	got, err = testRT.CallKw(bg, "builtins", "sorted", []any{[]int{3, 1, 2}}, map[string]any{"reverse": true})
	if err != nil || !equalValue(got, []any{int64(3), int64(2), int64(1)}) {
		t.Errorf("sorted: %v %v", got, err)
	}
	// nil kwargs and empty kwargs are both "no keyword arguments".
	for _, kw := range []map[string]any{nil, {}} {
		got, err = testRT.CallKw(bg, "helpers", "kw", nil, kw)
		if err != nil || !equalValue(got, map[string]any{"args": []any{}, "kwargs": map[string]any{}}) {
			t.Errorf("kwargs %#v: %v %v", kw, got, err)
		}
	}
}

func TestCallJSON(t *testing.T) {
	got, err := testRT.CallJSON(bg, "helpers", "kw", `[1]`, `{"a": 2.5}`)
	if err != nil {
		t.Fatal(err)
	}
	var v map[string]any
	if err := json.Unmarshal([]byte(got), &v); err != nil || v["kwargs"].(map[string]any)["a"] != 2.5 {
		t.Errorf("CallJSON = %s (%v)", got, err)
	}
	if _, err := testRT.CallJSON(bg, "helpers", "kw", `[1`, ""); !errors.Is(err, ErrInvalidJSON) {
		t.Errorf("malformed args: %v, want ErrInvalidJSON", err)
	}
	if _, err := testRT.CallJSON(bg, "helpers", "kw", `{}`, ""); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("args not an array: %v, want ErrInvalidArgument", err)
	}
	if _, err := testRT.CallJSON(bg, "helpers", "kw", `[]`, `[]`); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("kwargs not an object: %v, want ErrInvalidArgument", err)
	}
}

type person struct {
	Name  string   `json:"name"`
	Age   int      `json:"age"`
	Tags  []string `json:"tags"`
	Score float64  `json:"score"`
}

func TestCallInto(t *testing.T) {
	var p person
	if err := testRT.CallInto(bg, &p, "helpers", "person", "Ada", 36); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, person{"Ada", 36, []string{"x", "y"}, 1.5}) {
		t.Errorf("got %+v", p)
	}
	n, err := CallT[int](bg, testRT, "builtins", "len", "hello")
	if err != nil || n != 5 {
		t.Errorf("CallT[int] = %v, %v", n, err)
	}
	s, err := CallT[[]string](bg, testRT, "builtins", "sorted", []string{"b", "a"})
	if err != nil || !reflect.DeepEqual(s, []string{"a", "b"}) {
		t.Errorf("CallT[[]string] = %v, %v", s, err)
	}
	m, err := CallT[map[string]float64](bg, testRT, "helpers", "echo", map[string]any{"a": 1})
	if err != nil || m["a"] != 1 {
		t.Errorf("CallT[map] = %v, %v", m, err)
	}
	bi, err := CallT[*big.Int](bg, testRT, "builtins", "pow", 3, 50)
	if err != nil || bi.String() != "717897987691852588770249" {
		t.Errorf("CallT[*big.Int] = %v, %v", bi, err)
	}
	a, err := CallT[any](bg, testRT, "builtins", "pow", 2, 3)
	if err != nil || a != int64(8) {
		t.Errorf("CallT[any] = %#v, %v", a, err)
	}
	// A result that does not fit the target.
	_, err = CallT[int](bg, testRT, "builtins", "str", 5)
	var ute *json.UnmarshalTypeError
	if !errors.Is(err, ErrConversion) || !errors.As(err, &ute) {
		t.Errorf("CallT[int] of a str: %v, want ErrConversion wrapping *json.UnmarshalTypeError", err)
	}
	if err := testRT.CallInto(bg, nil, "builtins", "len", "x"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("CallInto(nil): %v", err)
	}
	var f float64
	if err := testRT.EvalInto(bg, &f, "1/4"); err != nil || f != 0.25 {
		t.Errorf("EvalInto = %v, %v", f, err)
	}
}

func TestPythonErrors(t *testing.T) {
	_, err := testRT.Call(bg, "helpers", "raise_value", "bad input")
	var pe *PythonError
	if !errors.As(err, &pe) {
		t.Fatalf("err = %#v, want *PythonError", err)
	}
	if pe.Type != "ValueError" || pe.Message != "bad input" || pe.Code != CodePython {
		t.Errorf("got %+v", pe)
	}
	if !strings.Contains(pe.Traceback, "raise_value") {
		t.Errorf("traceback does not name the function: %q", pe.Traceback)
	}
	if !errors.Is(err, ErrPython) || errors.Is(err, ErrSystemExit) {
		t.Errorf("errors.Is mismatch for %v", err)
	}
	if err.Error() != "python: ValueError: bad input" {
		t.Errorf("Error() = %q", err.Error())
	}

	_, err = testRT.Call(bg, "no_such_module_xyz", "f")
	if !errors.As(err, &pe) || pe.Type != "ModuleNotFoundError" {
		t.Errorf("missing module: %v", err)
	}
	_, err = testRT.Call(bg, "math", "no_such_function")
	if !errors.As(err, &pe) || pe.Type != "AttributeError" {
		t.Errorf("missing function: %v", err)
	}
	err = testRT.Run(bg, "def broken(:\n  pass")
	if !errors.As(err, &pe) || pe.Type != "SyntaxError" {
		t.Errorf("syntax error: %v", err)
	}
	_, err = testRT.Eval(bg, "1/0")
	if !errors.As(err, &pe) || pe.Type != "ZeroDivisionError" {
		t.Errorf("1/0: %v", err)
	}
	_, err = testRT.Call(bg, "json", "loads", "{")
	if !errors.As(err, &pe) || !strings.HasSuffix(pe.Type, "JSONDecodeError") {
		t.Errorf("json.loads: %v", err)
	}
}

func TestSystemExitIsAnError(t *testing.T) {
	for _, code := range []string{"raise SystemExit(3)", "import sys; sys.exit(0)", "import sys; sys.exit('bye')", "exit(4)"} {
		err := testRT.Run(bg, code)
		var pe *PythonError
		if !errors.Is(err, ErrSystemExit) || !errors.As(err, &pe) || pe.Type != "SystemExit" {
			t.Errorf("%s: err = %v, want SystemExit", code, err)
		}
	}
	_, err := testRT.Call(bg, "helpers", "exit_with", 7)
	if !errors.Is(err, ErrSystemExit) || !strings.Contains(err.Error(), "7") {
		t.Errorf("exit_with(7): %v", err)
	}
	// Still alive.
	if v, err := testRT.Eval(bg, "1+1"); err != nil || v != int64(2) {
		t.Fatalf("after SystemExit: %v %v", v, err)
	}
}

func TestKeyboardInterrupt(t *testing.T) {
	err := testRT.Run(bg, "raise KeyboardInterrupt")
	if !errors.Is(err, ErrKeyboardInterrupt) || !errors.Is(err, ErrPython) {
		t.Errorf("err = %v", err)
	}
}

func TestRunSharesMain(t *testing.T) {
	if err := testRT.Run(bg, "shared_value = 41\ndef inc(x):\n    return x + 1"); err != nil {
		t.Fatal(err)
	}
	v, err := testRT.Eval(bg, "inc(shared_value)")
	if err != nil || v != int64(42) {
		t.Fatalf("Eval = %v, %v", v, err)
	}
	v, err = testRT.Call(bg, "__main__", "inc", 1)
	if err != nil || v != int64(2) {
		t.Fatalf("Call(__main__.inc) = %v, %v", v, err)
	}
	// Visible from another handle too.
	rt2, err := New()
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	v, err = rt2.Eval(bg, "shared_value")
	if err != nil || v != int64(41) {
		t.Fatalf("second handle: %v, %v", v, err)
	}
}

func TestRunFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "script.py")
	if err := os.WriteFile(path, []byte("from_file = [1, 2.5, 'x']\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := testRT.RunFile(bg, path); err != nil {
		t.Fatal(err)
	}
	v, err := testRT.Eval(bg, "from_file")
	if err != nil || !equalValue(v, []any{int64(1), 2.5, "x"}) {
		t.Errorf("from_file = %v, %v", v, err)
	}
	bad := filepath.Join(dir, "bad.py")
	os.WriteFile(bad, []byte("raise RuntimeError('in file')\n"), 0o644)
	var pe *PythonError
	if err := testRT.RunFile(bg, bad); !errors.As(err, &pe) || pe.Type != "RuntimeError" ||
		!strings.Contains(pe.Traceback, "bad.py") {
		t.Errorf("RunFile(bad.py) = %v", err)
	}
	if err := testRT.RunFile(bg, filepath.Join(dir, "missing.py")); !errors.Is(err, ErrFileNotFound) {
		t.Errorf("missing file: %v", err)
	}
	if err := testRT.RunFile(bg, dir); !errors.Is(err, ErrNotAFile) {
		t.Errorf("directory: %v", err)
	}
	if os.Geteuid() != 0 {
		noread := filepath.Join(dir, "noread.py")
		os.WriteFile(noread, []byte("x=1\n"), 0o000)
		if err := testRT.RunFile(bg, noread); !errors.Is(err, ErrPermissionDenied) {
			t.Errorf("unreadable file: %v", err)
		}
	}
}

func TestNULBytes(t *testing.T) {
	if err := testRT.Run(bg, "x = 1\x00"); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("Run with NUL: %v", err)
	}
	if _, err := testRT.Call(bg, "math\x00", "sqrt", 1.0); !errors.Is(err, ErrInvalidArgument) {
		t.Errorf("module with NUL: %v", err)
	}
	// NUL inside a string argument is fine: JSON escapes it.
	v, err := testRT.Call(bg, "builtins", "len", "a\x00b")
	if err != nil || v != int64(3) {
		t.Errorf("len(a\\0b) = %v, %v", v, err)
	}
}

func TestContextDone(t *testing.T) {
	ctx, cancel := context.WithCancel(bg)
	cancel()
	before, _ := testRT.Call(bg, "helpers", "get_counter")
	if _, err := testRT.Call(ctx, "helpers", "bump"); err != context.Canceled {
		t.Errorf("Call: %v", err)
	}
	if err := testRT.Run(ctx, "import helpers; helpers.bump()"); err != context.Canceled {
		t.Errorf("Run: %v", err)
	}
	if _, err := testRT.Eval(ctx, "__import__('helpers').bump()"); err != context.Canceled {
		t.Errorf("Eval: %v", err)
	}
	dctx, dcancel := context.WithDeadline(bg, time.Now().Add(-time.Second))
	defer dcancel()
	if _, err := CallT[int](dctx, testRT, "helpers", "bump"); err != context.DeadlineExceeded {
		t.Errorf("CallT: %v", err)
	}
	after, _ := testRT.Call(bg, "helpers", "get_counter")
	if before != after {
		t.Errorf("Python was entered with a done context (%v -> %v)", before, after)
	}
}

func TestCloseOneHandle(t *testing.T) {
	rt2, err := New()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rt2.Call(bg, "math", "sqrt", 4.0); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() { defer wg.Done(); rt2.Close() }()
	}
	wg.Wait()
	if err := rt2.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := rt2.Call(bg, "math", "sqrt", 4.0); !errors.Is(err, ErrClosed) {
		t.Errorf("Call after Close: %v", err)
	}
	if err := rt2.Run(bg, "pass"); !errors.Is(err, ErrClosed) {
		t.Errorf("Run after Close: %v", err)
	}
	if _, err := rt2.Info(bg); !errors.Is(err, ErrClosed) {
		t.Errorf("Info after Close: %v", err)
	}
	var nilRT *Runtime
	if err := nilRT.Close(); err != nil {
		t.Errorf("nil Close: %v", err)
	}
	if _, err := nilRT.Eval(bg, "1"); !errors.Is(err, ErrClosed) {
		t.Errorf("nil Eval: %v", err)
	}
	// The shared interpreter is unaffected.
	if v, err := testRT.Call(bg, "math", "sqrt", 9.0); err != nil || v != float64(3) {
		t.Fatalf("shared runtime after closing another handle: %v %v", v, err)
	}
}

func TestDroppedRuntimeCleanup(t *testing.T) {
	for i := 0; i < 10; i++ {
		rt, err := New()
		if err != nil {
			t.Fatal(err)
		}
		if _, err := rt.Eval(bg, "1"); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 3; i++ {
		runtime.GC()
		time.Sleep(10 * time.Millisecond)
	}
	if v, err := testRT.Eval(bg, "2"); err != nil || v != int64(2) {
		t.Fatalf("after dropped runtimes were collected: %v %v", v, err)
	}
}

func TestInfo(t *testing.T) {
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%+v", info)
	if info.PythonVersion == "" || !strings.HasPrefix(info.PythonVersion, "3.") || info.Libpython == "" {
		t.Errorf("info = %+v", info)
	}
	if majorMinor(info.PyrtVersion) != majorMinor(BindingVersion) {
		t.Errorf("pyrt_version %q", info.PyrtVersion)
	}
	if info.Binding != ffiMode {
		t.Errorf("Binding = %q", info.Binding)
	}
	v, err := testRT.Eval(bg, "'%d.%d' % __import__('sys').version_info[:2]")
	if err != nil || !strings.HasPrefix(info.PythonVersion, v.(string)) {
		t.Errorf("python_version %q vs sys.version_info %v (%v)", info.PythonVersion, v, err)
	}
	if want := os.Getenv("PYRT_LIBPYTHON"); want != "" && !sameLibrary(want, info.Libpython) {
		t.Errorf("libpython %q, want $PYRT_LIBPYTHON %q", info.Libpython, want)
	}
}

// TestInfoBuild: FreeThreaded is true exactly for a free-threaded build
// (libpython3.Xt, the 3.13t label), as Python itself says; Tested is false
// only past the newest tested minor (3.14), with a note.
func TestInfoBuild(t *testing.T) {
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("free_threaded=%v tested=%v tested_note=%q", info.FreeThreaded, info.Tested, info.TestedNote)
	// sys._is_gil_enabled() exists from 3.13 on (older versions always have
	// the GIL); Py_GIL_DISABLED is the build flag, which the GIL being
	// re-enabled at run time (PYTHON_GIL=1, an extension without
	// free-threading support) does not change.
	v, err := testRT.Eval(bg, "[__import__('sys')._is_gil_enabled() if hasattr(__import__('sys'), '_is_gil_enabled') else True, "+
		"bool(__import__('sysconfig').get_config_var('Py_GIL_DISABLED'))]")
	if err != nil {
		t.Fatal(err)
	}
	pv := v.([]any)
	gilEnabled, gilDisabledBuild := pv[0].(bool), pv[1].(bool)
	if info.FreeThreaded != gilDisabledBuild {
		t.Errorf("FreeThreaded = %v, but sysconfig Py_GIL_DISABLED = %v", info.FreeThreaded, gilDisabledBuild)
	}
	if gilEnabled && info.FreeThreaded {
		// Legitimate only when the GIL was switched back on at run time.
		why, _ := testRT.Eval(bg, "__import__('os').environ.get('PYTHON_GIL', '')")
		if why != "1" {
			t.Errorf("FreeThreaded = true, but sys._is_gil_enabled() = true (PYTHON_GIL=%q): an extension re-enabled the GIL?", why)
		}
	}
	if !gilEnabled && !info.FreeThreaded {
		t.Errorf("sys._is_gil_enabled() = false, but FreeThreaded = false")
	}
	base := filepath.Base(info.Libpython)
	if named := strings.HasPrefix(base, "libpython3.") && strings.Contains(base, "t.so"); named != info.FreeThreaded {
		t.Errorf("FreeThreaded = %v for %s", info.FreeThreaded, base)
	}
	minor := pythonMinor(t)
	if wantTested := minor <= newestTestedMinor; info.Tested != wantTested {
		t.Errorf("3.%d: Tested = %v, want %v", minor, info.Tested, wantTested)
	}
	if info.Tested != (info.TestedNote == "") {
		t.Errorf("Tested = %v with TestedNote %q", info.Tested, info.TestedNote)
	}
	if !info.Tested && !strings.Contains(info.TestedNote, info.PythonVersion) {
		t.Errorf("TestedNote %q does not name Python %s", info.TestedNote, info.PythonVersion)
	}
}

// newestTestedMinor is the newest CPython 3.X pyrt is tested with (newer ones
// run with Info.Tested false).
const newestTestedMinor = 14

func TestNewErrors(t *testing.T) {
	if _, err := New(WithLibpython("/nonexistent/libpython3.12.so")); err == nil {
		t.Error("New with a missing libpython succeeded")
	} else if !errors.Is(err, ErrLibpythonNotFound) && !errors.Is(err, ErrLibpythonConflict) {
		// With an interpreter running the core may report the conflict first.
		t.Errorf("missing libpython: %v", err)
	}
	// A different libpython while one is running.
	info, _ := testRT.Info(bg)
	for _, other := range otherLibpythons() {
		if sameLibrary(other, info.Libpython) {
			continue
		}
		_, err := New(WithLibpython(other))
		if !errors.Is(err, ErrLibpythonConflict) {
			t.Errorf("New(WithLibpython(%s)) while %s runs: %v, want ErrLibpythonConflict", other, info.Libpython, err)
		}
		break
	}
	if ffiMode == "purego" {
		_, err := New(WithLibrary("/nonexistent/libpyrt.so"))
		if !errors.Is(err, ErrLibraryNotFound) {
			t.Errorf("missing libpyrt: %v", err)
		}
	}
}

// pyrtPythons is where scripts/install-pythons.sh installs CPythons:
// $PYRT_PYTHONS, else ~/.cache/pyrt/pythons.
func pyrtPythons(home string) string {
	if d := os.Getenv("PYRT_PYTHONS"); d != "" {
		return d
	}
	return filepath.Join(home, ".cache", "pyrt", "pythons")
}

// otherLibpythons lists libpythons present on this machine (for conflict tests).
func otherLibpythons() []string {
	var out []string
	home, _ := os.UserHomeDir()
	for _, pat := range []string{
		filepath.Join(os.Getenv("PYENV_ROOT"), "versions/3.*/lib/libpython3.*.so.1.0"),
		filepath.Join(home, ".pyenv/versions/3.*/lib/libpython3.*.so.1.0"),
		"/usr/lib/x86_64-linux-gnu/libpython3.*.so.1.0",
		// scripts/install-pythons.sh's installs (3.14, the free-threaded 3.13t).
		filepath.Join(pyrtPythons(home), "*/lib/libpython3.*.so.1.0"),
	} {
		m, _ := filepath.Glob(pat)
		out = append(out, m...)
	}
	return out
}

func TestCodes(t *testing.T) {
	l, err := loadLibrary("")
	if err != nil {
		t.Fatal(err)
	}
	for c := CodeOK; c <= CodeInternal; c++ {
		if got := l.statusName(int32(c)); got != c.String() {
			t.Errorf("pyrt_status_name(%d) = %q, Go says %q", c, got, c.String())
		}
		if c > 0 {
			err := &Error{Code: c}
			if !errors.Is(err, c.Sentinel()) {
				t.Errorf("code %v does not match its sentinel", c)
			}
		}
	}
	if got := l.statusName(999); got != "PYRT_ERR_UNKNOWN" {
		t.Errorf("pyrt_status_name(999) = %q", got)
	}
}

func TestVersionCheck(t *testing.T) {
	for v, ok := range map[string]bool{BindingVersion: true, "0.1.7": true, "0.1": true,
		"0.2.0": false, "1.1.0": false, "": false, "x.y": false, "0.1.0-rc1": true} {
		err := checkVersion(v)
		if (err == nil) != ok || err != nil && !errors.Is(err, ErrLibraryVersion) {
			t.Errorf("checkVersion(%q) = %v", v, err)
		}
	}
}

func TestLibraryCandidates(t *testing.T) {
	if c := libraryCandidates("/x/libpyrt.so"); len(c) != 1 || !c[0].final {
		t.Errorf("explicit: %+v", c)
	}
	t.Setenv(LibraryEnv, "/y/libpyrt.so")
	if c := libraryCandidates(""); len(c) != 1 || c[0].path != "/y/libpyrt.so" {
		t.Errorf("env: %+v", c)
	}
	t.Setenv(LibraryEnv, "")
	c := libraryCandidates("")
	if c[len(c)-1].path != "libpyrt.so" {
		t.Errorf("last candidate should be the system search: %+v", c)
	}
	found := false
	for _, x := range c {
		found = found || strings.HasSuffix(x.path, "target/release/libpyrt.so")
	}
	if !found {
		t.Errorf("repository build output not among candidates: %+v", c)
	}
}

func TestConcurrentCalls(t *testing.T) {
	const goroutines, calls = 100, 1000
	var wg sync.WaitGroup
	errs := make(chan error, goroutines)
	for g := 0; g < goroutines; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < calls; i++ {
				var err error
				switch i % 4 {
				case 0:
					var v any
					v, err = testRT.Call(bg, "operator", "add", g, i)
					if err == nil && v != int64(g+i) {
						err = fmt.Errorf("add(%d,%d) = %#v", g, i, v)
					}
				case 1:
					var v any
					v, err = testRT.Call(bg, "math", "sqrt", float64(i*i))
					if err == nil && v != float64(i) {
						err = fmt.Errorf("sqrt(%d) = %#v", i*i, v)
					}
				case 2:
					var s string
					s, err = CallT[string](bg, testRT, "helpers", "echo", fmt.Sprintf("g%d-i%d", g, i))
					if err == nil && s != fmt.Sprintf("g%d-i%d", g, i) {
						err = fmt.Errorf("echo = %q", s)
					}
				case 3:
					_, err = testRT.Call(bg, "helpers", "raise_value", fmt.Sprint(g*calls+i))
					var pe *PythonError
					if errors.As(err, &pe) && pe.Message == fmt.Sprint(g*calls+i) {
						err = nil
					} else {
						err = fmt.Errorf("raise_value: %v", err)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("goroutine %d call %d: %w", g, i, err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}
