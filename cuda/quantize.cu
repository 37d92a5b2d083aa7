// Element-wise WRPN quantizers (DESIGN.md "WRPN quantization"), unpacked in and out.
//
// Layout: flat arrays of n elements; nothing here depends on the tensor shape. Accesses are 16
// bytes wide with a scalar tail (wrpn_map in wrpn.cuh).
// Packing: none; packed activations are in pack.cu. Weight codes are int8, one per byte.
// Rounding: half to even; float products and divisions round as Java's (see wrpn.cuh).
//   activations, k in {1,2,4,8}:  u = rint(clamp(x, 0, 1) * (2^k-1)),     value u / (2^k-1)
//   weights,     k in {2,4,8}:    s = rint(clamp(w, -1, 1) * (2^(k-1)-1)), value s / (2^(k-1)-1)
//   weights,     k = 1:           sign(w) (sign(0) = +1) times mean|w|, the scale read from device
//                                 memory (computed by reduce.cu) so that no value visits the host.
#include "wrpn.cuh"

// y = value(code(x)) at k bits.
extern "C" __global__ void quantize_act_f32(const float* __restrict__ x, float* __restrict__ y, long long n,
                                            int bits) {
    const float levels = (float)((1 << bits) - 1);
    wrpn_map(x, y, n, [=](float v) { return __fdiv_rn((float)wrpn_act_code(v, levels), levels); });
}

// Straight-through backward: dx = dy where 0 < x < 1, else 0.
extern "C" __global__ void quantize_act_bwd_f32(const float* __restrict__ x, const float* __restrict__ dy,
                                                float* __restrict__ dx, long long n) {
    wrpn_map2(x, dy, dx, n, [](float v, float g) { return wrpn_act_mask(v) ? g : 0.0f; });
}

// int8 weight codes, k in {2,4,8}.
extern "C" __global__ void quantize_weight_f32_s8(const float* __restrict__ w, int8_t* __restrict__ codes,
                                                  long long n, int bits) {
    const float levels = (float)((1 << (bits - 1)) - 1);
    wrpn_map(w, codes, n, [=](float v) { return (int8_t)wrpn_weight_code(v, levels); });
}

// Weight values s / (2^(k-1)-1), k in {2,4,8}.
extern "C" __global__ void quantize_weight_f32_f32(const float* __restrict__ w, float* __restrict__ wq,
                                                   long long n, int bits) {
    const float levels = (float)((1 << (bits - 1)) - 1);
    wrpn_map(w, wq, n, [=](float v) { return __fdiv_rn((float)wrpn_weight_code(v, levels), levels); });
}

// Binary weight codes: +-1 as int8.
extern "C" __global__ void binarize_weight_f32_s8(const float* __restrict__ w, int8_t* __restrict__ codes,
                                                  long long n) {
    wrpn_map(w, codes, n, [](float v) { return (int8_t)wrpn_binary_code(v); });
}

// Binary weight values sign(w) * scale, scale = mean|w| (one float in device memory).
extern "C" __global__ void binarize_weight_f32_f32(const float* __restrict__ w, float* __restrict__ wq,
                                                   long long n, const float* __restrict__ scale) {
    const float s = *scale;
    wrpn_map(w, wq, n, [=](float v) { return v < 0.0f ? -s : s; });
}
