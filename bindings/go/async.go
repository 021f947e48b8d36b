package pyrt

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
)

// Future is the pending outcome of a Python coroutine running on pyrt's
// asyncio event loop (Runtime.CallAsync, Object.Await). No goroutine or OS
// thread waits while it runs: ten thousand awaits can be in flight at once.
//
// Wait for it with Wait, or select on Done and then read Result:
//
//	fut, err := rt.CallAsync(ctx, "client", "fetch", url)
//	if err != nil {
//		return err
//	}
//	body, err := fut.Wait(ctx)
//
// Cancelling the context given to CallAsync or Wait cancels the asyncio Task:
// Python sees CancelledError where the coroutine awaits, its cleanup runs,
// and the Future's error then matches both ctx.Err() and ErrInterrupted.
type Future struct {
	rt   *Runtime
	key  uintptr // this Future's entry in pendingFutures, the C callback's user_data
	task uint64
	done chan struct{}

	// Set once by the completion callback, before done is closed.
	status int32
	result uintptr // a C string, freed when decoded
	errp   uintptr // a pyrt_error, owned by the error made from it

	decode    sync.Once
	value     any
	err       error
	cancelled atomic.Pointer[error] // the context error that cancelled the task
	// stop stops the context watcher of CallAsync/Await (nil: none), once
	// the coroutine is done: set by started, called by whichever of started
	// and taskDone sees both (the completion can come first).
	stop atomic.Pointer[func() bool]
	// end ends the CallObserver's observation of the call (nil: none); set
	// before the Future is published in pendingFutures, which orders it
	// before taskDone reads it.
	end func(error)
}

// pendingFutures maps the C callback's user_data to its Future; the entry
// keeps the Future alive while pyrt holds the number.
var (
	pendingFutures sync.Map
	nextFutureKey  atomic.Uintptr
)

// taskDone is the completion callback (pyrt_task_fn) of every task. It runs
// on pyrt's event-loop thread: it only records the outcome and wakes the
// waiters; decoding happens in Result, on the waiter's goroutine.
func taskDone(key uintptr, status int32, result, errp uintptr) {
	v, ok := pendingFutures.LoadAndDelete(key)
	if !ok {
		return // cannot happen: pyrt calls each completion once
	}
	f := v.(*Future)
	f.status, f.result, f.errp = status, result, errp
	close(f.done)
	if stop := f.stop.Load(); stop != nil {
		(*stop)()
	}
	if f.end != nil {
		// Off the event-loop thread: the observer may take its time, and the
		// outcome is decoded (once, shared with Result) to give it the error.
		go func() {
			_, err := f.Result()
			f.end(err)
		}()
	}
}

func newFuture(r *Runtime, end func(error)) *Future {
	f := &Future{rt: r, key: nextFutureKey.Add(1), done: make(chan struct{}), end: end}
	pendingFutures.Store(f.key, f)
	return f
}

// observeAsync starts the observation of an async call, which ends when the
// coroutine is done (nil: no observer).
func (r *Runtime) observeAsync(ctx context.Context, c CallInfo) func(error) {
	if r.observer == nil {
		return nil
	}
	c.Async = true
	// (The context it returns is not used: the coroutine runs on the event
	// loop's thread, where host functions get no caller's context.)
	_, end := r.observer.ObserveCall(ctx, c)
	return end
}

// endEarly ends the observation of an async call that failed to start.
func endEarly(end func(error), err error) error {
	if end != nil {
		end(err)
	}
	return err
}

// CallAsync calls module.function(*args), an async def (or any function that
// returns an awaitable), and schedules the coroutine on pyrt's event loop,
// returning at once. Arguments are converted as for Object.Call and the
// result with the tagged encoding (WithHandles among the arguments turns
// values without an encoding into *Object). An error raised before the
// coroutine started (a missing function, one that returns something not
// awaitable: a TypeError) is returned here. Cancelling ctx cancels the task.
func (r *Runtime) CallAsync(ctx context.Context, module, function string, args ...any) (*Future, error) {
	return r.CallAsyncKw(ctx, module, function, args, nil)
}

// CallAsyncKw is CallAsync with keyword arguments.
func (r *Runtime) CallAsyncKw(ctx context.Context, module, function string, args []any, kwargs map[string]any) (*Future, error) {
	if err := r.enter(ctx); err != nil {
		return nil, err
	}
	end := r.observeAsync(ctx, CallInfo{Module: module, Function: function})
	f := getFrame()
	defer putFrame(f)
	var e tagEnc
	argsOff, kwOff, flags, err := encodeTarget(f, &e, module, function, args, kwargs, kwargs != nil)
	if err != nil {
		return nil, endEarly(end, err)
	}
	fut := newFuture(r, end)
	var task uint64
	err = r.invoke(ctx, f, func(h uintptr) int32 {
		return r.lib.pyrt_call_async(h, f.cstr(0), f.cstr(argsOff), f.cstr(kwOff), flags, r.lib.tramp.taskDone, fut.key, &task, f.errArg())
	})
	runtime.KeepAlive(e.objs)
	return fut.started(ctx, task, err)
}

// Await schedules the awaitable object (a coroutine object, an asyncio Task
// or Future, anything with __await__) on pyrt's event loop, as CallAsync
// does with a call's result. A coroutine object can be awaited once.
func (o *Object) Await(ctx context.Context, opts ...CallOption) (*Future, error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	end := o.rt.observeAsync(ctx, CallInfo{Object: uint64(o.id)})
	f := getFrame()
	defer putFrame(f)
	flags, err := optionFlags(opts)
	if err != nil {
		return nil, endEarly(end, err)
	}
	fut := newFuture(o.rt, end)
	var task uint64
	err = o.invoke(ctx, f, func() int32 {
		return o.rt.lib.pyrt_object_await(o.id, flags, o.rt.lib.tramp.taskDone, fut.key, &task, f.errArg())
	})
	return fut.started(ctx, task, err)
}

// started finishes starting a task: on failure no completion will come.
func (fut *Future) started(ctx context.Context, task uint64, err error) (*Future, error) {
	if err != nil {
		pendingFutures.Delete(fut.key)
		return nil, endEarly(fut.end, err)
	}
	fut.task = task
	if ctx != nil && ctx.Done() != nil {
		stop := context.AfterFunc(ctx, func() { fut.cancelFor(ctx.Err()) })
		fut.stop.Store(&stop)
		select {
		case <-fut.done: // completed already: taskDone may have missed the watcher
			stop()
		default:
		}
	}
	return fut, nil
}

// Done is closed when the coroutine is done (finished, raised, cancelled and
// through its cleanup, or its runtime closed).
func (fut *Future) Done() <-chan struct{} { return fut.done }

// Task is the task's number (for logs; pyrt_task_cancel takes it).
func (fut *Future) Task() uint64 { return fut.task }

// Wait waits for the coroutine and returns its result. If ctx is done first,
// the task is cancelled, Wait waits for its cleanup to finish and returns an
// error matching ctx.Err() (and ErrInterrupted, unless the coroutine caught
// the cancellation and returned a result, which is then returned).
func (fut *Future) Wait(ctx context.Context) (any, error) {
	if ctx == nil {
		ctx = context.Background()
	}
	select {
	case <-fut.done:
	case <-ctx.Done():
		fut.cancelFor(ctx.Err())
		<-fut.done
	}
	return fut.Result()
}

// Result returns the outcome once Done is closed; before that it returns an
// error matching ErrInvalidArgument. The tagged encoding converts the
// result, as for Object.Call. An exception is a *PythonError.
func (fut *Future) Result() (any, error) {
	select {
	case <-fut.done:
	default:
		return nil, newError(CodeInvalidArgument, "the coroutine is still running (wait for Done)")
	}
	fut.decode.Do(fut.decodeOutcome)
	return fut.value, fut.err
}

func (fut *Future) decodeOutcome() {
	l := fut.rt.lib
	if fut.status == 0 {
		if fut.result == 0 {
			fut.err = &Error{Code: CodeInternal, Message: "libpyrt completed a task without a result"}
			return
		}
		fut.value, fut.err = fut.rt.decodeTagged(cBytes(ptrOf(fut.result)))
		l.pyrt_string_free(fut.result)
		fut.result = 0
		return
	}
	err := l.takeError(fut.status, fut.errp)
	fut.errp = 0
	if cause := fut.cancelled.Load(); cause != nil && Code(fut.status) == CodeInterrupted {
		err = fmt.Errorf("pyrt: coroutine cancelled: %w (%w)", *cause, err)
	}
	fut.err = err
}

// Cancel cancels the task (see Wait); it returns at once. The Future's error
// then matches context.Canceled and ErrInterrupted.
func (fut *Future) Cancel() { fut.cancelFor(context.Canceled) }

func (fut *Future) cancelFor(cause error) {
	select {
	case <-fut.done:
		return
	default:
	}
	fut.cancelled.CompareAndSwap(nil, &cause)
	var errp uintptr
	if st := fut.rt.lib.pyrt_task_cancel(fut.task, &errp); st != 0 {
		_ = fut.rt.lib.takeError(st, errp)
	}
}
