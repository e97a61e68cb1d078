//go:build (darwin || freebsd || linux || netbsd) && !android && !faketime && amd64

#include "textflag.h"

// ·cCall13ABI0 holds the address of cCall13<>, for runtime.cgocall.
GLOBL ·cCall13ABI0(SB), NOPTR|RODATA, $8
DATA ·cCall13ABI0(SB)/8, $cCall13<>(SB)

// cCall13<> is called by runtime.cgocall on the system stack, with the C
// calling convention and DI pointing to a cCall13 struct: it calls fn with
// the 13 pointer arguments, the first six in registers and the other seven
// on the stack, as the System V ABI wants. Its frame of 64 bytes keeps the
// stack 16-byte aligned at the call.
TEXT cCall13<>(SB), NOSPLIT, $64
	MOVQ DI, R11
	MOVQ 56(R11), AX
	MOVQ AX, 0(SP)
	MOVQ 64(R11), AX
	MOVQ AX, 8(SP)
	MOVQ 72(R11), AX
	MOVQ AX, 16(SP)
	MOVQ 80(R11), AX
	MOVQ AX, 24(SP)
	MOVQ 88(R11), AX
	MOVQ AX, 32(SP)
	MOVQ 96(R11), AX
	MOVQ AX, 40(SP)
	MOVQ 104(R11), AX
	MOVQ AX, 48(SP)
	MOVQ 16(R11), SI
	MOVQ 24(R11), DX
	MOVQ 32(R11), CX
	MOVQ 40(R11), R8
	MOVQ 48(R11), R9
	MOVQ 8(R11), DI
	MOVQ 0(R11), R10
	XORL AX, AX // no vector arguments
	CALL R10
	RET
