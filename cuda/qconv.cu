// Convolutions of quantized layers on codes (Backend.conv2d*Quantized; the quantized linear layers run
// on them too, as a convolution whose kernel covers the whole input). Operands: x packed k-bit
// activation codes or fp32 values, w int8 weight codes or fp32 values; layouts as conv.cu.
//
// fprop: y = scale * sum x.w (+ bias[co] for a linear layer). Implicit GEMM (M = N*OH*OW pixels,
//   N = Cout, K = KH*KW*Cin) on its own SIMT tile, templated on the operand loaders of conv.cuh and a
//   multiply-accumulate policy:
//     pk_s8_dp4a  packed x, int8 w, Cin % 4 == 0: k runs over groups of 4 channels, 4 codes spread to
//                 bytes, dp4a into int32 (the core of native/conv's conv2d_fprop_u{k}_s8_s32)
//     pk_s8_s32   packed x, int8 w, any Cin: one code per k, int32 multiply-add
//     pk_s8_mma   packed x, int8 w, Cin % 32 == 0: int8 tensor cores (mma.cuh), its own tile (below)
//     pk_f32_f32, f32_s8_f32, f32_f32_f32: float FMA
//   Integer sums are exact (the caller keeps K within Quantizer.maxExactIntegerTerms); the epilogue is
//   y = __int2float_rn(acc) * scale as one __fmul_rn (never contracted), then + bias as __fadd_rn:
//   bit for bit Java's (float) acc * scale + b. Float sums: FMA in k order, then * scale.
//   Tiles: BN output channels (16, 32 or 64: the host picks the smallest that holds Cout, so narrow
//   layers do not idle most of a 64-wide tile) by BM = 4096 / BN pixels; 256 threads, 4 x 4 outputs a
//   thread, k-slices of 16. The per-row (pixel) geometry sits in shared memory, computed once per
//   block; each thread's patch digits step by 16 with carries (gemm.cuh's radix); a channel's word and
//   shift are resolved once per slice. The inner loop is shared-memory loads and multiply-adds only.
// dgrad: dx = scale * sum dy.w, w int8 codes or fp32; conv.cuh's DgradProblem on gemm.cuh's 64 x 64 core.
// wgrad: dw = scale * sum x.dy, x packed codes or fp32; conv.cuh's WgradProblem, split-K over output
//   pixels exactly as conv2d_wgrad_f32_f32_f32 (same splits, same partial buffer); the scale is applied
//   once to the final sum (by the store, or by qconv2d_splitk_reduce_scaled_f32).
#include "conv.cuh"
#include "dp4a.cuh"
#include "mma.cuh"

// Multiply-accumulate policies: T is the element type in shared memory, Acc the accumulator.
struct MacF32 {
    typedef float T;
    typedef float Acc;
    static __device__ __forceinline__ float mac(float a, float b, float acc) { return fmaf(a, b, acc); }
    static __device__ __forceinline__ float value(float acc) { return acc; }
};

struct MacS32 {
    typedef int T;
    typedef int Acc;
    static __device__ __forceinline__ int mac(int a, int b, int acc) { return acc + a * b; }
    static __device__ __forceinline__ float value(int acc) { return __int2float_rn(acc); }
};

struct MacDp4a {
    typedef uint32_t T;
    typedef int Acc;
    static __device__ __forceinline__ int mac(uint32_t a, uint32_t b, int acc) { return dp4a_us(a, b, acc); }
    static __device__ __forceinline__ float value(int acc) { return __int2float_rn(acc); }
};

// Packed codes read 4 channels at a time: group g is channels 4g..4g+3, bits 4gk.. of the pixel's
// words (never straddling a word: 32 is a multiple of 4k), spread to the 4 bytes of a word.
struct ActPacked4 {
    const uint32_t* p;
    int wpp, k;
    struct Ch {
        int word, shift;
    };
    __device__ __forceinline__ ActPacked4(const uint32_t* p_, int C, int k_) : p(p_), k(k_) { wpp = (C * k + 31) >> 5; }
    __device__ __forceinline__ Ch channel(int g) const {
        const int bit = g * 4 * k;
        return Ch{bit >> 5, bit & 31};
    }
    __device__ __forceinline__ uint32_t load(long long pixel, Ch ch) const {
        return spread4(p[pixel * wpp + ch.word] >> ch.shift, k);
    }
};

// 4 int8 weight codes as one word: index i counts groups of 4 channels (rows of Cin % 4 == 0 channels).
struct WeightS8x4 {
    const uint32_t* p;
    __device__ __forceinline__ uint32_t load(long long i) const { return p[i]; }
};

template <class T> struct Vec4;
template <> struct Vec4<float> { typedef float4 type; };
template <> struct Vec4<int> { typedef int4 type; };
template <> struct Vec4<uint32_t> { typedef uint4 type; };

template <int BN>
struct QTile {
    static constexpr int BM = 4096 / BN;  // 256, 128, 64
    static constexpr int TX = BN / 4;     // threads across a row of the tile
    static constexpr int EA = BM / 16;    // A elements a thread gathers per slice: k = tid % 16, m = tid / 16 + 16 e
    static constexpr int EB = BN / 16;    // B elements: k = tid % 16, n = tid / 16 + 16 e
};

// One block of the fprop GEMM: tile (blockIdx.x / tilesN, blockIdx.x % tilesN). `units` is the
// loader's channel count along k (Cin, or Cin / 4 for the dp4a loaders).
template <int BN, class Mac, class XL, class WL>
__device__ __forceinline__ void qconv_fprop(const XL& x, const WL& w, const float* __restrict__ bias, float* __restrict__ y,
                                            float scale, const ConvG& g, int units) {
    typedef QTile<BN> Tl;
    typedef typename Mac::T T;
    typedef typename Vec4<T>::type V4;
    __shared__ __align__(16) T As[GEMM_BK][Tl::BM + 4];
    __shared__ __align__(16) T Bs[GEMM_BK][BN + 4];
    __shared__ long long rowPix[Tl::BM];  // n * H * W of the tile's output pixels
    __shared__ int rowY[Tl::BM], rowX[Tl::BM];  // oy * S - P, ox * S - P (CONV_INVALID past the last)
    const int tid = threadIdx.x, ty = tid / Tl::TX, tx = tid % Tl::TX;
    const int M = g.N * g.OH * g.OW, K = g.KH * g.KW * units;
    const int tilesN = (g.Cout + BN - 1) / BN;
    const int m0 = (int)(blockIdx.x / tilesN) * Tl::BM, n0 = (int)(blockIdx.x % tilesN) * BN;
    for (int r = tid; r < Tl::BM; r += GEMM_THREADS) {
        int n, oy, ox;
        const bool in = conv_pixel(m0 + r, M, g.OH, g.OW, n, oy, ox);
        rowPix[r] = in ? (long long)n * g.H * g.W : 0;
        rowY[r] = in ? oy * g.S - g.P : CONV_INVALID;
        rowX[r] = in ? ox * g.S - g.P : CONV_INVALID;
    }
    long long wrow[Tl::EB];  // co * K, or -1 past the last output channel
#pragma unroll
    for (int e = 0; e < Tl::EB; e++) {
        const int co = n0 + (tid >> 4) + 16 * e;
        wrow[e] = co < g.Cout ? (long long)co * K : -1;
    }
    typename Mac::Acc acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0;
    }
    int k = tid & 15, ci, kx, ky;  // this thread's patch index in the slice, as digits (ci, kx, ky)
    GemmRadix3 kr;
    kr.set(units, g.KW);
    kr.split(k, ci, kx, ky);
    T ra[Tl::EA], rb[Tl::EB];
    __syncthreads();  // the row table
    auto gather = [&]() {
        const int kyv = k < K ? ky : CONV_INVALID;
        const typename XL::Ch ch = x.channel(ci);
#pragma unroll
        for (int e = 0; e < Tl::EA; e++) {
            const int r = (tid >> 4) + 16 * e;
            const int iy = rowY[r] + kyv, ix = rowX[r] + kx;
            ra[e] = (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) ? (T)x.load(rowPix[r] + (long long)iy * g.W + ix, ch) : (T)0;
        }
#pragma unroll
        for (int e = 0; e < Tl::EB; e++) rb[e] = (wrow[e] >= 0 && k < K) ? (T)w.load(wrow[e] + k) : (T)0;
    };
    if (K > 0) gather();
    for (int k0 = 0; k0 < K; k0 += GEMM_BK) {
#pragma unroll
        for (int e = 0; e < Tl::EA; e++) As[tid & 15][(tid >> 4) + 16 * e] = ra[e];
#pragma unroll
        for (int e = 0; e < Tl::EB; e++) Bs[tid & 15][(tid >> 4) + 16 * e] = rb[e];
        __syncthreads();
        if (k0 + GEMM_BK < K) {  // the next slice's loads are in flight during the multiply
            k += GEMM_BK;
            kr.step(ci, kx, ky);
            gather();
        }
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; kk++) {
            const V4 a = *reinterpret_cast<const V4*>(&As[kk][ty * 4]);
            const V4 b = *reinterpret_cast<const V4*>(&Bs[kk][tx * 4]);
            const T av[4] = {a.x, a.y, a.z, a.w};
            const T bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = Mac::mac(av[i], bv[j], acc[i][j]);
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
            if (n >= g.Cout) continue;
            const float v = __fmul_rn(Mac::value(acc[i][j]), scale);
            y[(long long)m * g.Cout + n] = bias != nullptr ? __fadd_rn(v, bias[n]) : v;
        }
    }
}

// Writes a 64 x 64 tile of gemm.cuh's core times scale (1 for split-K partials: exact).
__device__ __forceinline__ void qconv_store_scaled(float* __restrict__ out, int M, int N, int m0, int n0,
                                                   const float (&acc)[4][4], float scale) {
    const int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty * 4 + i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (n < N) out[(long long)m * N + n] = __fmul_rn(acc[i][j], scale);
        }
    }
}

template <class P>
__device__ __forceinline__ void qconv_gemm(P& p, float* __restrict__ out, int M, int N, const GemmTile& t, int splits,
                                           int kPerSplit, float scale) {
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    }
    const int kBegin = splits > 1 ? t.split * kPerSplit : 0;
    const int kEnd = splits > 1 ? min(p.K, kBegin + kPerSplit) : p.K;
    gemm_mainloop(p, kBegin, kEnd, acc);
    float* dst = splits > 1 ? out + (long long)t.split * M * N : out;
    qconv_store_scaled(dst, M, N, t.tm * GEMM_BM, t.tn * GEMM_BN, acc, splits > 1 ? 1.0f : scale);
}

// ---- tensor-core fprop: packed codes x int8 weight codes, Cin % 32 == 0 ------------------------------
// k runs in chunks of 32 = 32 consecutive channels of one tap (Cin % 32 == 0): a pixel's chunk is k
// whole words of its codes (32 k bits from bit 32 k c, word-aligned), a weight row's chunk 32 bytes (8
// words, aligned since K % 32 == 0). Tile: QMMA_BM = 128 pixels by BN channels, 8 warps each owning 16
// pixel rows and all BN / 8 mma column tiles of the block. Per chunk, A (128 x 32 codes spread to bytes,
// the im2col tile) and B (BN x 32 weight bytes) are staged in shared memory k-contiguous, rows padded
// to 12 words: each fragment register is one word, and the 32 lanes' words (row g, word t) fall in 32
// distinct banks (12 g + t mod 32). The next chunk's global loads are in flight during the mma's.
#define QMMA_BM 128
#define QMMA_LD 12

template <int BN>
__device__ __forceinline__ void qconv_fprop_mma(const uint32_t* __restrict__ xp, const uint32_t* __restrict__ w32,
                                                const float* __restrict__ bias, float* __restrict__ y, float scale,
                                                int bits, const ConvG& g) {
    static_assert(GEMM_THREADS == 2 * QMMA_BM && GEMM_THREADS / 32 * 16 == QMMA_BM, "2 stagers a pixel row, 16 rows a warp");
    constexpr int NT = BN / 8;  // mma column tiles
    constexpr int EB = (BN * 8 + GEMM_THREADS - 1) / GEMM_THREADS;  // B words a thread stages per chunk
    __shared__ __align__(16) uint32_t As[QMMA_BM][QMMA_LD];
    __shared__ __align__(16) uint32_t Bs[BN][QMMA_LD];
    const ActPacked4 x(xp, g.Cin, bits);
    const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
    const int M = g.N * g.OH * g.OW, groups = g.Cin >> 5, chunks = g.KH * g.KW * groups;
    const int tilesN = (g.Cout + BN - 1) / BN;
    const int m0 = (int)(blockIdx.x / tilesN) * QMMA_BM, n0 = (int)(blockIdx.x % tilesN) * BN;
    // A staging: pixel row ar of the tile, channels 16 ah .. 16 ah + 15 of the chunk (row words 4 ah ..)
    const int ar = tid >> 1, ah = tid & 1;
    long long apix = 0;
    int ay = CONV_INVALID, ax = CONV_INVALID;
    {
        int n, oy, ox;
        if (conv_pixel(m0 + ar, M, g.OH, g.OW, n, oy, ox)) {
            apix = (long long)n * g.H * g.W;
            ay = oy * g.S - g.P;
            ax = ox * g.S - g.P;
        }
    }
    // B staging: word bw of weight rows (tid >> 3) + 32 e; wrow = first word of the row, -1 when none
    const int bw = tid & 7;
    long long wrow[EB];
#pragma unroll
    for (int e = 0; e < EB; e++) {
        const int r = (tid >> 3) + 32 * e, co = n0 + r;
        wrow[e] = (r < BN && co < g.Cout) ? (long long)co * chunks * 8 + bw : -1;
    }
    int acc[NT][4];
#pragma unroll
    for (int j = 0; j < NT; j++) {
#pragma unroll
        for (int i = 0; i < 4; i++) acc[j][i] = 0;
    }
    int kc = 0, cg = 0, kx = 0, ky = 0;  // the chunk staged next, as digits (channel group, kx, ky)
    uint32_t ra[4], rb[EB];
    auto gather = [&]() {
        const int iy = ay + ky, ix = ax + kx;
        const bool in = iy >= 0 && iy < g.H && ix >= 0 && ix < g.W;
        const long long pixel = apix + (long long)iy * g.W + ix;
#pragma unroll
        for (int j = 0; j < 4; j++) ra[j] = in ? x.load(pixel, x.channel(cg * 8 + ah * 4 + j)) : 0u;
#pragma unroll
        for (int e = 0; e < EB; e++) rb[e] = wrow[e] >= 0 ? w32[wrow[e] + (long long)kc * 8] : 0u;
    };
    if (chunks > 0) gather();
    const int g8 = lane >> 2, t4 = lane & 3, r0 = warp * 16;
    for (int c = 0; c < chunks; c++) {
        *reinterpret_cast<uint4*>(&As[ar][4 * ah]) = make_uint4(ra[0], ra[1], ra[2], ra[3]);
#pragma unroll
        for (int e = 0; e < EB; e++) {
            const int r = (tid >> 3) + 32 * e;
            if (r < BN) Bs[r][bw] = rb[e];
        }
        __syncthreads();
        if (c + 1 < chunks) {  // the next chunk's loads are in flight during the mma's
            kc++;
            if (++cg == groups) {
                cg = 0;
                if (++kx == g.KW) {
                    kx = 0;
                    ky++;
                }
            }
            gather();
        }
        const uint32_t a[4] = {As[r0 + g8][t4], As[r0 + g8 + 8][t4], As[r0 + g8][4 + t4], As[r0 + g8 + 8][4 + t4]};
#pragma unroll
        for (int j = 0; j < NT; j++) {
            const uint32_t b[2] = {Bs[8 * j + g8][t4], Bs[8 * j + g8][4 + t4]};
            mma_m16n8k32_u8s8(acc[j], a, b);
        }
        __syncthreads();
    }
#pragma unroll
    for (int j = 0; j < NT; j++) {
#pragma unroll
        for (int i = 0; i < 4; i++) {
            const int m = m0 + r0 + g8 + 8 * (i >> 1), n = n0 + 8 * j + 2 * t4 + (i & 1);
            if (m >= M || n >= g.Cout) continue;
            const float v = __fmul_rn(__int2float_rn(acc[j][i]), scale);
            y[(long long)m * g.Cout + n] = bias != nullptr ? __fadd_rn(v, bias[n]) : v;
        }
    }
}

// ---- kernels ----------------------------------------------------------------------------------------
// fprop: (x, w, bias or NULL, y, scale, activation bits (unused for fp32 x), geometry).
// Grid: ceil(N*OH*OW / (4096 / BN)) * ceil(Cout / BN) blocks of 256, channel tiles fastest.
#define QCONV_FPROP(NAME, BN, MAC, XT, XL, WT, WL, UNITS)                                                       \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS) qconv2d_fprop_##NAME##_n##BN( \
            const XT* __restrict__ x, const WT* __restrict__ w, const float* __restrict__ bias, float* __restrict__ y, \
            float scale, int bits, CONV_PARAMS) {                                                               \
        const ConvG g = conv_geometry(CONV_ARGS);                                                               \
        qconv_fprop<BN, MAC>(XL, WL, bias, y, scale, g, UNITS);                                                 \
    }

#define QCONV_FPROP_TILES(NAME, MAC, XT, XL, WT, WL, UNITS) \
    QCONV_FPROP(NAME, 16, MAC, XT, XL, WT, WL, UNITS)       \
    QCONV_FPROP(NAME, 32, MAC, XT, XL, WT, WL, UNITS)       \
    QCONV_FPROP(NAME, 64, MAC, XT, XL, WT, WL, UNITS)

QCONV_FPROP_TILES(pk_s8_dp4a, MacDp4a, uint32_t, ActPacked4(x, Cin, bits), int8_t,
                  WeightS8x4{reinterpret_cast<const uint32_t*>(w)}, Cin >> 2)
// Grid: ceil(N*OH*OW / QMMA_BM) * ceil(Cout / BN) blocks of 256, channel tiles fastest.
#define QCONV_FPROP_MMA(BN)                                                                                       \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS) qconv2d_fprop_pk_s8_mma_n##BN(    \
            const uint32_t* __restrict__ x, const int8_t* __restrict__ w, const float* __restrict__ bias,          \
            float* __restrict__ y, float scale, int bits, CONV_PARAMS) {                                          \
        const ConvG g = conv_geometry(CONV_ARGS);                                                                 \
        qconv_fprop_mma<BN>(x, reinterpret_cast<const uint32_t*>(w), bias, y, scale, bits, g);                    \
    }
QCONV_FPROP_MMA(16)
QCONV_FPROP_MMA(32)
QCONV_FPROP_MMA(64)
QCONV_FPROP_TILES(pk_s8_s32, MacS32, uint32_t, ActPacked(x, Cin, bits), int8_t, WeightS8{w}, Cin)
QCONV_FPROP_TILES(pk_f32_f32, MacF32, uint32_t, ActPacked(x, Cin, bits), float, WeightF32{w}, Cin)
QCONV_FPROP_TILES(f32_s8_f32, MacF32, float, (ActF32{x, Cin}), int8_t, WeightS8{w}, Cin)
QCONV_FPROP_TILES(f32_f32_f32, MacF32, float, (ActF32{x, Cin}), float, WeightF32{w}, Cin)

// dgrad: dx = scale * conv^T(dy, w). Grid: ceil(N*H*W / 64) * ceil(Cin / 64) blocks of 256.
#define QCONV_DGRAD(NAME, WT, WL)                                                                                 \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS) qconv2d_dgrad_##NAME(              \
            const float* __restrict__ dy, const WT* __restrict__ w, float* __restrict__ dx, float scale, CONV_PARAMS) { \
        const ConvG g = conv_geometry(CONV_ARGS);                                                                 \
        const int M = N * H * W;                                                                                  \
        const GemmTile t = gemm_tile(M, Cin);                                                                     \
        DgradProblem<WL> p(dy, WL{w}, g, t.tm * GEMM_BM, t.tn * GEMM_BN);                                          \
        qconv_gemm(p, dx, M, Cin, t, 1, 0, scale);                                                                \
    }

QCONV_DGRAD(f32_s8_f32, int8_t, WeightS8)
QCONV_DGRAD(f32_f32_f32, float, WeightF32)

// wgrad: dw = scale * sum over output pixels of dy x-patch; with splits > 1, out is the
// [splits][Cout][KH*KW*Cin] partial buffer (unscaled) for qconv2d_splitk_reduce_scaled_f32.
// Grid: ceil(Cout / 64) * ceil(KH*KW*Cin / 64) * splits blocks of 256.
#define QCONV_WGRAD(NAME, XT, XL)                                                                                  \
    extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS) qconv2d_wgrad_##NAME(               \
            const XT* __restrict__ x, const float* __restrict__ dy, float* __restrict__ out, float scale, int bits,    \
            CONV_PARAMS, int splits, int kPerSplit) {                                                              \
        const ConvG g = conv_geometry(CONV_ARGS);                                                                  \
        const int patch = KH * KW * Cin;                                                                           \
        const GemmTile t = gemm_tile(Cout, patch);                                                                 \
        WgradProblem<decltype(XL)> p(XL, dy, g, t.tm * GEMM_BM, t.tn * GEMM_BN);                                   \
        qconv_gemm(p, out, Cout, patch, t, splits, kPerSplit, scale);                                              \
    }

QCONV_WGRAD(pk_f32_f32, uint32_t, ActPacked(x, Cin, bits))
QCONV_WGRAD(f32_f32_f32, float, (ActF32{x, Cin}))

// out[i] = (sum over s < splits of partial[s * mn + i], in split order) * scale.
extern "C" __global__ void qconv2d_splitk_reduce_scaled_f32(const float* __restrict__ partial, float* __restrict__ out,
                                                            long long mn, int splits, float scale) {
    for (long long i = wrpn_thread_index(); i < mn; i += wrpn_thread_count()) {
        float s = partial[i];
        for (int k = 1; k < splits; k++) s = __fadd_rn(s, partial[(long long)k * mn + i]);
        out[i] = __fmul_rn(s, scale);
    }
}
