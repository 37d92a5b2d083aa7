// 4-way byte dot products for the packed-input integer convolution (qconv.cu, and the variants of
// native/conv/conv_variants.cuh it came from): 4 consecutive k-bit codes spread into the 4 bytes of a
// word, and dp4a of those unsigned bytes against 4 signed int8 weight codes. Exact in int32.
#pragma once
#include <stdint.h>

// 4 consecutive k-bit codes (bits 0..4k-1 of v) spread into the 4 bytes of a word.
template <int K>
__device__ __forceinline__ uint32_t spread4(uint32_t v) {
    if (K == 8) return v;
    const uint32_t m = (1u << K) - 1u;
    return (v & m) | (((v >> K) & m) << 8) | (((v >> (2 * K)) & m) << 16) | (((v >> (3 * K)) & m) << 24);
}

// The same with k known only at run time (k in {1, 2, 4, 8}).
__device__ __forceinline__ uint32_t spread4(uint32_t v, int k) {
    if (k == 8) return v;
    const uint32_t m = (1u << k) - 1u;
    return (v & m) | (((v >> k) & m) << 8) | (((v >> (2 * k)) & m) << 16) | (((v >> (3 * k)) & m) << 24);
}

// acc + dot(4 unsigned bytes of a, 4 signed bytes of b)
__device__ __forceinline__ int dp4a_us(uint32_t a, uint32_t b, int acc) {
#if defined(__CUDA_ARCH__)
    int r;
    asm("dp4a.u32.s32 %0, %1, %2, %3;" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
#else
    for (int i = 0; i < 4; i++) acc += (int)((a >> (8 * i)) & 255u) * (int)(int8_t)(b >> (8 * i));
    return acc;
#endif
}
