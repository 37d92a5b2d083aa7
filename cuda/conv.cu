// 2-D convolution on fp32 tensors: forward, backward data (dgrad) and backward filter (wgrad), as
// implicit GEMMs on the tiled SIMT core of gemm.cuh: the full-precision layers. Quantized layers read
// their codes directly (qconv.cu); the gathers both use live in conv.cuh.
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
#include "conv.cuh"

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
    DgradProblem<WeightF32> p(dy, WeightF32{w}, g, t.tm * GEMM_BM, t.tn * GEMM_BN);
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
    WgradProblem<ActF32> p(ActF32{x, Cin}, dy, g, t.tm * GEMM_BM, t.tn * GEMM_BN);
    gemm_run(p, out, Cout, patch, p.K, t, splits, kPerSplit, nullptr);
}

// out[i] = sum over s < splits of partial[s * mn + i], in split order.
extern "C" __global__ void conv2d_splitk_reduce_f32(const float* __restrict__ partial, float* __restrict__ out, long long mn,
                                                   int splits) {
    gemm_splitk_reduce(partial, out, mn, splits);
}
