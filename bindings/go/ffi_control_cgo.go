//go:build pyrt_cgo

// Foreign calls for controlling running calls, cgo flavour (see
// ffi_control_purego.go).

package pyrt

/*
#include "pyrt.h"
*/
import "C"

import "runtime"

func (l *ffiLib) controlAPI() error { return nil }

func (l *ffiLib) threadID() uint64 { return uint64(C.pyrt_thread_id()) }

func (l *ffiLib) interruptThread(id uint64) int {
	var n C.uint32_t
	if C.pyrt_interrupt_thread(C.uint64_t(id), &n, nil) != 0 {
		return -1
	}
	return int(n)
}

func (l *ffiLib) outputTake(rt uintptr, stream uint32, f *frame) int32 {
	r := C.pyrt_output_take((*C.pyrt_runtime)(ptrOf(rt)), C.uint32_t(stream), f.outStr(), f.outErr())
	runtime.KeepAlive(f)
	runtime.KeepAlive(f.slot)
	return int32(r)
}
