package pyrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

func init() {
	spinOnce = sync.OnceValue(func() error {
		return testRT.Run(bg, "def spin():\n    while True:\n        pass\n")
	})
}

var spinOnce func() error

func needSpin(t *testing.T) {
	t.Helper()
	if err := spinOnce(); err != nil {
		t.Fatal(err)
	}
}

// Cancelling the context interrupts a Python call that would never return;
// the error matches both ctx.Err() and ErrInterrupted, and the Runtime keeps
// working.
func TestContextCancelInterruptsRunningCall(t *testing.T) {
	needSpin(t)
	main, err := New(WithMainThread())
	if err != nil {
		t.Fatal(err)
	}
	defer main.Close()
	sqrt, err := testRT.EvalObject(bg, "__import__('math').sqrt")
	if err != nil {
		t.Fatal(err)
	}
	defer sqrt.Close()
	spinner, err := testRT.EvalObject(bg, "spin")
	if err != nil {
		t.Fatal(err)
	}
	defer spinner.Close()
	cases := map[string]func(ctx context.Context) error{
		"Run":                func(ctx context.Context) error { return testRT.Run(ctx, "spin()") },
		"Call":               func(ctx context.Context) error { _, err := testRT.Call(ctx, "__main__", "spin"); return err },
		"Eval (main thread)": func(ctx context.Context) error { _, err := main.Eval(ctx, "spin()"); return err },
		"Object.Call":        func(ctx context.Context) error { _, err := spinner.Call(ctx); return err },
		"Object.CallTyped":   func(ctx context.Context) error { _, err := spinner.CallTyped(ctx); return err },
	}
	for name, call := range cases {
		ctx, cancel := context.WithCancel(bg)
		time.AfterFunc(100*time.Millisecond, cancel)
		start := time.Now()
		err := call(ctx)
		took := time.Since(start) - 100*time.Millisecond
		if !errors.Is(err, context.Canceled) || !errors.Is(err, ErrInterrupted) {
			t.Errorf("%s: %v", name, err)
		}
		t.Logf("%s: returned %v after the cancellation", name, took.Round(time.Millisecond))
		if took > 5*time.Second {
			t.Errorf("%s: took %v to return after the cancellation", name, took)
		}
	}
	// A deadline works the same way.
	ctx, cancel := context.WithTimeout(bg, 50*time.Millisecond)
	defer cancel()
	if _, err := testRT.Call(ctx, "__main__", "spin"); !errors.Is(err, context.DeadlineExceeded) || !errors.Is(err, ErrInterrupted) {
		t.Errorf("deadline: %v", err)
	}
	// Still fully usable, including with contexts that are not cancelled.
	ctx, cancel = context.WithCancel(bg)
	defer cancel()
	for i := 0; i < 100; i++ {
		if v, err := sqrt.CallFloat(ctx, float64(i*i)); err != nil || v != float64(i) {
			t.Fatalf("sqrt after cancellations: %v, %v", v, err)
		}
		if v, err := testRT.Call(ctx, "builtins", "abs", -i); err != nil || v != int64(i) {
			t.Fatalf("abs after cancellations: %v, %v", v, err)
		}
	}
}

// Cancellations racing calls that finish on their own never leak a
// KeyboardInterrupt into a later call.
func TestCancellationRaces(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			for i := 0; i < 150; i++ {
				ctx, cancel := context.WithTimeout(bg, time.Duration(i%5)*100*time.Microsecond)
				v, err := testRT.Call(ctx, "builtins", "sum", []int{g, i, 1})
				cancel()
				if err != nil && !errors.Is(err, context.DeadlineExceeded) {
					t.Errorf("call: %v", err)
					return
				}
				if err == nil && v != int64(g+i+1) {
					t.Errorf("sum = %v", v)
					return
				}
				// An uncancellable call right after on this goroutine: never interrupted.
				if _, err := testRT.Call(bg, "builtins", "len", "abc"); err != nil {
					t.Errorf("follow-up call: %v", err)
					return
				}
			}
		}(g)
	}
	wg.Wait()
}

func TestCaptureOutput(t *testing.T) {
	var wg sync.WaitGroup
	for g := 0; g < 4; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			var out, errOut bytes.Buffer
			ctx := CaptureOutput(bg, &out, &errOut)
			var want strings.Builder
			for i := 0; i < 30; i++ {
				code := fmt.Sprintf("print('g%d-%d', end=' ')\nimport sys; sys.stderr.write('e%d ')", g, i, g)
				if err := testRT.Run(ctx, code); err != nil {
					t.Error(err)
					return
				}
				fmt.Fprintf(&want, "g%d-%d ", g, i)
			}
			if out.String() != want.String() {
				t.Errorf("goroutine %d stdout = %q", g, out.String())
			}
			if errOut.String() != strings.Repeat(fmt.Sprintf("e%d ", g), 30) {
				t.Errorf("goroutine %d stderr = %q", g, errOut.String())
			}
		}(g)
	}
	wg.Wait()
	// A failed call's output is delivered too; Call and Eval capture as well.
	var out bytes.Buffer
	ctx := CaptureOutput(bg, &out, nil)
	if err := testRT.Run(ctx, "print('before')\n1/0"); !errors.Is(err, ErrPython) {
		t.Errorf("run: %v", err)
	}
	if _, err := testRT.Call(ctx, "builtins", "print", "via call"); err != nil {
		t.Error(err)
	}
	if out.String() != "before\nvia call\n" {
		t.Errorf("captured %q", out.String())
	}
	// Cancellation and capture combine.
	needSpin(t)
	cctx, cancel := context.WithTimeout(CaptureOutput(bg, &out, nil), 50*time.Millisecond)
	defer cancel()
	out.Reset()
	if err := testRT.Run(cctx, "print('then spin')\nspin()"); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("spin: %v", err)
	}
	if out.String() != "then spin\n" {
		t.Errorf("captured %q", out.String())
	}
}

// A Runtime made with WithCallTimeout interrupts its calls, and its
// objects' calls, after the timeout (ErrTimeout), also under CaptureOutput;
// it keeps working afterwards, and other Runtimes have no timeout.
func TestWithCallTimeout(t *testing.T) {
	needSpin(t)
	rt, err := New(WithCallTimeout(100 * time.Millisecond))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	spinner, err := rt.EvalObject(bg, "spin")
	if err != nil {
		t.Fatal(err)
	}
	defer spinner.Close()
	var out bytes.Buffer
	cases := map[string]func() error{
		"Run":              func() error { return rt.Run(bg, "spin()") },
		"Call":             func() error { _, err := rt.Call(bg, "__main__", "spin"); return err },
		"Object.Call":      func() error { _, err := spinner.Call(bg); return err },
		"Object.CallTyped": func() error { _, err := spinner.CallTyped(bg); return err },
		"CaptureOutput":    func() error { return rt.Run(CaptureOutput(bg, &out, nil), "print('then spin')\nspin()") },
	}
	for name, call := range cases {
		start := time.Now()
		err := call()
		if !errors.Is(err, ErrTimeout) {
			t.Errorf("%s: %v, want ErrTimeout", name, err)
		}
		if took := time.Since(start); took > 5*time.Second {
			t.Errorf("%s: took %v with a timeout of 100ms", name, took)
		}
	}
	if out.String() != "then spin\n" {
		t.Errorf("captured %q", out.String())
	}
	if v, err := rt.Eval(bg, "sum(range(10))"); err != nil || v != int64(45) {
		t.Errorf("after the timeouts: %v, %v", v, err)
	}
	// testRT has no timeout: a call longer than 100ms completes.
	if err := testRT.Run(bg, "import time; time.sleep(0.3)"); err != nil {
		t.Errorf("testRT: %v", err)
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent writers.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// A Runtime made with WithCaptureOutput sends what each of its calls, and
// its objects' calls, writes to its writers, also for a failed call; a call
// under CaptureOutput writes to its context's writers instead; concurrent
// calls keep their lines whole.
func TestWithCaptureOutput(t *testing.T) {
	var out, errOut lockedBuffer
	rt, err := New(WithCaptureOutput(&out, &errOut))
	if err != nil {
		t.Fatal(err)
	}
	defer rt.Close()
	if err := rt.Run(bg, "print('run')"); err != nil {
		t.Fatal(err)
	}
	if _, err := rt.Call(bg, "builtins", "print", "call"); err != nil {
		t.Fatal(err)
	}
	pr, err := rt.EvalObject(bg, "print")
	if err != nil {
		t.Fatal(err)
	}
	defer pr.Close()
	if _, err := pr.Call(bg, "object"); err != nil {
		t.Fatal(err)
	}
	if _, err := pr.CallTyped(bg, "typed"); err != nil {
		t.Fatal(err)
	}
	if err := rt.Run(bg, "import sys\nprint('failing', file=sys.stderr)\n1/0"); !errors.Is(err, ErrPython) {
		t.Errorf("failing run: %v", err)
	}
	var ctxOut bytes.Buffer
	if err := rt.Run(CaptureOutput(bg, &ctxOut, nil), "print('context')"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "run\ncall\nobject\ntyped\n" {
		t.Errorf("stdout = %q", got)
	}
	if got := errOut.String(); got != "failing\n" {
		t.Errorf("stderr = %q", got)
	}
	if got := ctxOut.String(); got != "context\n" {
		t.Errorf("context's stdout = %q", got)
	}

	out.mu.Lock()
	out.b.Reset()
	out.mu.Unlock()
	var wg sync.WaitGroup
	var want []string
	for g := range 8 {
		for i := range 20 {
			want = append(want, fmt.Sprintf("line %d-%d", g, i))
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 20 {
				if _, err := pr.Call(bg, fmt.Sprintf("line %d-%d", g, i)); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	got := strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")
	slices.Sort(got)
	slices.Sort(want)
	if !slices.Equal(got, want) {
		t.Errorf("concurrent calls wrote %d lines, want %d: %q", len(got), len(want), got)
	}
}
