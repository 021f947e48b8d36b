package pyrt

import (
	"context"
	"runtime"
	"strings"
	"sync/atomic"
)

// Object is a handle owning one reference to a Python object: a module, a
// class instance, a function, a bound method, any value. It keeps the object
// alive across calls until Close.
//
// Objects come from Runtime.Import, Runtime.EvalObject, Runtime.CallObject,
// Runtime.NewObject, from the *Object variants of Object's methods, and (with
// WithHandles) from values. All methods are safe for concurrent use by
// multiple goroutines. An *Object is also a value: pass it as an argument (or
// inside one) to any call of the object API and Python receives the object
// itself, not a copy.
//
// Close releases the reference. An Object that becomes unreachable without
// Close is released by a cleanup when the garbage collector notices, which
// may be much later: Close objects you are done with. Releasing never takes
// the GIL, so Close (and the cleanup) is safe from any goroutine at any time.
// Closing the Runtime an object came from (the last handle of it) releases
// the object too; using it afterwards is an error matching ErrClosed.
type Object struct {
	rt      *Runtime
	id      uintptr // the pyrt_object token: a number, never a Go pointer
	closed  atomic.Bool
	cleanup runtime.Cleanup
}

type objectRef struct {
	lib *ffiLib
	id  uintptr
}

// objectCleanup is the safety net for an Object dropped without Close:
// pyrt_object_free only queues the reference (no GIL), so it is safe on the
// cleanup goroutine.
func objectCleanup(r objectRef) { r.lib.pyrt_object_free(r.id) }

func newObject(r *Runtime, id uintptr) *Object {
	o := &Object{rt: r, id: id}
	o.cleanup = runtime.AddCleanup(o, objectCleanup, objectRef{r.lib, id})
	return o
}

var errObjectClosed = &Error{Code: CodeClosed, Message: "object closed"}

// Close releases the Python reference. It is idempotent, safe from any
// goroutine (also while other goroutines use the object: their calls then
// fail with ErrClosed or finish normally) and never blocks on Python. It
// always returns nil; the error result is for io.Closer.
func (o *Object) Close() error {
	if o == nil || !o.closed.CompareAndSwap(false, true) {
		return nil
	}
	o.cleanup.Stop()
	o.rt.lib.pyrt_object_free(o.id)
	runtime.KeepAlive(o)
	return nil
}

// ID is the handle number pyrt writes for this object in tagged JSON
// ({"__pyrt__":"object","v":ID}); 0 for nil.
func (o *Object) ID() uint64 {
	if o == nil {
		return 0
	}
	return uint64(o.id)
}

// Runtime returns the runtime the object belongs to.
func (o *Object) Runtime() *Runtime { return o.rt }

func (o *Object) enter(ctx context.Context) error {
	if ctx != nil {
		if err := ctx.Err(); err != nil {
			return err
		}
	}
	if o == nil || o.closed.Load() {
		return errObjectClosed
	}
	if o.rt.closed.Load() {
		return errClosed
	}
	return nil
}

// takeTagged decodes the tagged result string in f and frees it.
func (r *Runtime) takeTagged(f *frame) (any, error) {
	var v any
	err := r.takeResult(f, func(data []byte) error {
		var err error
		v, err = r.decodeTagged(data)
		return err
	})
	return v, err
}

// takeObject wraps the handle in f's result slot.
func (r *Runtime) takeObject(f *frame) (*Object, error) {
	id := f.out()
	if id == 0 {
		return nil, &Error{Code: CodeInternal, Message: "libpyrt returned success without an object"}
	}
	return newObject(r, id), nil
}

// ---- Runtime entry points ---------------------------------------------------

// Import imports a module and returns it as an Object:
//
//	np, err := rt.Import(ctx, "numpy")
//	arr, err := np.CallMethodObject(ctx, "arange", 10)
func (r *Runtime) Import(ctx context.Context, module string) (*Object, error) {
	return r.stringToObject(ctx, module, "module name", (*ffiLib).pyrt_import)
}

// EvalObject evaluates a Python expression in __main__ and returns the value
// as an Object.
func (r *Runtime) EvalObject(ctx context.Context, expr string) (*Object, error) {
	return r.stringToObject(ctx, expr, "expression", (*ffiLib).pyrt_eval_object)
}

func (r *Runtime) stringToObject(ctx context.Context, s, what string,
	call func(l *ffiLib, rt uintptr, s *byte, objOut, errOut *uintptr) int32) (*Object, error) {
	if err := r.enter(ctx); err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	var err error
	if f.buf, err = appendCString(f.buf[:0], s, what); err != nil {
		return nil, err
	}
	if err := r.invoke(ctx, f, func(h uintptr) int32 { return call(r.lib, h, f.cstr(0), f.outArg(), f.errArg()) }); err != nil {
		return nil, err
	}
	return r.takeObject(f)
}

// NewObject builds a Python object from a Go value (converted with the
// tagged encoding, see the package documentation) and returns it as an
// Object.
func (r *Runtime) NewObject(ctx context.Context, value any) (*Object, error) {
	if err := r.enter(ctx); err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	var e tagEnc
	b, err := e.marshal(f.buf[:0], value)
	f.buf = append(b, 0)
	if err != nil {
		return nil, err
	}
	err = r.invoke(ctx, f, func(h uintptr) int32 {
		return r.lib.pyrt_object_from_json(h, f.cstr(0), valueTagged, f.outArg(), f.errArg())
	})
	runtime.KeepAlive(e.objs)
	if err != nil {
		return nil, err
	}
	return r.takeObject(f)
}

// CallValue is Call with the tagged encoding: it calls module.function(*args)
// and converts arguments and result losslessly (tuples, bytes, sets, dicts
// with any keys, NaN, datetimes, Decimal, *Object, ...; see the package
// documentation). Pass WithHandles() among args to get unconvertible results
// as *Object. Call converts results the same way, but encodes its arguments
// as plain JSON.
func (r *Runtime) CallValue(ctx context.Context, module, function string, args ...any) (any, error) {
	var v any
	err := r.callTarget(ctx, module, function, args, nil, false, &v, nil)
	return v, err
}

// CallValueKw is CallValue with keyword arguments.
func (r *Runtime) CallValueKw(ctx context.Context, module, function string, args []any, kwargs map[string]any) (any, error) {
	var v any
	err := r.callTarget(ctx, module, function, args, kwargs, kwargs != nil, &v, nil)
	return v, err
}

// CallObject calls module.function(*args) (arguments in the tagged
// encoding) and returns the result as an Object.
func (r *Runtime) CallObject(ctx context.Context, module, function string, args ...any) (*Object, error) {
	var o *Object
	err := r.callTarget(ctx, module, function, args, nil, false, nil, &o)
	return o, err
}

// EvalValue evaluates a Python expression in __main__ and converts the
// result with the tagged encoding, through an Object (Eval converts the same
// way in one foreign call).
func (r *Runtime) EvalValue(ctx context.Context, expr string, opts ...CallOption) (any, error) {
	o, err := r.EvalObject(ctx, expr)
	if err != nil {
		return nil, err
	}
	defer o.Close()
	return o.Value(ctx, opts...)
}

// callTarget calls pyrt_call_value (value != nil) or pyrt_call_object
// (obj != nil) with target "module:function".
func (r *Runtime) callTarget(ctx context.Context, module, function string, args []any, kwargs map[string]any,
	hasKw bool, value *any, obj **Object) (err error) {
	if err := r.enter(ctx); err != nil {
		return err
	}
	if r.observer != nil {
		var end func(error)
		ctx, end = r.observer.ObserveCall(ctx, CallInfo{Module: module, Function: function})
		defer func() { end(err) }()
	}
	f := getFrame()
	defer putFrame(f)
	var e tagEnc
	argsOff, kwOff, flags, err := encodeTarget(f, &e, module, function, args, kwargs, hasKw)
	if err != nil {
		return err
	}
	call := (*ffiLib).pyrt_call_value
	if obj != nil {
		call = (*ffiLib).pyrt_call_object
	}
	err = r.invoke(ctx, f, func(h uintptr) int32 {
		return call(r.lib, h, f.cstr(0), f.cstr(argsOff), f.cstr(kwOff), flags, f.outArg(), f.errArg())
	})
	runtime.KeepAlive(e.objs)
	if err != nil {
		return err
	}
	if obj != nil {
		*obj, err = r.takeObject(f)
		return err
	}
	*value, err = r.takeTagged(f)
	return err
}

// encodeTarget fills f.buf with the target "module:function" (at offset 0),
// the arguments and, when hasKw, the keyword arguments, all in the tagged
// encoding, and returns their offsets and the value flags of the call.
func encodeTarget(f *frame, e *tagEnc, module, function string, args []any, kwargs map[string]any,
	hasKw bool) (argsOff, kwOff int, flags uint32, err error) {
	if module == "" || function == "" || strings.ContainsRune(module, ':') {
		return 0, 0, 0, newError(CodeInvalidArgument, "module %q and function %q: both must be non-empty and the module without ':'", module, function)
	}
	if strings.IndexByte(module, 0) >= 0 || strings.IndexByte(function, 0) >= 0 {
		return 0, 0, 0, newError(CodeInvalidArgument, "module or function name contains a NUL byte")
	}
	b := append(append(append(append(f.buf[:0], module...), ':'), function...), 0)
	defer func() { f.buf = b }()
	argsOff, kwOff = len(b), -1
	if b, err = e.args(b, args); err != nil {
		return 0, 0, 0, err
	}
	b = append(b, 0)
	if hasKw {
		kwOff = len(b)
		if b, err = e.kwargs(b, kwargs); err != nil {
			return 0, 0, 0, err
		}
		b = append(b, 0)
	}
	flags, err = objectFlags(e.flags)
	return argsOff, kwOff, flags, err
}

// ---- Object methods ---------------------------------------------------------

// Call calls the object (a function, class, bound method, any callable) with
// args and converts the result with the tagged encoding.
func (o *Object) Call(ctx context.Context, args ...any) (any, error) {
	return o.callValue(ctx, "", args, nil, false)
}

// CallKw calls the object with positional and keyword arguments.
func (o *Object) CallKw(ctx context.Context, args []any, kwargs map[string]any) (any, error) {
	return o.callValue(ctx, "", args, kwargs, kwargs != nil)
}

// CallObject calls the object and returns the result as an Object.
func (o *Object) CallObject(ctx context.Context, args ...any) (*Object, error) {
	return o.callObject(ctx, "", args, nil, false)
}

// CallKwObject calls the object with keyword arguments and returns the
// result as an Object.
func (o *Object) CallKwObject(ctx context.Context, args []any, kwargs map[string]any) (*Object, error) {
	return o.callObject(ctx, "", args, kwargs, kwargs != nil)
}

// CallMethod calls the method name of the object: obj.name(*args).
func (o *Object) CallMethod(ctx context.Context, name string, args ...any) (any, error) {
	if name == "" {
		return nil, newError(CodeInvalidArgument, "empty method name")
	}
	return o.callValue(ctx, name, args, nil, false)
}

// CallMethodKw calls obj.name(*args, **kwargs).
func (o *Object) CallMethodKw(ctx context.Context, name string, args []any, kwargs map[string]any) (any, error) {
	if name == "" {
		return nil, newError(CodeInvalidArgument, "empty method name")
	}
	return o.callValue(ctx, name, args, kwargs, kwargs != nil)
}

// CallMethodObject calls obj.name(*args) and returns the result as an Object.
func (o *Object) CallMethodObject(ctx context.Context, name string, args ...any) (*Object, error) {
	if name == "" {
		return nil, newError(CodeInvalidArgument, "empty method name")
	}
	return o.callObject(ctx, name, args, nil, false)
}

// encodeCall fills f.buf with method (if any), args and kwargs.
func encodeCall(f *frame, e *tagEnc, method string, args []any, kwargs map[string]any, hasKw bool) (methodOff, argsOff, kwOff int, err error) {
	b := f.buf[:0]
	methodOff, kwOff = -1, -1
	defer func() { f.buf = b }()
	if method != "" {
		methodOff = 0
		if b, err = appendCString(b, method, "method name"); err != nil {
			return
		}
	}
	argsOff = len(b)
	if b, err = e.args(b, args); err != nil {
		return
	}
	b = append(b, 0)
	if hasKw {
		kwOff = len(b)
		if b, err = e.kwargs(b, kwargs); err != nil {
			return
		}
		b = append(b, 0)
	}
	return
}

// callMethod encodes the arguments and makes the call through foreign, which
// is objectCallJSON (a value result) or objectCall (an object result); take
// turns the frame's result into the Go result.
func callMethod[T any](o *Object, ctx context.Context, method string, args []any, kwargs map[string]any, hasKw bool,
	foreign func(l *ffiLib, obj uintptr, method, argsJSON, kwargsJSON *byte, flags uint32, resultOut, errOut *uintptr) int32,
	take func(f *frame) (T, error)) (_ T, err error) {
	var zero T
	if err := o.enter(ctx); err != nil {
		return zero, err
	}
	if obs := o.rt.observer; obs != nil {
		var end func(error)
		ctx, end = obs.ObserveCall(ctx, CallInfo{Method: method, Object: uint64(o.id)})
		defer func() { end(err) }()
	}
	f := getFrame()
	defer putFrame(f)
	var e tagEnc
	methodOff, argsOff, kwOff, err := encodeCall(f, &e, method, args, kwargs, hasKw)
	if err != nil {
		return zero, err
	}
	flags, err := objectFlags(e.flags)
	if err != nil {
		return zero, err
	}
	err = o.invoke(ctx, f, func() int32 {
		return foreign(o.rt.lib, o.id, f.cstr(methodOff), f.cstr(argsOff), f.cstr(kwOff), flags, f.outArg(), f.errArg())
	})
	runtime.KeepAlive(e.objs)
	if err != nil {
		return zero, err
	}
	return take(f)
}

func (o *Object) callValue(ctx context.Context, method string, args []any, kwargs map[string]any, hasKw bool) (any, error) {
	// (o may be nil: its runtime is read only after callMethod checked it.)
	return callMethod(o, ctx, method, args, kwargs, hasKw, (*ffiLib).pyrt_object_call_json, func(f *frame) (any, error) { return o.rt.takeTagged(f) })
}

func (o *Object) callObject(ctx context.Context, method string, args []any, kwargs map[string]any, hasKw bool) (*Object, error) {
	return callMethod(o, ctx, method, args, kwargs, hasKw, (*ffiLib).pyrt_object_call, func(f *frame) (*Object, error) { return o.rt.takeObject(f) })
}

func optionFlags(opts []CallOption) (uint32, error) {
	return objectFlags(callFlags(opts))
}

// Attr returns getattr(obj, name), converted with the tagged encoding.
func (o *Object) Attr(ctx context.Context, name string, opts ...CallOption) (any, error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	var err error
	if f.buf, err = appendCString(f.buf[:0], name, "attribute name"); err != nil {
		return nil, err
	}
	flags, err := optionFlags(opts)
	if err != nil {
		return nil, err
	}
	if err := o.invoke(ctx, f, func() int32 {
		return o.rt.lib.pyrt_object_getattr_json(o.id, f.cstr(0), flags, f.outArg(), f.errArg())
	}); err != nil {
		return nil, err
	}
	return o.rt.takeTagged(f)
}

// AttrObject returns getattr(obj, name) as an Object.
func (o *Object) AttrObject(ctx context.Context, name string) (*Object, error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	var err error
	if f.buf, err = appendCString(f.buf[:0], name, "attribute name"); err != nil {
		return nil, err
	}
	if err := o.invoke(ctx, f, func() int32 { return o.rt.lib.pyrt_object_getattr(o.id, f.cstr(0), f.outArg(), f.errArg()) }); err != nil {
		return nil, err
	}
	return o.rt.takeObject(f)
}

// SetAttr does setattr(obj, name, value). value is converted with the tagged
// encoding; an *Object sets the object itself.
func (o *Object) SetAttr(ctx context.Context, name string, value any) error {
	if err := o.enter(ctx); err != nil {
		return err
	}
	f := getFrame()
	defer putFrame(f)
	b, err := appendCString(f.buf[:0], name, "attribute name")
	if err != nil {
		return err
	}
	var st int32
	if v, ok := value.(*Object); ok && v != nil {
		if v.closed.Load() {
			return errObjectClosed
		}
		f.buf = b
		st = o.rt.guard(ctx, func() int32 { return o.rt.lib.pyrt_object_setattr(o.id, f.cstr(0), v.id, f.errArg()) })
		runtime.KeepAlive(v)
	} else {
		var e tagEnc
		valueOff := len(b)
		b, err = e.marshal(b, value)
		f.buf = append(b, 0)
		if err != nil {
			return err
		}
		st = o.rt.guard(ctx, func() int32 {
			return o.rt.lib.pyrt_object_setattr_json(o.id, f.cstr(0), f.cstr(valueOff), valueTagged, f.errArg())
		})
		runtime.KeepAlive(e.objs)
	}
	runtime.KeepAlive(o)
	if st != 0 {
		return wrapContext(ctx, o.rt.lib.takeError(st, f.errp()))
	}
	return nil
}

// Value converts the object's value to Go with the tagged encoding (see the
// package documentation): a dict becomes a map[string]any or a Dict, a tuple
// a Tuple, bytes a []byte, and so on. An object with no encoding is an error
// matching ErrConversion, or an *Object with WithHandles().
func (o *Object) Value(ctx context.Context, opts ...CallOption) (any, error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	flags, err := optionFlags(opts)
	if err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	if err := o.invoke(ctx, f, func() int32 {
		return o.rt.lib.pyrt_object_to_json(o.id, flags, f.outArg(), f.errArg())
	}); err != nil {
		return nil, err
	}
	return o.rt.takeTagged(f)
}

// Decode converts the object's value into out, a non-nil pointer: the value
// as Value returns it, assigned to out's type with the usual conversions
// (numbers to any numeric type that holds them, lists and tuples to slices
// and arrays, dicts to maps and to structs by field name or json tag, ...).
// A value that does not fit is an error matching ErrConversion.
func (o *Object) Decode(ctx context.Context, out any, opts ...CallOption) error {
	if err := checkOut(out); err != nil {
		return err
	}
	v, err := o.Value(ctx, opts...)
	if err != nil {
		return err
	}
	return Assign(out, v)
}

func (o *Object) text(ctx context.Context, repr bool) (string, error) {
	if err := o.enter(ctx); err != nil {
		return "", err
	}
	f := getFrame()
	defer putFrame(f)
	if err := o.invoke(ctx, f, func() int32 {
		if repr {
			return o.rt.lib.pyrt_object_repr(o.id, f.outArg(), f.errArg())
		}
		return o.rt.lib.pyrt_object_str(o.id, f.outArg(), f.errArg())
	}); err != nil {
		return "", err
	}
	var s string
	err := o.rt.takeResult(f, func(data []byte) error { s = string(data); return nil })
	return s, err
}

// Repr returns repr(obj).
func (o *Object) Repr(ctx context.Context) (string, error) { return o.text(ctx, true) }

// Str returns str(obj).
func (o *Object) Str(ctx context.Context) (string, error) { return o.text(ctx, false) }

// String returns str(obj) for fmt, or a placeholder such as
// "<pyrt.Object closed>" when that fails.
func (o *Object) String() string {
	if o == nil {
		return "<nil pyrt.Object>"
	}
	s, err := o.text(context.Background(), false)
	if err != nil {
		if o.closed.Load() {
			return "<pyrt.Object closed>"
		}
		return "<pyrt.Object: " + err.Error() + ">"
	}
	return s
}
