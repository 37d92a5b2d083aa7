// The int8 tensor-core multiply-accumulate of the quantized fprop (qconv.cu's pk_s8_mma): one warp-wide
// mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32, D = A B + C with A 16 x 32 unsigned bytes (activation
// codes 0..255 need no shift), B 32 x 8 signed bytes (weight codes), C and D int32. Exact: int32 sums
// of products, as dp4a.
//
// Fragments (PTX ISA 9.7.14.5.10 "Matrix Fragments for mma.m16n8k32"), g = lane / 4, t = lane % 4:
//   a[0]: A row g,     k 4t..4t+3    a[1]: row g + 8, k 4t..4t+3
//   a[2]: A row g,     k 16+4t..     a[3]: row g + 8, k 16+4t..
//   b[0]: B column g,  k 4t..4t+3    b[1]: column g, k 16+4t..       (byte j of a word = k + j)
//   d[0], d[1]: D row g, columns 2t, 2t+1    d[2], d[3]: row g + 8, columns 2t, 2t+1
// So with A row-major and B column-major (both k-contiguous) in shared memory, every fragment register
// is one aligned word. All 32 lanes of the warp must call it together (.sync.aligned).
// Under the CPU emulator (no __CUDA_ARCH__) cuda_emu.h gathers the warp's fragments and computes the
// product from the ISA's element tables, written independently of this summary.
#pragma once
#include <stdint.h>

#if defined(__CUDA_ARCH__) && __CUDA_ARCH__ < 800
#error "mma.m16n8k32 with .u8/.s8 needs sm_80"
#endif

// d += A B for this lane's fragments a, b of one m16n8k32 tile.
__device__ __forceinline__ void mma_m16n8k32_u8s8(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
#if defined(__CUDA_ARCH__)
    asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
            "{%0, %1, %2, %3};"
            : "+r"(d[0]), "+r"(d[1]), "+r"(d[2]), "+r"(d[3])
            : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
#elif defined(WRPN_CUDA_EMU)
    emu::mma_m16n8k32_s32_u8_s8_s32(d, a, b, d);
#endif  // (an nvcc host pass compiles this body empty: device code only)
}
