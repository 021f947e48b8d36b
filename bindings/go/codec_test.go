package pyrt

import (
	"encoding/json"
	"errors"
	"math"
	"math/big"
	"strings"
	"testing"
	"unsafe"
)

func TestMarshal(t *testing.T) {
	i := 7
	cases := []struct {
		in   any
		want string
	}{
		{nil, "null"},
		{"a\"b\\c\n\x00é", `"a\"b\\c\n\u0000é"`},
		{4.0, "4.0"},
		{-4.0, "-4.0"},
		{0.0, "0.0"},
		{1.5, "1.5"},
		{1e21, "1e+21"},
		{1e-7, "1e-07"},
		{123456789.0, "123456789.0"},
		{float32(0.1), "0.1"},
		{float32(3), "3.0"},
		{float32(1e30), "1e+30"},
		{uint64(math.MaxUint64), "18446744073709551615"},
		{int8(-128), "-128"},
		{true, "true"},
		{json.Number("-1.5e3"), "-1.5e3"},
		{new(big.Int).Lsh(big.NewInt(1), 70), "1180591620717411303424"},
		{[]any{1, "x", nil}, `[1,"x",null]`},
		{map[string]any{"b": 1, "a": 2.0}, `{"a":2.0,"b":1}`},
		{map[string]int{"z": 1, "y": 2}, `{"y":2,"z":1}`},
		{[2]bool{true, false}, "[true,false]"},
		{&i, "7"},
		{struct {
			A int     `json:"a"`
			B float64 `json:"b,omitempty"`
			C string  `json:"-"`
			D float64
		}{A: 1, D: 2}, `{"a":1,"D":2.0}`},
		{[]byte{0, 1}, `"AAE="`},
		{json.RawMessage(`{"x": [1]}`), `{"x": [1]}`},
	}
	for _, c := range cases {
		got, err := Marshal(c.in)
		if err != nil {
			t.Errorf("Marshal(%#v): %v", c.in, err)
			continue
		}
		if string(got) != c.want {
			t.Errorf("Marshal(%#v) = %s, want %s", c.in, got, c.want)
		}
		// Everything we emit is valid JSON.
		if !json.Valid(got) {
			t.Errorf("Marshal(%#v) = %s is not valid JSON", c.in, got)
		}
	}
}

func TestMarshalCycle(t *testing.T) {
	m := map[string]any{}
	m["self"] = m
	_, err := Marshal(m)
	if !errors.Is(err, ErrConversion) || !strings.Contains(err.Error(), "deeper") {
		t.Errorf("cycle: %v", err)
	}
}

func TestUnmarshal(t *testing.T) {
	cases := []struct {
		in   string
		want any
	}{
		{"null", nil},
		{" true ", true},
		{"false", false},
		{"0", int64(0)},
		{"-0", int64(0)},
		{"4.0", float64(4)},
		{"1e2", float64(100)},
		{"1E-2", 0.01},
		{"-12", int64(-12)},
		{"9223372036854775807", int64(math.MaxInt64)},
		{"-9223372036854775808", int64(math.MinInt64)},
		{"9223372036854775808", mustBig("9223372036854775808")},
		{"123456789012345678901234567890", mustBig("123456789012345678901234567890")},
		{"1e400", math.Inf(1)},
		{"NaN", math.NaN()},
		{"-Infinity", math.Inf(-1)},
		{`"a\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00"`, "a\"\\/\b\f\n\r\té😀"},
		{`"\ud800x"`, "\ufffdx"},
		{`"plain ✓"`, "plain ✓"},
		{`[1, [2.5, "x"], {}]`, []any{int64(1), []any{2.5, "x"}, map[string]any{}}},
		{`{"a": {"b": [null]}, "c": 1}`, map[string]any{"a": map[string]any{"b": []any{nil}}, "c": int64(1)}},
	}
	for _, c := range cases {
		got, err := Unmarshal([]byte(c.in))
		if err != nil {
			t.Errorf("Unmarshal(%s): %v", c.in, err)
			continue
		}
		if !equalValue(got, c.want) {
			t.Errorf("Unmarshal(%s) = %#v (%T), want %#v", c.in, got, got, c.want)
		}
	}
	for _, bad := range []string{"", "[", "{", `{"a"}`, `{"a":1,}`, "[1,]", "01", "1.", "-", "tru", `"abc`, `"\x"`, "1 2", `"\u12"`, "{1:2}", "\"a\x01\""} {
		if _, err := Unmarshal([]byte(bad)); !errors.Is(err, ErrConversion) {
			t.Errorf("Unmarshal(%q): err = %v, want ErrConversion", bad, err)
		}
	}
}

func TestCBytes(t *testing.T) {
	// Strings crossing page boundaries are read fully.
	for _, n := range []int{0, 1, 4095, 4096, 4097, 10000} {
		buf := make([]byte, n+1+8192)
		for i := 0; i < n; i++ {
			buf[i] = 'a'
		}
		if got := len(cBytes(unsafe.Pointer(&buf[0]))); got != n {
			t.Errorf("len %d: got %d", n, got)
		}
	}
}

func FuzzUnmarshalAgainstStdlib(f *testing.F) {
	for _, s := range []string{`{"a":[1,2.5,"x",null,true]}`, `"\u00e9"`, `-0.0`, `123456789012345678901234`} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		_, err := Unmarshal([]byte(s))
		var std any
		if stdErr := json.Unmarshal([]byte(s), &std); stdErr == nil && err != nil {
			t.Fatalf("%q: encoding/json accepts it, pyrt says %v", s, err)
		}
	})
}
