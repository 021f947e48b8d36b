//go:build !pyrt_cgo && (pyrt_syscalln || !(linux && amd64))

package pyrt

// ccall is the one function through which every purego foreign call goes:
// it calls the C function at fn with up to eight integer or pointer
// arguments (the generated methods of ffi_gen_purego.go pass 0 for the
// unused ones) and returns its integer result, all of it (wide, whether the
// caller needs more than 32 bits, matters only to ffi_ccall_amd64.go). An
// argument that is the address of Go memory must be converted to uintptr in
// the call expression itself, as for syscall.Syscall: go:uintptrescapes
// then keeps that memory allocated, on the heap and in place, until the call
// returns. Here it is purego.SyscallN (ffi_ccall_syscalln.go).
//
//go:uintptrescapes
func ccall(wide bool, fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10 uintptr) uintptr {
	return ccallSyscallN(fn, a1, a2, a3, a4, a5, a6, a7, a8, a9, a10)
}
