// Element-wise float arithmetic the backend needs beside the quantizers: residual adds, gradient
// accumulation and the full-precision ReLU. (fill and copy are driver memset/memcpy calls, not kernels.)
//
// Layout: flat arrays of n floats; 16-byte accesses with a scalar tail (wrpn_map2 in wrpn.cuh).
// Packing: none.
// Rounding: one IEEE float add per element (__fadd_rn: never fused with anything), as in Java.
// ReLU: y = x > 0 ? x : 0 (NaN gives 0, -0 gives 0); backward dx = y > 0 ? dy : 0.
#include "wrpn.cuh"

// out = a + b; out may be a or b (no __restrict__)
extern "C" __global__ void add_f32(const float* a, const float* b, float* out, long long n) {
    wrpn_map2(a, b, out, n, [](float x, float y) { return __fadd_rn(x, y); });
}

// dst += src (dst is read and written: no __restrict__ on it)
extern "C" __global__ void add_inplace_f32(float* dst, const float* __restrict__ src, long long n) {
    wrpn_map2(dst, src, dst, n, [](float x, float y) { return __fadd_rn(x, y); });
}

// y = max(x, 0); NaN -> 0
extern "C" __global__ void relu_f32(const float* __restrict__ x, float* __restrict__ y, long long n) {
    wrpn_map(x, y, n, [](float v) { return v > 0.0f ? v : 0.0f; });
}

// dx = dy where y > 0, else 0; dx may be dy
extern "C" __global__ void relu_bwd_f32(const float* __restrict__ y, const float* dy, float* dx, long long n) {
    wrpn_map2(y, dy, dx, n, [](float v, float g) { return v > 0.0f ? g : 0.0f; });
}
