// The optimizer update: SGD with momentum and weight decay (PyTorch's convention), on fp32 master
// weights, their gradients and momentum buffers; and the clamp that constrains quantized layers' masters.
//
// Layout: flat arrays of n floats (16-byte accesses with a scalar tail).
// Packing: none.
// Rounding: as the CPU backend's Java, one rounding per operation, never fused:
//   g = grad + wd * p;  v = momentum * v + g;  p = p - lr * v
#include "wrpn.cuh"

__device__ __forceinline__ void sgd_one(float& p, float g, float& v, float lr, float momentum, float wd) {
    const float gk = __fadd_rn(g, __fmul_rn(wd, p));
    v = __fadd_rn(__fmul_rn(momentum, v), gk);
    p = __fsub_rn(p, __fmul_rn(lr, v));
}

// x = clamp(x, lo, hi) in place, by comparisons (fminf/fmaxf would turn NaN into a bound; Java keeps it)
__device__ __forceinline__ float clamp_one(float v, float lo, float hi) { return v < lo ? lo : (v > hi ? hi : v); }

extern "C" __global__ void clamp_f32(float* __restrict__ x, long long n, float lo, float hi) {
    const long long n4 = n >> 2;
    float4* x4 = reinterpret_cast<float4*>(x);
    for (long long i = wrpn_thread_index(); i < n4; i += wrpn_thread_count()) {
        float4 v = x4[i];
        v = make_float4(clamp_one(v.x, lo, hi), clamp_one(v.y, lo, hi), clamp_one(v.z, lo, hi), clamp_one(v.w, lo, hi));
        x4[i] = v;
    }
    for (long long i = (n4 << 2) + wrpn_thread_index(); i < n; i += wrpn_thread_count()) x[i] = clamp_one(x[i], lo, hi);
}

extern "C" __global__ void sgd_momentum_f32(float* __restrict__ param, const float* __restrict__ grad,
                                            float* __restrict__ velocity, long long n, float lr, float momentum,
                                            float wd) {
    const long long n4 = n >> 2;
    float4* p4 = reinterpret_cast<float4*>(param);
    const float4* g4 = reinterpret_cast<const float4*>(grad);
    float4* v4 = reinterpret_cast<float4*>(velocity);
    for (long long i = wrpn_thread_index(); i < n4; i += wrpn_thread_count()) {
        float4 p = p4[i], v = v4[i];
        const float4 g = g4[i];
        sgd_one(p.x, g.x, v.x, lr, momentum, wd);
        sgd_one(p.y, g.y, v.y, lr, momentum, wd);
        sgd_one(p.z, g.z, v.z, lr, momentum, wd);
        sgd_one(p.w, g.w, v.w, lr, momentum, wd);
        p4[i] = p;
        v4[i] = v;
    }
    for (long long i = (n4 << 2) + wrpn_thread_index(); i < n; i += wrpn_thread_count()) {
        sgd_one(param[i], grad[i], velocity[i], lr, momentum, wd);
    }
}
