// Packed k-bit activations (DESIGN.md "Packed activations"): quantize + pack (+ STE mask), the same
// after a batch-norm apply (one pass over x), unpack, the residual add of codes, and the STE backward
// through a packed mask.
//
// Layout: channels-last, pixels x C. The k-bit codes of one pixel are packed along C, little-endian
// in 32-bit words: channel c sits in word c / (32/k), bits (c % (32/k)) * k upward. A pixel holds
// wpp = ceil(C*k/32) words; padding codes are zero. The mask is the same layout at k = 1, so a
// pixel's mask has G = ceil(C/32) words.
// Work split: a "unit" is one 32-channel group g of one pixel p (G units per pixel). It covers k
// code words and exactly one mask word (index p*G + g = unit index). When C % 32 == 0 units tile the
// flat arrays, so no division by G is needed.
//   vector path (C % 4 == 0): a warp does 4 units, 8 lanes each; a lane loads/stores 4 channels
//     with one 16-byte access; lanes OR their shifted codes together with xor-shuffles and the
//     first lane of each word stores it.
//   scalar path (other C): a warp does 1 unit, one channel per lane.
// Rounding: u = rint(clamp(x, 0, 1) * (2^k-1)) half to even, NaN -> 0 (wrpn.cuh); unpacked values
// u / (2^k-1) come from a per-block table filled with IEEE division, so they equal Java's float /.
#include "wrpn.cuh"

struct Unit {
    long long x;     // first float of the group
    long long word;  // first code word of the group
    int channels;    // channels of the group that exist (< 32 only in a ragged last group)
    int words;       // code words of the group that exist
    int c;           // its first channel (only when asked for: CH)
};

template <int K, bool CH = false>
__device__ __forceinline__ Unit unit_at(long long u, int C, int G, int wpp) {
    Unit t;
    if ((C & 31) == 0) {
        t.x = u * 32;
        t.word = u * K;
        t.channels = 32;
        t.words = K;
        t.c = CH ? (int)(u % G) * 32 : 0;
    } else {
        long long p = u / G;
        int g = (int)(u - p * G);
        t.c = g * 32;
        t.x = p * C + g * 32;
        t.word = p * wpp + (long long)g * K;
        t.channels = min(32, C - g * 32);
        t.words = min(K, wpp - g * K);
    }
    return t;
}

// What is quantized: x itself, or batch norm applied to it (bn_quantize_pack_u{k}).
struct PackIdentity {
    static constexpr bool CH = false;
    __device__ __forceinline__ float operator()(float v, int) const { return v; }
};

// bn_apply_f32's formula, operation for operation, so the codes equal bn_apply_f32 then quantize_act_pack.
struct PackBatchNorm {
    static constexpr bool CH = true;
    const float* __restrict__ gamma;
    const float* __restrict__ beta;
    const float* __restrict__ mean;
    const float* __restrict__ invStd;
    __device__ __forceinline__ float operator()(float v, int c) const {
        return __fadd_rn(__fmul_rn(__fsub_rn(v, mean[c]), __fmul_rn(invStd[c], gamma[c])), beta[c]);
    }
};

template <int K, class F = PackIdentity>
__device__ __forceinline__ void quantize_pack(const float* __restrict__ x, uint32_t* __restrict__ codes,
                                              uint32_t* __restrict__ mask, long long pixels, int C, F f = F()) {
    const int G = (C + 31) >> 5;
    const int wpp = (int)(((long long)C * K + 31) >> 5);
    const long long units = pixels * G;
    const float levels = (float)((1 << K) - 1);
    const int lane = threadIdx.x & 31;
    const long long warp = wrpn_thread_index() >> 5;
    const long long warps = wrpn_thread_count() >> 5;

    if ((C & 3) == 0) {
        constexpr int LW = 8 / K;  // lanes per code word (each lane holds 4 codes = 4k bits)
        const int sub = lane & 7;
        // The loop bound is warp-uniform: every lane reaches every shuffle.
        for (long long base = warp * 4; base < units; base += warps * 4) {
            const long long u = base + (lane >> 3);
            const bool live = u < units;
            const Unit t = unit_at<K, F::CH>(live ? u : 0, C, G, wpp);
            const int c0 = sub * 4;
            float4 v = make_float4(0.0f, 0.0f, 0.0f, 0.0f);  // padding channels: code 0, mask 0
            if (live && c0 < t.channels) {
                v = *reinterpret_cast<const float4*>(x + t.x + c0);
                const int c = t.c + c0;
                v = make_float4(f(v.x, c), f(v.y, c + 1), f(v.z, c + 2), f(v.w, c + 3));
            }
            uint32_t cw = wrpn_act_code(v.x, levels) | (wrpn_act_code(v.y, levels) << K)
                        | (wrpn_act_code(v.z, levels) << (2 * K)) | (wrpn_act_code(v.w, levels) << (3 * K));
            cw <<= (sub % LW) * 4 * K;
#pragma unroll
            for (int s = 1; s < LW; s <<= 1) cw |= __shfl_xor_sync(WRPN_FULL_MASK, cw, s);
            if (live && sub % LW == 0 && sub / LW < t.words) codes[t.word + sub / LW] = cw;
            if (mask != nullptr) {
                uint32_t mw = (wrpn_act_mask(v.x) | (wrpn_act_mask(v.y) << 1) | (wrpn_act_mask(v.z) << 2)
                               | (wrpn_act_mask(v.w) << 3)) << (sub * 4);
                mw |= __shfl_xor_sync(WRPN_FULL_MASK, mw, 1);
                mw |= __shfl_xor_sync(WRPN_FULL_MASK, mw, 2);
                mw |= __shfl_xor_sync(WRPN_FULL_MASK, mw, 4);
                if (live && sub == 0) mask[u] = mw;
            }
        }
    } else {
        constexpr int LS = 32 / K;  // lanes per code word
        for (long long u = warp; u < units; u += warps) {
            const Unit t = unit_at<K, F::CH>(u, C, G, wpp);
            const float v = lane < t.channels ? f(x[t.x + lane], t.c + lane) : 0.0f;
            const uint32_t code = wrpn_act_code(v, levels);
            uint32_t cw;
            if constexpr (K == 1) {
                cw = __ballot_sync(WRPN_FULL_MASK, code);
            } else {
                cw = code << ((lane % LS) * K);
#pragma unroll
                for (int s = 1; s < LS; s <<= 1) cw |= __shfl_xor_sync(WRPN_FULL_MASK, cw, s);
            }
            if (lane % LS == 0 && lane / LS < t.words) codes[t.word + lane / LS] = cw;
            if (mask != nullptr) {
                const uint32_t mw = __ballot_sync(WRPN_FULL_MASK, wrpn_act_mask(v));
                if (lane == 0) mask[u] = mw;
            }
        }
    }
}

// MODE: UNPACK_CODES writes the code u as int32, UNPACK_VALUES u / (2^k-1) as float, UNPACK_ADD
// a + u / (2^k-1) (the residual add of codes: bit for bit unpack then add_f32; out may be a).
#define UNPACK_CODES 0
#define UNPACK_VALUES 1
#define UNPACK_ADD 2
template <int K, int MODE>
__device__ __forceinline__ void unpack(const uint32_t* __restrict__ codes, const float* a, void* out, long long pixels,
                                       int C) {
    constexpr bool VALUES = MODE != UNPACK_CODES;
    __shared__ float table[1 << K];
    if (VALUES) {
        const float levels = (float)((1 << K) - 1);
        for (int i = threadIdx.x; i < (1 << K); i += blockDim.x) table[i] = __fdiv_rn((float)i, levels);
        __syncthreads();
    }
    const uint32_t M = (1u << K) - 1u;
    const int G = (C + 31) >> 5;
    const int wpp = (int)(((long long)C * K + 31) >> 5);
    const long long units = pixels * G;
    const int lane = threadIdx.x & 31;
    const long long warp = wrpn_thread_index() >> 5;
    const long long warps = wrpn_thread_count() >> 5;

    if ((C & 3) == 0) {
        const int sub = lane & 7;
        const int c0 = sub * 4;
        for (long long base = warp * 4; base < units; base += warps * 4) {
            const long long u = base + (lane >> 3);
            if (u >= units) continue;
            const Unit t = unit_at<K>(u, C, G, wpp);
            if (c0 >= t.channels) continue;
            const uint32_t w = codes[t.word + ((c0 * K) >> 5)] >> ((c0 * K) & 31);
            const uint32_t u0 = w & M, u1 = (w >> K) & M, u2 = (w >> (2 * K)) & M, u3 = (w >> (3 * K)) & M;
            if (MODE == UNPACK_ADD) {
                const float4 b = *reinterpret_cast<const float4*>(a + t.x + c0);
                *reinterpret_cast<float4*>(static_cast<float*>(out) + t.x + c0) =
                        make_float4(__fadd_rn(b.x, table[u0]), __fadd_rn(b.y, table[u1]), __fadd_rn(b.z, table[u2]),
                                    __fadd_rn(b.w, table[u3]));
            } else if (VALUES) {
                *reinterpret_cast<float4*>(static_cast<float*>(out) + t.x + c0) =
                        make_float4(table[u0], table[u1], table[u2], table[u3]);
            } else {
                *reinterpret_cast<int4*>(static_cast<int*>(out) + t.x + c0) =
                        make_int4((int)u0, (int)u1, (int)u2, (int)u3);
            }
        }
    } else {
        for (long long u = warp; u < units; u += warps) {
            const Unit t = unit_at<K>(u, C, G, wpp);
            if (lane >= t.channels) continue;
            const uint32_t code = (codes[t.word + ((lane * K) >> 5)] >> ((lane * K) & 31)) & M;
            if (MODE == UNPACK_ADD) {
                static_cast<float*>(out)[t.x + lane] = __fadd_rn(a[t.x + lane], table[code]);
            } else if (VALUES) {
                static_cast<float*>(out)[t.x + lane] = table[code];
            } else {
                static_cast<int*>(out)[t.x + lane] = (int)code;
            }
        }
    }
}

// dx = dy where the packed 1-bit mask is set, else 0: the STE backward from a saved mask. Same
// units as above: mask word u holds the 32 channels of unit u. dx may be dy (no __restrict__).
extern "C" __global__ void mask_grad_f32(const uint32_t* __restrict__ mask, const float* dy, float* dx, long long pixels,
                                         int C) {
    const int G = (C + 31) >> 5;
    const long long units = pixels * G;
    const int lane = threadIdx.x & 31;
    const long long warp = wrpn_thread_index() >> 5;
    const long long warps = wrpn_thread_count() >> 5;
    if ((C & 3) == 0) {
        const int c0 = (lane & 7) * 4;
        for (long long base = warp * 4; base < units; base += warps * 4) {
            const long long u = base + (lane >> 3);
            if (u >= units) continue;
            const Unit t = unit_at<1>(u, C, G, G);
            if (c0 >= t.channels) continue;
            const uint32_t m = mask[u] >> c0;
            const float4 g = *reinterpret_cast<const float4*>(dy + t.x + c0);
            *reinterpret_cast<float4*>(dx + t.x + c0) = make_float4(
                    (m & 1u) ? g.x : 0.0f, (m & 2u) ? g.y : 0.0f, (m & 4u) ? g.z : 0.0f, (m & 8u) ? g.w : 0.0f);
        }
    } else {
        for (long long u = warp; u < units; u += warps) {
            const Unit t = unit_at<1>(u, C, G, G);
            if (lane >= t.channels) continue;
            dx[t.x + lane] = ((mask[u] >> lane) & 1u) ? dy[t.x + lane] : 0.0f;
        }
    }
}

#define WRPN_PACK_KERNELS(K)                                                                            \
    extern "C" __global__ void quantize_act_pack_u##K(const float* __restrict__ x, uint32_t* __restrict__ codes, \
                                                      uint32_t* __restrict__ mask, long long pixels, int C) { \
        quantize_pack<K>(x, codes, mask, pixels, C);                                                    \
    }                                                                                                   \
    extern "C" __global__ void unpack_u##K##_f32(const uint32_t* __restrict__ codes, float* __restrict__ y, \
                                                 long long pixels, int C) {                             \
        unpack<K, UNPACK_VALUES>(codes, nullptr, y, pixels, C);                                         \
    }                                                                                                   \
    extern "C" __global__ void unpack_u##K##_s32(const uint32_t* __restrict__ codes, int* __restrict__ y, \
                                                 long long pixels, int C) {                             \
        unpack<K, UNPACK_CODES>(codes, nullptr, y, pixels, C);                                          \
    }                                                                                                   \
    /* out = a + value(codes); out may be a */                                                          \
    extern "C" __global__ void add_packed_u##K##_f32(const float* a, const uint32_t* __restrict__ codes, \
                                                     float* out, long long pixels, int C) {             \
        unpack<K, UNPACK_ADD>(codes, a, out, pixels, C);                                                \
    }                                                                                                   \
    /* batch-norm apply, quantize, pack and mask in one pass over x (mask may be NULL) */               \
    extern "C" __global__ void bn_quantize_pack_f32_u##K(                                               \
            const float* __restrict__ x, const float* __restrict__ gamma, const float* __restrict__ beta, \
            const float* __restrict__ mean, const float* __restrict__ invStd, uint32_t* __restrict__ codes, \
            uint32_t* __restrict__ mask, long long pixels, int C) {                                     \
        quantize_pack<K>(x, codes, mask, pixels, C, PackBatchNorm{gamma, beta, mean, invStd});          \
    }

WRPN_PACK_KERNELS(1)
WRPN_PACK_KERNELS(2)
WRPN_PACK_KERNELS(4)
WRPN_PACK_KERNELS(8)
