package pyrt

import (
	"context"
	"runtime"
	"sync"
	"unsafe"
)

// typedCall is the scratch space of one typed fast-path call: a pyrt_args
// list (C memory, reused: pyrt_args_clear keeps its buffer) and the two
// out-parameter slots C writes. They are pooled, so a hot loop allocates
// nothing per call.
type typedCall struct {
	lib  *ffiLib
	args uintptr     // *pyrt_args, owned; freed by a cleanup when the pool drops it
	slot *[2]uintptr // result_out, err_out (pointer-free, separately allocated)
	// pins holds the slices lent with BufferOf pinned until the call returns;
	// lent is true when the list holds buffers (cleared right after the call).
	pins *runtime.Pinner
	lent bool
	// dv carries a double to pyrt_args_push_doubles by address;
	// pointer-free, separately allocated like slot.
	dv *float64
}

var typedPool sync.Pool

func (l *ffiLib) getTyped() *typedCall {
	if t, ok := typedPool.Get().(*typedCall); ok {
		t.clear()
		*t.slot = [2]uintptr{}
		return t
	}
	t := &typedCall{lib: l, args: l.pyrt_args_new(), slot: new([2]uintptr), dv: new(float64)}
	runtime.AddCleanup(t, func(a uintptr) { l.pyrt_args_free(a) }, t.args)
	return t
}

func putTyped(t *typedCall) {
	if t.lent {
		// Forget the lent pointers before unpinning the memory they point to.
		t.clear()
		t.lent = false
	}
	if t.pins != nil {
		t.pins.Unpin()
	}
	typedPool.Put(t)
}

// push appends the typed arguments. Only scalars, strings, bytes, None,
// *Object and Buffer have a typed form; anything else is an error pointing to
// the JSON calls, which take any value.
func (t *typedCall) push(args []any) error {
	for i, a := range args {
		var st int32
		switch v := a.(type) {
		case Buffer:
			st = t.pushBufferArg(v)
		case nil:
			st = t.pushNone()
		case float64:
			st = t.pushDouble(v)
		case float32:
			st = t.pushDouble(float64(v))
		case int:
			st = t.pushInt(int64(v))
		case int64:
			st = t.pushInt(v)
		case int32:
			st = t.pushInt(int64(v))
		case int16:
			st = t.pushInt(int64(v))
		case int8:
			st = t.pushInt(int64(v))
		case uint8:
			st = t.pushInt(int64(v))
		case uint16:
			st = t.pushInt(int64(v))
		case uint32:
			st = t.pushInt(int64(v))
		case uint:
			if uint64(v) > 1<<63-1 {
				return newError(CodeConversion, "argument %d: %d does not fit the typed path's int64 (use Call)", i, v)
			}
			st = t.pushInt(int64(v))
		case uint64:
			if v > 1<<63-1 {
				return newError(CodeConversion, "argument %d: %d does not fit the typed path's int64 (use Call)", i, v)
			}
			st = t.pushInt(int64(v))
		case bool:
			st = t.pushBool(v)
		case string:
			// The string's bytes are copied by C during the call.
			st = t.pushStr(unsafe.StringData(v), len(v))
			runtime.KeepAlive(v)
		case []byte:
			st = t.pushBytes(unsafe.SliceData(v), len(v))
			runtime.KeepAlive(v)
		case *Object:
			if v == nil || v.closed.Load() {
				return errObjectClosed
			}
			st = t.pushObject(v.id)
			runtime.KeepAlive(v)
		default:
			return newError(CodeConversion, "argument %d: %T has no typed form (int, float, bool, string, []byte, nil, *Object, pyrt.Buffer); use Call", i, a)
		}
		if st != 0 {
			return newError(Code(st), "argument %d: cannot be added to the typed argument list", i)
		}
	}
	return nil
}

// typed runs one typed call of o: call is one of t's call functions.
func (o *Object) typed(ctx context.Context, args []any, call func(t *typedCall) int32) (_ *typedCall, err error) {
	if err := o.enter(ctx); err != nil {
		return nil, err
	}
	if obs := o.rt.observer; obs != nil {
		var end func(error)
		ctx, end = obs.ObserveCall(ctx, CallInfo{Object: uint64(o.id)})
		defer func() { end(err) }()
	}
	t := o.rt.lib.getTyped()
	if err := t.push(args); err != nil {
		putTyped(t)
		return nil, err
	}
	st := o.rt.guard(ctx, func() int32 { return call(t) })
	runtime.KeepAlive(o)
	runtime.KeepAlive(args)
	if st != 0 {
		err := wrapContext(ctx, o.rt.lib.takeError(st, t.slot[1]))
		if Code(st) == CodeBufferEscaped {
			// Python still points into a lent slice: keep it pinned and
			// reachable for the rest of the process.
			keepForever(t)
		} else {
			putTyped(t)
		}
		return nil, err
	}
	return t, nil
}

// CallFloat calls the object with typed arguments (int, float, bool, string,
// []byte, nil, *Object: no JSON, no reflection) and returns its result as a
// float64 (a Python float, or an int/bool converted like float()). It is the
// fast path for hot numeric calls:
//
//	sqrt, _ := rt.EvalObject(ctx, "__import__('math').sqrt")
//	v, err := sqrt.CallFloat(ctx, 16.0) // 4
func (o *Object) CallFloat(ctx context.Context, args ...any) (float64, error) {
	t, err := o.typed(ctx, args, func(t *typedCall) int32 { return t.callDouble(o.id) })
	if err != nil {
		return 0, err
	}
	v := t.double()
	putTyped(t)
	return v, nil
}

// CallInt is CallFloat for an int result that fits in int64 (a larger int is
// an error matching ErrConversion).
func (o *Object) CallInt(ctx context.Context, args ...any) (int64, error) {
	t, err := o.typed(ctx, args, func(t *typedCall) int32 { return t.callInt(o.id) })
	if err != nil {
		return 0, err
	}
	v := int64(t.slot[0])
	putTyped(t)
	return v, nil
}

// CallTyped calls the object with typed arguments (as CallFloat) and returns
// any result, converted with the tagged encoding (as Object.Call).
func (o *Object) CallTyped(ctx context.Context, args ...any) (any, error) {
	t, err := o.typed(ctx, args, func(t *typedCall) int32 { return t.callArgsJSON(o.id, valueTagged) })
	if err != nil {
		return nil, err
	}
	f := getFrame()
	defer putFrame(f)
	f.slot[0] = t.slot[0]
	putTyped(t)
	return o.rt.takeTagged(f)
}

// CallTypedObject calls the object with typed arguments (as CallFloat) and
// keeps the result as an Object.
func (o *Object) CallTypedObject(ctx context.Context, args ...any) (*Object, error) {
	t, err := o.typed(ctx, args, func(t *typedCall) int32 { return t.callArgs(o.id) })
	if err != nil {
		return nil, err
	}
	id := t.slot[0]
	putTyped(t)
	if id == 0 {
		return nil, &Error{Code: CodeInternal, Message: "libpyrt returned success without an object"}
	}
	return newObject(o.rt, id), nil
}
