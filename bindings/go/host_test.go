package pyrt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func TestRegisterGoFunctions(t *testing.T) {
	err := testRT.Register("gohost", "greet", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return fmt.Sprintf("hello, %v%v", args[0], kw["punct"]), nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if v, err := testRT.Eval(bg, "__import__('gohost').greet('Python', punct='!')"); err != nil || v != "hello, Python!" {
		t.Fatalf("greet = %v, %v", v, err)
	}
	// Tagged values both ways.
	testRT.Register("gohost", "echo", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return Tuple(args), nil
	})
	v, err := testRT.Eval(bg, "__import__('gohost').echo(b'\\x00', (1, 2), {1: 'a'}, 10**30) == (b'\\x00', (1, 2), {1: 'a'}, 10**30)")
	if err != nil || v != true {
		t.Fatalf("echo round trip: %v, %v", v, err)
	}
	// Typed helper.
	if err := RegisterFunc(testRT, "gohost", "double", func(ctx context.Context, x float64) (float64, error) { return 2 * x, nil }); err != nil {
		t.Fatal(err)
	}
	type point struct{ X, Y int }
	RegisterFunc(testRT, "gohost", "norm1", func(ctx context.Context, p point) (int, error) { return p.X + p.Y, nil })
	if v, _ := testRT.Eval(bg, "__import__('gohost').double(21)"); v != 42.0 {
		t.Errorf("double = %v", v)
	}
	if v, err := testRT.Eval(bg, "__import__('gohost').norm1(X=3, Y=4)"); v != int64(7) {
		t.Errorf("norm1 = %v, %v", v, err)
	}
}

func TestGoFunctionErrorsAndPanics(t *testing.T) {
	testRT.Register("gohost_err", "fail", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return nil, errors.New("go says no")
	})
	testRT.Register("gohost_err", "panics", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		var m map[string]int
		m["boom"] = 1 // a real runtime panic
		return nil, nil
	})
	testRT.Run(bg, "import gohost_err, _pyrt\ndef catch(f):\n    try:\n        f()\n    except _pyrt.HostError as e:\n        return str(e)\n")
	v, err := testRT.Eval(bg, "catch(gohost_err.fail)")
	if err != nil || v != "go says no" {
		t.Errorf("fail: %v, %v", v, err)
	}
	v, err = testRT.Eval(bg, "catch(gohost_err.panics)")
	if err != nil || !strings.Contains(v.(string), "panic in Go host function") || !strings.Contains(v.(string), "nil map") {
		t.Errorf("panic: %v, %v", v, err)
	}
	var pe *PythonError
	_, err = testRT.Eval(bg, "gohost_err.fail()")
	if !errors.As(err, &pe) || pe.Type != "_pyrt.HostError" || pe.Message != "go says no" {
		t.Errorf("uncaught: %v", err)
	}
}

// Python -> Go -> Python (same goroutine and others), and a Python exception
// from the nested call propagates back out unchanged.
func TestGoFunctionReentrancy(t *testing.T) {
	testRT.Register("gohost_re", "nested", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		return testRT.Eval(ctx, args[0].(string))
	})
	testRT.Register("gohost_re", "elsewhere", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		type res struct {
			v   any
			err error
		}
		ch := make(chan res)
		go func() {
			v, err := testRT.Eval(ctx, args[0].(string))
			ch <- res{v, err}
		}()
		r := <-ch
		return r.v, r.err
	})
	testRT.Run(bg, "import gohost_re\nclass Boom(Exception):\n    pass\ndef boom():\n    global raised\n    raised = Boom('deep')\n    raise raised\n")
	if v, err := testRT.Eval(bg, "gohost_re.nested(\"gohost_re.elsewhere('6 * 7')\")"); err != nil || v != int64(42) {
		t.Fatalf("nested/elsewhere = %v, %v", v, err)
	}
	if err := testRT.Run(bg, "try:\n    gohost_re.nested('boom()')\nexcept Boom as e:\n    caught = e\n"); err != nil {
		t.Fatal(err)
	}
	if v, _ := testRT.Eval(bg, "caught is raised"); v != true {
		t.Error("the exception that came back is not the one raised")
	}
}

// Any number of functions can be registered and unregistered (purego allows
// about 2,000 callbacks per process: one trampoline serves them all), and
// Python threads call them concurrently.
func TestManyGoFunctionsAndPythonThreads(t *testing.T) {
	for i := 0; i < 3000; i++ {
		i := i
		if err := testRT.Register("gohost_many", fmt.Sprintf("f%d", i%50), func(ctx context.Context, args []any, kw map[string]any) (any, error) {
			return i, nil
		}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 49 && i < 2950 {
			for j := 0; j < 50; j++ {
				if err := testRT.Unregister("gohost_many", fmt.Sprintf("f%d", j)); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if v, err := testRT.Eval(bg, "__import__('gohost_many').f7()"); err != nil || v != int64(2957) {
		t.Errorf("f7 = %v, %v", v, err)
	}
	hostMu.RLock()
	n := len(hostFuncs)
	hostMu.RUnlock()
	if n > 200 {
		t.Errorf("%d Go host functions still tracked after unregistering", n)
	}
	var calls atomic.Int64
	testRT.Register("gohost_thr", "tick", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		calls.Add(1)
		return args[0], nil
	})
	err := testRT.Run(bg, `
import gohost_thr, threading
ok = []
def work(i):
    for j in range(100):
        ok.append(gohost_thr.tick(i * 1000 + j) == i * 1000 + j)
ts = [threading.Thread(target=work, args=(i,)) for i in range(8)]
[t.start() for t in ts]
[t.join() for t in ts]
`)
	if err != nil {
		t.Fatal(err)
	}
	if v, _ := testRT.Eval(bg, "len(ok) == 800 and all(ok)"); v != true || calls.Load() != 800 {
		t.Errorf("threads: %v, %d calls", v, calls.Load())
	}
}

// A Python loop reports progress to a Go callback while the Go side waits.
func TestProgressCallback(t *testing.T) {
	var mu sync.Mutex
	var seen []int64
	RegisterFunc(testRT, "gohost_progress", "report", func(ctx context.Context, pct int64) (any, error) {
		mu.Lock()
		seen = append(seen, pct)
		mu.Unlock()
		return nil, nil
	})
	if err := testRT.Run(bg, "import gohost_progress\nfor i in range(0, 101, 25):\n    gohost_progress.report(i)\n"); err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(seen) != "[0 25 50 75 100]" {
		t.Errorf("progress %v", seen)
	}
}

// WithStdout: output not claimed by CaptureOutput goes to the Go writer,
// including that of Python threads.
func TestOutputWriters(t *testing.T) {
	var out syncBuffer
	rt2, err := New(WithStdout(&out))
	if err != nil {
		t.Fatal(err)
	}
	defer rt2.Close()
	defer testRT.lib.pyrt_set_output_handler(testRT.handle, 0, 0, getFrame().errArg())
	if err := rt2.Run(bg, "import threading\nprint('direct')\nt = threading.Thread(target=print, args=('threaded',)); t.start(); t.join()"); err != nil {
		t.Fatal(err)
	}
	if got := out.String(); got != "direct\nthreaded\n" {
		t.Errorf("stdout writer got %q", got)
	}
	var captured bytes.Buffer
	if err := rt2.Run(CaptureOutput(bg, &captured, nil), "print('mine')"); err != nil {
		t.Fatal(err)
	}
	if captured.String() != "mine\n" || strings.Contains(out.String(), "mine") {
		t.Errorf("capture %q, writer %q", captured.String(), out.String())
	}
}

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// A host function receives the context of the call whose Python code called
// it, when that context can be cancelled: its values, and its cancellation.
func TestGoFunctionGetsTheCallersContext(t *testing.T) {
	type key struct{}
	seen := make(chan any, 4)
	if err := testRT.Register("goctx", "value", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		seen <- ctx.Value(key{})
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	defer testRT.Unregister("goctx", "value")
	ctx, cancel := context.WithCancel(context.WithValue(bg, key{}, "request-7"))
	defer cancel()
	if _, err := testRT.Eval(ctx, "__import__('goctx').value()"); err != nil {
		t.Fatal(err)
	}
	if v := <-seen; v != "request-7" {
		t.Errorf("the host function saw %v, want the caller's value", v)
	}
	// Nested: a call made inside with its own context, then the outer one again.
	if err := testRT.Register("goctx", "nested", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		inner, stop := context.WithCancel(context.WithValue(ctx, key{}, "inner"))
		defer stop()
		if _, err := testRT.Eval(inner, "__import__('goctx').value()"); err != nil {
			return nil, err
		}
		seen <- ctx.Value(key{})
		return nil, nil
	}); err != nil {
		t.Fatal(err)
	}
	defer testRT.Unregister("goctx", "nested")
	if _, err := testRT.Eval(ctx, "__import__('goctx').nested()"); err != nil {
		t.Fatal(err)
	}
	if a, b := <-seen, <-seen; a != "inner" || b != "request-7" {
		t.Errorf("nested: saw %v then %v, want inner then request-7", a, b)
	}
	// A call nested in a host function passes its own context on, even one
	// that cannot be cancelled (not the outer call's).
	if err := testRT.Register("goctx", "plain", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		_, err := testRT.Eval(context.WithValue(context.Background(), key{}, "plain-inner"), "__import__('goctx').value()")
		return nil, err
	}); err != nil {
		t.Fatal(err)
	}
	defer testRT.Unregister("goctx", "plain")
	if _, err := testRT.Eval(ctx, "__import__('goctx').plain()"); err != nil {
		t.Fatal(err)
	}
	if v := <-seen; v != "plain-inner" {
		t.Errorf("nested with a plain context: saw %v, want plain-inner", v)
	}
	// A context that cannot be cancelled is not passed on.
	if _, err := testRT.Eval(context.WithValue(bg, key{}, "plain"), "__import__('goctx').value()"); err != nil {
		t.Fatal(err)
	}
	if v := <-seen; v != nil {
		t.Errorf("with a context that cannot be cancelled the host function saw %v, want Background's nil", v)
	}
	// Cancelling the caller's context reaches a host function that waits on it.
	if err := testRT.Register("goctx", "wait", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
		<-ctx.Done()
		return nil, ctx.Err()
	}); err != nil {
		t.Fatal(err)
	}
	defer testRT.Unregister("goctx", "wait")
	short, stop := context.WithTimeout(bg, 50*time.Millisecond)
	defer stop()
	if _, err := testRT.Eval(short, "__import__('goctx').wait()"); err == nil {
		t.Error("a host function waiting on a cancelled context: no error")
	}
}
