package pyrt

import (
	"context"
	"testing"
)

// BenchmarkCall measures one math.sqrt(16.0) call through the compiled-in
// foreign-call layer (purego by default, cgo with -tags pyrt_cgo).
func BenchmarkCall(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		v, err := testRT.Call(bg, "math", "sqrt", 16.0)
		if err != nil || v != float64(4) {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkCallPlainJSON is BenchmarkCall with the plain JSON decoding
// (WithPlainJSON: pyrt_call_json_buf, as Call was before it decoded tagged
// results), to compare the two in one process.
func BenchmarkCallPlainJSON(b *testing.B) {
	b.ReportAllocs()
	plain := WithPlainJSON()
	for b.Loop() {
		v, err := testRT.Call(bg, "math", "sqrt", 16.0, plain)
		if err != nil || v != float64(4) {
			b.Fatal(v, err)
		}
	}
}

// BenchmarkCallRecords: a list of 20 small dicts (str keys, no tags), the
// decoder's common case, tagged (default) and plain.
func BenchmarkCallRecords(b *testing.B) {
	if err := testRT.Run(bg, "def bench_records():\n    return [{'id': i, 'name': 'n%d' % i, 'score': i / 4, 'tags': ['a', 'b']} for i in range(20)]\n"); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []any
	}{{"tagged", nil}, {"plain", []any{WithPlainJSON()}}} {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				v, err := testRT.Call(bg, "__main__", "bench_records", c.args...)
				if err != nil || len(v.([]any)) != 20 {
					b.Fatal(v, err)
				}
			}
		})
	}
}

func BenchmarkCallParallel(b *testing.B) {
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			v, err := testRT.Call(bg, "math", "sqrt", 16.0)
			if err != nil || v != float64(4) {
				b.Fatal(v, err)
			}
		}
	})
}

func BenchmarkCallT(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := CallT[float64](bg, testRT, "math", "sqrt", 16.0); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkEval(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := testRT.Eval(bg, "1+1"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkMarshalArgs(b *testing.B) {
	args := []any{16.0, "text", 42, []any{1, 2, 3}, map[string]any{"k": "v"}}
	var buf []byte
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendArgs(buf[:0], args)
	}
}

// BenchmarkCallback measures one Python -> Go -> Python round trip: a Python
// loop calls a registered Go function b.N times (one Go call runs the whole
// loop), reported beside BenchmarkCall (Go -> Python).
func BenchmarkCallback(b *testing.B) {
	var calls int
	err := RegisterFunc(testRT, "gobench", "noop", func(ctx context.Context, x float64) (float64, error) {
		calls++
		return x, nil
	})
	if err != nil {
		b.Fatal(err)
	}
	loop, err := testRT.EvalObject(bg, "lambda n: [__import__('gobench').noop(16.0) for _ in range(n)][-1]")
	if err != nil {
		b.Fatal(err)
	}
	defer loop.Close()
	b.ReportAllocs()
	b.ResetTimer()
	v, err := loop.CallTyped(bg, b.N)
	if err != nil || v != 16.0 || calls != b.N {
		b.Fatal(v, err, calls)
	}
}

// BenchmarkCallTyped is the typed fast path: math.sqrt through a cached
// handle, no JSON.
func BenchmarkCallTyped(b *testing.B) {
	sqrt, err := testRT.EvalObject(bg, "__import__('math').sqrt")
	if err != nil {
		b.Fatal(err)
	}
	defer sqrt.Close()
	b.ReportAllocs()
	for b.Loop() {
		if v, err := sqrt.CallFloat(bg, 16.0); err != nil || v != 4 {
			b.Fatal(v, err)
		}
	}
}
