// Runs the kernels of quantized layers on codes under cuda_emu.h against C++ renderings of the
// contract (Backend.conv2d*Quantized, linear*Quantized, batchNormQuantizePack, add of codes):
//   qconv2d_fprop_*   every operand kind (packed codes / fp32 x, int8 codes / fp32 w) at every channel
//                     tile (16, 32, 64), k in {1, 2, 4, 8}: integer kinds bit for bit against
//                     (float) exact int64 sum * scale (+ bias), float kinds within fp32 tolerance
//   qconv2d_dgrad_*, qconv2d_wgrad_* (+ split-K reduce): within fp32 tolerance of double sums
//   bn_quantize_pack_f32_u{k}: bit for bit bn_apply_f32's formula then the packing, mask and no mask
//   add_packed_u{k}_f32: bit for bit a + u / (2^k - 1), apart and in place
//   qconv2d_fprop_pk_s8_mma_*: the tensor-core kind wherever Cin % 32 == 0, every k x weight bits, bit for
//                     bit; first the emulated mma.m16n8k32 alone (test_mma): random products against a
//                     plain matrix product, and one-hot probes of every fragment position of A, B and C
// Ragged shapes: channels no multiple of 4 or 32, stride 1 and 2, pads 0 and 1, tiles past Cout.
#include "cuda_emu.h"
#include "check.h"

#include <cstdio>
#include <random>
#include <string>

#include "../../cuda/batchnorm.cu"
#include "../../cuda/pack.cu"
#include "../../cuda/qconv.cu"
#include "../conv/conv_host.h"

static std::mt19937_64 rng(424242);
using Geo = ConvShape;

static std::vector<float> uniform(size_t n, float lo, float hi) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> v(n);
    for (auto& x : v) x = u(rng);
    return v;
}

static bool close(const std::vector<float>& got, const std::vector<double>& ref, double atol, std::string* where) {
    record(got);
    for (size_t i = 0; i < ref.size(); i++) {
        if (!(std::fabs(got[i] - ref[i]) <= atol + 1e-4 * std::fabs(ref[i]))) {
            *where = " at " + std::to_string(i) + ": " + std::to_string(got[i]) + " vs " + std::to_string(ref[i]);
            return false;
        }
    }
    return true;
}
static double atol_for(long k) { return 1e-5 * std::max(1.0, std::sqrt(k / 64.0)); }

static bool same_bits(const std::vector<float>& a, const std::vector<float>& b, std::string* where) {
    record(a);
    for (size_t i = 0; i < a.size(); i++) {
        if (std::memcmp(&a[i], &b[i], 4) != 0) {
            *where = " at " + std::to_string(i) + ": " + std::to_string(a[i]) + " vs " + std::to_string(b[i]);
            return false;
        }
    }
    return a.size() == b.size();
}

typedef void (*FpropPk)(const uint32_t*, const int8_t*, const float*, float*, float, int, int, int, int, int, int, int, int,
                        int, int, int, int);
typedef void (*FpropPkF)(const uint32_t*, const float*, const float*, float*, float, int, int, int, int, int, int, int, int,
                         int, int, int, int);
typedef void (*FpropF)(const float*, const int8_t*, const float*, float*, float, int, int, int, int, int, int, int, int,
                       int, int, int, int);
typedef void (*FpropFF)(const float*, const float*, const float*, float*, float, int, int, int, int, int, int, int, int,
                        int, int, int, int);

static unsigned tiles(int M, int N, int bn) { return (unsigned)(((M + 4096 / bn - 1) / (4096 / bn)) * ((N + bn - 1) / bn)); }
static unsigned mma_tiles(int M, int N, int bn) { return (unsigned)(((M + QMMA_BM - 1) / QMMA_BM) * ((N + bn - 1) / bn)); }

// ---- the emulated mma.m16n8k32 u8 x s8 -> s32 alone -------------------------------------------------
// The layout this check expects, stated per register (a restatement of the PTX ISA figures for
// mma.m16n8k32 .u8/.s8, independent of the element formulas in cuda_emu.h): lane L, g = L / 4, t = L % 4;
// A row-major 16 x 32 bytes as 8 words a row: a[r] = word t + 4 (r / 2) of row g + 8 (r % 2);
// B column-major (each of the 8 columns 32 bytes of k): b[r] = word t + 4 r of column g;
// C / D: c[r] = element (g + 8 (r / 2), 2 t + r % 2).
struct MmaCase {
    uint8_t A[16][32];
    int8_t B[32][8];
    int C[16][8];
};

static void mma_kernel(const uint32_t* a, const uint32_t* b, int* cd) {  // one warp: d = a b + c in place
    const int l = threadIdx.x;
    const uint32_t fa[4] = {a[4 * l], a[4 * l + 1], a[4 * l + 2], a[4 * l + 3]};
    const uint32_t fb[2] = {b[2 * l], b[2 * l + 1]};
    int d[4] = {cd[4 * l], cd[4 * l + 1], cd[4 * l + 2], cd[4 * l + 3]};
    mma_m16n8k32_u8s8(d, fa, fb);
    for (int r = 0; r < 4; r++) cd[4 * l + r] = d[r];
}

// D = A B + C through the emulated instruction, fragments laid out as stated above.
static void run_mma(const MmaCase& m, int (&D)[16][8]) {
    std::vector<uint32_t> a(128), b(64);
    std::vector<int> cd(128);
    for (int l = 0; l < 32; l++) {
        const int g = l / 4, t = l % 4;
        for (int r = 0; r < 4; r++) std::memcpy(&a[4 * l + r], &m.A[g + 8 * (r % 2)][4 * (t + 4 * (r / 2))], 4);
        for (int r = 0; r < 2; r++) {
            uint32_t w = 0;
            for (int j = 0; j < 4; j++) w |= (uint32_t)(uint8_t)m.B[4 * (t + 4 * r) + j][g] << (8 * j);
            b[2 * l + r] = w;
        }
        for (int r = 0; r < 4; r++) cd[4 * l + r] = m.C[g + 8 * (r / 2)][2 * t + r % 2];
    }
    emu::launch(mma_kernel, 1, 32, (const uint32_t*)a.data(), (const uint32_t*)b.data(), cd.data());
    for (int l = 0; l < 32; l++)
        for (int r = 0; r < 4; r++) D[l / 4 + 8 * (r / 2)][2 * (l % 4) + r % 2] = cd[4 * l + r];
}

static void test_mma() {
    std::uniform_int_distribution<int> u8(0, 255), s8(-128, 127), c32(-1 << 30, 1 << 30);
    for (int rep = 0; rep < 4; rep++) {  // random operands (extremes included) against a plain product
        MmaCase m;
        for (auto& row : m.A)
            for (auto& v : row) v = (uint8_t)(rep == 0 ? 255 : u8(rng));
        for (auto& row : m.B)
            for (auto& v : row) v = (int8_t)(rep == 0 ? -128 : s8(rng));
        for (auto& row : m.C)
            for (auto& v : row) v = rep == 0 ? 0 : c32(rng);
        int D[16][8];
        run_mma(m, D);
        bool ok = true;
        for (int i = 0; i < 16; i++)
            for (int j = 0; j < 8; j++) {
                long long r = m.C[i][j];
                for (int k = 0; k < 32; k++) r += (long long)m.A[i][k] * m.B[k][j];
                ok &= D[i][j] == (int)r;
            }
        record(D);
        check(ok, "mma m16n8k32 u8 x s8 random product " + std::to_string(rep));
    }
    // One-hot probes: a single 1 in A at (i, k) with B[k][n] = k + 1 must give D = k + 1 in row i only;
    // a single 1 in B at (k, n) with A[i][k] = k + 1 gives k + 1 in column n only; C = 0 and
    // D[i][n] = A[i][0] B[0][n] + A[i][1] B[1][n] = (i + 1) + 17 n names each output position.
    bool aok = true, bok = true;
    for (int i = 0; i < 16; i++)
        for (int k = 0; k < 32; k++) {
            MmaCase m{};
            m.A[i][k] = 1;
            for (int kk = 0; kk < 32; kk++)
                for (int n = 0; n < 8; n++) m.B[kk][n] = (int8_t)(kk + 1);
            int D[16][8];
            run_mma(m, D);
            for (int r = 0; r < 16; r++)
                for (int n = 0; n < 8; n++) aok &= D[r][n] == (r == i ? k + 1 : 0);
        }
    for (int k = 0; k < 32; k++)
        for (int n = 0; n < 8; n++) {
            MmaCase m{};
            m.B[k][n] = 1;
            for (int r = 0; r < 16; r++)
                for (int kk = 0; kk < 32; kk++) m.A[r][kk] = (uint8_t)(kk + 1);
            int D[16][8];
            run_mma(m, D);
            for (int r = 0; r < 16; r++)
                for (int c = 0; c < 8; c++) bok &= D[r][c] == (c == n ? k + 1 : 0);
        }
    MmaCase m{};
    for (int i = 0; i < 16; i++) m.A[i][0] = (uint8_t)(i + 1), m.A[i][1] = 1;
    for (int n = 0; n < 8; n++) m.B[0][n] = 1, m.B[1][n] = (int8_t)(17 * n);
    int D[16][8];
    run_mma(m, D);
    bool cok = true;
    for (int i = 0; i < 16; i++)
        for (int n = 0; n < 8; n++) cok &= D[i][n] == i + 1 + 17 * n;
    check(aok, "mma m16n8k32 A fragment layout (one-hot probes of all 512 positions)");
    check(bok, "mma m16n8k32 B fragment layout (one-hot probes of all 256 positions)");
    check(cok, "mma m16n8k32 D fragment layout");
}

struct Fprop {  // one fprop problem in the kernels' terms, with its exact integer sums
    int N, H, W, Cin, Cout, KH, KW, S, P, OH, OW, k;
    std::vector<uint32_t> xp;
    std::vector<int8_t> w8;
    std::vector<float> uf, wf;
    std::vector<long long> acc;
};

// Every fprop kind at every channel tile, with and without a bias.
static void test_fprop(const Fprop& f, const std::string& what, bool withBias) {
    const int M = f.N * f.OH * f.OW, K = f.KH * f.KW * f.Cin;
    const float scale = 1.0f / ((1 << f.k) - 1) * 0.37f;
    auto bias = uniform(f.Cout, -1, 1);
    const float* b = withBias ? bias.data() : nullptr;
    std::vector<float> yexact(f.acc.size());
    std::vector<double> yref(yexact.size());
    for (size_t o = 0; o < yexact.size(); o++) {
        float v = (float)f.acc[o] * scale;  // the contract's epilogue: (float) sum * scale, then + b
        if (withBias) v = v + bias[o % f.Cout];
        yexact[o] = v;
        yref[o] = (double)f.acc[o] * scale + (withBias ? bias[o % f.Cout] : 0.0);
    }
    std::string where;
#define QARGS b, y.data(), scale, f.k, f.N, f.H, f.W, f.Cin, f.Cout, f.KH, f.KW, f.S, f.P, f.OH, f.OW
    for (int bn : {16, 32, 64}) {
        const unsigned grid = tiles(M, f.Cout, bn);
        const std::string t = what + " n" + std::to_string(bn) + (withBias ? " bias" : "");
        std::vector<float> y(yexact.size(), NAN);
        FpropPk s32 = bn == 16 ? qconv2d_fprop_pk_s8_s32_n16 : bn == 32 ? qconv2d_fprop_pk_s8_s32_n32 : qconv2d_fprop_pk_s8_s32_n64;
        emu::launch(s32, grid, 256, f.xp.data(), (const int8_t*)f.w8.data(), QARGS);
        check(same_bits(y, yexact, &where), t + " pk_s8_s32 bit for bit" + where);
        if (f.Cin % 32 == 0) {
            FpropPk mma = bn == 16 ? qconv2d_fprop_pk_s8_mma_n16 : bn == 32 ? qconv2d_fprop_pk_s8_mma_n32 : qconv2d_fprop_pk_s8_mma_n64;
            std::fill(y.begin(), y.end(), NAN);
            emu::launch(mma, mma_tiles(M, f.Cout, bn), 256, f.xp.data(), (const int8_t*)f.w8.data(), QARGS);
            check(same_bits(y, yexact, &where), t + " pk_s8_mma bit for bit" + where);
        }
        if (f.Cin % 4 == 0) {
            FpropPk dp = bn == 16 ? qconv2d_fprop_pk_s8_dp4a_n16 : bn == 32 ? qconv2d_fprop_pk_s8_dp4a_n32 : qconv2d_fprop_pk_s8_dp4a_n64;
            std::fill(y.begin(), y.end(), NAN);
            emu::launch(dp, grid, 256, f.xp.data(), (const int8_t*)f.w8.data(), QARGS);
            check(same_bits(y, yexact, &where), t + " pk_s8_dp4a bit for bit" + where);
        }
        FpropPkF pf = bn == 16 ? qconv2d_fprop_pk_f32_f32_n16 : bn == 32 ? qconv2d_fprop_pk_f32_f32_n32 : qconv2d_fprop_pk_f32_f32_n64;
        std::fill(y.begin(), y.end(), NAN);
        emu::launch(pf, grid, 256, f.xp.data(), (const float*)f.wf.data(), QARGS);
        check(close(y, yref, atol_for(K), &where), t + " pk_f32_f32" + where);
        FpropF fs = bn == 16 ? qconv2d_fprop_f32_s8_f32_n16 : bn == 32 ? qconv2d_fprop_f32_s8_f32_n32 : qconv2d_fprop_f32_s8_f32_n64;
        std::fill(y.begin(), y.end(), NAN);
        emu::launch(fs, grid, 256, (const float*)f.uf.data(), (const int8_t*)f.w8.data(), QARGS);
        check(close(y, yref, atol_for(K), &where), t + " f32_s8_f32" + where);
        FpropFF ff = bn == 16 ? qconv2d_fprop_f32_f32_f32_n16 : bn == 32 ? qconv2d_fprop_f32_f32_f32_n32 : qconv2d_fprop_f32_f32_f32_n64;
        std::fill(y.begin(), y.end(), NAN);
        emu::launch(ff, grid, 256, (const float*)f.uf.data(), (const float*)f.wf.data(), QARGS);
        check(close(y, yref, atol_for(K), &where), t + " f32_f32_f32" + where);
    }
#undef QARGS
}

static void random_codes(int k, int wbits, size_t nx, size_t nw, std::vector<int>& u, std::vector<int>& s) {
    std::uniform_int_distribution<int> ucode(0, (1 << k) - 1);
    const int smax = wbits == 1 ? 1 : (1 << (wbits - 1)) - 1;
    std::uniform_int_distribution<int> wcode(-smax, smax);
    u.resize(nx);
    s.resize(nw);
    for (auto& v : u) v = ucode(rng);
    for (auto& v : s) v = wbits == 1 ? (wcode(rng) < 0 ? -1 : 1) : wcode(rng);
}

static void fill_operands(Fprop& f, const std::vector<int>& u, const std::vector<int>& s, long pixels) {
    f.xp = pack_codes(u, pixels, f.Cin, f.k);
    f.w8.resize(s.size());
    f.wf.resize(s.size());
    f.uf.resize(u.size());
    for (size_t i = 0; i < s.size(); i++) f.w8[i] = (int8_t)s[i], f.wf[i] = (float)s[i];
    for (size_t i = 0; i < u.size(); i++) f.uf[i] = (float)u[i];
}

// A linear layer of n samples of p pixels x c channels: (n, p, 1, c) by a p x 1 kernel.
static void test_linear(int n, int p, int c, int out, int k, int wbits) {
    std::vector<int> u, s;
    random_codes(k, wbits, (size_t)n * p * c, (size_t)out * p * c, u, s);
    Fprop f{n, p, 1, c, out, p, 1, 1, 0, 1, 1, k};
    fill_operands(f, u, s, (long)n * p);
    f.acc.assign((size_t)n * out, 0);
    for (int i = 0; i < n; i++)
        for (int o = 0; o < out; o++)
            for (int j = 0; j < p * c; j++) f.acc[(size_t)i * out + o] += (long long)u[(size_t)i * p * c + j] * s[(size_t)o * p * c + j];
    const std::string what = "linear u" + std::to_string(k) + " s" + std::to_string(wbits) + " n" + std::to_string(n) + " " +
                             std::to_string(p) + "x" + std::to_string(c) + "->" + std::to_string(out);
    test_fprop(f, what, true);
}

// The forward alone (every fprop kind; the mma kind is what these shapes are for), codes near the top of
// both ranges when `high` (8/8 sums past 2^24: the epilogue's rounding of the int32 sum).
static void test_fprop_conv(const Geo& g, int k, int wbits, bool high) {
    const int OH = g.oh(), OW = g.ow(), K = g.k * g.k * g.cin;
    const long pixels = (long)g.n * g.h * g.w;
    std::vector<int> u, s;
    random_codes(k, wbits, pixels * g.cin, (size_t)g.cout * K, u, s);
    if (high) {
        const int smax = wbits == 1 ? 1 : (1 << (wbits - 1)) - 1;
        for (auto& v : u) v = std::max(0, (1 << k) - 1 - (int)(rng() % 3));
        for (size_t i = 0; i < s.size(); i++) s[i] = i % 7 == 0 ? -smax : smax;
    }
    Fprop f{g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW, k};
    fill_operands(f, u, s, pixels);
    f.acc.resize((size_t)g.n * OH * OW * g.cout);
    for (size_t o = 0; o < f.acc.size(); o++) f.acc[o] = conv_acc(g, u, s, (long)o);
    test_fprop(f, "fprop u" + std::to_string(k) + " s" + std::to_string(wbits) + (high ? " high " : " ") + g.str(), k % 2 == 0);
}

// One convolution at activation bits k and weight codes of wbits: fprop, dgrad and wgrad.
static void test_conv(const Geo& g, int k, int wbits) {
    const int OH = g.oh(), OW = g.ow(), M = g.n * OH * OW, K = g.k * g.k * g.cin;
    const long pixels = (long)g.n * g.h * g.w;
    std::vector<int> u, s;
    random_codes(k, wbits, pixels * g.cin, (size_t)g.cout * K, u, s);
    Fprop f{g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW, k};
    fill_operands(f, u, s, pixels);
    f.acc.resize((size_t)M * g.cout);
    for (size_t o = 0; o < f.acc.size(); o++) f.acc[o] = conv_acc(g, u, s, (long)o);
    const std::string what = "conv u" + std::to_string(k) + " s" + std::to_string(wbits) + " " + g.str();
    test_fprop(f, what, false);
    const std::vector<uint32_t>& xp = f.xp;
    const std::vector<int8_t>& w8 = f.w8;
    const std::vector<float>& uf = f.uf;
    const std::vector<float>& wf = f.wf;
    std::string where;

    // dgrad and wgrad: double references
    auto dy = uniform((size_t)M * g.cout, -1, 1);
    std::vector<double> rdx(u.size(), 0), rdw(s.size(), 0);
    for (int n = 0; n < g.n; n++)
        for (int oy = 0; oy < OH; oy++)
            for (int ox = 0; ox < OW; ox++)
                for (int co = 0; co < g.cout; co++) {
                    const double d = dy[(((size_t)n * OH + oy) * OW + ox) * g.cout + co];
                    for (int ky = 0; ky < g.k; ky++)
                        for (int kx = 0; kx < g.k; kx++) {
                            const int iy = oy * g.s - g.p + ky, ix = ox * g.s - g.p + kx;
                            if (iy < 0 || iy >= g.h || ix < 0 || ix >= g.w) continue;
                            for (int ci = 0; ci < g.cin; ci++) {
                                const size_t xi = (((size_t)n * g.h + iy) * g.w + ix) * g.cin + ci;
                                const size_t wi = (((size_t)co * g.k + ky) * g.k + kx) * g.cin + ci;
                                rdx[xi] += d * s[wi];
                                rdw[wi] += d * u[xi];
                            }
                        }
                }
    const float wscale = 0.25f, step = 1.0f / ((1 << k) - 1);
    for (auto& v : rdx) v *= wscale;
    for (auto& v : rdw) v *= step;
    const unsigned dgrid = (unsigned)(((pixels + 63) / 64) * ((g.cin + 63) / 64));
    std::vector<float> dx(u.size(), NAN);
    emu::launch(qconv2d_dgrad_f32_s8_f32, dgrid, 256, (const float*)dy.data(), (const int8_t*)w8.data(), dx.data(), wscale,
                g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW);
    check(close(dx, rdx, atol_for((long)g.k * g.k * g.cout), &where), what + " dgrad s8" + where);
    std::fill(dx.begin(), dx.end(), NAN);
    emu::launch(qconv2d_dgrad_f32_f32_f32, dgrid, 256, (const float*)dy.data(), (const float*)wf.data(), dx.data(), wscale,
                g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW);
    check(close(dx, rdx, atol_for((long)g.k * g.k * g.cout), &where), what + " dgrad f32" + where);
    for (int sp : {1, 3}) {
        const int per = ((M + sp - 1) / sp + 15) / 16 * 16, used = (M + per - 1) / per;
        const unsigned wgrid = (unsigned)(((g.cout + 63) / 64) * ((K + 63) / 64) * used);
        for (bool pk : {true, false}) {
            std::vector<float> dw(s.size(), NAN), part(used > 1 ? (size_t)used * s.size() : 0, NAN);
            float* out = used > 1 ? part.data() : dw.data();
            if (pk) {
                emu::launch(qconv2d_wgrad_pk_f32_f32, wgrid, 256, xp.data(), (const float*)dy.data(), out, step, k, g.n, g.h,
                            g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW, used, per);
            } else {  // the codes as fp32 values: the same sums
                emu::launch(qconv2d_wgrad_f32_f32_f32, wgrid, 256, (const float*)uf.data(), (const float*)dy.data(), out, step,
                            0, g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW, used, per);
            }
            if (used > 1) {
                emu::launch(qconv2d_splitk_reduce_scaled_f32, 2, 64, (const float*)part.data(), dw.data(), (long long)s.size(),
                            used, step);
            }
            check(close(dw, rdw, atol_for(M), &where),
                  what + " wgrad " + (pk ? "pk" : "f32") + " splits=" + std::to_string(used) + where);
        }
    }
}

// ---- fused batch-norm quantize-pack, residual add of codes ------------------------------------------
typedef void (*BnPack)(const float*, const float*, const float*, const float*, const float*, uint32_t*, uint32_t*,
                       long long, int);
typedef void (*AddPk)(const float*, const uint32_t*, float*, long long, int);

static void test_bn_pack(int k, long pixels, int C) {
    std::normal_distribution<float> gauss(0.4f, 0.6f);
    std::vector<float> x(pixels * C);
    for (auto& v : x) v = gauss(rng);
    x[0] = NAN;
    if (x.size() > 5) x[5] = INFINITY;
    auto gamma = uniform(C, 0.5f, 1.5f), beta = uniform(C, -0.5f, 0.5f), mean = uniform(C, -0.3f, 0.3f), inv = uniform(C, 0.5f, 2);
    const int wpp = (C * k + 31) / 32, G = (C + 31) / 32;
    std::vector<uint32_t> rc(pixels * wpp, 0), rm(pixels * G, 0);
    const float levels = (float)((1 << k) - 1);
    for (long p = 0; p < pixels; p++)
        for (int c = 0; c < C; c++) {
            const float z = (x[p * C + c] - mean[c]) * (inv[c] * gamma[c]) + beta[c];  // bn_apply_f32
            const uint32_t code = z != z ? 0u : (uint32_t)lrintf(std::min(1.0f, std::max(0.0f, z)) * levels);
            rc[p * wpp + (c * k) / 32] |= code << ((c * k) % 32);
            rm[p * G + c / 32] |= (uint32_t)(z > 0.f && z < 1.f) << (c % 32);
        }
    BnPack kern = k == 1 ? bn_quantize_pack_f32_u1 : k == 2 ? bn_quantize_pack_f32_u2 : k == 4 ? bn_quantize_pack_f32_u4
                                                                                           : bn_quantize_pack_f32_u8;
    std::vector<uint32_t> codes(rc.size(), 0xDEADBEEF), mask(rm.size(), 0xDEADBEEF), bare(rc.size(), 0xDEADBEEF);
    emu::launch(kern, 2, 64, (const float*)x.data(), (const float*)gamma.data(), (const float*)beta.data(),
                (const float*)mean.data(), (const float*)inv.data(), codes.data(), mask.data(), (long long)pixels, C);
    emu::launch(kern, 3, 32, (const float*)x.data(), (const float*)gamma.data(), (const float*)beta.data(),
                (const float*)mean.data(), (const float*)inv.data(), bare.data(), (uint32_t*)nullptr, (long long)pixels, C);
    const std::string what = "bn quantize pack u" + std::to_string(k) + " pixels " + std::to_string(pixels) + " C " + std::to_string(C);
    record(codes);
    record(mask);
    check(codes == rc, what + " codes");
    check(mask == rm, what + " mask");
    check(bare == rc, what + " codes without a mask");

    // the residual add of these codes: a + u / levels, apart and in place
    std::vector<float> a = uniform(x.size(), -2, 2), ref(x.size());
    for (long p = 0; p < pixels; p++)
        for (int c = 0; c < C; c++) {
            const uint32_t code = (rc[p * wpp + (c * k) / 32] >> ((c * k) % 32)) & ((1u << k) - 1u);
            ref[p * C + c] = a[p * C + c] + (float)code / levels;
        }
    AddPk add = k == 1 ? add_packed_u1_f32 : k == 2 ? add_packed_u2_f32 : k == 4 ? add_packed_u4_f32 : add_packed_u8_f32;
    std::vector<float> out(x.size(), NAN);
    std::string where;
    emu::launch(add, 2, 64, (const float*)a.data(), (const uint32_t*)rc.data(), out.data(), (long long)pixels, C);
    check(same_bits(out, ref, &where), "add codes u" + std::to_string(k) + " C " + std::to_string(C) + where);
    emu::launch(add, 2, 64, (const float*)a.data(), (const uint32_t*)rc.data(), a.data(), (long long)pixels, C);
    check(same_bits(a, ref, &where), "add codes in place u" + std::to_string(k) + " C " + std::to_string(C) + where);
}

int main() {
    test_mma();
    // n, h, w, cin, cout, k, s, p: ragged channels (and multiples of 4 for dp4a), stride 1 and 2, tiles past Cout
    const Geo convs[] = {{2, 5, 7, 17, 9, 3, 1, 1}, {1, 8, 8, 32, 5, 3, 2, 1}, {3, 6, 9, 5, 7, 1, 2, 0},
                         {1, 4, 4, 70, 3, 3, 1, 1}, {2, 3, 3, 3, 40, 3, 1, 0}, {2, 6, 6, 8, 70, 3, 1, 1},
                         {7, 4, 4, 12, 33, 3, 2, 1}};
    const int wbits[] = {1, 2, 4, 8};
    int i = 0;
    for (int k : {1, 2, 4, 8})
        for (const Geo& g : convs) test_conv(g, k, wbits[i++ % 4]);
    // Cin % 32 == 0, the tensor-core kind: every k x weight bits; 1x1 over two pixel tiles, 3x3 with two
    // channel groups and Cout ragged against 8 and 16, stride 2 past the last tile
    const Geo mmas[] = {{3, 8, 8, 32, 16, 1, 1, 0}, {2, 5, 6, 64, 20, 3, 1, 1}, {1, 9, 9, 96, 70, 3, 2, 1}};
    int j = 0;
    for (int k : {1, 2, 4, 8})
        for (int wb : {1, 2, 4, 8}) test_fprop_conv(mmas[j++ % 3], k, wb, false);
    test_fprop_conv(mmas[1], 8, 8, true);
    test_fprop_conv(mmas[2], 8, 8, true);
    for (int k : {1, 4, 8}) {
        test_linear(3, 2, 32, 12, k, 4);
        test_linear(3, 1, 17, 10, k, 8);
        test_linear(7, 9, 3, 20, k, 2);
        test_linear(5, 6, 8, 33, k, 1);
        test_linear(2, 1, 100, 1, k, 4);
    }
    for (int k : {1, 2, 4, 8})
        for (int C : {1, 5, 8, 32, 33, 100}) test_bn_pack(k, 37, C);
    return summary("quantized kernel emulation");
}
