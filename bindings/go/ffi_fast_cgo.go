//go:build pyrt_cgo

// The JSON call into a reusable result buffer (pyrt_call_json_buf), cgo
// flavour. Same unexported surface as ffi_fast_purego.go.

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

func (l *ffiLib) haveCallJSONBuf() bool { return true }

func (l *ffiLib) callJSONBuf(rt unsafe.Pointer, f *frame, fnOff, argsOff, kwOff int) int32 {
	b := f.buf
	r := C.pyrt_call_json_buf((*C.pyrt_runtime)(rt), cptr(b, 0), cptr(b, fnOff), cptr(b, argsOff),
		cptr(b, kwOff), (*C.pyrt_buf)(unsafe.Pointer(f.rbuf)), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.rbuf)
	runtime.KeepAlive(b)
	return int32(r)
}

func freeResultBuf(rb *resultBuf) {
	if rb[0] != 0 {
		C.pyrt_buf_free((*C.pyrt_buf)(unsafe.Pointer(rb)))
	}
}
