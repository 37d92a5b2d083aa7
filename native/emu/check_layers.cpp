// Runs the layer kernels of cuda/ (conv, linear, batch norm, pooling, loss, optimizer, ReLU) under
// cuda_emu.h and compares them with plain C++ references: double-precision loops for the sums (the
// tolerances of DESIGN.md "Tests"), and the CPU backend's exact float formulas where the contract is
// bit for bit (BN apply/recompute, SGD, pooling, average pooling, bias gradient). Ragged shapes: stride
// 1 and 2, padding 0 and 1, channels that are no multiple of 32 (or of the 64-wide GEMM tiles), batch
// 1 and 7, grids small enough that grid-stride loops wrap. Prints "N passed, M failed".
//   native/emu/run.sh
#include "cuda_emu.h"
#include "check.h"

#include <cstdio>
#include <random>
#include <string>

#include "../../cuda/batchnorm.cu"
#include "../../cuda/conv.cu"
#include "../../cuda/elementwise.cu"
#include "../../cuda/linear.cu"
#include "../../cuda/loss.cu"
#include "../../cuda/optim.cu"
#include "../../cuda/pool.cu"
#include "../conv/conv_host.h"

static std::mt19937_64 rng(20240611);

static std::vector<float> uniform(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

static std::vector<float> poisoned(size_t n) { return std::vector<float>(n, NAN); }

// |got - ref| <= atol + rtol |ref| everywhere (NaN fails); atol grows like sqrt(K / 64) for sums of K terms.
static bool close(const std::vector<float>& got, const std::vector<double>& ref, double atol, double rtol,
                  std::string* where = nullptr) {
    record(got);
    if (got.size() != ref.size()) return false;
    for (size_t i = 0; i < ref.size(); i++) {
        double d = std::fabs((double)got[i] - ref[i]);
        if (!(d <= atol + rtol * std::fabs(ref[i]))) {
            if (where) *where = " at " + std::to_string(i) + ": " + std::to_string(got[i]) + " vs " + std::to_string(ref[i]);
            return false;
        }
    }
    return true;
}
static double atol_for(long k) { return 1e-5 * std::max(1.0, std::sqrt(k / 64.0)); }

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
    record(a);
    return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * 4) == 0;
}

static unsigned gemm_blocks(int M, int N, int splits = 1) {
    return (unsigned)(((M + 63) / 64) * ((N + 63) / 64) * splits);
}

// ---- convolution -----------------------------------------------------------------------------------
using Geo = ConvShape;  // native/conv/conv_host.h

static void test_conv(const Geo& g, int splits) {
    const int OH = g.oh(), OW = g.ow(), K = g.k * g.k * g.cin;
    auto x = uniform((size_t)g.n * g.h * g.w * g.cin, -1, 1);
    auto w = uniform((size_t)g.cout * K, -1, 1);
    auto dy = uniform((size_t)g.n * OH * OW * g.cout, -1, 1);
    std::vector<double> ry((size_t)g.n * OH * OW * g.cout, 0), rdx(x.size(), 0), rdw(w.size(), 0);
    for (int n = 0; n < g.n; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int co = 0; co < g.cout; co++) {
                    size_t o = (((size_t)n * OH + oy) * OW + ox) * g.cout + co;
                    double s = 0;
                    for (int ky = 0; ky < g.k; ky++)
                        for (int kx = 0; kx < g.k; kx++) {
                            int iy = oy * g.s - g.p + ky, ix = ox * g.s - g.p + kx;
                            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                            for (int ci = 0; ci < g.cin; ci++) {
                                size_t xi = (((size_t)n * g.h + iy) * g.w + ix) * g.cin + ci;
                                size_t wi = (((size_t)co * g.k + ky) * g.k + kx) * g.cin + ci;
                                s += (double)x[xi] * w[wi];
                                rdx[xi] += (double)dy[o] * w[wi];
                                rdw[wi] += (double)dy[o] * x[xi];
                            }
                        }
                    ry[o] = s;
                }
    std::string where;
    auto y = poisoned(ry.size());
    emu::launch(conv2d_fprop_f32_f32_f32, gemm_blocks(g.n * OH * OW, g.cout), 256, (const float*)x.data(),
                (const float*)w.data(), y.data(), g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW);
    check(close(y, ry, atol_for(K), 1e-4, &where), "conv fprop " + g.str() + where);

    auto dx = poisoned(x.size());
    emu::launch(conv2d_dgrad_f32_f32_f32, gemm_blocks(g.n * g.h * g.w, g.cin), 256, (const float*)dy.data(),
                (const float*)w.data(), dx.data(), g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW);
    check(close(dx, rdx, atol_for((long)g.k * g.k * g.cout), 1e-4, &where), "conv dgrad " + g.str() + where);

    const int P = g.n * OH * OW;
    for (int sp : {1, splits}) {
        int per = ((P + sp - 1) / sp + 15) / 16 * 16;
        int used = (P + per - 1) / per;
        auto dw = poisoned(w.size());
        std::vector<float> part(used > 1 ? (size_t)used * w.size() : 0, NAN);
        emu::launch(conv2d_wgrad_f32_f32_f32, gemm_blocks(g.cout, K, used), 256, (const float*)x.data(),
                    (const float*)dy.data(), used > 1 ? part.data() : dw.data(), g.n, g.h, g.w, g.cin, g.cout, g.k, g.k,
                    g.s, g.p, OH, OW, used, per);
        if (used > 1) {
            emu::launch(conv2d_splitk_reduce_f32, 2, 64, (const float*)part.data(), dw.data(), (long long)w.size(), used);
        }
        check(close(dw, rdw, atol_for(P), 1e-4, &where), "conv wgrad splits=" + std::to_string(used) + " " + g.str() + where);
    }
}

// ---- linear ------------------------------------------------------------------------------------------
static void test_linear(int n, int in, int out) {
    auto x = uniform((size_t)n * in, -1, 1), w = uniform((size_t)out * in, -1, 1), b = uniform(out, -1, 1);
    auto dy = uniform((size_t)n * out, -1, 1);
    std::vector<double> ry((size_t)n * out), ryb((size_t)n * out), rdx((size_t)n * in, 0), rdw((size_t)out * in, 0);
    std::vector<float> rdb(out);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++) {
            double s = 0;
            for (int k = 0; k < in; k++) {
                s += (double)x[i * in + k] * w[o * in + k];
                rdx[i * in + k] += (double)dy[i * out + o] * w[o * in + k];
                rdw[o * in + k] += (double)dy[i * out + o] * x[i * in + k];
            }
            ry[i * out + o] = s;
            ryb[i * out + o] = s + b[o];
        }
    for (int o = 0; o < out; o++) {
        double s = 0;
        for (int i = 0; i < n; i++) s += dy[i * out + o];
        rdb[o] = (float)s;
    }
    std::string what = "linear n" + std::to_string(n) + " " + std::to_string(in) + "->" + std::to_string(out), where;
    auto y = poisoned(ry.size());
    emu::launch(linear_fprop_f32_f32_f32, gemm_blocks(n, out), 256, (const float*)x.data(), (const float*)w.data(),
                (const float*)b.data(), y.data(), n, in, out);
    check(close(y, ryb, atol_for(in), 1e-4, &where), what + " fprop+bias" + where);
    emu::launch(linear_fprop_f32_f32_f32, gemm_blocks(n, out), 256, (const float*)x.data(), (const float*)w.data(),
                (const float*)nullptr, y.data(), n, in, out);
    check(close(y, ry, atol_for(in), 1e-4, &where), what + " fprop" + where);
    auto dx = poisoned(rdx.size());
    emu::launch(linear_dgrad_f32_f32_f32, gemm_blocks(n, in), 256, (const float*)dy.data(), (const float*)w.data(),
                dx.data(), n, in, out);
    check(close(dx, rdx, atol_for(out), 1e-4, &where), what + " dgrad" + where);
    auto dw = poisoned(rdw.size());
    emu::launch(linear_wgrad_f32_f32_f32, gemm_blocks(out, in), 256, (const float*)x.data(), (const float*)dy.data(),
                dw.data(), n, in, out);
    check(close(dw, rdw, atol_for(n), 1e-4, &where), what + " wgrad" + where);
    auto db = poisoned(out);
    emu::launch(linear_bias_grad_f32_f64, 1, 32, (const float*)dy.data(), db.data(), n, out);
    check(same_bits(db, rdb), what + " bias grad (bit for bit)");
}

// ---- batch norm --------------------------------------------------------------------------------------
// The host's choice in CudaBackend: ceil(rows / 512) chunks, at most 128.
static int bn_chunks(long rows) { return (int)std::min<long>(128, std::max<long>(1, (rows + 511) / 512)); }

static void test_bn(long rows, int C, int chunks) {
    std::string what = "bn rows" + std::to_string(rows) + " C" + std::to_string(C) + " chunks" + std::to_string(chunks);
    std::vector<float> x(rows * C), dy(rows * C);
    auto off = uniform(C, -2, 2), sc = uniform(C, 0.3f, 2);
    std::normal_distribution<float> g(0, 1);
    for (long i = 0; i < rows * C; i++) {
        x[i] = off[i % C] + sc[i % C] * g(rng);
        dy[i] = g(rng);
    }
    auto gamma = uniform(C, 0.5f, 1.5f), beta = uniform(C, -1, 1), rm = uniform(C, -1, 1), rv = uniform(C, 0.5f, 2);
    const float eps = 1e-5f, momentum = 0.1f;
    const unsigned blocks = (unsigned)(chunks * ((C + 31) / 32));
    // the CPU backend's statistics (Java, double sums in row order)
    std::vector<double> sum(C, 0), sq(C, 0);
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) sum[c] += (double)x[r * C + c];
    for (int c = 0; c < C; c++) sum[c] /= rows;
    for (long r = 0; r < rows; r++)
        for (int c = 0; c < C; c++) {
            double d = x[r * C + c] - sum[c];
            sq[c] += d * d;
        }
    std::vector<double> rmean(C), rinv(C), rrm(C), rrv(C);
    for (int c = 0; c < C; c++) {
        double var = sq[c] / rows;
        rmean[c] = (float)sum[c];
        rinv[c] = (float)(1.0 / std::sqrt(var + eps));
        double unb = rows > 1 ? sq[c] / (rows - 1) : var;
        rrm[c] = (float)((double)((1 - momentum) * rm[c]) + (double)momentum * sum[c]);
        rrv[c] = (float)((double)((1 - momentum) * rv[c]) + (double)momentum * unb);
    }
    std::vector<double> partial((size_t)2 * chunks * C, NAN), mean(C, NAN);
    emu::launch(bn_partial_sum_f32_f64, blocks, 256, (const float*)x.data(), (long long)rows, C, chunks, partial.data());
    emu::launch(bn_mean_f64, 1, 32, (const double*)partial.data(), (long long)rows, C, chunks, mean.data());
    emu::launch(bn_partial_sqdev_f32_f64, blocks, 256, (const float*)x.data(), (const double*)mean.data(), (long long)rows, C,
                chunks, partial.data());
    auto smean = poisoned(C), sinv = poisoned(C);
    auto grm = rm, grv = rv;
    emu::launch(bn_train_stats_f32, 1, 32, (const double*)partial.data(), (const double*)mean.data(), (long long)rows, C,
                chunks, smean.data(), sinv.data(), grm.data(), grv.data(), momentum, eps);
    // Only the summation order differs from the CPU: the float results agree to an ulp or so.
    check(close(smean, rmean, 1e-6, 1e-6), what + " mean");
    check(close(sinv, rinv, 0, 2e-6), what + " invstd");
    check(close(grm, rrm, 1e-6, 1e-6), what + " running mean");
    check(close(grv, rrv, 1e-6, 2e-6), what + " running var");

    // apply: bit for bit the CPU formula on the same statistics (so recomputation is exact)
    auto y = poisoned(x.size());
    emu::launch(bn_apply_f32, 2, 64, (const float*)x.data(), (const float*)gamma.data(), (const float*)beta.data(),
                (const float*)smean.data(), (const float*)sinv.data(), y.data(), (long long)x.size(), C);
    std::vector<float> ref(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        int c = (int)(i % C);
        float scale = sinv[c] * gamma[c];
        ref[i] = (x[i] - smean[c]) * scale + beta[c];
    }
    check(same_bits(y, ref), what + " apply (bit for bit)");
    std::vector<double> yd(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        int c = (int)(i % C);
        yd[i] = gamma[c] * (x[i] - sum[c]) / std::sqrt(sq[c] / rows + eps) + beta[c];
    }
    check(close(y, yd, 1e-5, 1e-4), what + " y vs double reference");

    // inference
    std::vector<float> coef(2 * C, NAN);
    emu::launch(bn_inference_coef_f32, 1, 32, (const float*)gamma.data(), (const float*)beta.data(), (const float*)rm.data(),
                (const float*)rv.data(), eps, C, coef.data());
    auto yi = poisoned(x.size());
    emu::launch(bn_scale_shift_f32, 2, 64, (const float*)x.data(), (const float*)coef.data(), yi.data(), (long long)x.size(), C);
    std::vector<float> refi(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        int c = (int)(i % C);
        double inv = 1.0 / std::sqrt(rv[c] + (double)eps);
        float s = (float)(gamma[c] * inv), sh = (float)(beta[c] - gamma[c] * inv * rm[c]);
        refi[i] = x[i] * s + sh;
    }
    check(same_bits(yi, refi), what + " inference (bit for bit)");

    // backward, with the saved statistics as inputs
    emu::launch(bn_partial_bwd_f32_f64, blocks, 256, (const float*)x.data(), (const float*)dy.data(),
                (const float*)smean.data(), (const float*)sinv.data(), (long long)rows, C, chunks, partial.data());
    auto dgamma = poisoned(C), dbeta = poisoned(C);
    std::vector<float> bc(3 * C, NAN);
    emu::launch(bn_bwd_coef_f32, 1, 32, (const double*)partial.data(), (const float*)gamma.data(), (const float*)sinv.data(),
                (long long)rows, C, chunks, dgamma.data(), dbeta.data(), bc.data());
    auto dx = poisoned(x.size());
    emu::launch(bn_bwd_apply_f32, 2, 64, (const float*)x.data(), (const float*)dy.data(), (const float*)smean.data(),
                (const float*)sinv.data(), (const float*)bc.data(), dx.data(), (long long)x.size(), C);
    std::vector<double> rdg(C, 0), rdb(C, 0), rdx(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        int c = (int)(i % C);
        double xhat = (x[i] - (double)smean[c]) * sinv[c];
        rdg[c] += dy[i] * xhat;
        rdb[c] += dy[i];
    }
    for (size_t i = 0; i < x.size(); i++) {
        int c = (int)(i % C);
        double xhat = (x[i] - (double)smean[c]) * sinv[c];
        rdx[i] = gamma[c] * (double)sinv[c] / rows * (rows * dy[i] - rdb[c] - xhat * rdg[c]);
    }
    check(close(dgamma, rdg, atol_for(rows), 1e-4), what + " dgamma");
    check(close(dbeta, rdb, atol_for(rows), 1e-4), what + " dbeta");
    std::string where;
    check(close(dx, rdx, 1e-5, 1e-4, &where), what + " dx" + where);
    std::vector<float> refdx(x.size());
    for (size_t i = 0; i < x.size(); i++) {
        int c = (int)(i % C);
        float xhat = (x[i] - smean[c]) * sinv[c];
        refdx[i] = bc[c] * ((dy[i] - bc[C + c]) - xhat * bc[2 * C + c]);
    }
    check(same_bits(dx, refdx), what + " dx formula (bit for bit)");
    check(std::fabs(bc[C] - rdb[0] / rows) <= 1e-6 * std::max(1.0, std::fabs(rdb[0] / rows)), what + " mean(dy)");
}

// ---- pooling -----------------------------------------------------------------------------------------
struct PoolG {
    int n, h, w, c, win, s, p;
    int oh() const { return (h + 2 * p - win) / s + 1; }
    int ow() const { return (w + 2 * p - win) / s + 1; }
};

static void test_maxpool(const PoolG& g, const std::vector<float>& x, const std::string& kind) {
    const int OH = g.oh(), OW = g.ow();
    size_t out = (size_t)g.n * OH * OW * g.c;
    std::vector<float> ry(out);
    std::vector<int> rarg(out);
    for (int n = 0; n < g.n; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int c = 0; c < g.c; c++) {
                    float best = 0;
                    int bi = -1;
                    for (int ky = 0; ky < g.win; ky++)
                        for (int kx = 0; kx < g.win; kx++) {
                            int iy = oy * g.s - g.p + ky, ix = ox * g.s - g.p + kx;
                            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                            int idx = ((n * g.h + iy) * g.w + ix) * g.c + c;
                            if (bi < 0 || x[idx] > best) {
                                best = x[idx];
                                bi = idx;
                            }
                        }
                    size_t o = (((size_t)n * OH + oy) * OW + ox) * g.c + c;
                    ry[o] = best;
                    rarg[o] = bi;
                }
    auto y = poisoned(out);
    std::vector<int> arg(out, (int)0xDEADBEEF);
    emu::launch(maxpool_fwd_f32, 2, 64, (const float*)x.data(), y.data(), arg.data(), g.n, g.h, g.w, g.c, g.win, g.s, g.p,
                OH, OW);
    char b[96];
    std::snprintf(b, sizeof b, " n%d %dx%dx%d win%d s%d p%d", g.n, g.h, g.w, g.c, g.win, g.s, g.p);
    record(arg);
    check(same_bits(y, ry) && arg == rarg, "maxpool fwd " + kind + b);
    auto dy = uniform(out, -1, 1);
    std::vector<float> rdx(x.size(), 0.0f);
    for (size_t o = 0; o < out; o++) rdx[rarg[o]] += dy[o];  // the CPU backend's scatter, in output order
    auto dx = poisoned(x.size());
    emu::launch(maxpool_bwd_f32, 2, 64, (const float*)dy.data(), (const int*)rarg.data(), dx.data(), g.n, g.h, g.w, g.c,
                g.win, g.s, g.p, OH, OW);
    check(same_bits(dx, rdx), "maxpool bwd (bit for bit) " + kind + b);
}

static void test_gap(int n, int hw, int c) {
    auto x = uniform((size_t)n * hw * c, -1, 2);
    std::vector<float> ry((size_t)n * c);
    for (int i = 0; i < n; i++)
        for (int ch = 0; ch < c; ch++) {
            double s = 0;
            for (int p = 0; p < hw; p++) s += x[((size_t)i * hw + p) * c + ch];
            ry[i * c + ch] = (float)(s / hw);
        }
    auto y = poisoned(ry.size());
    emu::launch(gap_fwd_f32, 1, 64, (const float*)x.data(), y.data(), n, hw, c);
    std::string what = " n" + std::to_string(n) + " hw" + std::to_string(hw) + " c" + std::to_string(c);
    check(same_bits(y, ry), "avgpool fwd (bit for bit)" + what);
    auto dy = uniform((size_t)n * c, -1, 1);
    float inv = 1.0f / hw;
    std::vector<float> rdx(x.size());
    for (int i = 0; i < n; i++)
        for (int p = 0; p < hw; p++)
            for (int ch = 0; ch < c; ch++) rdx[((size_t)i * hw + p) * c + ch] = dy[i * c + ch] * inv;
    auto dx = poisoned(x.size());
    emu::launch(gap_bwd_f32, 2, 64, (const float*)dy.data(), dx.data(), n, hw, c, inv);
    check(same_bits(dx, rdx), "avgpool bwd (bit for bit)" + what);
}

// ---- loss, optimizer, relu ---------------------------------------------------------------------------
static void test_loss(int n, int classes, bool badLabel) {
    auto z = uniform((size_t)n * classes, -4, 4);
    std::uniform_int_distribution<int> lab(0, classes - 1);
    std::vector<int> labels(n);
    for (auto& l : labels) l = lab(rng);
    if (n > 4 && classes > 2) {
        z[0] = 60;
        z[classes + 1] = -80;
        z[2 * classes] = 5;  // tie: the first maximum (class 0) is the prediction
        z[2 * classes + 1] = 5;
        labels[2] = 1;
        z[3 * classes] = 5;
        z[3 * classes + 2] = 5;
        labels[3] = 0;
    }
    if (badLabel) labels[n / 2] = classes;
    float scale = 1.0f / n;
    double rl = 0;
    int rc = 0;
    std::vector<double> rdz((size_t)n * classes);
    for (int i = 0; i < n; i++) {
        const float* zi = &z[(size_t)i * classes];
        double mx = -INFINITY;
        int arg = 0;
        for (int j = 0; j < classes; j++)
            if (zi[j] > mx) {
                mx = zi[j];
                arg = j;
            }
        if (labels[i] < 0 || labels[i] >= classes) {
            for (int j = 0; j < classes; j++) rdz[(size_t)i * classes + j] = 0;
            continue;
        }
        if (arg == labels[i]) rc++;
        double s = 0;
        for (int j = 0; j < classes; j++) s += std::exp(zi[j] - mx);
        double ls = std::log(s) + mx;
        rl += ls - zi[labels[i]];
        for (int j = 0; j < classes; j++) rdz[(size_t)i * classes + j] = (std::exp(zi[j] - ls) - (j == labels[i])) * scale;
    }
    std::vector<double> loss(n, NAN);
    std::vector<int> hit(n, 7);
    auto dz = poisoned(z.size());
    emu::launch(softmax_xent_f32, 1, 64, (const float*)z.data(), (const int*)labels.data(), dz.data(), n, classes, scale,
                loss.data(), hit.data());
    LossTotals t{NAN, -5, -5};
    emu::launch(softmax_xent_total, 1, 256, (const double*)loss.data(), (const int*)hit.data(), n, &t);
    std::string what = "softmax-ce n" + std::to_string(n) + " classes" + std::to_string(classes) + (badLabel ? " bad label" : "");
    record(t.loss);
    record(t.correct);
    record(t.badLabel);
    record(loss);
    record(hit);
    check(std::fabs(t.loss - rl) <= 1e-12 * std::max(1.0, std::fabs(rl)) && t.correct == rc, what + " loss/correct");
    check(t.badLabel == (badLabel ? n / 2 : -1), what + " bad label index");
    check(close(dz, rdz, 1e-7, 1e-6), what + " dlogits");
}

static void test_sgd(long n) {
    auto p = uniform(n, -1, 1), g = uniform(n, -1, 1), v = uniform(n, -0.5f, 0.5f);
    auto rp = p, rv = v;
    const float lr = 0.05f, mom = 0.9f, wd = 5e-4f;
    for (int step = 0; step < 2; step++) {
        emu::launch(sgd_momentum_f32, 2, 64, p.data(), (const float*)g.data(), v.data(), (long long)n, lr, mom, wd);
        for (long i = 0; i < n; i++) {
            float gk = g[i] + wd * rp[i];
            rv[i] = mom * rv[i] + gk;
            rp[i] -= lr * rv[i];
        }
    }
    check(same_bits(p, rp) && same_bits(v, rv), "sgd (bit for bit) n=" + std::to_string(n));
}

static void test_relu(long n) {
    auto x = uniform(n, -1, 1);
    if (n > 3) {
        x[0] = NAN;
        x[1] = -0.0f;
        x[2] = INFINITY;
    }
    auto y = poisoned(n);
    emu::launch(relu_f32, 2, 64, (const float*)x.data(), y.data(), (long long)n);
    std::vector<float> ry(n);
    for (long i = 0; i < n; i++) ry[i] = x[i] > 0 ? x[i] : 0.0f;
    check(same_bits(y, ry), "relu n=" + std::to_string(n));
    auto dy = uniform(n, -1, 1), dx = poisoned(n);
    emu::launch(relu_bwd_f32, 2, 64, (const float*)ry.data(), (const float*)dy.data(), dx.data(), (long long)n);
    std::vector<float> rdx(n);
    for (long i = 0; i < n; i++) rdx[i] = ry[i] > 0 ? dy[i] : 0.0f;
    check(same_bits(dx, rdx), "relu bwd n=" + std::to_string(n));
}

int main() {
    // n, h, w, cin, cout, k, s, p: batch 1 and 7, stride 1 and 2, pad 0 and 1 (2 for 5x5), ragged channels
    const Geo convs[] = {
        {1, 7, 5, 3, 33, 3, 1, 1},   {7, 6, 6, 5, 4, 3, 2, 1},   {2, 5, 5, 33, 7, 1, 2, 0}, {1, 9, 9, 1, 6, 5, 1, 2},
        {7, 4, 4, 17, 65, 3, 1, 0},  {2, 7, 7, 6, 5, 3, 2, 0},   {7, 8, 8, 3, 10, 3, 1, 1}, {1, 3, 3, 70, 3, 3, 1, 1},
        {1, 1, 1, 3, 5, 1, 1, 0},    {2, 8, 8, 16, 32, 3, 2, 1}, {1, 14, 14, 16, 32, 5, 1, 2}, {7, 5, 5, 65, 66, 3, 1, 1},
        {2, 9, 7, 4, 6, 1, 2, 1},
    };
    for (const Geo& g : convs) test_conv(g, 3);
    test_linear(1, 5, 3);
    test_linear(7, 33, 10);
    test_linear(70, 100, 65);
    for (auto [rows, C] : {std::pair<long, int>{63, 5}, {1, 33}, {2, 1}, {2, 5}, {130, 33}, {700, 64}, {49, 100}}) {
        test_bn(rows, C, bn_chunks(rows));
        if (rows >= 130) test_bn(rows, C, 3);
    }
    const PoolG pools[] = {{1, 7, 5, 3, 2, 2, 0}, {7, 6, 9, 17, 3, 2, 1}, {2, 5, 5, 33, 3, 1, 1}, {1, 3, 3, 5, 3, 3, 2},
                           {2, 2, 3, 4, 1, 1, 0}};
    for (const PoolG& g : pools) {
        size_t n = (size_t)g.n * g.h * g.w * g.c;
        test_maxpool(g, uniform(n, -1, 1), "random");
        std::vector<float> ties(n);
        const float levels[] = {-1, -0.5f, 0, 0.5f};
        std::uniform_int_distribution<int> pick(0, 3);
        for (auto& v : ties) v = levels[pick(rng)];
        test_maxpool(g, ties, "ties");
        test_maxpool(g, uniform(n, -3, -1), "negative");
        auto nan = uniform(n, -1, 1);
        for (size_t i = 0; i < n; i += 7) nan[i] = NAN;
        test_maxpool(g, nan, "nan");
    }
    test_gap(1, 1, 3);
    test_gap(7, 15, 17);
    test_gap(2, 63, 33);
    test_loss(1, 10, false);
    test_loss(7, 3, false);
    test_loss(33, 17, true);
    test_loss(300, 10, false);
    for (long n : {1L, 5L, 1000L, 4099L}) test_sgd(n);
    for (long n : {1L, 7L, 4099L}) test_relu(n);
    return summary("layer kernel emulation");
}
