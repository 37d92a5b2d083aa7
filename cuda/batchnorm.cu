// Batch norm over the channel (last) dimension of a (rows, C) fp32 tensor: training statistics,
// the normalisation itself, inference with running statistics, and the backward pass.
//
// Layout: channels-last, rows = N*H*W pixels (or N samples after a linear layer) by C channels.
// Packing: none.
// Indexing: the element-wise kernels step each thread's channel along its grid-stride loop
// (wrpn_digits) instead of a 64-bit i % C per element.
// Reductions: per-channel sums in double, as the CPU backend does them. Stage 1 splits the rows into
// `chunks` contiguous ranges (the host derives the count from the row count alone) and each block
// takes 32 channels of one range: lane = channel, warp w sums rows w, w+8, w+16, ... in order, and
// the 8 warp sums are added in warp order. Stage 2 adds the chunk partials in chunk order, one thread
// per channel. Deterministic, and independent of the device.
// Rounding: every float and double operation is an explicit _rn intrinsic, evaluated in the order of
// CpuBackend's Java expressions, so that nothing is contracted into an FMA:
//   train/apply:  y = (x - mean) * (invStd * gamma) + beta            (float; the same kernel recomputes it)
//   statistics:   mean = sum / m, var = sum (x - mean)^2 / m (double), invStd = (float)(1 / sqrt(var + eps)),
//                 run = (float)((float)((1 - momentum) * run) + (double)momentum * batch), batch variance unbiased
//   inference:    scale = (float)(gamma / sqrt(runVar + eps)), shift = (float)(beta - gamma / sqrt(..) * runMean),
//                 y = x * scale + shift (float)
//   backward:     xhat = (double)(x - mean) * invStd; sums of dy and dy * xhat in double; then, in float,
//                 dx = k * ((dy - mean(dy)) - xhat * mean(dy * xhat)), k = gamma * invStd, xhat = (x - mean) * invStd.
//                 (CpuBackend folds this into dx = a dy - b x + c, which cancels catastrophically when a
//                 channel's values are close together and invStd is large: |b x| >> |dx|.)
#include "wrpn.cuh"

#define BN_THREADS 256

// Adds the 8 warps' values of each lane in warp order; lane results are valid in warp 0.
__device__ __forceinline__ double bn_fold_warps(double v) {
    __shared__ double sh[BN_THREADS];
    sh[threadIdx.x] = v;
    __syncthreads();
    double s = 0.0;
    if (threadIdx.x < 32) {
        s = sh[threadIdx.x];
        for (int w = 1; w < BN_THREADS / 32; w++) s = __dadd_rn(s, sh[threadIdx.x + 32 * w]);
    }
    __syncthreads();
    return s;
}

// The block's channel and row range. Grid: chunks * ceil(C / 32) blocks, channel groups fastest.
struct BnSlice {
    int c;              // channel of this lane
    long long r0, r1;   // rows [r0, r1) of this block's chunk
    int chunk;
};

__device__ __forceinline__ BnSlice bn_slice(long long rows, int C, int chunks) {
    const int groups = (C + 31) >> 5;
    BnSlice s;
    s.chunk = blockIdx.x / groups;
    s.c = (blockIdx.x - s.chunk * groups) * 32 + (threadIdx.x & 31);
    const long long per = (rows + chunks - 1) / chunks;
    s.r0 = s.chunk * per;
    s.r1 = min(rows, s.r0 + per);
    return s;
}

// MODE 0: partial[chunk][c] = sum x. MODE 1: sum (x - mean[c])^2 with the double mean of stage 2.
template <int MODE>
__device__ __forceinline__ void bn_partial(const float* __restrict__ x, const double* __restrict__ mean, long long rows,
                                           int C, int chunks, double* __restrict__ partial) {
    const BnSlice s = bn_slice(rows, C, chunks);
    double acc = 0.0;
    if (s.c < C) {
        const double m = MODE == 1 ? mean[s.c] : 0.0;
        for (long long r = s.r0 + (threadIdx.x >> 5); r < s.r1; r += BN_THREADS / 32) {
            const double v = (double)x[r * C + s.c];
            if (MODE == 0) {
                acc = __dadd_rn(acc, v);
            } else {
                const double d = __dsub_rn(v, m);
                acc = __dadd_rn(acc, __dmul_rn(d, d));
            }
        }
    }
    const double total = bn_fold_warps(acc);
    if (threadIdx.x < 32 && s.c < C) partial[(long long)s.chunk * C + s.c] = total;
}

extern "C" __global__ void __launch_bounds__(BN_THREADS)
bn_partial_sum_f32_f64(const float* __restrict__ x, long long rows, int C, int chunks, double* __restrict__ partial) {
    bn_partial<0>(x, nullptr, rows, C, chunks, partial);
}

extern "C" __global__ void __launch_bounds__(BN_THREADS)
bn_partial_sqdev_f32_f64(const float* __restrict__ x, const double* __restrict__ mean, long long rows, int C, int chunks,
                         double* __restrict__ partial) {
    bn_partial<1>(x, mean, rows, C, chunks, partial);
}

__device__ __forceinline__ double bn_chunk_sum(const double* __restrict__ partial, int c, int C, int chunks) {
    double s = 0.0;
    for (int k = 0; k < chunks; k++) s = __dadd_rn(s, partial[(long long)k * C + c]);
    return s;
}

// mean[c] = (sum of the chunk partials) / rows, in double. One thread per channel.
extern "C" __global__ void bn_mean_f64(const double* __restrict__ partial, long long rows, int C, int chunks,
                                       double* __restrict__ mean) {
    for (long long c = wrpn_thread_index(); c < C; c += wrpn_thread_count()) {
        mean[c] = __ddiv_rn(bn_chunk_sum(partial, (int)c, C, chunks), (double)rows);
    }
}

// Saved statistics and running-statistics update from the squared-deviation partials.
extern "C" __global__ void bn_train_stats_f32(const double* __restrict__ partial, const double* __restrict__ mean,
                                              long long rows, int C, int chunks, float* __restrict__ saveMean,
                                              float* __restrict__ saveInvStd, float* __restrict__ runMean,
                                              float* __restrict__ runVar, float momentum, float eps) {
    for (long long i = wrpn_thread_index(); i < C; i += wrpn_thread_count()) {
        const int c = (int)i;
        const double sumSq = bn_chunk_sum(partial, c, C, chunks);
        const double var = __ddiv_rn(sumSq, (double)rows);
        const double m = mean[c];
        saveMean[c] = __double2float_rn(m);
        saveInvStd[c] = __double2float_rn(__ddiv_rn(1.0, __dsqrt_rn(__dadd_rn(var, (double)eps))));
        const double unbiased = rows > 1 ? __ddiv_rn(sumSq, (double)(rows - 1)) : var;
        const float keep = __fsub_rn(1.0f, momentum);
        runMean[c] = __double2float_rn(__dadd_rn((double)__fmul_rn(keep, runMean[c]), __dmul_rn((double)momentum, m)));
        runVar[c] = __double2float_rn(__dadd_rn((double)__fmul_rn(keep, runVar[c]), __dmul_rn((double)momentum, unbiased)));
    }
}

// y = (x - mean[c]) * (invStd[c] * gamma[c]) + beta[c]: the training forward and its recomputation.
extern "C" __global__ void bn_apply_f32(const float* __restrict__ x, const float* __restrict__ gamma,
                                        const float* __restrict__ beta, const float* __restrict__ mean,
                                        const float* __restrict__ invStd, float* __restrict__ y, long long n, int C) {
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C);  // at.x0: the channel of i
    for (long long i = wrpn_thread_index(); i < n; i += wrpn_thread_count(), at.step()) {
        const int c = at.x0;
        const float scale = __fmul_rn(invStd[c], gamma[c]);
        y[i] = __fadd_rn(__fmul_rn(__fsub_rn(x[i], mean[c]), scale), beta[c]);
    }
}

// Per channel: coef[c] = scale, coef[C + c] = shift for inference with running statistics.
extern "C" __global__ void bn_inference_coef_f32(const float* __restrict__ gamma, const float* __restrict__ beta,
                                                 const float* __restrict__ runMean, const float* __restrict__ runVar,
                                                 float eps, int C, float* __restrict__ coef) {
    for (long long i = wrpn_thread_index(); i < C; i += wrpn_thread_count()) {
        const int c = (int)i;
        const double inv = __ddiv_rn(1.0, __dsqrt_rn(__dadd_rn((double)runVar[c], (double)eps)));
        const double gi = __dmul_rn((double)gamma[c], inv);
        coef[c] = __double2float_rn(gi);
        coef[C + c] = __double2float_rn(__dsub_rn((double)beta[c], __dmul_rn(gi, (double)runMean[c])));
    }
}

// y = x * coef[c] + coef[C + c] (float, not fused).
extern "C" __global__ void bn_scale_shift_f32(const float* __restrict__ x, const float* __restrict__ coef,
                                              float* __restrict__ y, long long n, int C) {
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C);
    for (long long i = wrpn_thread_index(); i < n; i += wrpn_thread_count(), at.step()) {
        const int c = at.x0;
        y[i] = __fadd_rn(__fmul_rn(x[i], coef[c]), coef[C + c]);
    }
}

// Backward stage 1: partial[chunk][c] = sum dy, partial[chunks + chunk][c] = sum dy * xhat.
extern "C" __global__ void __launch_bounds__(BN_THREADS)
bn_partial_bwd_f32_f64(const float* __restrict__ x, const float* __restrict__ dy, const float* __restrict__ mean,
                       const float* __restrict__ invStd, long long rows, int C, int chunks, double* __restrict__ partial) {
    const BnSlice s = bn_slice(rows, C, chunks);
    double sdy = 0.0, sdyx = 0.0;
    if (s.c < C) {
        const float m = mean[s.c];
        const double inv = (double)invStd[s.c];
        for (long long r = s.r0 + (threadIdx.x >> 5); r < s.r1; r += BN_THREADS / 32) {
            const long long k = r * C + s.c;
            const double xhat = __dmul_rn((double)__fsub_rn(x[k], m), inv);
            const double g = (double)dy[k];
            sdy = __dadd_rn(sdy, g);
            sdyx = __dadd_rn(sdyx, __dmul_rn(g, xhat));
        }
    }
    const double t0 = bn_fold_warps(sdy);
    const double t1 = bn_fold_warps(sdyx);
    if (threadIdx.x < 32 && s.c < C) {
        partial[(long long)s.chunk * C + s.c] = t0;
        partial[(long long)(chunks + s.chunk) * C + s.c] = t1;
    }
}

// Backward stage 2, per channel: dgamma, dbeta and coef[c], coef[C + c], coef[2C + c] = k, mean(dy),
// mean(dy * xhat) of dx = k * ((dy - mean(dy)) - xhat * mean(dy * xhat)).
extern "C" __global__ void bn_bwd_coef_f32(const double* __restrict__ partial, const float* __restrict__ gamma,
                                           const float* __restrict__ invStd, long long rows, int C, int chunks,
                                           float* __restrict__ dgamma, float* __restrict__ dbeta, float* __restrict__ coef) {
    for (long long i = wrpn_thread_index(); i < C; i += wrpn_thread_count()) {
        const int c = (int)i;
        const double sumDy = bn_chunk_sum(partial, c, C, chunks);
        const double sumDyXhat = bn_chunk_sum(partial + (long long)chunks * C, c, C, chunks);
        dgamma[c] = __double2float_rn(sumDyXhat);
        dbeta[c] = __double2float_rn(sumDy);
        coef[c] = __double2float_rn(__dmul_rn((double)gamma[c], (double)invStd[c]));
        coef[C + c] = __double2float_rn(__ddiv_rn(sumDy, (double)rows));
        coef[2 * C + c] = __double2float_rn(__ddiv_rn(sumDyXhat, (double)rows));
    }
}

// bn_bwd_coef_f32's coefficients from sums already made (a batch reduced chunk by chunk): the same
// double steps on the float sums.
extern "C" __global__ void bn_bwd_coef_sums_f32(const float* __restrict__ dgamma, const float* __restrict__ dbeta,
                                                const float* __restrict__ gamma, const float* __restrict__ invStd,
                                                long long rows, int C, float* __restrict__ coef) {
    for (long long i = wrpn_thread_index(); i < C; i += wrpn_thread_count()) {
        const int c = (int)i;
        coef[c] = __double2float_rn(__dmul_rn((double)gamma[c], (double)invStd[c]));
        coef[C + c] = __double2float_rn(__ddiv_rn((double)dbeta[c], (double)rows));
        coef[2 * C + c] = __double2float_rn(__ddiv_rn((double)dgamma[c], (double)rows));
    }
}

// dx = k * ((dy - mean(dy)) - xhat * mean(dy * xhat)), xhat = (x - mean) * invStd; float, left to right,
// never fused. dx may be x or dy (no __restrict__ on them): each element is read before it is written,
// and the statistics it needs were reduced by the kernels before this one.
extern "C" __global__ void bn_bwd_apply_f32(const float* x, const float* dy, const float* __restrict__ mean,
                                            const float* __restrict__ invStd, const float* __restrict__ coef, float* dx,
                                            long long n, int C) {
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C);
    for (long long i = wrpn_thread_index(); i < n; i += wrpn_thread_count(), at.step()) {
        const int c = at.x0;
        const float xhat = __fmul_rn(__fsub_rn(x[i], mean[c]), invStd[c]);
        const float inner = __fsub_rn(__fsub_rn(dy[i], coef[C + c]), __fmul_rn(xhat, coef[2 * C + c]));
        dx[i] = __fmul_rn(coef[c], inner);
    }
}
