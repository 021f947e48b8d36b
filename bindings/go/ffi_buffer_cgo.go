//go:build pyrt_cgo

// Foreign calls of the buffer API, cgo flavour (build tag pyrt_cgo). Same
// unexported surface as ffi_buffer_purego.go.

package pyrt

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -Wl,-rpath,${SRCDIR}/../../target/release -lpyrt
#include <stdlib.h>
#include "pyrt.h"
*/
import "C"

import (
	"runtime"
	"unsafe"
)

// bufferAPI: the symbols are linked, nothing to resolve.
func (l *ffiLib) bufferAPI() error { return nil }

func cbuf(b uintptr) *C.pyrt_buffer { return (*C.pyrt_buffer)(ptrOf(b)) }

// pushBuffer appends a lent buffer; p points to memory pinned by the caller
// (runtime.Pinner), which cgo's rules require for C to keep the pointer past
// this call, until the typed call that uses it returns.
func (t *typedCall) pushBuffer(p unsafe.Pointer, n int, elem, flags uint32) int32 {
	return int32(C.pyrt_args_push_buffer(t.cargs(), p, C.size_t(n), C.uint32_t(elem), C.uint32_t(flags)))
}

func (f *frame) outBuf() **C.pyrt_buffer { return (**C.pyrt_buffer)(unsafe.Pointer(&f.slot[0])) }

func (l *ffiLib) objectBuffer(obj uintptr, flags uint32, f *frame) int32 {
	return f.done(C.pyrt_object_buffer(cobj(obj), C.uint32_t(flags), f.outBuf(), f.outErr()))
}

func (l *ffiLib) objectBufferCopy(obj uintptr, dst unsafe.Pointer, n int, f *frame) int32 {
	r := f.done(C.pyrt_object_buffer_copy(cobj(obj), dst, C.size_t(n), (*C.size_t)(unsafe.Pointer(&f.slot[0])), f.outErr()))
	runtime.KeepAlive(dst)
	return r
}

func (l *ffiLib) bufData(b uintptr) unsafe.Pointer {
	return unsafe.Pointer(C.pyrt_buffer_data(cbuf(b)))
}
func (l *ffiLib) bufLen(b uintptr) int      { return int(C.pyrt_buffer_len(cbuf(b))) }
func (l *ffiLib) bufItemsize(b uintptr) int { return int(C.pyrt_buffer_itemsize(cbuf(b))) }
func (l *ffiLib) bufNdim(b uintptr) int     { return int(C.pyrt_buffer_ndim(cbuf(b))) }
func (l *ffiLib) bufShape(b uintptr) unsafe.Pointer {
	return unsafe.Pointer(C.pyrt_buffer_shape(cbuf(b)))
}
func (l *ffiLib) bufStrides(b uintptr) unsafe.Pointer {
	return unsafe.Pointer(C.pyrt_buffer_strides(cbuf(b)))
}
func (l *ffiLib) bufFormat(b uintptr) string   { return C.GoString(C.pyrt_buffer_format(cbuf(b))) }
func (l *ffiLib) bufElemType(b uintptr) uint32 { return uint32(C.pyrt_buffer_elem_type(cbuf(b))) }
func (l *ffiLib) bufReadonly(b uintptr) bool   { return bool(C.pyrt_buffer_readonly(cbuf(b))) }
func (l *ffiLib) bufContiguous(b uintptr) bool { return bool(C.pyrt_buffer_contiguous(cbuf(b))) }
func (l *ffiLib) bufFree(b uintptr)            { C.pyrt_buffer_free(cbuf(b)) }

func (l *ffiLib) bufCopy(b uintptr, dst unsafe.Pointer, n int, f *frame) int32 {
	r := f.done(C.pyrt_buffer_copy(cbuf(b), dst, C.size_t(n), f.outErr()))
	runtime.KeepAlive(dst)
	return r
}
