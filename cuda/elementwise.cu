// Element-wise float arithmetic the backend needs beside the quantizers: residual adds and
// gradient accumulation. (fill and copy are driver memset/memcpy calls, not kernels.)
//
// Layout: flat arrays of n floats; 16-byte accesses with a scalar tail (wrpn_map2 in wrpn.cuh).
// Packing: none.
// Rounding: one IEEE float add per element (__fadd_rn: never fused with anything), as in Java.
#include "wrpn.cuh"

// out = a + b
extern "C" __global__ void add_f32(const float* __restrict__ a, const float* __restrict__ b, float* __restrict__ out,
                                   long long n) {
    wrpn_map2(a, b, out, n, [](float x, float y) { return __fadd_rn(x, y); });
}

// dst += src (dst is read and written: no __restrict__ on it)
extern "C" __global__ void add_inplace_f32(float* dst, const float* __restrict__ src, long long n) {
    wrpn_map2(dst, src, dst, n, [](float x, float y) { return __fadd_rn(x, y); });
}
