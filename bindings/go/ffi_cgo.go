//go:build pyrt_cgo

// Foreign-call layer, cgo flavour (build tag pyrt_cgo): libpyrt is linked
// at build time from this repository's target/release (rpath set), using
// include/pyrt.h. Same unexported surface as ffi_purego.go.

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
	"sync"
	"unsafe"
)

// ffiMode names the foreign-call layer compiled in: "purego" or "cgo".
const ffiMode = "cgo"

type ffiLib struct {
	ver string
}

var (
	libOnce sync.Once
	libPtr  *ffiLib
	libErr  error
)

// loadLibrary returns the linked libpyrt after checking its version. The
// WithLibrary option and $PYRT_LIBRARY are ignored in this mode: the dynamic
// linker resolved libpyrt when the program started.
func loadLibrary(explicit string) (*ffiLib, error) {
	libOnce.Do(func() {
		v := C.GoString(C.pyrt_version())
		if err := checkVersion(v); err != nil {
			libErr = err
			return
		}
		libPtr = &ffiLib{ver: v}
	})
	return libPtr, libErr
}

func (l *ffiLib) version() string  { return l.ver }
func (l *ffiLib) location() string { return "linked (cgo)" }

func cptr(b []byte, off int) *C.char {
	if off < 0 {
		return nil
	}
	return (*C.char)(unsafe.Pointer(&b[off]))
}

func (f *frame) outRT() **C.pyrt_runtime { return (**C.pyrt_runtime)(unsafe.Pointer(&f.slot[0])) }
func (f *frame) outStr() **C.char        { return (**C.char)(unsafe.Pointer(&f.slot[0])) }
func (f *frame) outErr() **C.pyrt_error  { return (**C.pyrt_error)(unsafe.Pointer(&f.slot[1])) }

func (l *ffiLib) newRuntime(f *frame, cfgOff int) int32 {
	r := C.pyrt_new(cptr(f.buf, cfgOff), f.outRT(), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) discoverJSON(f *frame, cfgOff int) int32 {
	r := C.pyrt_discover_json(cptr(f.buf, cfgOff), f.outStr(), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) free(rt unsafe.Pointer) {
	C.pyrt_free((*C.pyrt_runtime)(rt))
}

func (l *ffiLib) runString(rt unsafe.Pointer, f *frame) int32 {
	r := C.pyrt_run_string((*C.pyrt_runtime)(rt), cptr(f.buf, 0), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) runFile(rt unsafe.Pointer, f *frame) int32 {
	r := C.pyrt_run_file((*C.pyrt_runtime)(rt), cptr(f.buf, 0), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) evalJSON(rt unsafe.Pointer, f *frame) int32 {
	r := C.pyrt_eval_json((*C.pyrt_runtime)(rt), cptr(f.buf, 0), f.outStr(), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) callJSON(rt unsafe.Pointer, f *frame, fnOff, argsOff, kwOff int) int32 {
	b := f.buf
	r := C.pyrt_call_json((*C.pyrt_runtime)(rt), cptr(b, 0), cptr(b, fnOff), cptr(b, argsOff),
		cptr(b, kwOff), f.outStr(), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	runtime.KeepAlive(b)
	return int32(r)
}

func (l *ffiLib) infoJSON(rt unsafe.Pointer, f *frame) int32 {
	r := C.pyrt_info_json((*C.pyrt_runtime)(rt), f.outStr(), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) stringFree(f *frame, p unsafe.Pointer) { C.pyrt_string_free((*C.char)(p)) }

func (l *ffiLib) errorCode(e unsafe.Pointer) int32 {
	return int32(C.pyrt_error_code((*C.pyrt_error)(e)))
}

func (l *ffiLib) errorMessage(e unsafe.Pointer) unsafe.Pointer {
	return unsafe.Pointer(C.pyrt_error_message((*C.pyrt_error)(e)))
}

func (l *ffiLib) errorPythonType(e unsafe.Pointer) unsafe.Pointer {
	return unsafe.Pointer(C.pyrt_error_python_type((*C.pyrt_error)(e)))
}

func (l *ffiLib) errorTraceback(e unsafe.Pointer) unsafe.Pointer {
	return unsafe.Pointer(C.pyrt_error_traceback((*C.pyrt_error)(e)))
}

func (l *ffiLib) errorFree(e unsafe.Pointer) { C.pyrt_error_free((*C.pyrt_error)(e)) }

func (l *ffiLib) statusName(code int32) string {
	return C.GoString(C.pyrt_status_name(C.int32_t(code)))
}

// sourceHash is the library's pyrt_source_hash().
func (l *ffiLib) sourceHash() string { return C.GoString(C.pyrt_source_hash()) }
