package pyrt

import (
	"context"
	"fmt"
	"io"
	mrand "math/rand/v2"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// # Cancellation
//
// Every method that takes a context stops a running Python call when the
// context is cancelled or its deadline passes: pyrt raises KeyboardInterrupt
// in the Python code (pyrt_interrupt_thread), which returns within
// milliseconds for pure-Python code, and the method returns an error
// matching both ctx.Err() and ErrInterrupted. The Runtime stays usable.
// Code blocked inside C (time.sleep, a socket read, a long numpy operation)
// is interrupted only when it returns to Python. Contexts that can never be
// cancelled (context.Background()) cost nothing extra.

// guardCall runs call (one foreign call that may run Python) so that ctx can
// interrupt it, in its turn when a (the runtime's admission queue) is not nil
// (admission.go). It is on the path of every call, so the common case (a
// context that cannot be cancelled) is a straight line. observed: the
// Runtime has a CallObserver, whose context host functions must receive.
func guardCall(l *ffiLib, a *admission, ctx context.Context, call func() int32, observed bool) int32 {
	nested := inCallback()
	// A call nested in a host function registers its context even when it
	// cannot be cancelled, so that the outer call's does not reach the host
	// functions it runs.
	register := observed || (nested && callContextN.Load() != 0)
	if !nested && mrand.Uint32N(yieldOneIn) == 0 {
		yieldIfIdle(a)
	}
	if a == nil || admissionOff || nested {
		return runGuarded(l, ctx, call, register)
	}
	a.enter()
	st := runGuarded(l, ctx, call, register)
	a.leave()
	return st
}

// runGuarded makes the call: interruptible when ctx can be cancelled, with
// ctx registered for host functions when register is set.
func runGuarded(l *ffiLib, ctx context.Context, call func() int32, register bool) int32 {
	switch {
	case ctx != nil && ctx.Done() != nil:
		return interruptible(l, ctx, call)
	case register:
		return withCallContext(l, ctx, call)
	default:
		return call()
	}
}

// withCallContext runs call with ctx as the context host functions called on
// this thread receive (see HostFunc).
func withCallContext(l *ffiLib, ctx context.Context, call func() int32) int32 {
	if ctx == nil {
		ctx = context.Background()
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	defer popCallContext(pushCallContext(l.pyrt_thread_id(), ctx))
	return call()
}

// interruptible runs call so that ctx, which can be cancelled, can interrupt
// it. The calling goroutine is locked to its OS thread for the duration,
// because pyrt identifies the call by the thread that makes it.
func interruptible(l *ffiLib, ctx context.Context, call func() int32) int32 {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	id := l.pyrt_thread_id()
	defer popCallContext(pushCallContext(id, ctx))
	var done atomic.Bool
	finished := make(chan struct{})
	stop := context.AfterFunc(ctx, func() {
		defer close(finished)
		// The call may not have entered Python yet (or may wait for the
		// main thread): retry until it is interrupted or has returned.
		for !done.Load() {
			if l.interruptThread(id) != 0 {
				return
			}
			time.Sleep(time.Millisecond)
		}
	})
	st := call()
	done.Store(true)
	if !stop() {
		// The interrupter ran or is running: wait for it, so it can never
		// reach a later call made on this thread.
		<-finished
	}
	return st
}

// wrapContext makes an interrupted call's error also match ctx.Err().
func wrapContext(ctx context.Context, err error) error {
	if err == nil || ctx == nil {
		return err
	}
	if cerr := ctx.Err(); cerr != nil {
		if e, ok := err.(*Error); ok && e.Code == CodeInterrupted {
			return fmt.Errorf("pyrt: call interrupted: %w (%w)", cerr, err)
		}
	}
	return err
}

// # Output capture

type outputKey struct{}

type outputWriters struct{ stdout, stderr io.Writer }

// CaptureOutput returns a copy of ctx under which Runtime calls (Run,
// RunFile, Eval, Call and their variants, Import, EvalObject, CallObject,
// CallValue, NewObject) capture what the Python code writes to sys.stdout
// and sys.stderr on the calling thread, and write it to stdout and stderr
// (either may be nil to discard that stream) when the call returns —
// including when it fails. Output of concurrent calls never mixes. Output
// of threads that the Python code starts, and of Object methods, goes to
// the process's streams (or the Runtime's WithStdout/WithStderr writers;
// Object methods of a Runtime made with WithCaptureOutput to its writers).
// Writes below sys.stdout (os.write(1, ...), C extensions, child processes)
// are not captured.
func CaptureOutput(ctx context.Context, stdout, stderr io.Writer) context.Context {
	return context.WithValue(ctx, outputKey{}, &outputWriters{stdout, stderr})
}

func outputOf(ctx context.Context) *outputWriters {
	if ctx == nil {
		return nil
	}
	w, _ := ctx.Value(outputKey{}).(*outputWriters)
	return w
}

// extraHandles are the further pyrt handles a Runtime opens on the same
// interpreter: capturing handles for CaptureOutput, pooled. They are freed
// with the Runtime (before its own handle, which may finalize Python).
type extraHandles struct {
	mu     sync.Mutex
	free   []uintptr
	all    []uintptr
	closed bool
}

func (x *extraHandles) closeAll(l *ffiLib) {
	x.mu.Lock()
	all := x.all
	x.all, x.free, x.closed = nil, nil, true
	x.mu.Unlock()
	for _, h := range all {
		l.pyrt_free(h)
	}
}

// captureHandle returns a pooled handle opened with "capture_output" (and
// this Runtime's per-handle settings).
func (r *Runtime) captureHandle() (uintptr, error) {
	x := r.extra
	x.mu.Lock()
	if x.closed {
		x.mu.Unlock()
		return 0, errClosed
	}
	if n := len(x.free); n > 0 {
		h := x.free[n-1]
		x.free = x.free[:n-1]
		x.mu.Unlock()
		return h, nil
	}
	x.mu.Unlock()
	cfg := `{"capture_output": true`
	if r.mainThread {
		cfg += `, "main_thread": true`
	}
	if r.timeoutMs > 0 {
		cfg += `, "timeout_ms": ` + strconv.FormatInt(r.timeoutMs, 10)
	}
	cfg += "}"
	f := getFrame()
	defer putFrame(f)
	f.buf = append(append(f.buf[:0], cfg...), 0)
	if st := r.lib.pyrt_new(f.cstr(0), f.outArg(), f.errArg()); st != 0 {
		return 0, r.lib.takeError(st, f.errp())
	}
	h := f.out()
	x.mu.Lock()
	defer x.mu.Unlock()
	if x.closed {
		r.lib.pyrt_free(h)
		return 0, errClosed
	}
	x.all = append(x.all, h)
	return h, nil
}

func (r *Runtime) putCaptureHandle(h uintptr) {
	x := r.extra
	x.mu.Lock()
	if !x.closed {
		x.free = append(x.free, h)
	}
	x.mu.Unlock()
}

// flushOutput moves what handle h captured to the writers.
func (r *Runtime) flushOutput(h uintptr, w *outputWriters) error {
	for i, dst := range []io.Writer{w.stdout, w.stderr} {
		f := getFrame()
		st := r.lib.pyrt_output_take(h, uint32(i+1), f.outArg(), f.errArg())
		if st != 0 {
			err := r.lib.takeError(st, f.errp())
			putFrame(f)
			return err
		}
		var werr error
		_ = r.lib.takeResult(f, func(data []byte) error {
			if dst != nil && len(data) > 0 {
				_, werr = dst.Write(data)
			}
			return nil
		})
		putFrame(f)
		if werr != nil {
			return werr
		}
	}
	return nil
}

// invoke makes one foreign call of a Runtime method through the right
// handle (a capturing one under CaptureOutput), interruptible by ctx, and
// turns a failure into an error.
func (r *Runtime) invoke(ctx context.Context, f *frame, call func(h uintptr) int32) error {
	if w := outputOf(ctx); w != nil {
		return r.invokeCapturing(ctx, f, w, call)
	}
	h := r.handle
	st := guardCall(r.lib, r.gate, ctx, func() int32 { return call(h) }, r.observer != nil)
	if r.captured != nil {
		r.takeCaptured()
	}
	runtime.KeepAlive(r)
	if st != 0 {
		return wrapContext(ctx, r.lib.takeError(st, f.errp()))
	}
	return nil
}

// invokeCapturing is invoke under CaptureOutput: the call goes through a
// capturing handle, whose output then goes to w.
func (r *Runtime) invokeCapturing(ctx context.Context, f *frame, w *outputWriters, call func(h uintptr) int32) error {
	h, err := r.captureHandle()
	if err != nil {
		return err
	}
	defer r.putCaptureHandle(h)
	st := guardCall(r.lib, r.gate, ctx, func() int32 { return call(h) }, r.observer != nil)
	runtime.KeepAlive(r)
	if st != 0 {
		err = wrapContext(ctx, r.lib.takeError(st, f.errp()))
	}
	if ferr := r.flushOutput(h, w); ferr != nil && err == nil {
		err = ferr
	}
	return err
}

// guard is guardCall for a foreign call through the Runtime's own handle
// (directly or through one of its objects): with WithCaptureOutput, what the
// call captured then goes to the Runtime's writers.
func (r *Runtime) guard(ctx context.Context, call func() int32) int32 {
	st := guardCall(r.lib, r.gate, ctx, call, r.observer != nil)
	if r.captured != nil {
		r.takeCaptured()
	}
	return st
}

// takeCaptured moves the output captured by the Runtime's own handle
// (WithCaptureOutput) to its writers. Failures are ignored, as the writers
// of WithStdout's are: the call's own result is what the caller asked for.
func (r *Runtime) takeCaptured() {
	_ = r.flushOutput(r.handle, r.captured)
	runtime.KeepAlive(r)
}

// invokeObject is invoke for a call on an object handle (CaptureOutput does
// not apply: the object's own runtime handle decides).
func (o *Object) invoke(ctx context.Context, f *frame, call func() int32) error {
	st := o.rt.guard(ctx, call)
	runtime.KeepAlive(o)
	if st != 0 {
		return wrapContext(ctx, o.rt.lib.takeError(st, f.errp()))
	}
	return nil
}

// The contexts of the calls running on each thread (by pyrt's thread id;
// innermost last), which a host function called from Python on that thread
// receives (HostFunc). Registered by the calls that already pay for a thread
// id (cancellable ones: their interrupt watcher), by every call of a Runtime
// with a CallObserver (whose context carries a span), and by a call nested
// in a host function while any is registered (so that the outer call's
// context does not leak into it). Sharded by thread, so that concurrent
// calls on different threads seldom share a lock.
type callContextShard struct {
	mu   sync.Mutex
	byID map[uint64][]context.Context
}

var (
	callContextShards [32]callContextShard
	callContextN      atomic.Int32
)

func callContextShardOf(id uint64) *callContextShard {
	// (pthread ids are addresses of thread stacks, alike in their low bits:
	// the shard comes from the top bits of a multiplicative hash.)
	return &callContextShards[(id*0x9E3779B97F4A7C15)>>59]
}

type callContextMark struct{ id uint64 }

func pushCallContext(id uint64, ctx context.Context) callContextMark {
	sh := callContextShardOf(id)
	sh.mu.Lock()
	if sh.byID == nil {
		sh.byID = map[uint64][]context.Context{}
	}
	sh.byID[id] = append(sh.byID[id], ctx)
	sh.mu.Unlock()
	callContextN.Add(1)
	return callContextMark{id}
}

func popCallContext(m callContextMark) {
	callContextN.Add(-1)
	sh := callContextShardOf(m.id)
	sh.mu.Lock()
	if s := sh.byID[m.id]; len(s) > 1 {
		s[len(s)-1] = nil
		sh.byID[m.id] = s[:len(s)-1]
	} else {
		delete(sh.byID, m.id)
	}
	sh.mu.Unlock()
}

// callContext is the context of the innermost registered call running on
// this thread, or context.Background().
func callContext(l *ffiLib) context.Context {
	if callContextN.Load() == 0 {
		return context.Background()
	}
	id := l.pyrt_thread_id()
	sh := callContextShardOf(id)
	sh.mu.Lock()
	defer sh.mu.Unlock()
	if s := sh.byID[id]; len(s) > 0 {
		return s[len(s)-1]
	}
	return context.Background()
}
