//go:build !pyrt_cgo && linux && !pyrt_syscalln

// The purego flavour's foreign-call chokepoint on linux/amd64: runtime.cgocall
// (the call purego.SyscallN makes too, and cgo) runs a small trampoline
// (ffi_ccall_amd64.s) on the system stack, which loads the arguments into the
// registers of the C calling convention and calls the function. Unlike
// purego.SyscallN it needs no per-call pool, slice or 32-word copies: a call
// costs about what a cgo call does. Elsewhere ccall is purego.SyscallN
// (ffi_ccall_other.go).
//
// The one subtlety is the goroutine's stack. The C function may call back
// into Go (a host function, an output handler): the callback runs on this
// same goroutine, whose stack may then grow, that is move. So the argument
// block on the stack is read only before the C function is called, and a
// result that fits the 32 bits runtime.cgocall returns (a status, a bool,
// void: the hot calls) comes back that way; a pointer or 64-bit result is
// written into a block on the heap instead (cgo solves the same problem
// with _cgo_topofstack, purego by keeping every block on the heap).

package pyrt

import (
	"sync"
	"unsafe"
)

// cframe is the argument block of one foreign call (its layout is used by
// ffi_ccall_amd64.s through go_asm.h).
type cframe struct {
	fn uintptr
	a  [10]uintptr
	r  uintptr // the result, written by the wide trampoline only
}

// The addresses of the trampolines (C-ABI functions defined in
// ffi_ccall_amd64.s): ccallTrampoline returns the C function's result in AX,
// ccallTrampolineWide stores it in cframe.r.
var ccallTrampolineABI0, ccallTrampolineWideABI0 uintptr

// runtime.cgocall switches to the system stack, tells the scheduler that the
// goroutine is in a foreign call (as for any cgo call), calls fn(arg) there
// and returns the low 32 bits of its result. arg does not escape: the
// trampolines read it before anything can move the goroutine's stack.
//
//go:linkname runtime_cgocall runtime.cgocall
//go:noescape
func runtime_cgocall(fn uintptr, arg unsafe.Pointer) int32

var wideFrames = sync.Pool{New: func() any { return new(cframe) }}

// ccall is the one function through which every purego foreign call goes:
// it calls the C function at fn with up to ten integer or pointer
// arguments (the generated methods of ffi_gen_purego.go pass 0 for the
// unused ones) and returns its integer result: all 64 bits when wide (a
// pointer, uint64_t or size_t result), else the low 32 (int32_t, uint32_t,
// bool or void). An argument that is the address of Go memory must be
// converted to uintptr in the call expression itself, as for
// syscall.Syscall: go:uintptrescapes then keeps that memory allocated, on
// the heap and in place, until the call returns.
//
//go:uintptrescapes
func ccall(wide bool, fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uintptr) uintptr {
	if !wide {
		c := cframe{fn: fn, a: [10]uintptr{a1, a2, a3, a4, a5, a6, a7, a8, a9, a10}}
		return uintptr(uint32(runtime_cgocall(ccallTrampolineABI0, unsafe.Pointer(&c))))
	}
	c := wideFrames.Get().(*cframe)
	*c = cframe{fn: fn, a: [10]uintptr{a1, a2, a3, a4, a5, a6, a7, a8, a9, a10}}
	runtime_cgocall(ccallTrampolineWideABI0, unsafe.Pointer(c))
	r := c.r
	wideFrames.Put(c)
	return r
}
