package pyrt

import "testing"

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
