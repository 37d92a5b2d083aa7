// The tiled SIMT fp32 GEMM core shared by the convolution and linear kernels (conv.cu, linear.cu):
// C[M][N] = sum over k of A[m][k] * B[k][n], where A and B are never materialised: a "problem"
// struct gathers their elements straight from the tensors (implicit GEMM: an im2col that exists only
// in registers and shared memory), with zeros for padding and for the ragged edges of every tile.
//
// Tiles: a 256-thread block computes a 64 x 64 tile of C over k-slices of 16; each thread owns a
// 4 x 4 register tile (rows ty*4.., columns tx*4.., ty = tid / 16, tx = tid % 16). Per k-slice every
// thread gathers 4 elements of A and 4 of B into registers, stores them to shared memory, and the
// block multiplies the two 16-deep slices; the next slice's global loads are issued before the
// multiply (register prefetch), so they are in flight while it runs.
// Gather order: a problem says, for A and for B, which index runs fastest across consecutive threads
// (K_FAST: k, else m resp. n), chosen so that consecutive threads read consecutive addresses of the
// tensor (channels-last: the channel index).
// Accumulation: fp32 FMA in k order within a block. Split-K (wgrad) gives each of `splits` blocks a
// contiguous k-range (a multiple of 16) and writes per-split partial tiles that a second kernel sums
// in split order: no atomics, so every result is reproducible run to run.
#pragma once
#include "wrpn.cuh"

#define GEMM_BM 64
#define GEMM_BN 64
#define GEMM_BK 16
#define GEMM_THREADS 256
// Resident blocks per multiprocessor the GEMM kernels are designed for: 3 blocks of 8 warps (24 warps,
// 3 x 8.7 KB of shared memory), which caps registers at 65536 / (3 x 256) -> 80 a thread (allocated in
// steps of 8). __launch_bounds__ passes it to the compiler; PtxStaticChecksTest checks the result.
#define GEMM_MIN_BLOCKS 3

struct GemmTile {
    int tm, tn, split;
};

// Block index -> (tile row, tile column, split): columns fastest.
__device__ __forceinline__ GemmTile gemm_tile(int M, int N) {
    const int tilesN = (N + GEMM_BN - 1) / GEMM_BN;
    const int tilesM = (M + GEMM_BM - 1) / GEMM_BM;
    GemmTile t;
    t.tn = blockIdx.x % tilesN;
    t.tm = (blockIdx.x / tilesN) % tilesM;
    t.split = blockIdx.x / (tilesN * tilesM);
    return t;
}

// Multiplies k in [kBegin, kEnd) (kBegin a multiple of GEMM_BK) into acc. The problem P provides
//   static constexpr bool A_K_FAST, B_K_FAST;
//   void begin(int kBegin);            // position the gathers at the slice starting at kBegin
//   void loadA(float (&r)[4]) const;   // the 4 A elements this thread gathers for the current slice
//   void loadB(float (&r)[4]) const;
//   void advance();                    // to the next slice (k0 += GEMM_BK)
// so that a gather keeps its index digits (channel, tap, pixel) and steps them by GEMM_BK with adds
// and carries instead of dividing per slice (begin divides once).
// Element e of a thread (e = 0..3) is A[m][k] with, for K_FAST, k = k0 + tid % 16 and
// m = m0 + tid / 16 + 16 e; otherwise m = m0 + tid % 64 and k = k0 + tid / 64 + 4 e. Same for B with n.
template <class P>
__device__ __forceinline__ void gemm_mainloop(P& p, int kBegin, int kEnd, float (&acc)[4][4]) {
    __shared__ __align__(16) float As[GEMM_BK][GEMM_BM + 4];
    __shared__ __align__(16) float Bs[GEMM_BK][GEMM_BN + 4];
    const int tid = threadIdx.x;
    const int ty = tid >> 4, tx = tid & 15;
    float ra[4], rb[4];
    p.begin(kBegin);
    if (kBegin < kEnd) {
        p.loadA(ra);
        p.loadB(rb);
    }
    for (int k0 = kBegin; k0 < kEnd; k0 += GEMM_BK) {
#pragma unroll
        for (int e = 0; e < 4; e++) {
            if (P::A_K_FAST) As[tid & 15][(tid >> 4) + 16 * e] = ra[e];
            else As[(tid >> 6) + 4 * e][tid & 63] = ra[e];
            if (P::B_K_FAST) Bs[tid & 15][(tid >> 4) + 16 * e] = rb[e];
            else Bs[(tid >> 6) + 4 * e][tid & 63] = rb[e];
        }
        __syncthreads();
        if (k0 + GEMM_BK < kEnd) {
            p.advance();
            p.loadA(ra);
            p.loadB(rb);
        }
#pragma unroll
        for (int kk = 0; kk < GEMM_BK; kk++) {
            const float4 a = *reinterpret_cast<const float4*>(&As[kk][ty * 4]);
            const float4 b = *reinterpret_cast<const float4*>(&Bs[kk][tx * 4]);
            const float av[4] = {a.x, a.y, a.z, a.w};
            const float bv[4] = {b.x, b.y, b.z, b.w};
#pragma unroll
            for (int i = 0; i < 4; i++) {
#pragma unroll
                for (int j = 0; j < 4; j++) acc[i][j] = fmaf(av[i], bv[j], acc[i][j]);
            }
        }
        __syncthreads();
    }
}

// Index digits stepped by GEMM_BK: a radix holds the bases and the digits of the step itself, so
// one add and one compare per digit replace a division per slice (a digit plus the step's digit plus
// a carry stays below twice its base). One radix serves all of a thread's gathers that share it: only
// the digits are per element (registers: see PtxStaticChecksTest).
//   Radix2: k = hi * b0 + lo.   Radix3: k = (x2 * b1 + x1) * b0 + x0, x2 unbounded.
struct GemmRadix2 {
    int b0, s0, s1;
    __device__ __forceinline__ void set(int b) {
        b0 = b;
        s1 = GEMM_BK / b;
        s0 = GEMM_BK - s1 * b;
    }
    __device__ __forceinline__ void split(int k, int& lo, int& hi) const {
        hi = k / b0;
        lo = k - hi * b0;
    }
    __device__ __forceinline__ void step(int& lo, int& hi) const {
        lo += s0;
        const int c = lo >= b0;
        if (c) lo -= b0;
        hi += s1 + c;
    }
};

struct GemmRadix3 {
    int b0, b1, s0, s1, s2;
    __device__ __forceinline__ void set(int b0_, int b1_) {
        b0 = b0_;
        b1 = b1_;
        split(GEMM_BK, s0, s1, s2);
    }
    __device__ __forceinline__ void split(int k, int& x0, int& x1, int& x2) const {
        const int q = k / b0;
        x0 = k - q * b0;
        x2 = q / b1;
        x1 = q - x2 * b1;
    }
    __device__ __forceinline__ void step(int& x0, int& x1, int& x2) const {
        x0 += s0;
        int c = x0 >= b0;
        if (c) x0 -= b0;
        x1 += s1 + c;
        c = x1 >= b1;
        if (c) x1 -= b1;
        x2 += s2 + c;
    }
};

// Writes the thread's 4 x 4 tile to out (row-major M x N), adding bias[n] when bias != null.
__device__ __forceinline__ void gemm_store(float* __restrict__ out, int M, int N, int m0, int n0, const float (&acc)[4][4],
                                           const float* __restrict__ bias) {
    const int ty = threadIdx.x >> 4, tx = threadIdx.x & 15;
#pragma unroll
    for (int i = 0; i < 4; i++) {
        const int m = m0 + ty * 4 + i;
        if (m >= M) continue;
#pragma unroll
        for (int j = 0; j < 4; j++) {
            const int n = n0 + tx * 4 + j;
            if (n < N) out[(long long)m * N + n] = bias != nullptr ? __fadd_rn(acc[i][j], bias[n]) : acc[i][j];
        }
    }
}

// The whole GEMM of one block: tile (tm, tn) of C, split `split` of `splits` (kPerSplit elements of k
// each, a multiple of GEMM_BK). With splits > 1, out is the partial buffer [splits][M][N].
template <class P>
__device__ __forceinline__ void gemm_run(P& p, float* __restrict__ out, int M, int N, int K, const GemmTile& t,
                                         int splits, int kPerSplit, const float* __restrict__ bias) {
    float acc[4][4];
#pragma unroll
    for (int i = 0; i < 4; i++) {
#pragma unroll
        for (int j = 0; j < 4; j++) acc[i][j] = 0.0f;
    }
    const int kBegin = splits > 1 ? t.split * kPerSplit : 0;
    const int kEnd = splits > 1 ? min(K, kBegin + kPerSplit) : K;
    gemm_mainloop(p, kBegin, kEnd, acc);
    float* dst = splits > 1 ? out + (long long)t.split * M * N : out;
    gemm_store(dst, M, N, t.tm * GEMM_BM, t.tn * GEMM_BN, acc, bias);
}

// out[i] = sum over s of partial[s][i], in split order.
__device__ __forceinline__ void gemm_splitk_reduce(const float* __restrict__ partial, float* __restrict__ out,
                                                   long long mn, int splits) {
    for (long long i = wrpn_thread_index(); i < mn; i += wrpn_thread_count()) {
        float s = partial[i];
        for (int k = 1; k < splits; k++) s = __fadd_rn(s, partial[(long long)k * mn + i]);
        out[i] = s;
    }
}
