package pyrt

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"
	"time"
)

// callRecorder is a CallObserver that keeps every observation and the order
// in which they started and ended.
type callRecorder struct {
	mu    sync.Mutex
	calls []*observedCall
	log   []string
	ended chan *observedCall // receives each observation as it ends
}

type observedCall struct {
	info CallInfo
	ctx  context.Context
	err  error
	ends int
}

func newCallRecorder() *callRecorder { return &callRecorder{ended: make(chan *observedCall, 100)} }

func (r *callRecorder) ObserveCall(ctx context.Context, c CallInfo) (context.Context, func(error)) {
	o := &observedCall{info: c, ctx: ctx}
	r.mu.Lock()
	r.calls = append(r.calls, o)
	r.log = append(r.log, "start "+c.String())
	r.mu.Unlock()
	return ctx, func(err error) {
		r.mu.Lock()
		o.ends++
		o.err = err
		r.log = append(r.log, "end "+c.String())
		r.mu.Unlock()
		select {
		case r.ended <- o:
		default: // only the tests that wait for an end read the channel
		}
	}
}

// snapshot returns copies of the observations so far.
func (r *callRecorder) snapshot() []observedCall {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]observedCall, len(r.calls))
	for i, c := range r.calls {
		out[i] = *c
	}
	return out
}

// take returns the observations so far and forgets them.
func (r *callRecorder) take() ([]*observedCall, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	calls, log := r.calls, r.log
	r.calls, r.log = nil, nil
	for len(r.ended) > 0 {
		<-r.ended
	}
	return calls, log
}

type observeKey struct{}

func newObservedRuntime(t *testing.T) (*Runtime, *callRecorder) {
	t.Helper()
	rec := newCallRecorder()
	rt, err := New(WithCallObserver(rec))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rt.Close() })
	return rt, rec
}

// Every call family is observed once, with what is known of its target, the
// caller's context, and its error.
func TestObserverCallFamilies(t *testing.T) {
	rt, rec := newObservedRuntime(t)
	ctx := context.WithValue(bg, observeKey{}, "caller")
	sqrt, err := rt.EvalObject(ctx, "__import__('math').sqrt")
	if err != nil {
		t.Fatal(err)
	}
	defer sqrt.Close()
	lst, err := rt.NewObject(ctx, []any{1, 2})
	if err != nil {
		t.Fatal(err)
	}
	defer lst.Close()
	if calls, _ := rec.take(); len(calls) != 0 {
		t.Fatalf("EvalObject and NewObject were observed: %v", calls[0].info)
	}
	steps := []struct {
		name string
		call func() error
		want CallInfo
	}{
		{"Call", func() error { _, err := rt.Call(ctx, "math", "sqrt", 16.0); return err }, CallInfo{Module: "math", Function: "sqrt"}},
		{"CallInto", func() error { var f float64; return rt.CallInto(ctx, &f, "math", "sqrt", 16.0) }, CallInfo{Module: "math", Function: "sqrt"}},
		{"CallJSON", func() error { _, err := rt.CallJSON(ctx, "math", "sqrt", "[16.0]", ""); return err }, CallInfo{Module: "math", Function: "sqrt"}},
		{"CallValue", func() error { _, err := rt.CallValue(ctx, "math", "floor", 2.5); return err }, CallInfo{Module: "math", Function: "floor"}},
		{"CallObject", func() error {
			o, err := rt.CallObject(ctx, "builtins", "list")
			o.Close()
			return err
		}, CallInfo{Module: "builtins", Function: "list"}},
		{"Run", func() error { return rt.Run(ctx, "x_observed = 1") }, CallInfo{Module: "__main__", Function: "<run>"}},
		{"Eval", func() error { _, err := rt.Eval(ctx, "1 + 1"); return err }, CallInfo{Module: "__main__", Function: "<eval>"}},
		{"Object.Call", func() error { _, err := sqrt.Call(ctx, 9.0); return err }, CallInfo{Object: sqrt.ID()}},
		{"Object.CallFloat", func() error { _, err := sqrt.CallFloat(ctx, 9.0); return err }, CallInfo{Object: sqrt.ID()}},
		{"Object.CallTyped", func() error { _, err := sqrt.CallTyped(ctx, 9.0); return err }, CallInfo{Object: sqrt.ID()}},
		{"Object.CallMethod", func() error { _, err := lst.CallMethod(ctx, "append", 3); return err }, CallInfo{Object: lst.ID(), Method: "append"}},
		{"Object.CallMethodObject", func() error {
			o, err := lst.CallMethodObject(ctx, "copy")
			o.Close()
			return err
		}, CallInfo{Object: lst.ID(), Method: "copy"}},
	}
	for _, s := range steps {
		if err := s.call(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		calls, _ := rec.take()
		if len(calls) != 1 {
			t.Errorf("%s: %d observations, want 1", s.name, len(calls))
			continue
		}
		c := calls[0]
		if c.info != s.want || c.ends != 1 || c.err != nil {
			t.Errorf("%s: observed %+v, ended %d times with %v; want %+v once with nil", s.name, c.info, c.ends, c.err, s.want)
		}
		if c.ctx.Value(observeKey{}) != "caller" {
			t.Errorf("%s: the observer did not get the caller's context", s.name)
		}
	}
}

// A failing call ends its observation with the *PythonError; an argument
// that cannot be converted is observed with its error; a call refused
// before it starts is not observed.
func TestObserverErrors(t *testing.T) {
	rt, rec := newObservedRuntime(t)
	_, err := rt.Call(bg, "builtins", "int", "x")
	calls, _ := rec.take()
	if err == nil || len(calls) != 1 || calls[0].ends != 1 {
		t.Fatalf("int('x'): %v, %d observations", err, len(calls))
	}
	var pe *PythonError
	if !errors.As(calls[0].err, &pe) || pe.Type != "ValueError" {
		t.Fatalf("the observer got %v, want a ValueError", calls[0].err)
	}
	sqrt, err := rt.EvalObject(bg, "__import__('math').sqrt")
	if err != nil {
		t.Fatal(err)
	}
	defer sqrt.Close()
	if _, err := sqrt.CallFloat(bg, -1.0); err == nil {
		t.Fatal("sqrt(-1) succeeded")
	}
	if calls, _ = rec.take(); len(calls) != 1 || !errors.As(calls[0].err, &pe) || pe.Type != "ValueError" {
		t.Fatalf("typed sqrt(-1): observed %d calls, error %v", len(calls), calls[0].err)
	}
	if _, err := sqrt.CallFloat(bg, []int{1}); !errors.Is(err, ErrConversion) {
		t.Fatalf("typed call with a slice: %v", err)
	}
	if calls, _ = rec.take(); len(calls) != 1 || !errors.Is(calls[0].err, ErrConversion) || calls[0].ends != 1 {
		t.Fatalf("typed call with a slice: observed %d calls", len(calls))
	}
	if err := rt.Run(bg, "raise KeyError('k')"); err == nil {
		t.Fatal("the raise did not fail")
	}
	if calls, _ = rec.take(); len(calls) != 1 || !errors.As(calls[0].err, &pe) || pe.Type != "KeyError" {
		t.Fatalf("Run: observed %d calls", len(calls))
	}
	done, cancel := context.WithCancel(bg)
	cancel()
	if _, err := rt.Call(done, "math", "sqrt", 4.0); !errors.Is(err, context.Canceled) {
		t.Fatalf("call with a cancelled context: %v", err)
	}
	if calls, _ = rec.take(); len(calls) != 0 {
		t.Fatalf("a call refused before it started was observed: %+v", calls[0].info)
	}
}

// A host function calling back into Python: the inner call is observed
// inside the outer one, each ended once.
func TestObserverNestedHostCall(t *testing.T) {
	rt, rec := newObservedRuntime(t)
	err := RegisterFunc(rt, "obshost", "root", func(ctx context.Context, x float64) (float64, error) {
		return CallT[float64](ctx, rt, "math", "sqrt", x)
	})
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	v, err := rt.Call(bg, "obshost", "root", 81.0)
	if err != nil || v != 9.0 {
		t.Fatal(v, err)
	}
	calls, log := rec.take()
	want := []string{"start obshost.root", "start math.sqrt", "end math.sqrt", "end obshost.root"}
	if !slices.Equal(log, want) {
		t.Fatalf("observed %q, want %q", log, want)
	}
	for _, c := range calls {
		if c.ends != 1 || c.err != nil {
			t.Errorf("%v ended %d times with %v", c.info, c.ends, c.err)
		}
	}
	// A failure in the inner call reaches both observations.
	if _, err := rt.Call(bg, "obshost", "root", -1.0); err == nil {
		t.Fatal("root(-1) succeeded")
	}
	calls, _ = rec.take()
	if len(calls) != 2 {
		t.Fatalf("%d observations, want 2", len(calls))
	}
	for _, c := range calls {
		var pe *PythonError
		if c.ends != 1 || !errors.As(c.err, &pe) || pe.Type != "ValueError" {
			t.Errorf("%v ended %d times with %v, want a ValueError", c.info, c.ends, c.err)
		}
	}
}

// An async call's observation ends when the coroutine is done, with its
// outcome; one that fails to start ends at once.
func TestObserverAsync(t *testing.T) {
	rt, rec := newObservedRuntime(t)
	err := rt.Run(bg, "import asyncio, time\n"+
		"obs_gate = {}\n"+
		"async def obs_async_wait(x):\n    obs_gate['loop'] = asyncio.get_running_loop()\n"+
		"    obs_gate['ev'] = asyncio.Event()\n    await obs_gate['ev'].wait()\n    return x\n"+
		"def obs_release():\n    end = time.monotonic() + 10\n"+
		"    while 'ev' not in obs_gate and time.monotonic() < end:\n        time.sleep(0.001)\n"+
		"    obs_gate['loop'].call_soon_threadsafe(obs_gate.pop('ev').set)\n"+
		"async def obs_async_fail():\n    await asyncio.sleep(0)\n    raise LookupError('gone')\n")
	if err != nil {
		t.Fatal(err)
	}
	rec.take()
	fut, err := rt.CallAsync(bg, "__main__", "obs_async_wait", 7)
	if err != nil {
		t.Fatal(err)
	}
	// (The coroutine waits for obs_release: it is still running here.)
	if calls := rec.snapshot(); len(calls) != 1 || calls[0].ends != 0 ||
		calls[0].info != (CallInfo{Module: "__main__", Function: "obs_async_wait", Async: true}) {
		t.Fatalf("after CallAsync: %d observations (%+v)", len(calls), calls)
	}
	// Through a Runtime without the observer, so that this call is not observed.
	if _, err := testRT.Call(bg, "__main__", "obs_release"); err != nil {
		t.Fatal(err)
	}
	if v, err := fut.Wait(bg); err != nil || v != int64(7) {
		t.Fatal(v, err)
	}
	select {
	case c := <-rec.ended:
		if c.err != nil || c.ends != 1 {
			t.Fatalf("the async observation ended %d times with %v", c.ends, c.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the async observation did not end")
	}
	rec.take()

	fut, err = rt.CallAsync(bg, "__main__", "obs_async_fail")
	if err != nil {
		t.Fatal(err)
	}
	<-fut.Done()
	select {
	case c := <-rec.ended:
		var pe *PythonError
		if !errors.As(c.err, &pe) || pe.Type != "LookupError" || c.ends != 1 {
			t.Fatalf("the failed coroutine's observation ended %d times with %v", c.ends, c.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the async observation did not end")
	}
	if _, err := fut.Result(); err == nil {
		t.Fatal("the coroutine did not fail")
	}
	rec.take()

	// Await of a coroutine object: observed as a call of the object.
	coro, err := rt.CallObject(bg, "__main__", "obs_async_wait", 8)
	if err != nil {
		t.Fatal(err)
	}
	defer coro.Close()
	rec.take()
	fut, err = coro.Await(bg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := testRT.Call(bg, "__main__", "obs_release"); err != nil {
		t.Fatal(err)
	}
	if v, err := fut.Wait(bg); err != nil || v != int64(8) {
		t.Fatal(v, err)
	}
	select {
	case c := <-rec.ended:
		if c.info != (CallInfo{Object: coro.ID(), Async: true}) || c.err != nil || c.ends != 1 {
			t.Fatalf("Await observed as %+v, ended %d times with %v", c.info, c.ends, c.err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the Await observation did not end")
	}
	rec.take()

	// Not awaitable: CallAsync fails, and the observation ends with it.
	if _, err := rt.CallAsync(bg, "math", "sqrt", 4.0); err == nil {
		t.Fatal("CallAsync of a plain function succeeded")
	}
	calls, _ := rec.take()
	if len(calls) != 1 || calls[0].ends != 1 || calls[0].err == nil {
		t.Fatalf("a failed start: %d observations", len(calls))
	}
}

// Concurrent calls: every observation ends exactly once.
func TestObserverConcurrent(t *testing.T) {
	rt, rec := newObservedRuntime(t)
	var wg sync.WaitGroup
	for g := 0; g < 8; g++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < 50; i++ {
				if _, err := rt.Call(bg, "builtins", "str", i); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	calls, _ := rec.take()
	if len(calls) != 400 {
		t.Fatalf("%d observations, want 400", len(calls))
	}
	for _, c := range calls {
		if c.ends != 1 {
			t.Fatalf("%v ended %d times", c.info, c.ends)
		}
	}
}

func TestCallInfoString(t *testing.T) {
	for _, c := range []struct {
		info CallInfo
		want string
	}{
		{CallInfo{Module: "math", Function: "sqrt"}, "math.sqrt"},
		{CallInfo{Object: 12, Method: "append"}, "object 12 .append"},
		{CallInfo{Object: 12}, "object 12"},
	} {
		if got := c.info.String(); got != c.want {
			t.Errorf("%+v: %q, want %q", c.info, got, c.want)
		}
	}
}
