// 2-D convolution on fp32 tensors: forward, backward data (dgrad) and backward filter (wgrad), as
// implicit GEMMs on the tiled SIMT core of gemm.cuh. These serve every conv layer: the full-precision
// first layer, and (for now) the quantized layers too, whose inputs the caller unpacks to their fp32
// values u / (2^k-1) (exact in fp32) and whose weights are the quantized values s / (2^(k-1)-1).
// The packed-input integer kernels are developed in native/conv (harness + variants) first.
//
// Layout: channels-last. x (N, H, W, Cin), w (Cout, KH, KW, Cin), y (N, OH, OW, Cout); symmetric zero
// padding P, stride S, OH = (H + 2P - KH) / S + 1. A patch index k = (ky * KW + kx) * Cin + ci runs
// the way w's rows and x's pixels are laid out, so gathers are contiguous along the channels.
// Packing: none (fp32 in, fp32 out).
// Gathers: each thread keeps the digits of its patch / pixel indices and steps them by the slice
// depth (gemm.cuh's begin/advance), dividing only once per block.
// Rounding: fp32 FMA accumulation in a fixed order per output (see gemm.cuh); results differ from
// the CPU backend's GEMM only by the summation order. wgrad's split-K partials are summed in split
// order by conv2d_splitk_reduce_f32, so every result is reproducible.
//
//   fprop:  y[m = (n,oy,ox)][co]  = sum_k  x-patch[m][k] * w[co][k]                 M = N*OH*OW, N = Cout, K = KH*KW*Cin
//   dgrad:  dx[m = (n,iy,ix)][ci] = sum_k' dy-gather[m][k'] * w[co][ky][kx][ci]     M = N*H*W,  N = Cin,  K = KH*KW*Cout,
//           k' = (ky * KW + kx) * Cout + co; dy-gather is dy at oy = (iy + P - ky) / S when that divides exactly
//           and lies inside, else 0 (a gather, so no atomics: each dx element is one thread's sum)
//   wgrad:  dw[co][k]             = sum_p  dy[p][co] * x-patch[p][k]                M = Cout,   N = KH*KW*Cin, K = N*OH*OW
#include "gemm.cuh"

// Geometry shared by the three problems (plain ints: passed by value from the host).
struct ConvG {
    int N, H, W, Cin, Cout, KH, KW, S, P, OH, OW;
};

#define CONV_INVALID (-(1 << 29))

// Row m of an implicit GEMM as a pixel (n, y, x) of an N x rows x cols grid; false past the last row.
__device__ __forceinline__ bool conv_pixel(int m, int M, int rows, int cols, int& n, int& y, int& x) {
    if (m >= M) return false;
    n = m / (rows * cols);
    const int r = m - n * rows * cols;
    y = r / cols;
    x = r - y * cols;
    return true;
}

// fprop: A = x patches (k fastest, so consecutive threads read consecutive channels), B = w rows.
struct FpropProblem {
    static constexpr bool A_K_FAST = true;
    static constexpr bool B_K_FAST = true;
    const float* __restrict__ x;
    const float* __restrict__ w;
    ConvG g;
    int K;
    long long pix[4];  // n * H * W of the thread's 4 output rows
    int iy0[4], ix0[4];  // oy * S - P, ox * S - P (CONV_INVALID past the last row)
    long long wrow[4];   // co * K, or -1 past the last output channel
    int k;               // this thread's patch index in the current slice: k0 + tid % 16 ...
    GemmRadix3 kr;       // ... in radix (Cin, KW) ...
    int ci, kx, ky;      // ... as digits

    __device__ FpropProblem(const float* x_, const float* w_, const ConvG& g_, int m0, int n0) : x(x_), w(w_), g(g_) {
        K = g.KH * g.KW * g.Cin;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int n, oy, ox;
            if (conv_pixel(m0 + (threadIdx.x >> 4) + 16 * e, g.N * g.OH * g.OW, g.OH, g.OW, n, oy, ox)) {
                pix[e] = (long long)n * g.H * g.W;
                iy0[e] = oy * g.S - g.P;
                ix0[e] = ox * g.S - g.P;
            } else {
                pix[e] = 0;
                iy0[e] = CONV_INVALID;
                ix0[e] = CONV_INVALID;
            }
            const int co = n0 + (threadIdx.x >> 4) + 16 * e;
            wrow[e] = co < g.Cout ? (long long)co * K : -1;
        }
    }

    __device__ void begin(int k0) {
        k = k0 + (threadIdx.x & 15);
        kr.set(g.Cin, g.KW);
        kr.split(k, ci, kx, ky);
    }

    __device__ void advance() {
        k += GEMM_BK;
        kr.step(ci, kx, ky);
    }

    __device__ void loadA(float (&r)[4]) const {
        const int kyv = k < K ? ky : CONV_INVALID;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int iy = iy0[e] + kyv, ix = ix0[e] + kx;
            r[e] = (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) ? x[(pix[e] + (long long)iy * g.W + ix) * g.Cin + ci] : 0.0f;
        }
    }

    __device__ void loadB(float (&r)[4]) const {
#pragma unroll
        for (int e = 0; e < 4; e++) r[e] = (wrow[e] >= 0 && k < K) ? w[wrow[e] + k] : 0.0f;
    }
};

// dgrad: A = dy gathered through the window (k' fastest: consecutive output channels), B = w
// (n fastest: consecutive input channels).
struct DgradProblem {
    static constexpr bool A_K_FAST = true;
    static constexpr bool B_K_FAST = false;
    const float* __restrict__ dy;
    const float* __restrict__ w;
    ConvG g;
    int K;
    long long pix[4];  // n * OH * OW of the thread's 4 input pixels
    int iyp[4], ixp[4];  // iy + P, ix + P (CONV_INVALID past the last row)
    int ci;              // this thread's B column
    int ka;              // A: k' = k0 + tid % 16 ...
    GemmRadix3 ra;       // ... in radix (Cout, KW) ...
    int aco, akx, aky;   // ... as digits
    int kb;              // B: k' = k0 + tid / 64 (+ 4 e) ...
    GemmRadix2 rb;       // ... in radix Cout ...
    int bco[4], btap[4]; // ... as (co, tap = ky * KW + kx)

    __device__ DgradProblem(const float* dy_, const float* w_, const ConvG& g_, int m0, int n0) : dy(dy_), w(w_), g(g_) {
        K = g.KH * g.KW * g.Cout;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            int n, iy, ix;
            if (conv_pixel(m0 + (threadIdx.x >> 4) + 16 * e, g.N * g.H * g.W, g.H, g.W, n, iy, ix)) {
                pix[e] = (long long)n * g.OH * g.OW;
                iyp[e] = iy + g.P;
                ixp[e] = ix + g.P;
            } else {
                pix[e] = 0;
                iyp[e] = CONV_INVALID;
                ixp[e] = CONV_INVALID;
            }
        }
        ci = n0 + (threadIdx.x & 63);
    }

    __device__ void begin(int k0) {
        ka = k0 + (threadIdx.x & 15);
        ra.set(g.Cout, g.KW);
        ra.split(ka, aco, akx, aky);
        kb = k0 + (threadIdx.x >> 6);
        rb.set(g.Cout);
#pragma unroll
        for (int e = 0; e < 4; e++) rb.split(kb + 4 * e, bco[e], btap[e]);
    }

    __device__ void advance() {
        ka += GEMM_BK;
        ra.step(aco, akx, aky);
        kb += GEMM_BK;
#pragma unroll
        for (int e = 0; e < 4; e++) rb.step(bco[e], btap[e]);
    }

    __device__ void loadA(float (&r)[4]) const {
        const bool kin = ka < K;
        const int co = kin ? aco : 0, kx = kin ? akx : 0, ky = kin ? aky : 0;
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int oyS = iyp[e] - ky, oxS = ixp[e] - kx;
            bool ok = kin && oyS >= 0 && oxS >= 0;
            int oy = 0, ox = 0;
            if (ok) {
                oy = oyS / g.S;
                ox = oxS / g.S;
                ok = oy * g.S == oyS && ox * g.S == oxS && oy < g.OH && ox < g.OW;
            }
            r[e] = ok ? dy[(pix[e] + (long long)oy * g.OW + ox) * g.Cout + co] : 0.0f;
        }
    }

    __device__ void loadB(float (&r)[4]) const {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            // w[co][ky][kx][ci] = w[(co * KH * KW + tap) * Cin + ci]
            r[e] = (kb + 4 * e < K && ci < g.Cin) ? w[((long long)bco[e] * (g.KH * g.KW) + btap[e]) * g.Cin + ci] : 0.0f;
        }
    }
};

// wgrad: A = dy transposed (m = output channel fastest), B = x patches (n = patch index fastest).
struct WgradProblem {
    static constexpr bool A_K_FAST = false;
    static constexpr bool B_K_FAST = false;
    const float* __restrict__ x;
    const float* __restrict__ dy;
    ConvG g;
    int K;  // output pixels N * OH * OW
    int co;
    int ky, kx, ci;  // this thread's patch column (ky = CONV_INVALID past the last)
    int p0;              // A and B: output pixel k0 + tid / 64 (+ 4 e) ...
    GemmRadix3 pr;       // ... in radix (OW, OH) ...
    int px[4], py[4], pn[4];  // ... as digits (ox, oy, n)

    __device__ WgradProblem(const float* x_, const float* dy_, const ConvG& g_, int m0, int n0) : x(x_), dy(dy_), g(g_) {
        K = g.N * g.OH * g.OW;
        co = m0 + (threadIdx.x & 63);
        const int j = n0 + (threadIdx.x & 63);
        if (j < g.KH * g.KW * g.Cin) {
            const int t = j / g.Cin;
            ci = j - t * g.Cin;
            ky = t / g.KW;
            kx = t - ky * g.KW;
        } else {
            ci = 0;
            ky = CONV_INVALID;
            kx = 0;
        }
    }

    __device__ void begin(int k0) {
        p0 = k0 + (threadIdx.x >> 6);
        pr.set(g.OW, g.OH);
#pragma unroll
        for (int e = 0; e < 4; e++) pr.split(p0 + 4 * e, px[e], py[e], pn[e]);
    }

    __device__ void advance() {
        p0 += GEMM_BK;
#pragma unroll
        for (int e = 0; e < 4; e++) pr.step(px[e], py[e], pn[e]);
    }

    __device__ void loadA(float (&r)[4]) const {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int p = p0 + 4 * e;
            r[e] = (p < K && co < g.Cout) ? dy[(long long)p * g.Cout + co] : 0.0f;
        }
    }

    __device__ void loadB(float (&r)[4]) const {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            float v = 0.0f;
            if (p0 + 4 * e < K) {
                const int iy = py[e] * g.S - g.P + ky, ix = px[e] * g.S - g.P + kx;
                if (iy >= 0 && iy < g.H && ix >= 0 && ix < g.W) {
                    v = x[(((long long)pn[e] * g.H + iy) * g.W + ix) * g.Cin + ci];
                }
            }
            r[e] = v;
        }
    }
};

__device__ __forceinline__ ConvG conv_geometry(int N, int H, int W, int Cin, int Cout, int KH, int KW, int S, int P,
                                               int OH, int OW) {
    ConvG g;
    g.N = N; g.H = H; g.W = W; g.Cin = Cin; g.Cout = Cout; g.KH = KH; g.KW = KW; g.S = S; g.P = P; g.OH = OH; g.OW = OW;
    return g;
}

#define CONV_PARAMS int N, int H, int W, int Cin, int Cout, int KH, int KW, int S, int P, int OH, int OW
#define CONV_ARGS N, H, W, Cin, Cout, KH, KW, S, P, OH, OW

// y = conv(x, w). Grid: ceil(N*OH*OW / 64) * ceil(Cout / 64) blocks of 256.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS)
conv2d_fprop_f32_f32_f32(const float* __restrict__ x, const float* __restrict__ w, float* __restrict__ y, CONV_PARAMS) {
    const ConvG g = conv_geometry(CONV_ARGS);
    const int M = N * OH * OW;
    const GemmTile t = gemm_tile(M, Cout);
    FpropProblem p(x, w, g, t.tm * GEMM_BM, t.tn * GEMM_BN);
    gemm_run(p, y, M, Cout, p.K, t, 1, 0, nullptr);
}

// dx = conv^T(dy, w). Grid: ceil(N*H*W / 64) * ceil(Cin / 64) blocks of 256.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS)
conv2d_dgrad_f32_f32_f32(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx, CONV_PARAMS) {
    const ConvG g = conv_geometry(CONV_ARGS);
    const int M = N * H * W;
    const GemmTile t = gemm_tile(M, Cin);
    DgradProblem p(dy, w, g, t.tm * GEMM_BM, t.tn * GEMM_BN);
    gemm_run(p, dx, M, Cin, p.K, t, 1, 0, nullptr);
}

// dw = sum over output pixels of dy x-patch. Grid: ceil(Cout / 64) * ceil(KH*KW*Cin / 64) * splits
// blocks of 256; with splits > 1, out is a [splits][Cout][KH*KW*Cin] partial buffer for
// conv2d_splitk_reduce_f32, each split covering kPerSplit output pixels (a multiple of 16).
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS)
conv2d_wgrad_f32_f32_f32(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ out, CONV_PARAMS,
                         int splits, int kPerSplit) {
    const ConvG g = conv_geometry(CONV_ARGS);
    const int patch = KH * KW * Cin;
    const GemmTile t = gemm_tile(Cout, patch);
    WgradProblem p(x, dy, g, t.tm * GEMM_BM, t.tn * GEMM_BN);
    gemm_run(p, out, Cout, patch, p.K, t, splits, kPerSplit, nullptr);
}

// out[i] = sum over s < splits of partial[s * mn + i], in split order.
extern "C" __global__ void conv2d_splitk_reduce_f32(const float* __restrict__ partial, float* __restrict__ out, long long mn,
                                                   int splits) {
    gemm_splitk_reduce(partial, out, mn, splits);
}
