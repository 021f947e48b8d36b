package gentest

import (
	"testing"
	"time"

	pyrt "github.com/pyrt-dev/pyrt/bindings/go"
)

// BenchmarkGeneratedCall compares a generated call, typedmod.add through
// Typedmod.Add, with the hand-written calls it replaces, measured in the
// same run with the calls interleaved (so both see the same machine):
// gen/call is its time over Runtime.CallValue's (module and function
// named per call, result asserted), gen/typed over a hand-written typed
// call of the same function object (Object.CallInt). Below 1 means the
// generated call is cheaper.
func BenchmarkGeneratedCall(b *testing.B) {
	fn, err := rt.EvalObject(bg, "__import__('typedmod').add")
	if err != nil {
		b.Fatal(err)
	}
	defer fn.Close()
	var gen, call, typed time.Duration
	steps := []func(){
		func() {
			t := time.Now()
			v, err := tm.Add(bg, 2, 3)
			gen += time.Since(t)
			if err != nil || v != 5 {
				b.Fatal(v, err)
			}
		},
		func() {
			t := time.Now()
			r, err := rt.CallValue(bg, "typedmod", "add", int64(2), int64(3))
			call += time.Since(t)
			if err != nil || r.(int64) != 5 {
				b.Fatal(r, err)
			}
		},
		func() {
			t := time.Now()
			i, err := fn.CallInt(bg, int64(2), int64(3))
			typed += time.Since(t)
			if err != nil || i != 5 {
				b.Fatal(i, err)
			}
		},
	}
	n := 0
	for b.Loop() {
		// Rotate the order so that no kind of call always goes first.
		for k := range steps {
			steps[(n+k)%len(steps)]()
		}
		n++
	}
	b.ReportMetric(float64(gen.Nanoseconds())/float64(n), "gen-ns/call")
	b.ReportMetric(float64(call.Nanoseconds())/float64(n), "call-ns/call")
	b.ReportMetric(float64(typed.Nanoseconds())/float64(n), "typed-ns/call")
	b.ReportMetric(float64(gen)/float64(call), "gen/call")
	b.ReportMetric(float64(gen)/float64(typed), "gen/typed")
}

// BenchmarkGeneratedStructCall: a call with containers (Typedmod.WordLengths,
// list[str] -> dict[str, int]) against Object.Call plus pyrt.Assign.
func BenchmarkGeneratedStructCall(b *testing.B) {
	fn, err := rt.EvalObject(bg, "__import__('typedmod').word_lengths")
	if err != nil {
		b.Fatal(err)
	}
	defer fn.Close()
	words := []string{"alpha", "beta", "gamma"}
	var gen, hand time.Duration
	steps := []func(){
		func() {
			t := time.Now()
			if _, err := tm.WordLengths(bg, words); err != nil {
				b.Fatal(err)
			}
			gen += time.Since(t)
		},
		func() {
			t := time.Now()
			v, err := fn.Call(bg, words)
			var out map[string]int64
			if err == nil {
				err = pyrt.Assign(&out, v)
			}
			hand += time.Since(t)
			if err != nil {
				b.Fatal(err)
			}
		},
	}
	n := 0
	for b.Loop() {
		steps[n%2]()
		steps[(n+1)%2]()
		n++
	}
	b.ReportMetric(float64(gen)/float64(hand), "gen/hand")
}
