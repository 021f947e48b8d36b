package pyrt

import (
	"context"
	"errors"
	"sync"
	"testing"
)

const cpuSetup = `
def burn(n):
    s = 0
    for i in range(n):
        s += i * i
    return s
`

func TestWorkers(t *testing.T) {
	rt, err := New(WithWorkers(2), WithWorkerModules("json"), WithWorkerSetup(cpuSetup))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	info, err := rt.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	minor := pythonMinor(t)
	if minor >= 12 && (info.Mode != "subinterpreters" || info.Workers != 2) {
		t.Errorf("3.%d: mode %q workers %d", minor, info.Mode, info.Workers)
	}
	if minor < 12 && (info.Mode != "caller_thread" || info.WorkersNote == "") {
		t.Errorf("3.%d: mode %q note %q", minor, info.Mode, info.WorkersNote)
	}
	// Results equal the main interpreter's, from many goroutines.
	want, err := testRT.Call(bg, "json", "dumps", map[string]any{"a": []any{1, 2.5}})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 20; i++ {
				if v, err := rt.Call(bg, "json", "dumps", map[string]any{"a": []any{1, 2.5}}); err != nil || v != want {
					t.Errorf("dumps = %v, %v", v, err)
					return
				}
				if v, err := rt.Call(bg, "__main__", "burn", 100); err != nil || v != int64(328350) {
					t.Errorf("burn = %v, %v", v, err)
					return
				}
			}
		}()
	}
	wg.Wait()
	// Run reaches every worker.
	if err := rt.Run(bg, "greeting = 'hi'"); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 4; i++ {
		if v, err := rt.Eval(bg, "greeting"); err != nil || v != "hi" {
			t.Fatalf("greeting = %v, %v", v, err)
		}
	}
	// Go functions are callable from the workers.
	RegisterFunc(rt, "goworkers", "twice", func(ctx context.Context, x int) (int, error) { return 2 * x, nil })
	if v, err := rt.Eval(bg, "__import__('goworkers').twice(21)"); err != nil || v != int64(42) {
		t.Errorf("twice = %v, %v", v, err)
	}
	// Objects live in the worker that made them; generators stream from there.
	m, err := rt.Import(bg, "math")
	if err != nil {
		t.Fatalf("Import on workers: %v", err)
	}
	if v, err := m.CallMethod(bg, "sqrt", 16.0); err != nil || v != 4.0 {
		t.Errorf("math.sqrt on a worker's module = %v, %v", v, err)
	}
	m.Close()
	// Each row names the interpreter it came from (its sys.modules, one per
	// interpreter), not the OS thread: a worker runs a call on its own thread
	// or, when idle, on the caller's, and a goroutine's OS thread may change
	// between batches.
	if err := rt.Run(bg, "import sys\ndef rows(n):\n    try:\n        for i in range(n):\n            yield [i, id(sys.modules)]\n    finally:\n        global closed\n        closed = True\n"); err != nil {
		t.Fatal(err)
	}
	n, home := 0, any(nil)
	for v, err := range rt.Stream(bg, "__main__", "rows", 500, WithBatch(32)) {
		if err != nil {
			t.Fatal(err)
		}
		row := v.([]any)
		if home == nil {
			home = row[1]
		}
		if row[0] != int64(n) || row[1] != home {
			t.Fatalf("row %d = %v: not in order, or not from one worker (%v)", n, row, home)
		}
		n++
	}
	if n != 500 {
		t.Errorf("streamed %d rows, want 500", n)
	}
	// Leaving the loop closes the generator in its worker (its finally runs there).
	gen, err := rt.CallObject(bg, "__main__", "rows", 10)
	if err != nil {
		t.Fatal(err)
	}
	for range gen.Items(bg) {
		break
	}
	if v, err := gen.Attr(bg, "gi_frame"); err != nil || v != nil {
		t.Errorf("after break, gi_frame = %v, %v (want None: the generator was closed)", v, err)
	}
	gen.Close()
	if minor >= 12 {
		if _, err := rt.CallAsync(bg, "asyncio", "sleep", 0); !errors.Is(err, ErrInvalidArgument) {
			t.Errorf("CallAsync on workers: %v", err)
		}
	}
}

func pythonMinor(t testing.TB) int {
	info, err := testRT.Info(bg)
	if err != nil {
		t.Fatal(err)
	}
	var major, minor int
	for i, part := 0, 0; i < len(info.PythonVersion); i++ {
		c := info.PythonVersion[i]
		if c == '.' {
			part++
			if part == 2 {
				break
			}
			continue
		}
		if part == 0 {
			major = major*10 + int(c-'0')
		} else {
			minor = minor*10 + int(c-'0')
		}
	}
	return minor
}

// BenchmarkWorkersCPU: a pure-Python CPU-bound call from g goroutines on a
// runtime with w workers (0: the main interpreter, one GIL). On 3.12+ with 2
// cores, 2 goroutines on 2 workers should do about twice the calls per
// second of 2 goroutines on 1 worker (bench/ compares them).
func BenchmarkWorkersCPU(b *testing.B) {
	for _, c := range []struct {
		name       string
		workers, g int
	}{{"main/g=2", 0, 2}, {"workers=1/g=2", 1, 2}, {"workers=2/g=2", 2, 2}, {"workers=2/g=8", 2, 8}} {
		b.Run(c.name, func(b *testing.B) {
			opts := []Option{WithWorkerSetup(cpuSetup)}
			if c.workers > 0 {
				opts = append(opts, WithWorkers(c.workers))
			} else {
				opts = nil
			}
			rt, err := New(opts...)
			if err != nil {
				b.Fatal(err)
			}
			defer rt.Close()
			if c.workers == 0 {
				rt.Run(bg, cpuSetup)
			}
			b.SetParallelism((c.g + 1) / 2) // GOMAXPROCS is 2 here: g goroutines
			b.ResetTimer()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := rt.Call(bg, "__main__", "burn", 20000); err != nil {
						b.Error(err)
						return
					}
				}
			})
		})
	}
}
