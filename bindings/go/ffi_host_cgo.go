//go:build pyrt_cgo

// Foreign calls for host functions and output handlers, cgo flavour: the
// trampolines are exported Go functions (see ffi_host_purego.go).

package pyrt

/*
#include "pyrt.h"
extern int32_t pyrtGoHostCall(void *user, char *args, char *kwargs, pyrt_reply *reply);
extern void pyrtGoHostDestroy(void *user);
extern void pyrtGoOutput(void *user, uint32_t stream, char *text, size_t len);
*/
import "C"

import (
	"runtime"
	"unsafe"
)

func (l *ffiLib) hostAPI() error { return nil }

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

func (l *ffiLib) register(rt unsafe.Pointer, f *frame, nameOff int, id uintptr) int32 {
	r := C.pyrt_register((*C.pyrt_runtime)(rt), cptr(f.buf, 0), cptr(f.buf, nameOff),
		C.pyrt_host_fn(C.pyrtGoHostCall), ptrOf(id), C.pyrt_destroy_fn(C.pyrtGoHostDestroy), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) unregister(rt unsafe.Pointer, f *frame, nameOff int) int32 {
	r := C.pyrt_unregister((*C.pyrt_runtime)(rt), cptr(f.buf, 0), cptr(f.buf, nameOff), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func (l *ffiLib) setOutputHandler(rt unsafe.Pointer, f *frame, on bool) int32 {
	var cb C.pyrt_output_fn
	if on {
		cb = C.pyrt_output_fn(C.pyrtGoOutput)
	}
	r := C.pyrt_set_output_handler((*C.pyrt_runtime)(rt), cb, nil, f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}

func replyJSON(reply uintptr, b []byte) int32 {
	return int32(C.pyrt_reply_json((*C.pyrt_reply)(ptrOf(reply)), (*C.char)(unsafe.Pointer(&b[0]))))
}

func replyError(reply uintptr, msg string) int32 {
	b := make([]byte, 0, len(msg)+1)
	for i := 0; i < len(msg); i++ {
		if msg[i] != 0 {
			b = append(b, msg[i])
		}
	}
	b = append(b, 0)
	return int32(C.pyrt_reply_error((*C.pyrt_reply)(ptrOf(reply)), (*C.char)(unsafe.Pointer(&b[0]))))
}

func replyException(reply, errp uintptr) int32 {
	return int32(C.pyrt_reply_exception((*C.pyrt_reply)(ptrOf(reply)), (*C.pyrt_error)(ptrOf(errp))))
}
