//go:build !pyrt_cgo

package pyrt

import (
	"sync"

	"github.com/ebitengine/purego"
)

// ccallSyscallN is ccall through purego.SyscallN: what ccall is where the
// trampoline of ffi_ccall_amd64.s is not used (ffi_ccall_other.go: other
// platforms, or the pyrt_syscalln build tag, with which the test suite runs
// through it on linux/amd64 too). It is compiled into every purego build so
// that TestCcallSyscallN checks it against ccall everywhere. The argument
// slice comes from a pool, so that a call allocates nothing, and is on the
// heap, as purego's own argument block is: a callback from C into Go may
// move the goroutine's stack. go:uintptrescapes as for ccall.
//
//go:uintptrescapes
func ccallSyscallN(fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uintptr) uintptr {
	a := ccallArgs.Get().(*[10]uintptr)
	*a = [10]uintptr{a1, a2, a3, a4, a5, a6, a7, a8, a9, a10}
	r, _, _ := purego.SyscallN(fn, a[:]...)
	*a = [10]uintptr{}
	ccallArgs.Put(a)
	return r
}

var ccallArgs = sync.Pool{New: func() any { return new([10]uintptr) }}
