//go:build !pyrt_cgo

// The JSON call into a reusable result buffer (pyrt_call_json_buf), purego
// flavour: one foreign call per Runtime.Call, no C string to free. Resolved on
// first use; a libpyrt without it falls back to pyrt_call_json.

package pyrt

import (
	"runtime"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

var (
	fastOnce                 sync.Once
	fnCallJSONBuf, fnBufFree uintptr
)

// haveCallJSONBuf resolves pyrt_call_json_buf and pyrt_buf_free once.
func (l *ffiLib) haveCallJSONBuf() bool {
	fastOnce.Do(func() {
		a, err1 := purego.Dlsym(l.handle, "pyrt_call_json_buf")
		b, err2 := purego.Dlsym(l.handle, "pyrt_buf_free")
		if err1 == nil && err2 == nil && a != 0 && b != 0 {
			fnCallJSONBuf, fnBufFree = a, b
		}
	})
	return fnCallJSONBuf != 0
}

// callJSONBuf: module at f.buf[0:], the others at the given offsets (kwOff <
// 0 = NULL); the result lands in f.rbuf.
func (l *ffiLib) callJSONBuf(rt unsafe.Pointer, f *frame, fnOff, argsOff, kwOff int) int32 {
	b := f.buf
	f.args = [8]uintptr{uintptr(rt), ptrArg(b, 0), ptrArg(b, fnOff), ptrArg(b, argsOff), ptrArg(b, kwOff),
		uintptr(unsafe.Pointer(f.rbuf)), f.errArg()}
	r := f.syscall(fnCallJSONBuf, 7)
	runtime.KeepAlive(f.rbuf)
	return r
}

// freeResultBuf frees a frame's result buffer (C memory).
func freeResultBuf(rb *resultBuf) {
	if fnBufFree != 0 && rb[0] != 0 {
		purego.SyscallN(fnBufFree, uintptr(unsafe.Pointer(rb)))
	}
}
