package pyrt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// HostFunc is a Go function that Python code calls (see Runtime.Register).
// args and kwargs arrive converted with the tagged encoding (as
// Object.Value returns values); a value with no encoding arrives as an
// *Object that is valid only until the function returns. The result is
// converted back the same way. A returned error is raised in Python as
// _pyrt.HostError with the error's text — except a *PythonError from a
// pyrt call made inside the function, which Python sees again as the very
// exception it was. A panic is recovered and raised as _pyrt.HostError.
//
// The function runs on the thread that executes the Python code, without
// holding the GIL: it may block, call back into the Runtime (from this
// goroutine or others), and run concurrently with itself.
//
// ctx is the context of the pyrt call whose Python code called the function
// when that context can be cancelled (a request's context, one with a
// deadline), when the Runtime has a CallObserver (whose context carries the
// call's span), or when that call was itself made from a host function: its
// values (a trace span, a request ID), its deadline and its cancellation
// reach the function, and passing it on to calls made inside keeps them part
// of the same request. Otherwise — a call made with a context that cannot be
// cancelled, Python code running on a thread of its own, a call run on
// another thread (WithMainThread, or WithWorkers when the call queued for a
// busy worker's thread instead of running on the caller's) — ctx is
// context.Background().
type HostFunc func(ctx context.Context, args []any, kwargs map[string]any) (any, error)

type hostEntry struct {
	rt *Runtime
	fn HostFunc
}

var (
	hostMu     sync.RWMutex
	hostFuncs  = map[uintptr]*hostEntry{}
	hostNextID atomic.Uintptr
)

// Register makes module.name a Python callable that calls fn. The module is
// imported, or created empty when it does not exist; name must be a Python
// identifier. Registering the same module.name again replaces the earlier
// function; Unregister (or Close) removes it. Any number of functions may be
// registered and unregistered: they all share one foreign-callable
// trampoline.
//
//	rt.Register("hostapi", "greet", func(ctx context.Context, args []any, kw map[string]any) (any, error) {
//		return fmt.Sprintf("hello, %v", args[0]), nil
//	})
//	rt.Run(ctx, "import hostapi; print(hostapi.greet('Python'))")
func (r *Runtime) Register(module, name string, fn HostFunc) error {
	if fn == nil {
		return newError(CodeInvalidArgument, "fn is nil")
	}
	if err := r.enter(context.Background()); err != nil {
		return err
	}
	id := hostNextID.Add(1)
	hostMu.Lock()
	hostFuncs[id] = &hostEntry{rt: r, fn: fn}
	hostMu.Unlock()
	f := getFrame()
	defer putFrame(f)
	b, err := appendCString(f.buf[:0], module, "module")
	if err != nil {
		forgetHost(id)
		return err
	}
	nameOff := len(b)
	if b, err = appendCString(b, name, "name"); err != nil {
		forgetHost(id)
		return err
	}
	f.buf = b
	if st := r.lib.pyrt_register(r.handle, f.cstr(0), f.cstr(nameOff), r.lib.tramp.call, id, r.lib.tramp.destroy, f.errArg()); st != 0 {
		// On failure libpyrt does not call the destructor: forget the entry here.
		forgetHost(id)
		return r.lib.takeError(st, f.errp())
	}
	return nil
}

// Unregister removes the function module.name registered through this
// Runtime. A Python reference to it that is called later raises
// RuntimeError.
func (r *Runtime) Unregister(module, name string) error {
	if err := r.enter(context.Background()); err != nil {
		return err
	}
	f := getFrame()
	defer putFrame(f)
	b, err := appendCString(f.buf[:0], module, "module")
	if err != nil {
		return err
	}
	nameOff := len(b)
	if b, err = appendCString(b, name, "name"); err != nil {
		return err
	}
	f.buf = b
	if st := r.lib.pyrt_unregister(r.handle, f.cstr(0), f.cstr(nameOff), f.errArg()); st != 0 {
		return r.lib.takeError(st, f.errp())
	}
	return nil
}

// RegisterFunc registers a typed Go function: its input is assigned from the
// Python arguments with Assign — a single positional argument directly,
// several as a list (so In may be a slice, an array or a Tuple), keyword
// arguments alone as a map (so In may be a struct) — and its result is
// converted like any value.
//
//	pyrt.RegisterFunc(rt, "hostapi", "double", func(ctx context.Context, x float64) (float64, error) {
//		return 2 * x, nil
//	})
func RegisterFunc[In, Out any](r *Runtime, module, name string, fn func(ctx context.Context, in In) (Out, error)) error {
	if fn == nil {
		return newError(CodeInvalidArgument, "fn is nil")
	}
	return r.Register(module, name, func(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
		var in In
		var src any
		switch {
		case len(args) == 0 && len(kwargs) > 0:
			src = kwargs
		case len(args) == 1 && len(kwargs) == 0:
			src = args[0]
		case len(kwargs) == 0:
			src = args
		default:
			return nil, fmt.Errorf("%s.%s takes positional or keyword arguments, not both", module, name)
		}
		if err := Assign(&in, src); err != nil {
			return nil, err
		}
		return fn(ctx, in)
	})
}

func forgetHost(id uintptr) {
	hostMu.Lock()
	delete(hostFuncs, id)
	hostMu.Unlock()
}

// hostCall runs the registered function id for one Python call and answers
// through reply. It never panics.
func hostCall(id uintptr, argsJSON, kwargsJSON []byte, reply uintptr) int32 {
	hostMu.RLock()
	e := hostFuncs[id]
	hostMu.RUnlock()
	if e == nil {
		l := loadedLibrary() // a callback is running: libpyrt is loaded
		if l == nil {
			return 1
		}
		return l.replyError(reply, "pyrt: this Go function was unregistered")
	}
	l := e.rt.lib
	defer callbackEnd(callbackBegin())
	var result any
	err := func() (err error) {
		defer func() {
			if p := recover(); p != nil {
				err = fmt.Errorf("panic in Go host function: %v\n%s", p, debug.Stack())
			}
		}()
		args, err := e.rt.decodeTagged(argsJSON)
		if err != nil {
			return err
		}
		kw, err := e.rt.decodeTagged(kwargsJSON)
		if err != nil {
			return err
		}
		argList, _ := args.([]any)
		kwMap, _ := kw.(map[string]any)
		result, err = e.fn(callContext(l), argList, kwMap)
		return err
	}()
	if err != nil {
		var pe *PythonError
		if errors.As(err, &pe) && pe.raw != nil {
			st := l.pyrt_reply_exception(reply, pe.raw.p)
			runtime.KeepAlive(pe.raw)
			return st
		}
		return l.replyError(reply, err.Error())
	}
	var enc tagEnc
	b, encErr := enc.marshal(make([]byte, 0, 64), result)
	if encErr != nil {
		return l.replyError(reply, "pyrt: cannot convert the Go function's result: "+encErr.Error())
	}
	st := l.replyJSON(reply, append(b, 0))
	runtime.KeepAlive(enc.objs)
	return st
}

// ---- Output writers ----------------------------------------------------------

var (
	outputMu      sync.RWMutex
	outputStreams [2]io.Writer
)

// WithStdout sends what Python code writes to sys.stdout — except calls
// under CaptureOutput — to w instead of the process's stdout: output of
// threads that Python code starts, of Object methods, of calls made from
// other Runtimes. Python has one sys.stdout per process, so the last Runtime
// created with WithStdout (or WithStderr) decides for all. w is called from
// the thread that printed, possibly concurrently: make it safe for that.
func WithStdout(w io.Writer) Option { return func(o *options) { o.stdout = w; o.outputSet = true } }

// WithStderr is WithStdout for sys.stderr.
func WithStderr(w io.Writer) Option { return func(o *options) { o.stderr = w; o.outputSet = true } }

func outputWrite(stream uintptr, data []byte) {
	defer callbackEnd(callbackBegin())
	outputMu.RLock()
	var w io.Writer
	switch stream {
	case 1:
		w = outputStreams[0]
		if w == nil {
			w = os.Stdout
		}
	case 2:
		w = outputStreams[1]
		if w == nil {
			w = os.Stderr
		}
	}
	outputMu.RUnlock()
	if w != nil {
		_, _ = w.Write(data)
	}
}

func (r *Runtime) installOutput(stdout, stderr io.Writer) error {
	outputMu.Lock()
	outputStreams = [2]io.Writer{stdout, stderr}
	outputMu.Unlock()
	f := getFrame()
	defer putFrame(f)
	handler := uintptr(0)
	if stdout != nil || stderr != nil {
		handler = r.lib.tramp.output
	}
	if st := r.lib.pyrt_set_output_handler(r.handle, handler, 0, f.errArg()); st != 0 {
		return r.lib.takeError(st, f.errp())
	}
	return nil
}
