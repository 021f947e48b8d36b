//go:build !pyrt_cgo && linux && !pyrt_syscalln

#include "textflag.h"
#include "go_asm.h"

// The trampolines of ccall (ffi_ccall_amd64.go). runtime.cgocall runs them
// on the system stack with the C calling convention (System V AMD64): DI = c
// (*cframe), the stack 16-byte aligned before the CALL that entered them.
// They call c.fn(c.a[0], ..., c.a[9]): a[0]..a[5] in registers, a[6] to
// a[9] on the stack; with the 48-byte frame (and the frame pointer the
// assembler saves) the stack is 16-byte aligned again at the inner CALL.
//
// c is read only before that CALL: the C function may call back into Go on
// the goroutine that owns the stack c may be on, and that goroutine's stack
// may move meanwhile.

GLOBL ·ccallTrampolineABI0(SB), NOPTR|RODATA, $8
DATA ·ccallTrampolineABI0(SB)/8, $ccallTrampoline<>(SB)

// ccallTrampoline leaves the result in AX, which runtime.cgocall returns
// (its low 32 bits).
TEXT ccallTrampoline<>(SB), NOSPLIT, $48
	MOVQ DI, R11
	MOVQ (cframe_a+48)(R11), AX
	MOVQ AX, 0(SP)
	MOVQ (cframe_a+56)(R11), AX
	MOVQ AX, 8(SP)
	MOVQ (cframe_a+64)(R11), AX
	MOVQ AX, 16(SP)
	MOVQ (cframe_a+72)(R11), AX
	MOVQ AX, 24(SP)
	MOVQ (cframe_a+0)(R11), DI
	MOVQ (cframe_a+8)(R11), SI
	MOVQ (cframe_a+16)(R11), DX
	MOVQ (cframe_a+24)(R11), CX
	MOVQ (cframe_a+32)(R11), R8
	MOVQ (cframe_a+40)(R11), R9
	MOVQ cframe_fn(R11), R10
	XORL AX, AX                    // no vector register arguments
	CALL R10
	RET

GLOBL ·ccallTrampolineWideABI0(SB), NOPTR|RODATA, $8
DATA ·ccallTrampolineWideABI0(SB)/8, $ccallTrampolineWide<>(SB)

// ccallTrampolineWide stores the whole result in c.r; c is on the heap.
TEXT ccallTrampolineWide<>(SB), NOSPLIT, $48
	MOVQ DI, 32(SP)                // keep c across the call
	MOVQ DI, R11
	MOVQ (cframe_a+48)(R11), AX
	MOVQ AX, 0(SP)
	MOVQ (cframe_a+56)(R11), AX
	MOVQ AX, 8(SP)
	MOVQ (cframe_a+64)(R11), AX
	MOVQ AX, 16(SP)
	MOVQ (cframe_a+72)(R11), AX
	MOVQ AX, 24(SP)
	MOVQ (cframe_a+0)(R11), DI
	MOVQ (cframe_a+8)(R11), SI
	MOVQ (cframe_a+16)(R11), DX
	MOVQ (cframe_a+24)(R11), CX
	MOVQ (cframe_a+32)(R11), R8
	MOVQ (cframe_a+40)(R11), R9
	MOVQ cframe_fn(R11), R10
	XORL AX, AX
	CALL R10
	MOVQ 32(SP), R11
	MOVQ AX, cframe_r(R11)
	RET
