// Softmax cross-entropy with the count of correct argmax predictions.
//
// Layout: logits and dlogits (n, classes) row-major fp32; labels n int32.
// Packing: none.
// Rounding: per sample in double, as the CPU backend: max and first argmax over the logits, log-sum-exp
// with the max subtracted, loss = logsumexp - logit[label], dlogits = (float)((softmax - onehot) *
// gradScale). exp and log are CUDA's double functions (within 1 ulp; Java's Math within 1 ulp too), so
// losses agree to about 1e-15 relative, not bit for bit. The batch sum adds the per-sample losses in a
// fixed tree order (one block), so it is reproducible. A label outside [0, classes) is reported (the
// first such sample) instead of read: its row of dlogits is zero and the host throws.
#include "wrpn.cuh"

#define LOSS_THREADS 256

// Per sample: loss[i], hit[i] (1 when the first argmax is the label), dlogits row i.
extern "C" __global__ void softmax_xent_f32(const float* __restrict__ logits, const int* __restrict__ labels,
                                            float* __restrict__ dlogits, int n, int classes, float gradScale,
                                            double* __restrict__ loss, int* __restrict__ hit) {
    for (long long i = wrpn_thread_index(); i < n; i += wrpn_thread_count()) {
        const float* z = logits + i * classes;
        float* dz = dlogits + i * classes;
        const int label = labels[i];
        if (label < 0 || label >= classes) {
            for (int j = 0; j < classes; j++) dz[j] = 0.0f;
            loss[i] = 0.0;
            hit[i] = -1;
            continue;
        }
        double mx = -INFINITY;
        int arg = 0;
        for (int j = 0; j < classes; j++) {
            if ((double)z[j] > mx) {
                mx = z[j];
                arg = j;
            }
        }
        double sum = 0.0;
        for (int j = 0; j < classes; j++) sum = __dadd_rn(sum, exp(__dsub_rn((double)z[j], mx)));
        const double logSum = __dadd_rn(log(sum), mx);
        loss[i] = __dsub_rn(logSum, (double)z[label]);
        hit[i] = arg == label ? 1 : 0;
        for (int j = 0; j < classes; j++) {
            const double p = exp(__dsub_rn((double)z[j], logSum));
            dz[j] = __double2float_rn(__dmul_rn(__dsub_rn(p, j == label ? 1.0 : 0.0), (double)gradScale));
        }
    }
}

struct LossTotals {
    double loss;
    int correct;
    int badLabel;  // first sample with a label out of range, or -1
};

// One block: out = {sum of loss, count of hits, first bad sample}. The sum is a fixed tree over the
// 256 threads' strided partial sums.
extern "C" __global__ void __launch_bounds__(LOSS_THREADS)
softmax_xent_total(const double* __restrict__ loss, const int* __restrict__ hit, int n, LossTotals* __restrict__ out) {
    __shared__ double sl[LOSS_THREADS];
    __shared__ int sc[LOSS_THREADS];
    __shared__ int sb[LOSS_THREADS];
    double l = 0.0;
    int c = 0, bad = n;
    for (int i = threadIdx.x; i < n; i += LOSS_THREADS) {
        l = __dadd_rn(l, loss[i]);
        if (hit[i] > 0) c++;
        if (hit[i] < 0 && i < bad) bad = i;
    }
    sl[threadIdx.x] = l;
    sc[threadIdx.x] = c;
    sb[threadIdx.x] = bad;
    __syncthreads();
    for (int s = LOSS_THREADS / 2; s > 0; s >>= 1) {
        if (threadIdx.x < s) {
            sl[threadIdx.x] = __dadd_rn(sl[threadIdx.x], sl[threadIdx.x + s]);
            sc[threadIdx.x] += sc[threadIdx.x + s];
            sb[threadIdx.x] = min(sb[threadIdx.x], sb[threadIdx.x + s]);
        }
        __syncthreads();
    }
    if (threadIdx.x == 0) {
        out->loss = sl[0];
        out->correct = sc[0];
        out->badLabel = sb[0] < n ? sb[0] : -1;
    }
}
