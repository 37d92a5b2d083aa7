// Max pooling (square window, stride, zero padding that never wins) and global average pooling, on
// fp32 channels-last tensors, forward and backward.
//
// Layout: x (N, H, W, C), y (N, OH, OW, C); argmax (I32, same shape as y) holds the flat index into x
// of each output's winner, modulo 2^32 (the index is computed in 64 bits; maxpool_bwd compares it the
// same way, so the pair is exact for x up to 2^32 elements, and argmax reads as the flat index below
// 2^31, the range of the Backend contract's I32). Global average pooling maps (N, H, W, C) to (N, C).
// Indexing: each thread steps the digits of its grid-stride index (wrpn_digits), no 64-bit division
// per element.
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
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C, OW, OH);  // (c, ox, oy, n) of o
    for (long long o = wrpn_thread_index(); o < total; o += wrpn_thread_count(), at.step()) {
        const int c = at.x0, ox = at.x1, oy = at.x2;
        const long long image = at.x3 * H;
        float best = 0.0f;
        long long bestIdx = -1;
        for (int ky = 0; ky < window; ky++) {
            const int iy = oy * stride - pad + ky;
            if (iy < 0 || iy >= H) continue;
            for (int kx = 0; kx < window; kx++) {
                const int ix = ox * stride - pad + kx;
                if (ix < 0 || ix >= W) continue;
                const long long idx = ((image + iy) * W + ix) * C + c;
                const float v = x[idx];
                if (bestIdx < 0 || v > best) {
                    best = v;
                    bestIdx = idx;
                }
            }
        }
        y[o] = best;
        argmax[o] = (int)(unsigned)bestIdx;  // modulo 2^32: see the header
    }
}

// Max pool of packed k-bit codes into packed codes (codes rise with their values, so the same choices
// and the same codes as pooling the values and packing them). One thread per output word: it pools the
// word's 32/k channels and writes the word whole; argmax as maxpool_fwd_f32's.
extern "C" __global__ void maxpool_fwd_packed(const unsigned* __restrict__ x, unsigned* __restrict__ y, int* __restrict__ argmax,
                                              int N, int H, int W, int C, int window, int stride, int pad, int OH, int OW,
                                              int k) {
    const int per = 32 / k, wpp = (C + per - 1) / per;
    const unsigned mask = (1u << k) - 1u;
    const long long total = (long long)N * OH * OW * wpp;
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), wpp, OW, OH);  // (word, ox, oy, n)
    for (long long o = wrpn_thread_index(); o < total; o += wrpn_thread_count(), at.step()) {
        const int wd = at.x0, ox = at.x1, oy = at.x2;
        const long long image = at.x3 * H;
        const long long outPixel = (at.x3 * OH + oy) * OW + ox;
        const int c0 = wd * per, cn = min(per, C - c0);
        unsigned word = 0;
        for (int j = 0; j < cn; j++) {
            unsigned best = 0;
            long long bestIdx = -1;
            for (int ky = 0; ky < window; ky++) {
                const int iy = oy * stride - pad + ky;
                if (iy < 0 || iy >= H) continue;
                for (int kx = 0; kx < window; kx++) {
                    const int ix = ox * stride - pad + kx;
                    if (ix < 0 || ix >= W) continue;
                    const long long pixel = (image + iy) * W + ix;
                    const unsigned code = (x[pixel * wpp + wd] >> (j * k)) & mask;
                    if (bestIdx < 0 || code > best) {
                        best = code;
                        bestIdx = pixel * C + c0 + j;
                    }
                }
            }
            word |= best << (j * k);
            argmax[outPixel * C + c0 + j] = (int)(unsigned)bestIdx;  // modulo 2^32: see the header
        }
        y[o] = word;
    }
}

// One thread per input element: dx = sum of dy over the outputs that chose it.
extern "C" __global__ void maxpool_bwd_f32(const float* __restrict__ dy, const int* __restrict__ argmax,
                                           float* __restrict__ dx, int N, int H, int W, int C, int window, int stride,
                                           int pad, int OH, int OW) {
    const long long total = (long long)N * H * W * C;
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C, W, H);  // (c, ix, iy, n) of i
    for (long long i = wrpn_thread_index(); i < total; i += wrpn_thread_count(), at.step()) {
        const int c = at.x0, ix = at.x1, iy = at.x2;
        const long long n = at.x3;
        // outputs whose window covers iy: oy * stride - pad <= iy <= oy * stride - pad + window - 1
        const int oyLo = max(0, (iy + pad - window + stride) / stride);
        const int oyHi = min(OH - 1, (iy + pad) / stride);
        const int oxLo = max(0, (ix + pad - window + stride) / stride);
        const int oxHi = min(OW - 1, (ix + pad) / stride);
        const unsigned self = (unsigned)i;
        float acc = 0.0f;
        for (int oy = oyLo; oy <= oyHi; oy++) {
            for (int ox = oxLo; ox <= oxHi; ox++) {
                const long long o = ((n * OH + oy) * OW + ox) * C + c;
                if ((unsigned)argmax[o] == self) acc = __fadd_rn(acc, dy[o]);
            }
        }
        dx[i] = acc;
    }
}

// y[n][c] = mean over the HW pixels of x[n][.][c]. One thread per (n, c).
extern "C" __global__ void gap_fwd_f32(const float* __restrict__ x, float* __restrict__ y, int N, int HW, int C) {
    const long long total = (long long)N * C;
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C);  // (c, n) of o
    for (long long o = wrpn_thread_index(); o < total; o += wrpn_thread_count(), at.step()) {
        const int c = at.x0;
        const float* p = x + at.x3 * HW * C + c;
        double s = 0.0;
        for (int q = 0; q < HW; q++) s = __dadd_rn(s, (double)p[(long long)q * C]);
        y[o] = __double2float_rn(__ddiv_rn(s, (double)HW));
    }
}

// dx[n][p][c] = dy[n][c] * inv, inv = 1f / HW (computed by the host in float).
extern "C" __global__ void gap_bwd_f32(const float* __restrict__ dy, float* __restrict__ dx, int N, int HW, int C,
                                       float inv) {
    const long long total = (long long)N * HW * C;
    wrpn_digits at(wrpn_thread_index(), wrpn_thread_count(), C, HW);  // (c, pixel, n) of i
    for (long long i = wrpn_thread_index(); i < total; i += wrpn_thread_count(), at.step()) {
        dx[i] = __fmul_rn(dy[at.x3 * C + at.x0], inv);
    }
}
