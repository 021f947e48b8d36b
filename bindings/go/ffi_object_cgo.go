//go:build pyrt_cgo

// Foreign calls of the object API (pyrt_object_*, pyrt_call_value/object,
// pyrt_args_*), cgo flavour (build tag pyrt_cgo). Same unexported surface as
// ffi_object_purego.go.

package pyrt

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -Wl,-rpath,${SRCDIR}/../../target/release -lpyrt
#include <stdlib.h>
#include "pyrt.h"
*/
import "C"

import (
	"math"
	"runtime"
	"unsafe"
)

// objectAPI: the symbols are linked, nothing to resolve.
func (l *ffiLib) objectAPI() error { return nil }

// cobj turns a handle token (a number, never Go memory) into the C type.
func cobj(obj uintptr) *C.pyrt_object { return (*C.pyrt_object)(ptrOf(obj)) }

func (f *frame) outObj() **C.pyrt_object { return (**C.pyrt_object)(unsafe.Pointer(&f.slot[0])) }

func (f *frame) done(r C.int32_t) int32 {
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	runtime.KeepAlive(f.buf)
	return int32(r)
}

func (l *ffiLib) callValue(rt unsafe.Pointer, f *frame, argsOff, kwOff int, flags uint32) int32 {
	b := f.buf
	return f.done(C.pyrt_call_value((*C.pyrt_runtime)(rt), cptr(b, 0), cptr(b, argsOff), cptr(b, kwOff),
		C.uint32_t(flags), f.outStr(), f.outErr()))
}

func (l *ffiLib) callObject(rt unsafe.Pointer, f *frame, argsOff, kwOff int, flags uint32) int32 {
	b := f.buf
	return f.done(C.pyrt_call_object((*C.pyrt_runtime)(rt), cptr(b, 0), cptr(b, argsOff), cptr(b, kwOff),
		C.uint32_t(flags), f.outObj(), f.outErr()))
}

func (l *ffiLib) importModule(rt unsafe.Pointer, f *frame) int32 {
	return f.done(C.pyrt_import((*C.pyrt_runtime)(rt), cptr(f.buf, 0), f.outObj(), f.outErr()))
}

func (l *ffiLib) evalObject(rt unsafe.Pointer, f *frame) int32 {
	return f.done(C.pyrt_eval_object((*C.pyrt_runtime)(rt), cptr(f.buf, 0), f.outObj(), f.outErr()))
}

func (l *ffiLib) objectFromJSON(rt unsafe.Pointer, f *frame, flags uint32) int32 {
	return f.done(C.pyrt_object_from_json((*C.pyrt_runtime)(rt), cptr(f.buf, 0), C.uint32_t(flags), f.outObj(), f.outErr()))
}

func (l *ffiLib) objectToJSON(obj uintptr, f *frame, flags uint32) int32 {
	return f.done(C.pyrt_object_to_json(cobj(obj), C.uint32_t(flags), f.outStr(), f.outErr()))
}

func (l *ffiLib) objectGetattr(obj uintptr, f *frame) int32 {
	return f.done(C.pyrt_object_getattr(cobj(obj), cptr(f.buf, 0), f.outObj(), f.outErr()))
}

func (l *ffiLib) objectGetattrJSON(obj uintptr, f *frame, flags uint32) int32 {
	return f.done(C.pyrt_object_getattr_json(cobj(obj), cptr(f.buf, 0), C.uint32_t(flags), f.outStr(), f.outErr()))
}

func (l *ffiLib) objectSetattr(obj uintptr, f *frame, value uintptr) int32 {
	return f.done(C.pyrt_object_setattr(cobj(obj), cptr(f.buf, 0), cobj(value), f.outErr()))
}

func (l *ffiLib) objectSetattrJSON(obj uintptr, f *frame, valueOff int, flags uint32) int32 {
	return f.done(C.pyrt_object_setattr_json(cobj(obj), cptr(f.buf, 0), cptr(f.buf, valueOff), C.uint32_t(flags), f.outErr()))
}

func (l *ffiLib) objectCallJSON(obj uintptr, f *frame, methodOff, argsOff, kwOff int, flags uint32) int32 {
	b := f.buf
	return f.done(C.pyrt_object_call_json(cobj(obj), cptr(b, methodOff), cptr(b, argsOff), cptr(b, kwOff),
		C.uint32_t(flags), f.outStr(), f.outErr()))
}

func (l *ffiLib) objectCall(obj uintptr, f *frame, methodOff, argsOff, kwOff int, flags uint32) int32 {
	b := f.buf
	return f.done(C.pyrt_object_call(cobj(obj), cptr(b, methodOff), cptr(b, argsOff), cptr(b, kwOff),
		C.uint32_t(flags), f.outObj(), f.outErr()))
}

func (l *ffiLib) objectRepr(obj uintptr, f *frame) int32 {
	return f.done(C.pyrt_object_repr(cobj(obj), f.outStr(), f.outErr()))
}

func (l *ffiLib) objectStr(obj uintptr, f *frame) int32 {
	return f.done(C.pyrt_object_str(cobj(obj), f.outStr(), f.outErr()))
}

func (l *ffiLib) objectFree(obj uintptr) { C.pyrt_object_free(cobj(obj)) }

// ---- the typed fast path ----------------------------------------------------

func (l *ffiLib) argsNew() uintptr { return uintptr(unsafe.Pointer(C.pyrt_args_new())) }

func (l *ffiLib) argsFree(a uintptr) { C.pyrt_args_free((*C.pyrt_args)(ptrOf(a))) }

func (t *typedCall) cargs() *C.pyrt_args { return (*C.pyrt_args)(ptrOf(t.args)) }

func (t *typedCall) clear() { C.pyrt_args_clear(t.cargs()) }

func (t *typedCall) pushInt(v int64) int32 {
	return int32(C.pyrt_args_push_int(t.cargs(), C.int64_t(v)))
}

func (t *typedCall) pushDouble(v float64) int32 {
	return int32(C.pyrt_args_push_double(t.cargs(), C.double(v)))
}

func (t *typedCall) pushBool(v bool) int32 { return int32(C.pyrt_args_push_bool(t.cargs(), C.bool(v))) }

func (t *typedCall) pushNone() int32 { return int32(C.pyrt_args_push_none(t.cargs())) }

func (t *typedCall) pushStr(p unsafe.Pointer, n int) int32 {
	return int32(C.pyrt_args_push_str(t.cargs(), (*C.char)(p), C.size_t(n)))
}

func (t *typedCall) pushBytes(p unsafe.Pointer, n int) int32 {
	return int32(C.pyrt_args_push_bytes(t.cargs(), (*C.uint8_t)(p), C.size_t(n)))
}

func (t *typedCall) pushObject(obj uintptr) int32 {
	return int32(C.pyrt_args_push_object(t.cargs(), cobj(obj)))
}

func (t *typedCall) outErr() **C.pyrt_error { return (**C.pyrt_error)(unsafe.Pointer(&t.slot[1])) }

func (t *typedCall) done(r C.int32_t) int32 {
	runtime.KeepAlive(t)
	runtime.KeepAlive(t.slot)
	return int32(r)
}

func (t *typedCall) callDouble(obj uintptr) int32 {
	return t.done(C.pyrt_object_call_double(cobj(obj), t.cargs(), (*C.double)(unsafe.Pointer(&t.slot[0])), t.outErr()))
}

func (t *typedCall) callInt(obj uintptr) int32 {
	return t.done(C.pyrt_object_call_int(cobj(obj), t.cargs(), (*C.int64_t)(unsafe.Pointer(&t.slot[0])), t.outErr()))
}

func (t *typedCall) callArgs(obj uintptr) int32 {
	return t.done(C.pyrt_object_call_args(cobj(obj), t.cargs(), (**C.pyrt_object)(unsafe.Pointer(&t.slot[0])), t.outErr()))
}

func (t *typedCall) callArgsJSON(obj uintptr, flags uint32) int32 {
	return t.done(C.pyrt_object_call_args_json(cobj(obj), t.cargs(), C.uint32_t(flags),
		(**C.char)(unsafe.Pointer(&t.slot[0])), t.outErr()))
}

func (t *typedCall) double() float64 { return math.Float64frombits(uint64(t.slot[0])) }
