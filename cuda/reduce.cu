// Reductions over flat float arrays: sum, sum |x| (the binary weight scale mean|w|), sum of squares
// (gradient norms), max |x| (range checks).
//
// Layout: flat arrays of n floats, 16-byte aligned (each is its own allocation); the first n/4*4
// elements are read as float4.
// Packing: none.
// Order and rounding: two launches. Stage 1 runs a grid whose size the host derives from n alone
// (never from the device), each thread accumulates its grid-stride elements in a fixed order, then
// the block folds its 256 values in a fixed tree; stage 2 folds the per-block partials in one block
// the same way. So a result is reproducible run to run and card to card. Sums accumulate in double:
// products of two floats are exact in double, so FMA contraction cannot change a sum of squares.
// The mean for the binary scale is rounded to float once, (float)(sum / n), as in Quantizer.
// Non-finite: sum and sum of squares propagate NaN/Inf (IEEE); sum |x| skips NaN (Quantizer's
// binaryScale does); max |x| is NaN when any element is NaN.
#include "wrpn.cuh"

#define WRPN_REDUCE_THREADS 256

// max that propagates NaN from either side.
__device__ __forceinline__ float max_nan(float a, float b) {
    return (a > b || a != a) ? a : b;
}

template <typename T, typename Op>
__device__ __forceinline__ T block_fold(T v, Op op) {
    __shared__ T sh[WRPN_REDUCE_THREADS];
    sh[threadIdx.x] = v;
    __syncthreads();
    for (int s = WRPN_REDUCE_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) sh[threadIdx.x] = op(sh[threadIdx.x], sh[threadIdx.x + s]);
        __syncthreads();
    }
    return sh[0];
}

struct AddD {
    __device__ double operator()(double a, double b) const { return a + b; }
};
struct MaxNan {
    __device__ float operator()(float a, float b) const { return max_nan(a, b); }
};

// Stage 1 of the double sums; MODE 0: x, 1: |x| with NaN skipped, 2: x*x.
template <int MODE>
__device__ __forceinline__ double term(float v) {
    if (MODE == 0) return (double)v;
    if (MODE == 1) return v == v ? (double)fabsf(v) : 0.0;
    return (double)v * (double)v;
}

template <int MODE>
__device__ __forceinline__ void sum_stage1(const float* __restrict__ x, long long n, double* __restrict__ partial) {
    double acc = 0.0;
    const long long n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (long long i = wrpn_thread_index(); i < n4; i += wrpn_thread_count()) {
        float4 v = x4[i];
        acc += term<MODE>(v.x);
        acc += term<MODE>(v.y);
        acc += term<MODE>(v.z);
        acc += term<MODE>(v.w);
    }
    for (long long i = (n4 << 2) + wrpn_thread_index(); i < n; i += wrpn_thread_count()) acc += term<MODE>(x[i]);
    double total = block_fold(acc, AddD());
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

extern "C" __global__ void __launch_bounds__(WRPN_REDUCE_THREADS)
reduce_sum_f32_f64(const float* __restrict__ x, long long n, double* __restrict__ partial) {
    sum_stage1<0>(x, n, partial);
}

extern "C" __global__ void __launch_bounds__(WRPN_REDUCE_THREADS)
reduce_sum_abs_f32_f64(const float* __restrict__ x, long long n, double* __restrict__ partial) {
    sum_stage1<1>(x, n, partial);
}

extern "C" __global__ void __launch_bounds__(WRPN_REDUCE_THREADS)
reduce_sum_squares_f32_f64(const float* __restrict__ x, long long n, double* __restrict__ partial) {
    sum_stage1<2>(x, n, partial);
}

extern "C" __global__ void __launch_bounds__(WRPN_REDUCE_THREADS)
reduce_max_abs_f32(const float* __restrict__ x, long long n, float* __restrict__ partial) {
    float acc = 0.0f;
    const long long n4 = n >> 2;
    const float4* x4 = reinterpret_cast<const float4*>(x);
    for (long long i = wrpn_thread_index(); i < n4; i += wrpn_thread_count()) {
        float4 v = x4[i];
        acc = max_nan(max_nan(acc, fabsf(v.x)), max_nan(fabsf(v.y), max_nan(fabsf(v.z), fabsf(v.w))));
    }
    for (long long i = (n4 << 2) + wrpn_thread_index(); i < n; i += wrpn_thread_count()) acc = max_nan(acc, fabsf(x[i]));
    float total = block_fold(acc, MaxNan());
    if (threadIdx.x == 0) partial[blockIdx.x] = total;
}

// Stage 2: one block folds the count partials. out[0] = sum; when mean != null it also gets
// (float)(sum / n).
extern "C" __global__ void __launch_bounds__(WRPN_REDUCE_THREADS)
reduce_final_f64(const double* __restrict__ partial, int count, double* __restrict__ out, float* __restrict__ mean,
                 long long n) {
    double acc = 0.0;
    for (int i = threadIdx.x; i < count; i += WRPN_REDUCE_THREADS) acc += partial[i];
    double total = block_fold(acc, AddD());
    if (threadIdx.x == 0) {
        out[0] = total;
        if (mean != nullptr) mean[0] = n == 0 ? 0.0f : __double2float_rn(__ddiv_rn(total, (double)n));
    }
}

extern "C" __global__ void __launch_bounds__(WRPN_REDUCE_THREADS)
reduce_final_max_f32(const float* __restrict__ partial, int count, float* __restrict__ out) {
    float acc = 0.0f;
    for (int i = threadIdx.x; i < count; i += WRPN_REDUCE_THREADS) acc = max_nan(acc, partial[i]);
    float total = block_fold(acc, MaxNan());
    if (threadIdx.x == 0) out[0] = total;
}
