#include "textflag.h"

// func cpuid(leaf, subleaf uint32) (eax, ebx, ecx, edx uint32)
TEXT ·cpuid(SB), NOSPLIT, $0-24
	MOVL leaf+0(FP), AX
	MOVL subleaf+4(FP), CX
	CPUID
	MOVL AX, eax+8(FP)
	MOVL BX, ebx+12(FP)
	MOVL CX, ecx+16(FP)
	MOVL DX, edx+20(FP)
	RET

// func xgetbv() (eax, edx uint32)
TEXT ·xgetbv(SB), NOSPLIT, $0-8
	MOVL $0, CX
	XGETBV
	MOVL AX, eax+0(FP)
	MOVL DX, edx+4(FP)
	RET

// func maskAVX2(g, y []float32)
// g[i] = y[i] > 0 ? g[i] : 0, for i < len(g).
TEXT ·maskAVX2(SB), NOSPLIT, $0-48
	MOVQ g_base+0(FP), DI
	MOVQ g_len+8(FP), CX
	MOVQ y_base+24(FP), SI
	VXORPS Y7, Y7, Y7
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
mask8:
	CMPQ AX, DX
	JGE mask1
	VMOVUPS (SI)(AX*4), Y0
	VCMPPS $0x1e, Y7, Y0, Y1 // y > 0, false for NaN
	VANDPS (DI)(AX*4), Y1, Y2
	VMOVUPS Y2, (DI)(AX*4)
	ADDQ $8, AX
	JMP mask8
mask1:
	CMPQ AX, CX
	JGE maskdone
	VMOVSS (SI)(AX*4), X0
	VCMPSS $0x1e, X7, X0, X1
	VMOVSS (DI)(AX*4), X2
	VANDPS X2, X1, X2
	VMOVSS X2, (DI)(AX*4)
	INCQ AX
	JMP mask1
maskdone:
	VZEROUPPER
	RET

// func addReLUAVX2(dst, src []float32, b float32)
// dst[i] = max(src[i]+b, 0), NaN staying NaN, for i < len(dst).
TEXT ·addReLUAVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ src_base+24(FP), SI
	VBROADCASTSS b+48(FP), Y6
	VXORPS Y7, Y7, Y7
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
relu8:
	CMPQ AX, DX
	JGE relu1
	VADDPS (SI)(AX*4), Y6, Y0
	VMAXPS Y0, Y7, Y1 // 0 > v ? 0 : v, so v when v is NaN
	VMOVUPS Y1, (DI)(AX*4)
	ADDQ $8, AX
	JMP relu8
relu1:
	CMPQ AX, CX
	JGE reludone
	VMOVSS (SI)(AX*4), X0
	VADDSS X6, X0, X0
	VMAXSS X0, X7, X1
	VMOVSS X1, (DI)(AX*4)
	INCQ AX
	JMP relu1
reludone:
	VZEROUPPER
	RET

// func axpyAVX2(dst, x, y []float32, a float32)
// dst[i] = x[i] + a*y[i] (fused), for i < len(dst).
TEXT ·axpyAVX2(SB), NOSPLIT, $0-76
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ x_base+24(FP), SI
	MOVQ y_base+48(FP), R8
	VBROADCASTSS a+72(FP), Y6
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
axpy8:
	CMPQ AX, DX
	JGE axpy1
	VMOVUPS (SI)(AX*4), Y0
	VFMADD231PS (R8)(AX*4), Y6, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP axpy8
axpy1:
	CMPQ AX, CX
	JGE axpydone
	VMOVSS (SI)(AX*4), X0
	VMOVSS (R8)(AX*4), X1
	VFMADD231SS X1, X6, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP axpy1
axpydone:
	VZEROUPPER
	RET

// func scaleAVX2(dst, y []float32, a float32)
// dst[i] = a*y[i], for i < len(dst).
TEXT ·scaleAVX2(SB), NOSPLIT, $0-52
	MOVQ dst_base+0(FP), DI
	MOVQ dst_len+8(FP), CX
	MOVQ y_base+24(FP), SI
	VBROADCASTSS a+48(FP), Y6
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
scale8:
	CMPQ AX, DX
	JGE scale1
	VMULPS (SI)(AX*4), Y6, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP scale8
scale1:
	CMPQ AX, CX
	JGE scaledone
	VMOVSS (SI)(AX*4), X0
	VMULSS X6, X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP scale1
scaledone:
	VZEROUPPER
	RET
