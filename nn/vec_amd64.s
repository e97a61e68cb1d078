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

// func maskAVX2(g, y []float32, flush float32)
// g[i] = y[i] > 0 && !(|g[i]| < flush) ? g[i] : 0, for i < len(g).
TEXT ·maskAVX2(SB), NOSPLIT, $0-52
	MOVQ g_base+0(FP), DI
	MOVQ g_len+8(FP), CX
	MOVQ y_base+24(FP), SI
	VBROADCASTSS flush+48(FP), Y6
	VXORPS Y7, Y7, Y7
	VPCMPEQD Y5, Y5, Y5
	VPSRLD $1, Y5, Y5 // 0x7fffffff: clears the sign
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
mask8:
	CMPQ AX, DX
	JGE mask1
	VMOVUPS (SI)(AX*4), Y0
	VCMPPS $0x1e, Y7, Y0, Y1 // y > 0, false for NaN
	VMOVUPS (DI)(AX*4), Y2
	VANDPS Y5, Y2, Y3
	VCMPPS $0x15, Y6, Y3, Y4 // !(|g| < flush), true for NaN
	VANDPS Y4, Y1, Y1
	VANDPS Y2, Y1, Y2
	VMOVUPS Y2, (DI)(AX*4)
	ADDQ $8, AX
	JMP mask8
mask1:
	CMPQ AX, CX
	JGE maskdone
	VMOVSS (SI)(AX*4), X0
	VCMPSS $0x1e, X7, X0, X1
	VMOVSS (DI)(AX*4), X2
	VANDPS X5, X2, X3
	VCMPSS $0x15, X6, X3, X4
	VANDPS X4, X1, X1
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

// func sgdAVX2(w, g, v []float32, lr, mu, wd, flush float32)
// For i < len(w), each operation rounded as the scalar loop of sgdUpdate:
// d = g + wd*w; nv = mu*v + d, zero if |nv| < flush; v = nv; w -= lr*nv.
TEXT ·sgdAVX2(SB), NOSPLIT, $0-88
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ v_base+48(FP), R8
	VBROADCASTSS lr+72(FP), Y8
	VBROADCASTSS mu+76(FP), Y9
	VBROADCASTSS wd+80(FP), Y10
	VBROADCASTSS flush+84(FP), Y11
	VPCMPEQD Y12, Y12, Y12
	VPSRLD $1, Y12, Y12
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
sgd8:
	CMPQ AX, DX
	JGE sgd1
	VMOVUPS (DI)(AX*4), Y0
	VMULPS Y0, Y10, Y1
	VADDPS (SI)(AX*4), Y1, Y1 // d
	VMULPS (R8)(AX*4), Y9, Y2
	VADDPS Y1, Y2, Y2 // nv
	VANDPS Y12, Y2, Y3
	VCMPPS $0x15, Y11, Y3, Y4
	VANDPS Y4, Y2, Y2
	VMOVUPS Y2, (R8)(AX*4)
	VMULPS Y2, Y8, Y3
	VSUBPS Y3, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP sgd8
sgd1:
	CMPQ AX, CX
	JGE sgddone
	VMOVSS (DI)(AX*4), X0
	VMULSS X0, X10, X1
	VADDSS (SI)(AX*4), X1, X1
	VMULSS (R8)(AX*4), X9, X2
	VADDSS X1, X2, X2
	VANDPS X12, X2, X3
	VCMPSS $0x15, X11, X3, X4
	VANDPS X4, X2, X2
	VMOVSS X2, (R8)(AX*4)
	VMULSS X2, X8, X3
	VSUBSS X3, X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP sgd1
sgddone:
	VZEROUPPER
	RET

// func adamAVX2(w, g, m, v []float32, c *adamConsts)
// For i < len(w), each operation rounded as the scalar loop of adamUpdate:
// d = g + wd*w; m = b1*m + c1*d; v = b2*v + (c2*d)*d;
// w -= (stepSize*m) / (sqrt(v)*invBias2 + eps).
TEXT ·adamAVX2(SB), NOSPLIT, $0-104
	MOVQ w_base+0(FP), DI
	MOVQ w_len+8(FP), CX
	MOVQ g_base+24(FP), SI
	MOVQ m_base+48(FP), R8
	MOVQ v_base+72(FP), R9
	MOVQ c+96(FP), BX
	VBROADCASTSS 0(BX), Y8   // b1
	VBROADCASTSS 4(BX), Y9   // b2
	VBROADCASTSS 8(BX), Y10  // c1
	VBROADCASTSS 12(BX), Y11 // c2
	VBROADCASTSS 16(BX), Y12 // stepSize
	VBROADCASTSS 20(BX), Y13 // invBias2
	VBROADCASTSS 24(BX), Y14 // eps
	VBROADCASTSS 28(BX), Y15 // wd
	XORQ AX, AX
	MOVQ CX, DX
	ANDQ $-8, DX
adam8:
	CMPQ AX, DX
	JGE adam1
	VMOVUPS (DI)(AX*4), Y0
	VMULPS Y0, Y15, Y1
	VADDPS (SI)(AX*4), Y1, Y1 // d
	VMULPS (R8)(AX*4), Y8, Y2
	VMULPS Y1, Y10, Y3
	VADDPS Y3, Y2, Y2 // m
	VMOVUPS Y2, (R8)(AX*4)
	VMULPS (R9)(AX*4), Y9, Y3
	VMULPS Y1, Y11, Y4
	VMULPS Y1, Y4, Y4
	VADDPS Y4, Y3, Y3 // v
	VMOVUPS Y3, (R9)(AX*4)
	VSQRTPS Y3, Y3
	VMULPS Y3, Y13, Y3
	VADDPS Y14, Y3, Y3
	VMULPS Y2, Y12, Y2
	VDIVPS Y3, Y2, Y2
	VSUBPS Y2, Y0, Y0
	VMOVUPS Y0, (DI)(AX*4)
	ADDQ $8, AX
	JMP adam8
adam1:
	CMPQ AX, CX
	JGE adamdone
	VMOVSS (DI)(AX*4), X0
	VMULSS X0, X15, X1
	VADDSS (SI)(AX*4), X1, X1
	VMULSS (R8)(AX*4), X8, X2
	VMULSS X1, X10, X3
	VADDSS X3, X2, X2
	VMOVSS X2, (R8)(AX*4)
	VMULSS (R9)(AX*4), X9, X3
	VMULSS X1, X11, X4
	VMULSS X1, X4, X4
	VADDSS X4, X3, X3
	VMOVSS X3, (R9)(AX*4)
	VSQRTSS X3, X3, X3
	VMULSS X3, X13, X3
	VADDSS X14, X3, X3
	VMULSS X2, X12, X2
	VDIVSS X3, X2, X2
	VSUBSS X2, X0, X0
	VMOVSS X0, (DI)(AX*4)
	INCQ AX
	JMP adam1
adamdone:
	VZEROUPPER
	RET
