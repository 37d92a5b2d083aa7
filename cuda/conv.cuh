// Implicit-GEMM convolution problems shared by the fp32 kernels (conv.cu) and the quantized ones
// (qconv.cu): the geometry, the operand loaders, and the dgrad / wgrad gathers on gemm.cuh's core.
// Layouts and the three GEMMs: see conv.cu.
#pragma once
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


// Operand loaders: how a problem reads one activation element (pixel, channel) or one weight (flat
// index), so that one gather serves fp32 values, packed k-bit codes and int8 weight codes. A channel
// is resolved once (channel()) and reused for every pixel the thread reads at that channel.
struct ActF32 {
    const float* p;
    int C;
    struct Ch {
        int c;
    };
    __device__ __forceinline__ Ch channel(int c) const { return Ch{c}; }
    __device__ __forceinline__ float load(long long pixel, Ch ch) const { return p[pixel * C + ch.c]; }
};

// Packed codes (DESIGN.md "The packed layout"): channel c in word c >> lg (lg = log2(32/k)) at bit
// (c & (32/k - 1)) * k of its pixel's wpp words. load gives the code u, not its value u / (2^k - 1).
struct ActPacked {
    const uint32_t* p;
    int wpp, k, lg;
    struct Ch {
        int word, shift;
    };
    __device__ __forceinline__ ActPacked(const uint32_t* p_, int C, int k_) : p(p_), k(k_) {
        wpp = (C * k + 31) >> 5;
        lg = k == 1 ? 5 : k == 2 ? 4 : k == 4 ? 3 : 2;
    }
    __device__ __forceinline__ Ch channel(int c) const { return Ch{c >> lg, (c & ((1 << lg) - 1)) * k}; }
    __device__ __forceinline__ uint32_t load(long long pixel, Ch ch) const {
        return (p[pixel * wpp + ch.word] >> ch.shift) & ((1u << k) - 1u);
    }
};

struct WeightF32 {
    const float* p;
    __device__ __forceinline__ float load(long long i) const { return p[i]; }
};

struct WeightS8 {
    const int8_t* p;
    __device__ __forceinline__ int load(long long i) const { return p[i]; }
};

// dgrad: A = dy gathered through the window (k' fastest: consecutive output channels), B = w
// (n fastest: consecutive input channels).
template <class WL>
struct DgradProblem {
    static constexpr bool A_K_FAST = true;
    static constexpr bool B_K_FAST = false;
    const float* __restrict__ dy;
    WL w;
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

    __device__ DgradProblem(const float* dy_, WL w_, const ConvG& g_, int m0, int n0) : dy(dy_), w(w_), g(g_) {
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
            r[e] = (kb + 4 * e < K && ci < g.Cin) ? (float)w.load(((long long)bco[e] * (g.KH * g.KW) + btap[e]) * g.Cin + ci) : 0.0f;
        }
    }
};

// wgrad: A = dy transposed (m = output channel fastest), B = x patches (n = patch index fastest).
template <class XL>
struct WgradProblem {
    static constexpr bool A_K_FAST = false;
    static constexpr bool B_K_FAST = false;
    XL x;
    const float* __restrict__ dy;
    ConvG g;
    int K;  // output pixels N * OH * OW
    int co;
    int ky, kx;  // this thread's patch column (ky = CONV_INVALID past the last) ...
    typename XL::Ch ci;  // ... and its channel
    int p0;              // A and B: output pixel k0 + tid / 64 (+ 4 e) ...
    GemmRadix3 pr;       // ... in radix (OW, OH) ...
    int px[4], py[4], pn[4];  // ... as digits (ox, oy, n)

    __device__ WgradProblem(XL x_, const float* dy_, const ConvG& g_, int m0, int n0) : x(x_), dy(dy_), g(g_) {
        K = g.N * g.OH * g.OW;
        co = m0 + (threadIdx.x & 63);
        const int j = n0 + (threadIdx.x & 63);
        if (j < g.KH * g.KW * g.Cin) {
            const int t = j / g.Cin;
            ci = x.channel(j - t * g.Cin);
            ky = t / g.KW;
            kx = t - ky * g.KW;
        } else {
            ci = x.channel(0);
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
                    v = (float)x.load(((long long)pn[e] * g.H + iy) * g.W + ix, ci);
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

