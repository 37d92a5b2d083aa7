// Device helpers shared by the wrpn kernels: the WRPN quantizer of DESIGN.md, bit for bit with
// org.wrpn.quant.Quantizer, and the grid-stride helpers.
//
// Rounding: half to even (__float2int_rn). The product clamp(x) * levels is __fmul_rn and a code's
// value u / levels is __fdiv_rn: the _rn intrinsics are never contracted into FMAs or replaced by a
// reciprocal, so they round exactly like Java's float * and /.
// Non-finite inputs (Quantizer's definition): NaN gives code 0 and mask 0; +-Inf clamp.
#pragma once
#include <stdint.h>

#define WRPN_FULL_MASK 0xffffffffu

// Activation code u = rint(clamp(x, 0, 1) * (2^k - 1)).
__device__ __forceinline__ uint32_t wrpn_act_code(float x, float levels) {
    if (x != x) return 0u;
    float c = fminf(fmaxf(x, 0.0f), 1.0f);
    return (uint32_t)__float2int_rn(__fmul_rn(c, levels));
}

// Straight-through mask: the gradient passes where 0 < x < 1 (false for NaN).
__device__ __forceinline__ uint32_t wrpn_act_mask(float x) {
    return (x > 0.0f && x < 1.0f) ? 1u : 0u;
}

// Weight code s = rint(clamp(w, -1, 1) * (2^(k-1) - 1)).
__device__ __forceinline__ int wrpn_weight_code(float w, float levels) {
    if (w != w) return 0;  // fmaxf would turn NaN into -1
    float c = fminf(fmaxf(w, -1.0f), 1.0f);
    return __float2int_rn(__fmul_rn(c, levels));
}

// Binary weight code: sign(w), sign(0) = +1, NaN = +1.
__device__ __forceinline__ int wrpn_binary_code(float w) {
    return w < 0.0f ? -1 : 1;
}

__device__ __forceinline__ long long wrpn_thread_index() {
    return (long long)blockIdx.x * blockDim.x + threadIdx.x;
}

__device__ __forceinline__ long long wrpn_thread_count() {
    return (long long)gridDim.x * blockDim.x;
}

// A grid-stride index i over a tensor with fastest dimensions d0, d1, d2 (then the rest), kept as its
// digits: x0 = i % d0, x1 = i / d0 % d1, x2 = i / (d0 d1) % d2, x3 = i / (d0 d1 d2). Divided once per
// thread at the start; each step adds the stride's digits with carries (every digit sum stays below
// twice its base, so one compare per digit suffices). No 64-bit division per element.
struct wrpn_digits {
    int d0, d1, d2;
    int x0, x1, x2;
    long long x3;
    int s0, s1, s2;
    long long s3;

    static __device__ __forceinline__ void split(long long v, int d0, int d1, int d2, int& a, int& b, int& c, long long& r) {
        long long q = v / d0;
        a = (int)(v - q * d0);
        long long q1 = q / d1;
        b = (int)(q - q1 * d1);
        r = q1 / d2;
        c = (int)(q1 - r * d2);
    }

    __device__ __forceinline__ wrpn_digits(long long i, long long stride, int d0_, int d1_ = 1, int d2_ = 1)
        : d0(d0_), d1(d1_), d2(d2_) {
        split(i, d0, d1, d2, x0, x1, x2, x3);
        split(stride, d0, d1, d2, s0, s1, s2, s3);
    }

    __device__ __forceinline__ void step() {
        x0 += s0;
        int c = x0 >= d0;
        if (c) x0 -= d0;
        x1 += s1 + c;
        c = x1 >= d1;
        if (c) x1 -= d1;
        x2 += s2 + c;
        c = x2 >= d2;
        if (c) x2 -= d2;
        x3 += s3 + c;
    }
};

// Element-wise maps over n elements with 16-byte accesses: every pointer starts its own 256-byte
// aligned allocation, so elements [0, n/4*4) go four at a time and the tail one by one.
template <typename T> struct wrpn_vec4;
template <> struct wrpn_vec4<float> { typedef float4 type; static __device__ __forceinline__ float4 make(float a, float b, float c, float d) { return make_float4(a, b, c, d); } };
template <> struct wrpn_vec4<int8_t> { typedef char4 type; static __device__ __forceinline__ char4 make(int8_t a, int8_t b, int8_t c, int8_t d) { return make_char4(a, b, c, d); } };

// y[i] = f(x[i])
template <typename Out, typename F>
__device__ __forceinline__ void wrpn_map(const float* __restrict__ x, Out* __restrict__ y, long long n, F f) {
    typedef wrpn_vec4<Out> V;
    const long long n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    typename V::type* y4 = reinterpret_cast<typename V::type*>(y);
    for (long long i = wrpn_thread_index(); i < n4; i += wrpn_thread_count()) {
        const float4 v = x4[i];
        y4[i] = V::make(f(v.x), f(v.y), f(v.z), f(v.w));
    }
    for (long long i = (n4 << 2) + wrpn_thread_index(); i < n; i += wrpn_thread_count()) y[i] = f(x[i]);
}

// y[i] = f(a[i], b[i]); y may be a (in place).
template <typename F>
__device__ __forceinline__ void wrpn_map2(const float* a, const float* b, float* y, long long n, F f) {
    const long long n4 = n >> 2;
    const float4* a4 = reinterpret_cast<const float4*>(a);
    const float4* b4 = reinterpret_cast<const float4*>(b);
    float4* y4 = reinterpret_cast<float4*>(y);
    for (long long i = wrpn_thread_index(); i < n4; i += wrpn_thread_count()) {
        const float4 u = a4[i], v = b4[i];
        y4[i] = make_float4(f(u.x, v.x), f(u.y, v.y), f(u.z, v.z), f(u.w, v.w));
    }
    for (long long i = (n4 << 2) + wrpn_thread_index(); i < n; i += wrpn_thread_count()) y[i] = f(a[i], b[i]);
}
