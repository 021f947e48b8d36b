//go:build pyrt_cgo

// Foreign-call layer, cgo flavour (build tag pyrt_cgo): libpyrt is linked
// at build time from this repository's target/release (rpath set), using
// include/pyrt.h; the methods that call it are generated
// (ffi_gen_cgo.go) from the declaration list in ffi.go, like the purego
// flavour's (ffi_purego.go).

package pyrt

/*
#cgo CFLAGS: -I${SRCDIR}/../../include
#cgo LDFLAGS: -L${SRCDIR}/../../target/release -Wl,-rpath,${SRCDIR}/../../target/release -lpyrt
#include <stddef.h>
#include <stdint.h>
#include "pyrt.h"
extern int32_t pyrtGoHostCall(void *user, char *args, char *kwargs, pyrt_reply *reply);
extern void pyrtGoHostDestroy(void *user);
extern void pyrtGoOutput(void *user, uint32_t stream, char *text, size_t len);
extern void pyrtGoTaskDone(void *user, uint64_t task, int32_t status, char *result, pyrt_error *err);
extern void pyrtGoProgress(void *user, char *line);
*/
import "C"

import (
	"sync"
	"unsafe"
)

// ffiMode names the foreign-call layer compiled in: "purego" or "cgo".
const ffiMode = "cgo"

// ffiLib is the linked libpyrt (nothing to resolve: the dynamic linker did
// it when the program started).
type ffiLib struct {
	ver   string
	tramp trampolines
}

var (
	libMu  sync.Mutex
	libPtr *ffiLib
)

// loadLibrary returns the linked libpyrt after checking its version. The
// WithLibrary option and $PYRT_LIBRARY are ignored in this mode.
func loadLibrary(explicit string) (*ffiLib, error) {
	libMu.Lock()
	defer libMu.Unlock()
	if libPtr != nil {
		return libPtr, nil
	}
	l := &ffiLib{tramp: trampolines{
		call:     uintptr(unsafe.Pointer(C.pyrtGoHostCall)),
		destroy:  uintptr(unsafe.Pointer(C.pyrtGoHostDestroy)),
		output:   uintptr(unsafe.Pointer(C.pyrtGoOutput)),
		taskDone: uintptr(unsafe.Pointer(C.pyrtGoTaskDone)),
		progress: uintptr(unsafe.Pointer(C.pyrtGoProgress)),
	}}
	l.ver = goString(ptrOf(l.pyrt_version()))
	if err := checkVersion(l.ver); err != nil {
		return nil, err
	}
	libPtr = l
	return l, nil
}

// loadedLibrary is the library loaded in this process, or nil.
func loadedLibrary() *ffiLib {
	libMu.Lock()
	defer libMu.Unlock()
	return libPtr
}

func (l *ffiLib) location() string { return "linked (cgo)" }

//export pyrtGoHostCall
func pyrtGoHostCall(user unsafe.Pointer, args, kwargs *C.char, reply *C.pyrt_reply) C.int32_t {
	return C.int32_t(hostCall(uintptr(user), cBytes(unsafe.Pointer(args)), cBytes(unsafe.Pointer(kwargs)), uintptr(unsafe.Pointer(reply))))
}

//export pyrtGoHostDestroy
func pyrtGoHostDestroy(user unsafe.Pointer) { forgetHost(uintptr(user)) }

//export pyrtGoOutput
func pyrtGoOutput(user unsafe.Pointer, stream C.uint32_t, text *C.char, n C.size_t) {
	outputWrite(uintptr(stream), unsafe.Slice((*byte)(unsafe.Pointer(text)), int(n)))
}

//export pyrtGoTaskDone
func pyrtGoTaskDone(user unsafe.Pointer, task C.uint64_t, status C.int32_t, result *C.char, err *C.pyrt_error) {
	taskDone(uintptr(user), int32(status), uintptr(unsafe.Pointer(result)), uintptr(unsafe.Pointer(err)))
}

//export pyrtGoProgress
func pyrtGoProgress(user unsafe.Pointer, line *C.char) {
	installProgress(uintptr(user), goString(unsafe.Pointer(line)))
}
