// Convolution-forward variants for the packed path of issue 5, kept as a harness (llm.c dev/cuda
// style) until they are wired into the backend: conv_bench.cu times them on a GPU against the shipped
// fp32 kernel, native/emu/check_conv_variants.cpp runs them under the CPU emulator against exact
// integer references. Shapes and layouts are the backend's (DESIGN.md):
//   x     packed k-bit activation codes, channels-last (N, H, W, Cin), wpp = ceil(Cin*k/32) words a
//         pixel, channel c in word c/(32/k) at bits (c%(32/k))*k; value u / (2^k-1)
//   w     int8 weight codes (Cout, KH, KW, Cin4), Cin4 = Cin rounded up to 4 (zero padded), value
//         s / (2^(kw-1)-1)
//   y     fp32 (N, OH, OW, Cout)
//
// Variants:
//   1. conv_direct_f32              one thread per output, fp32 values (the naive baseline)
//   2. conv2d_fprop_f32_f32_f32     the shipped tiled SIMT implicit GEMM (cuda/conv.cu), on unpacked values
//   3. conv2d_fprop_u{k}_s8_s32     packed codes in, 4 codes -> 4 bytes in registers, dp4a into int32:
//                                   the sum of codes is exact, y = acc / ((2^k-1)(2^(kw-1)-1)) rounded once.
//                                   With stats != null it also writes, per 64-pixel tile and channel, the
//                                   int64 sums of acc and acc^2: batch-norm statistics from them are exact,
//                                   so independent of the summation order (no two-pass, no float drift).
//   4. bn_quantize_pack_u{k}        BN apply + WRPN activation quantizer + pack + STE mask in one pass
//                                   (bit for bit bn_apply_f32 followed by quantize_act_pack_u{k}).
// Rounding: integer sums are exact; the one float rounding of variant 3 is __fdiv_rn; variant 4 uses
// the _rn intrinsics of batchnorm.cu and wrpn.cuh in the same order.
#pragma once
#include "../../cuda/conv.cu"
#include "../../cuda/wrpn.cuh"
#include "../../cuda/dp4a.cuh"

// ---- 1. naive direct convolution ------------------------------------------------------------------
extern "C" __global__ void conv_direct_f32(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y,
                                           int N, int H, int W, int Cin, int Cout, int KH, int KW, int S, int P, int OH,
                                           int OW) {
    const long long total = (long long)N * OH * OW * Cout;
    for (long long o = wrpn_thread_index(); o < total; o += wrpn_thread_count()) {
        const int co = (int)(o % Cout);
        long long r = o / Cout;
        const int ox = (int)(r % OW);
        r /= OW;
        const int oy = (int)(r % OH);
        const int n = (int)(r / OH);
        float acc = 0.0f;
        for (int ky = 0; ky < KH; ky++) {
            const int iy = oy * S - P + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < KW; kx++) {
                const int ix = ox * S - P + kx;
                if (ix < 0 || ix >= W) continue;
                const float* xp = x + (((long long)n * H + iy) * W + ix) * Cin;
                const float* wp = w + (((long long)co * KH + ky) * KW + kx) * Cin;
                for (int ci = 0; ci < Cin; ci++) acc = fmaf(xp[ci], wp[ci], acc);
            }
        }
        y[o] = acc;
    }
}

// ---- 3. packed-input integer implicit GEMM ---------------------------------------------------------
// Tiles as gemm.cuh: 256 threads, 64 output pixels x 64 output channels, 4 x 4 per thread; a k-slice
// is 16 groups of 4 channels (64 products deep). A smem word holds 4 activation codes as bytes (u8),
// a B word 4 weight codes (s8); dp4a multiplies them as unsigned x signed.
#define PK_SLICE 16

template <int K>
__device__ __forceinline__ void conv_packed(const uint32_t* __restrict__ x, const int8_t* __restrict__ w,
                                            float* __restrict__ y, long long* __restrict__ stats, float levels, int N,
                                            int H, int W, int Cin, int Cout, int KH, int KW, int S, int P, int OH, int OW) {
    __shared__ __align__(16) uint32_t As[PK_SLICE][GEMM_BM + 4];
    __shared__ __align__(16) uint32_t Bs[PK_SLICE][GEMM_BN + 4];
    const int tid = threadIdx.x, ty = tid >> 4, tx = tid & 15;
    const int M = N * OH * OW;
    const int wpp = (Cin * K + 31) >> 5;
    const int cin4 = (Cin + 3) >> 2;        // groups of 4 channels
    const int groups = KH * KW * cin4;      // the GEMM's k, in groups
    const GemmTile t = gemm_tile(M, Cout);
    const int m0 = t.tm * GEMM_BM, n0 = t.tn * GEMM_BN;
    // this thread's 4 A rows (output pixels) and 4 B rows (output channels), fixed over k
    long long pix[4];
    int iy0[4], ix0[4];
    long long wrow[4];
#pragma unroll
    for (int e = 0; e < 4; e++) {
        int n, oy, ox;
        if (conv_pixel(m0 + (tid >> 4) + 16 * e, M, OH, OW, n, oy, ox)) {
            pix[e] = (long long)n * H * W;
            iy0[e] = oy * S - P;
            ix0[e] = ox * S - P;
        } else {
            pix[e] = 0;
            iy0[e] = CONV_INVALID;
            ix0[e] = CONV_INVALID;
        }
        const int co = n0 + (tid >> 4) + 16 * e;
        wrow[e] = co < Cout ? (long long)co * groups : -1;
    }
    int acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0;
    }
    const uint32_t* w32 = reinterpret_cast<const uint32_t*>(w);
    for (int g0 = 0; g0 < groups; g0 += PK_SLICE) {
        const int g = g0 + (tid & 15);  // this thread's group in the slice
        int ky = CONV_INVALID, kx = 0, c4 = 0;
        if (g < groups) {
            const int tt = g / cin4;
            c4 = g - tt * cin4;
            ky = tt / KW;
            kx = tt - ky * KW;
        }
        const int bit = c4 * 4 * K;  // first bit of the 4 codes in the pixel's bit string
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int iy = iy0[e] + ky, ix = ix0[e] + kx;
            uint32_t a = 0;
            if (iy >= 0 && iy < H && ix >= 0 && ix < W) {
                const uint32_t word = x[(pix[e] + (long long)iy * W + ix) * wpp + (bit >> 5)];
                a = spread4<K>(word >> (bit & 31));
            }
            As[tid & 15][(tid >> 4) + 16 * e] = a;
            Bs[tid & 15][(tid >> 4) + 16 * e] = (wrow[e] >= 0 && g < groups) ? w32[wrow[e] + g] : 0u;
        }
        __syncthreads();
#pragma unroll
        for (int kk = 0; kk < PK_SLICE; kk++) {
            const uint4 a = *reinterpret_cast<const uint4*>(&As[kk][ty * 4]);
            const uint4 b = *reinterpret_cast<const uint4*>(&Bs[kk][tx * 4]);
            const uint32_t av[4] = {a.x, a.y, a.z, a.w};
            const uint32_t bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = dp4a_us(av[i], bv[j], acc[i][j]);
            }
        }
        __syncthreads();
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty * 4 + i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (n < Cout) y[(long long)m * Cout + n] = __fdiv_rn((float)acc[i][j], levels);
        }
    }
    if (stats != nullptr) {
        // per channel of the tile: sum over its 64 pixels of acc and acc^2, exact in int64. The 16 threads
        // of a column (same tx) add their 4 rows each, in row order, through shared memory.
        __shared__ long long s1[16][GEMM_BN], s2[16][GEMM_BN];
#pragma unroll
        for (int j = 0; j < 4; j++) {
            long long a1 = 0, a2 = 0;
#pragma unroll
            for (int i = 0; i < 4; i++) {
                if (m0 + ty * 4 + i < M) {
                    a1 += acc[i][j];
                    a2 += (long long)acc[i][j] * acc[i][j];
                }
            }
            s1[ty][tx * 4 + j] = a1;
            s2[ty][tx * 4 + j] = a2;
        }
        __syncthreads();
        if (tid < GEMM_BN && n0 + tid < Cout) {
            long long a1 = 0, a2 = 0;
            for (int r = 0; r < 16; r++) {
                a1 += s1[r][tid];
                a2 += s2[r][tid];
            }
            stats[((long long)t.tm * Cout + n0 + tid) * 2] = a1;
            stats[((long long)t.tm * Cout + n0 + tid) * 2 + 1] = a2;
        }
    }
}

// Per channel from the tile sums: mean = S1 / (n L), var = (n S2 - S1^2) / (n L)^2 (biased), exactly,
// then rounded once to double; L = levels (the product of the two code scales).
extern "C" __global__ void bn_stats_exact_f64(const long long* __restrict__ stats, int tiles, int C, long long n,
                                              double levels, double* __restrict__ mean, double* __restrict__ var) {
    for (long long i = wrpn_thread_index(); i < C; i += wrpn_thread_count()) {
        long long s1 = 0, s2 = 0;
        for (int t = 0; t < tiles; t++) {
            s1 += stats[((long long)t * C + i) * 2];
            s2 += stats[((long long)t * C + i) * 2 + 1];
        }
        const __int128 num = (__int128)n * s2 - (__int128)s1 * s1;  // n^2 L^2 var, exact
        const double nl = (double)n * levels;
        mean[i] = (double)s1 / nl;
        var[i] = (double)num / (nl * nl);
    }
}

// ---- 4. fused BN apply + quantize + pack -------------------------------------------------------------
// One warp per (pixel, 32-channel group), one channel per lane (the scalar path of pack.cu).
template <int K>
__device__ __forceinline__ void bn_quantize_pack(const float* __restrict__ y, const float* __restrict__ gamma,
                                                 const float* __restrict__ beta, const float* __restrict__ mean,
                                                 const float* __restrict__ invStd, uint32_t* __restrict__ codes,
                                                 uint32_t* __restrict__ mask, long long pixels, int C) {
    const int G = (C + 31) >> 5, wpp = (C * K + 31) >> 5;
    const long long units = pixels * G;
    const float levels = (float)((1 << K) - 1);
    const int lane = threadIdx.x & 31;
    constexpr int LS = 32 / K;
    for (long long u = wrpn_thread_index() >> 5; u < units; u += wrpn_thread_count() >> 5) {
        const long long p = u / G;
        const int g = (int)(u - p * G), c = g * 32 + lane;
        float z = 0.0f;
        if (c < C) {
            const float scale = __fmul_rn(invStd[c], gamma[c]);
            z = __fadd_rn(__fmul_rn(__fsub_rn(y[p * C + c], mean[c]), scale), beta[c]);
        }
        const uint32_t code = c < C ? wrpn_act_code(z, levels) : 0u;
        uint32_t cw;
        if (K == 1) {
            cw = __ballot_sync(WRPN_FULL_MASK, code);
        } else {
            cw = code << ((lane % LS) * K);
#pragma unroll
            for (int s = 1; s < LS; s <<= 1) cw |= __shfl_xor_sync(WRPN_FULL_MASK, cw, s);
        }
        const int word = g * K + lane / LS;
        if (lane % LS == 0 && word < wpp) codes[p * wpp + word] = cw;
        const uint32_t mw = __ballot_sync(WRPN_FULL_MASK, c < C && wrpn_act_mask(z));
        if (mask != nullptr && lane == 0) mask[u] = mw;
    }
}

#define CONV_VARIANT_KERNELS(K)                                                                                        \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS) conv2d_fprop_u##K##_s8_s32(                             \
            const uint32_t* __restrict__ x, const int8_t* __restrict__ w, float* __restrict__ y,                       \
            long long* __restrict__ stats, float levels, int N, int H, int W, int Cin, int Cout, int KH, int KW, int S, \
            int P, int OH, int OW) {                                                                                   \
        conv_packed<K>(x, w, y, stats, levels, N, H, W, Cin, Cout, KH, KW, S, P, OH, OW);                              \
    }                                                                                                                  \
    extern "C" __global__ void bn_quantize_pack_u##K(const float* __restrict__ y, const float* __restrict__ gamma,     \
                                                     const float* __restrict__ beta, const float* __restrict__ mean,   \
                                                     const float* __restrict__ invStd, uint32_t* __restrict__ codes,   \
                                                     uint32_t* __restrict__ mask, long long pixels, int C) {           \
        bn_quantize_pack<K>(y, gamma, beta, mean, invStd, codes, mask, pixels, C);                                     \
    }

CONV_VARIANT_KERNELS(1)
CONV_VARIANT_KERNELS(2)
CONV_VARIANT_KERNELS(4)
CONV_VARIANT_KERNELS(8)
