package pyrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
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
