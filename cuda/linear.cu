// Fully connected layers on fp32: y = x w^T + b, and its gradients, on the GEMM core of gemm.cuh.
//
// Layout: x (n, in) row-major, w (out, in), b (out), y (n, out). A layer's input of shape (n, ...)
// is flat per sample in its channels-last order.
// Packing: none.
// Rounding: fp32 FMA accumulation in a fixed order per output; the bias is one float add after the
// whole sum (as the CPU backend adds it after its GEMM). The bias gradient sums each column of dy
// in double, rows in order, rounded to float once: bit for bit the CPU backend's.
//
//   fprop:  y  (n x out) = x (n x in) . w^T       A = x  (k = in fastest),   B[k][o] = w[o][k] (k fastest)
//   dgrad:  dx (n x in)  = dy (n x out) . w        A = dy (k = out fastest),  B[o][i] = w[o][i] (i fastest)
//   wgrad:  dw (out x in) = dy^T . x               A[o][r] = dy[r][o] (o fastest), B = x (i fastest)
#include "gemm.cuh"

// A[m][k] = a[m * am + k * ak], B[k][n] = b[k * bk + n * bn]; K_FAST as in gemm.cuh.
template <bool AK, bool BK>
struct MatrixProblem {
    static constexpr bool A_K_FAST = AK;
    static constexpr bool B_K_FAST = BK;
    const float* __restrict__ a;
    const float* __restrict__ b;
    int M, N, K;
    long long am, ak, bk, bn;
    int m0, n0;
    int k0;  // the current slice

    __device__ void begin(int k) { k0 = k; }
    __device__ void advance() { k0 += GEMM_BK; }

    __device__ void loadA(float (&r)[4]) const {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int m = m0 + (AK ? (threadIdx.x >> 4) + 16 * e : (threadIdx.x & 63));
            const int k = k0 + (AK ? (threadIdx.x & 15) : (threadIdx.x >> 6) + 4 * e);
            r[e] = (m < M && k < K) ? a[m * am + k * ak] : 0.0f;
        }
    }

    __device__ void loadB(float (&r)[4]) const {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            const int n = n0 + (BK ? (threadIdx.x >> 4) + 16 * e : (threadIdx.x & 63));
            const int k = k0 + (BK ? (threadIdx.x & 15) : (threadIdx.x >> 6) + 4 * e);
            r[e] = (n < N && k < K) ? b[k * bk + n * bn] : 0.0f;
        }
    }
};

template <bool AK, bool BK>
__device__ __forceinline__ void matmul(const float* a, long long am, long long ak, const float* b, long long bk, long long bn,
                                       float* out, int M, int N, int K, const float* bias) {
    const GemmTile t = gemm_tile(M, N);
    MatrixProblem<AK, BK> p;
    p.a = a; p.b = b; p.M = M; p.N = N; p.K = K; p.am = am; p.ak = ak; p.bk = bk; p.bn = bn;
    p.m0 = t.tm * GEMM_BM;
    p.n0 = t.tn * GEMM_BN;
    gemm_run(p, out, M, N, K, t, 1, 0, bias);
}

// y = x w^T (+ b when b != null). Grid: ceil(n / 64) * ceil(out / 64) blocks of 256.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS)
linear_fprop_f32_f32_f32(const float* __restrict__ x, const float* __restrict__ w, const float* __restrict__ b,
                         float* __restrict__ y, int n, int in, int out) {
    matmul<true, true>(x, in, 1, w, 1, in, y, n, out, in, b);
}

// dx = dy w. Grid: ceil(n / 64) * ceil(in / 64) blocks of 256.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS)
linear_dgrad_f32_f32_f32(const float* __restrict__ dy, const float* __restrict__ w, float* __restrict__ dx, int n, int in,
                         int out) {
    matmul<true, false>(dy, out, 1, w, in, 1, dx, n, in, out, nullptr);
}

// dw = dy^T x. Grid: ceil(out / 64) * ceil(in / 64) blocks of 256.
extern "C" __global__ void __launch_bounds__(GEMM_THREADS, GEMM_MIN_BLOCKS)
linear_wgrad_f32_f32_f32(const float* __restrict__ x, const float* __restrict__ dy, float* __restrict__ dw, int n, int in,
                         int out) {
    matmul<false, false>(dy, 1, out, x, in, 1, dw, out, in, n, nullptr);
}

// db[o] = sum over rows r of dy[r][o], in double, in row order. One thread per column.
extern "C" __global__ void linear_bias_grad_f32_f64(const float* __restrict__ dy, float* __restrict__ db, int n, int out) {
    for (long long o = wrpn_thread_index(); o < out; o += wrpn_thread_count()) {
        double s = 0.0;
        for (int r = 0; r < n; r++) s = __dadd_rn(s, (double)dy[(long long)r * out + o]);
        db[o] = __double2float_rn(s);
    }
}
