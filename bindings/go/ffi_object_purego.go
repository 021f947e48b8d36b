//go:build !pyrt_cgo

// Foreign calls of the object API (pyrt_object_*, pyrt_call_value/object,
// pyrt_args_*), purego flavour. The symbols are resolved on first use from the
// libpyrt that ffi_purego.go opened (one per process); a libpyrt without them
// is reported as ErrLibraryVersion. ffi_object_cgo.go is the cgo flavour.

package pyrt

import (
	"math"
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"

	"github.com/ebitengine/purego"
)

type objFuncs struct {
	callValue, callObject, importModule, evalObject, fromJSON, toJSON           uintptr
	getattr, getattrJSON, setattr, setattrJSON, callJSON, call, repr, str, free uintptr
	argsNew, argsFree, argsClear, pushInt, pushBool, pushNone, pushStr          uintptr
	pushBytes, pushObject, callDouble, callInt, callArgs, callArgsJSON          uintptr
	// pushDouble takes a double in a float register, which purego.SyscallN
	// cannot place next to an integer argument: it goes through RegisterFunc
	// (reflection, ~0.5 µs) — only when libpyrt lacks pyrt_args_push_doubles,
	// which takes the value through a pointer instead.
	pushDouble  func(args uintptr, v float64) int32
	pushDoubles uintptr
}

var (
	objMu  sync.Mutex
	objFns atomic.Pointer[objFuncs]
)

// objectAPI resolves the object API's symbols (once per process).
func (l *ffiLib) objectAPI() error {
	if objFns.Load() != nil {
		return nil
	}
	objMu.Lock()
	defer objMu.Unlock()
	if objFns.Load() != nil {
		return nil
	}
	o := &objFuncs{}
	for _, s := range []struct {
		name string
		dst  *uintptr
	}{
		{"pyrt_call_value", &o.callValue},
		{"pyrt_call_object", &o.callObject},
		{"pyrt_import", &o.importModule},
		{"pyrt_eval_object", &o.evalObject},
		{"pyrt_object_from_json", &o.fromJSON},
		{"pyrt_object_to_json", &o.toJSON},
		{"pyrt_object_getattr", &o.getattr},
		{"pyrt_object_getattr_json", &o.getattrJSON},
		{"pyrt_object_setattr", &o.setattr},
		{"pyrt_object_setattr_json", &o.setattrJSON},
		{"pyrt_object_call_json", &o.callJSON},
		{"pyrt_object_call", &o.call},
		{"pyrt_object_repr", &o.repr},
		{"pyrt_object_str", &o.str},
		{"pyrt_object_free", &o.free},
		{"pyrt_args_new", &o.argsNew},
		{"pyrt_args_free", &o.argsFree},
		{"pyrt_args_clear", &o.argsClear},
		{"pyrt_args_push_int", &o.pushInt},
		{"pyrt_args_push_bool", &o.pushBool},
		{"pyrt_args_push_none", &o.pushNone},
		{"pyrt_args_push_str", &o.pushStr},
		{"pyrt_args_push_bytes", &o.pushBytes},
		{"pyrt_args_push_object", &o.pushObject},
		{"pyrt_object_call_double", &o.callDouble},
		{"pyrt_object_call_int", &o.callInt},
		{"pyrt_object_call_args", &o.callArgs},
		{"pyrt_object_call_args_json", &o.callArgsJSON},
	} {
		p, err := purego.Dlsym(l.handle, s.name)
		if err != nil || p == 0 {
			return &loadError{ErrLibraryVersion, "pyrt: libpyrt " + l.path + " lacks " + s.name +
				" (built before object handles; rebuild it with `cargo build --release`)"}
		}
		*s.dst = p
	}
	p, err := purego.Dlsym(l.handle, "pyrt_args_push_double")
	if err != nil || p == 0 {
		return &loadError{ErrLibraryVersion, "pyrt: libpyrt " + l.path + " lacks pyrt_args_push_double"}
	}
	purego.RegisterFunc(&o.pushDouble, p)
	if p, err := purego.Dlsym(l.handle, "pyrt_args_push_doubles"); err == nil {
		o.pushDoubles = p
	}
	objFns.Store(o)
	return nil
}

func fns() *objFuncs { return objFns.Load() }

// cstr returns the address of f.buf[off], or NULL for off < 0.
func (f *frame) cstr(off int) uintptr { return ptrArg(f.buf, off) }

// callValue: target at f.buf[0:].
func (l *ffiLib) callValue(rt unsafe.Pointer, f *frame, argsOff, kwOff int, flags uint32) int32 {
	f.args = [8]uintptr{uintptr(rt), f.cstr(0), f.cstr(argsOff), f.cstr(kwOff), uintptr(flags), f.outArg(), f.errArg()}
	return f.syscall(fns().callValue, 7)
}

func (l *ffiLib) callObject(rt unsafe.Pointer, f *frame, argsOff, kwOff int, flags uint32) int32 {
	f.args = [8]uintptr{uintptr(rt), f.cstr(0), f.cstr(argsOff), f.cstr(kwOff), uintptr(flags), f.outArg(), f.errArg()}
	return f.syscall(fns().callObject, 7)
}

// importModule / evalObject take their string at f.buf[0:].
func (l *ffiLib) importModule(rt unsafe.Pointer, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = uintptr(rt), f.cstr(0), f.outArg(), f.errArg()
	return f.syscall(fns().importModule, 4)
}

func (l *ffiLib) evalObject(rt unsafe.Pointer, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = uintptr(rt), f.cstr(0), f.outArg(), f.errArg()
	return f.syscall(fns().evalObject, 4)
}

// objectFromJSON: the JSON at f.buf[0:].
func (l *ffiLib) objectFromJSON(rt unsafe.Pointer, f *frame, flags uint32) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3], f.args[4] = uintptr(rt), f.cstr(0), uintptr(flags), f.outArg(), f.errArg()
	return f.syscall(fns().fromJSON, 5)
}

func (l *ffiLib) objectToJSON(obj uintptr, f *frame, flags uint32) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = obj, uintptr(flags), f.outArg(), f.errArg()
	return f.syscall(fns().toJSON, 4)
}

// objectGetattr / objectGetattrJSON: the name at f.buf[0:].
func (l *ffiLib) objectGetattr(obj uintptr, f *frame) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = obj, f.cstr(0), f.outArg(), f.errArg()
	return f.syscall(fns().getattr, 4)
}

func (l *ffiLib) objectGetattrJSON(obj uintptr, f *frame, flags uint32) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3], f.args[4] = obj, f.cstr(0), uintptr(flags), f.outArg(), f.errArg()
	return f.syscall(fns().getattrJSON, 5)
}

// objectSetattr: the name at f.buf[0:]; objectSetattrJSON: the value at valueOff.
func (l *ffiLib) objectSetattr(obj uintptr, f *frame, value uintptr) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3] = obj, f.cstr(0), value, f.errArg()
	return f.syscall(fns().setattr, 4)
}

func (l *ffiLib) objectSetattrJSON(obj uintptr, f *frame, valueOff int, flags uint32) int32 {
	f.args[0], f.args[1], f.args[2], f.args[3], f.args[4] = obj, f.cstr(0), f.cstr(valueOff), uintptr(flags), f.errArg()
	return f.syscall(fns().setattrJSON, 5)
}

// objectCallJSON / objectCall: method at methodOff (< 0: call the object itself).
func (l *ffiLib) objectCallJSON(obj uintptr, f *frame, methodOff, argsOff, kwOff int, flags uint32) int32 {
	f.args = [8]uintptr{obj, f.cstr(methodOff), f.cstr(argsOff), f.cstr(kwOff), uintptr(flags), f.outArg(), f.errArg()}
	return f.syscall(fns().callJSON, 7)
}

func (l *ffiLib) objectCall(obj uintptr, f *frame, methodOff, argsOff, kwOff int, flags uint32) int32 {
	f.args = [8]uintptr{obj, f.cstr(methodOff), f.cstr(argsOff), f.cstr(kwOff), uintptr(flags), f.outArg(), f.errArg()}
	return f.syscall(fns().call, 7)
}

func (l *ffiLib) objectRepr(obj uintptr, f *frame) int32 {
	f.args[0], f.args[1], f.args[2] = obj, f.outArg(), f.errArg()
	return f.syscall(fns().repr, 3)
}

func (l *ffiLib) objectStr(obj uintptr, f *frame) int32 {
	f.args[0], f.args[1], f.args[2] = obj, f.outArg(), f.errArg()
	return f.syscall(fns().str, 3)
}

// objectFree never takes the GIL: safe from cleanups on any thread.
func (l *ffiLib) objectFree(obj uintptr) {
	if o := fns(); o != nil {
		purego.SyscallN(o.free, obj)
	}
}

// ---- the typed fast path ----------------------------------------------------

func (l *ffiLib) argsNew() uintptr {
	r1, _, _ := purego.SyscallN(fns().argsNew)
	return r1
}

func (l *ffiLib) argsFree(a uintptr) { purego.SyscallN(fns().argsFree, a) }

func (t *typedCall) syscall(fn uintptr, n int) int32 {
	r1, _, _ := purego.SyscallN(fn, t.sargs[:n]...)
	runtime.KeepAlive(t)
	runtime.KeepAlive(t.slot)
	return int32(r1)
}

func (t *typedCall) clear() { t.sargs[0] = t.args; t.syscall(fns().argsClear, 1) }

func (t *typedCall) pushInt(v int64) int32 {
	t.sargs[0], t.sargs[1] = t.args, uintptr(v)
	return t.syscall(fns().pushInt, 2)
}

func (t *typedCall) pushDouble(v float64) int32 {
	f := fns()
	if f.pushDoubles == 0 {
		return f.pushDouble(t.args, v)
	}
	*t.dv = v
	t.sargs[0], t.sargs[1], t.sargs[2] = t.args, uintptr(unsafe.Pointer(t.dv)), 1
	return t.syscall(f.pushDoubles, 3)
}

func (t *typedCall) pushBool(v bool) int32 {
	t.sargs[0], t.sargs[1] = t.args, 0
	if v {
		t.sargs[1] = 1
	}
	return t.syscall(fns().pushBool, 2)
}

func (t *typedCall) pushNone() int32 { t.sargs[0] = t.args; return t.syscall(fns().pushNone, 1) }

// pushStr / pushBytes: p points to Go heap memory (the data of a string or
// slice that reached us through an interface, so it lives on the heap),
// copied by C during the call.
func (t *typedCall) pushStr(p unsafe.Pointer, n int) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2] = t.args, uintptr(p), uintptr(n)
	r := t.syscall(fns().pushStr, 3)
	runtime.KeepAlive(p)
	return r
}

func (t *typedCall) pushBytes(p unsafe.Pointer, n int) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2] = t.args, uintptr(p), uintptr(n)
	r := t.syscall(fns().pushBytes, 3)
	runtime.KeepAlive(p)
	return r
}

func (t *typedCall) pushObject(obj uintptr) int32 {
	t.sargs[0], t.sargs[1] = t.args, obj
	return t.syscall(fns().pushObject, 2)
}

func (t *typedCall) outArg() uintptr { return uintptr(unsafe.Pointer(&t.slot[0])) }
func (t *typedCall) errArg() uintptr { return uintptr(unsafe.Pointer(&t.slot[1])) }

// callDouble / callInt / callArgs / callArgsJSON with t's list; results in t.slot.
func (t *typedCall) callDouble(obj uintptr) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2], t.sargs[3] = obj, t.args, t.outArg(), t.errArg()
	return t.syscall(fns().callDouble, 4)
}

func (t *typedCall) callInt(obj uintptr) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2], t.sargs[3] = obj, t.args, t.outArg(), t.errArg()
	return t.syscall(fns().callInt, 4)
}

func (t *typedCall) callArgs(obj uintptr) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2], t.sargs[3] = obj, t.args, t.outArg(), t.errArg()
	return t.syscall(fns().callArgs, 4)
}

func (t *typedCall) callArgsJSON(obj uintptr, flags uint32) int32 {
	t.sargs[0], t.sargs[1], t.sargs[2], t.sargs[3], t.sargs[4] = obj, t.args, uintptr(flags), t.outArg(), t.errArg()
	return t.syscall(fns().callArgsJSON, 5)
}

func (t *typedCall) double() float64 { return math.Float64frombits(uint64(t.slot[0])) }
