// Max pooling (square window, stride, zero padding that never wins) and global average pooling, on
// fp32 channels-last tensors, forward and backward.
//
// Layout: x (N, H, W, C), y (N, OH, OW, C); argmax (I32, same shape as y) holds the flat index into x
// of each output's winner. Global average pooling maps (N, H, W, C) to (N, C).
// Packing: none (the layer packs pooled codes with quantize_act_pack_u*).
// Rounding and order, bit for bit the CPU backend's:
//   max pool: window cells in row-major order, the first maximum wins (strict >), NaN never replaces
//             a value (it wins only as the first cell); backward is a gather: each input element adds
//             up, in output order, the gradients of the outputs whose argmax it is (no atomics).
//   average:  each (n, c) sums its H*W pixels in double in pixel order and rounds (sum / HW) to float
//             once; backward is dy * (1f / HW) in float.
#include "wrpn.cuh"

// One thread per output element.
extern "C" __global__ void maxpool_fwd_f32(const float* __restrict__ x, float* __restrict__ y, int* __restrict__ argmax,
                                           int N, int H, int W, int C, int window, int stride, int pad, int OH, int OW) {
    const long long total = (long long)N * OH * OW * C;
    for (long long o = wrpn_thread_index(); o < total; o += wrpn_thread_count()) {
        const int c = (int)(o % C);
        long long r = o / C;
        const int ox = (int)(r % OW);
        r /= OW;
        const int oy = (int)(r % OH);
        const int n = (int)(r / OH);
        float best = 0.0f;
        int bestIdx = -1;
        for (int ky = 0; ky < window; ky++) {
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < window; kx++) {
                const int ix = ox * stride - pad + kx;
                if (ix < 0 || ix >= W) continue;
                const int idx = ((n * H + iy) * W + ix) * C + c;
                const float v = x[idx];
                if (bestIdx < 0 || v > best) {
                    best = v;
                    bestIdx = idx;
                }
            }
        }
        y[o] = best;
        argmax[o] = bestIdx;
    }
}

// One thread per input element: dx = sum of dy over the outputs that chose it.
extern "C" __global__ void maxpool_bwd_f32(const float* __restrict__ dy, const int* __restrict__ argmax,
                                           float* __restrict__ dx, int N, int H, int W, int C, int window, int stride,
                                           int pad, int OH, int OW) {
    const long long total = (long long)N * H * W * C;
    for (long long i = wrpn_thread_index(); i < total; i += wrpn_thread_count()) {
        const int c = (int)(i % C);
        long long r = i / C;
        const int ix = (int)(r % W);
        r /= W;
        const int iy = (int)(r % H);
        const int n = (int)(r / H);
        // outputs whose window covers iy: oy * stride - pad <= iy <= oy * stride - pad + window - 1
        const int oyLo = max(0, (iy + pad - window + stride) / stride);
        const int oyHi = min(OH - 1, (iy + pad) / stride);
        const int oxLo = max(0, (ix + pad - window + stride) / stride);
        const int oxHi = min(OW - 1, (ix + pad) / stride);
        float acc = 0.0f;
        for (int oy = oyLo; oy <= oyHi; oy++) {
            for (int ox = oxLo; ox <= oxHi; ox++) {
                const long long o = (((long long)n * OH + oy) * OW + ox) * C + c;
                if (argmax[o] == (int)i) acc = __fadd_rn(acc, dy[o]);
            }
        }
        dx[i] = acc;
    }
}

// y[n][c] = mean over the HW pixels of x[n][.][c]. One thread per (n, c).
extern "C" __global__ void gap_fwd_f32(const float* __restrict__ x, float* __restrict__ y, int N, int HW, int C) {
    const long long total = (long long)N * C;
    for (long long o = wrpn_thread_index(); o < total; o += wrpn_thread_count()) {
        const long long n = o / C;
        const int c = (int)(o - n * C);
        const float* p = x + n * HW * C + c;
        double s = 0.0;
        for (int q = 0; q < HW; q++) s = __dadd_rn(s, (double)p[(long long)q * C]);
        y[o] = __double2float_rn(__ddiv_rn(s, (double)HW));
    }
}

// dx[n][p][c] = dy[n][c] * inv, inv = 1f / HW (computed by the host in float).
extern "C" __global__ void gap_bwd_f32(const float* __restrict__ dy, float* __restrict__ dx, int N, int HW, int C,
                                       float inv) {
    const long long total = (long long)N * HW * C;
    for (long long i = wrpn_thread_index(); i < total; i += wrpn_thread_count()) {
        const int c = (int)(i % C);
        const long long n = i / ((long long)HW * C);
        dx[i] = __fmul_rn(dy[n * C + c], inv);
    }
}
