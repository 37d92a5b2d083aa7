// Index arithmetic past 2^31 elements, at the largest planned shapes: resnet18 at width 3 on 224 x 224
// inputs with batch 1024, whose stem output (1024, 112, 112, 192) holds 2,466,250,752 elements. Every
// kernel that can see a tensor that size runs under cuda_emu.h on sparse buffers (virtual memory that
// is only backed where written, between 16 GiB guard regions: a 32-bit index that wrapped reads a
// guard page and faults, or zeros), but only a few chosen blocks of its grid: the block whose indices
// straddle 2^31 and the last block, so that a run costs milliseconds. Grid-stride kernels get a grid
// large enough for one pass, so the chosen blocks really see the high indices. The outputs of those
// blocks are compared with host references computed in 64-bit indices. Prints "N passed, M failed".
//   native/emu/run.sh (check_bounds)
#include "cuda_emu.h"
#include "check.h"

#include <signal.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdio>
#include <string>

#include "../../cuda/batchnorm.cu"
#include "../../cuda/conv.cu"
#include "../../cuda/elementwise.cu"
#include "../../cuda/pack.cu"
#include "../../cuda/pool.cu"
#include "../../cuda/quantize.cu"
#include "../../cuda/reduce.cu"

static constexpr long long TWO31 = 1LL << 31;

// The stem of resnet18 at width 3, batch 1024, 224 x 224 x 3 inputs.
static constexpr int N = 1024, H = 224, W = 224, CIN = 3, COUT = 192, KS = 7, S = 2, P = 3, OH = 112, OW = 112;

// n elements of T in reserved address space, readable and writable, between PROT_NONE guards of
// 16 GiB: pages are backed only once written.
template <typename T>
struct Sparse {
    static constexpr size_t GUARD = 16ull << 30;
    char* base = nullptr;
    size_t span = 0;
    T* p = nullptr;
    long long n;

    explicit Sparse(long long count) : n(count) {
        size_t bytes = ((size_t)count * sizeof(T) + 4095) / 4096 * 4096;
        span = GUARD + bytes + GUARD;
        void* m = mmap(nullptr, span, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (m == MAP_FAILED) {
            std::perror("check_bounds: mmap");
            std::exit(2);
        }
        base = static_cast<char*>(m);
        if (mprotect(base + GUARD, bytes, PROT_READ | PROT_WRITE) != 0) {
            std::perror("check_bounds: mprotect");
            std::exit(2);
        }
        p = reinterpret_cast<T*>(base + GUARD);
    }
    ~Sparse() { munmap(base, span); }
    Sparse(const Sparse&) = delete;
    T& operator[](long long i) { return p[i]; }
};

// A deterministic value per index: small multiples of 1/512 in [-1, 1), so sums of a few thousand
// products stay exact in double and the references are unambiguous.
static float val(long long i, unsigned salt = 0) {
    uint64_t h = (uint64_t)i * 0x9E3779B97F4A7C15ull + salt * 0xBF58476D1CE4E5B9ull;
    h ^= h >> 29;
    return (float)((int)((h >> 20) & 1023) - 512) / 512.0f;
}

template <typename T>
static void fill(Sparse<T>& b, long long lo, long long hi, unsigned salt) {
    for (long long i = std::max(0LL, lo); i < std::min(b.n, hi); i++) b[i] = val(i, salt);
}

template <typename T>
static void poison(Sparse<T>& b, long long lo, long long hi) {
    for (long long i = std::max(0LL, lo); i < std::min(b.n, hi); i++) std::memset(&b[i], 0xFF, sizeof(T));
}

static std::string at(const char* what, long long block) { return std::string(what) + " block " + std::to_string(block); }

// What runs now, for the fault handler: a wrapped 32-bit index usually lands in a guard region.
static const char* running = "setup";

static void on_fault(int) {
    const char head[] = "FAIL fault (a guard page or unmapped memory: an index wrapped?) in ";
    (void)!write(1, head, sizeof head - 1);
    (void)!write(1, running, std::strlen(running));
    (void)!write(1, "\n", 1);
    _exit(1);
}

// ---- convolution (implicit GEMM tiles) --------------------------------------------------------------
static double xpatch(Sparse<float>& x, int n, int oy, int ox, int k) {
    const int t = k / CIN, ci = k % CIN, ky = t / KS, kx = t % KS;
    const int iy = oy * S - P + ky, ix = ox * S - P + kx;
    if (iy < 0 || iy >= H || ix < 0 || ix >= W) return 0.0;
    return x[(((long long)n * H + iy) * W + ix) * CIN + ci];
}

static void test_conv() {
    const long long M = (long long)N * OH * OW;  // 12,845,056 output pixels
    const int KK = KS * KS * CIN;                 // 147
    const int tilesN = (COUT + 63) / 64;
    Sparse<float> x((long long)N * H * W * CIN), w((long long)COUT * KK), y(M * COUT);
    fill(w, 0, w.n, 1);
    // fprop: the tile holding y index 2^31 and the last tile, last column block
    for (long long m0 : {TWO31 / COUT / 64 * 64, (M - 1) / 64 * 64}) {
        const int n0 = (int)(m0 / (OH * OW));
        fill(x, (long long)n0 * H * W * CIN, (long long)(n0 + 2) * H * W * CIN, 2);
        const int tn = tilesN - 1;
        const long long block = (m0 / 64) * tilesN + tn;
        poison(y, m0 * COUT, (m0 + 64) * COUT);
        emu::launch_blocks(conv2d_fprop_f32_f32_f32, (unsigned)((M + 63) / 64 * tilesN), (unsigned)block, 1, 256,
                           (const float*)x.p, (const float*)w.p, y.p, N, H, W, CIN, COUT, KS, KS, S, P, OH, OW);
        bool ok = true;
        for (long long m = m0; m < std::min(M, m0 + 64); m++) {
            const int n = (int)(m / (OH * OW)), oy = (int)(m / OW % OH), ox = (int)(m % OW);
            for (int co = tn * 64; co < COUT; co++) {
                double s = 0;
                for (int k = 0; k < KK; k++) s += xpatch(x, n, oy, ox, k) * w[(long long)co * KK + k];
                ok &= std::fabs(y[m * COUT + co] - s) <= 1e-5 * (1 + std::fabs(s));
                record(y[m * COUT + co]);
            }
        }
        check(ok, at("conv fprop y past 2^31", block));
    }
    // dgrad: dx (N, 224, 224, 3) from dy (N, 112, 112, 192): dy indices past 2^31
    {
        Sparse<float> dx((long long)N * H * W * CIN);
        Sparse<float>& dy = y;
        const long long MD = (long long)N * H * W;
        for (int n0 : {(int)(TWO31 / ((long long)OH * OW * COUT)), N - 1}) {
            fill(dy, (long long)n0 * OH * OW * COUT, (long long)(n0 + 1) * OH * OW * COUT, 3);
            // a tile of dx rows at input row 150 of image n0: it reads dy rows 72 to 76, past 2^31 in image 891
            const long long m0 = ((long long)n0 * H * W + 150LL * W) / 64 * 64;
            poison(dx, m0 * CIN, (m0 + 64) * CIN);
            emu::launch_blocks(conv2d_dgrad_f32_f32_f32, (unsigned)((MD + 63) / 64), (unsigned)(m0 / 64), 1, 256,
                               (const float*)dy.p, (const float*)w.p, dx.p, N, H, W, CIN, COUT, KS, KS, S, P, OH, OW);
            bool ok = true;
            for (long long m = m0; m < m0 + 64; m++) {
                const int n = (int)(m / (H * W)), iy = (int)(m / W % H), ix = (int)(m % W);
                for (int ci = 0; ci < CIN; ci++) {
                    double s = 0;
                    for (int ky = 0; ky < KS; ky++)
                        for (int kx = 0; kx < KS; kx++) {
                            const int oyS = iy + P - ky, oxS = ix + P - kx;
                            if (oyS < 0 || oxS < 0 || oyS % S || oxS % S || oyS / S >= OH || oxS / S >= OW) continue;
                            for (int co = 0; co < COUT; co++) {
                                s += (double)dy[(((long long)n * OH + oyS / S) * OW + oxS / S) * COUT + co] *
                                     w[(((long long)co * KS + ky) * KS + kx) * CIN + ci];
                            }
                        }
                    ok &= std::fabs(dx[m * CIN + ci] - s) <= 1e-5 * (1 + std::fabs(s));
                    record(dx[m * CIN + ci]);
                }
            }
            check(ok, at("conv dgrad dy past 2^31", m0 / 64));
        }
    }
    // wgrad, split-K: the split holding dy index 2^31 and the last split, tile (2, 2)
    {
        const int per = 3136, splits = (int)(M / per);  // 4096 splits of 3136 output pixels
        const int tilesM = (COUT + 63) / 64, tilesK = (KK + 63) / 64;
        Sparse<float> part((long long)splits * COUT * KK);
        Sparse<float>& dy = y;
        for (int sp : {(int)(TWO31 / COUT / per), splits - 1}) {
            const long long p0 = (long long)sp * per;
            fill(dy, p0 * COUT, (p0 + per) * COUT, 4);
            const int n0 = (int)(p0 / (OH * OW));
            fill(x, (long long)n0 * H * W * CIN, (long long)(n0 + 2) * H * W * CIN, 2);
            const int tm = tilesM - 1, tn = tilesK - 1;
            const long long block = ((long long)sp * tilesM + tm) * tilesK + tn;
            float* out = part.p + (long long)sp * COUT * KK;
            for (long long i = 0; i < (long long)COUT * KK; i++) std::memset(&out[i], 0xFF, 4);
            emu::launch_blocks(conv2d_wgrad_f32_f32_f32, (unsigned)((long long)splits * tilesM * tilesK), (unsigned)block, 1,
                               256, (const float*)x.p, (const float*)dy.p, part.p, N, H, W, CIN, COUT, KS, KS, S, P, OH, OW,
                               splits, per);
            bool ok = true;
            for (int co = tm * 64; co < COUT; co++) {
                for (int j = tn * 64; j < KK; j++) {
                    double s = 0;
                    for (long long p = p0; p < p0 + per; p++) {
                        const int n = (int)(p / (OH * OW)), oy = (int)(p / OW % OH), ox = (int)(p % OW);
                        s += (double)dy[p * COUT + co] * xpatch(x, n, oy, ox, j);
                    }
                    ok &= std::fabs(out[(long long)co * KK + j] - s) <= 1e-4 * (1 + std::fabs(s));
                    record(out[(long long)co * KK + j]);
                }
            }
            check(ok, at("conv wgrad split-K dy past 2^31", block));
        }
    }
}

// ---- batch norm ------------------------------------------------------------------------------------
static void test_bn() {
    const long long rows = (long long)N * OH * OW;
    const int C = COUT, chunks = 128, groups = (C + 31) / 32;
    const long long per = (rows + chunks - 1) / chunks, n = rows * C;
    Sparse<float> x(n), dy(n), y(n);
    const long long straddleRow = TWO31 / C;
    fill(x, (straddleRow - 3000) * C, (straddleRow + 3000) * C, 5);
    fill(x, (rows - 3000) * C, n, 5);
    fill(dy, (straddleRow - 3000) * C, (straddleRow + 3000) * C, 6);
    fill(dy, (rows - 3000) * C, n, 6);
    std::vector<double> partial((size_t)2 * chunks * C, NAN), mean(C);
    std::vector<float> meanF(C), inv(C), gamma(C), beta(C), coef(3 * C);
    for (int c = 0; c < C; c++) {
        mean[c] = 0.01 * (c % 7);
        meanF[c] = (float)mean[c];
        inv[c] = 1.0f + 0.125f * (c % 5);
        gamma[c] = 0.5f + 0.25f * (c % 3);
        beta[c] = 0.0625f * (c % 4);
        coef[c] = gamma[c] * inv[c];
        coef[C + c] = 0.03125f * (c % 6);
        coef[2 * C + c] = -0.0625f * (c % 3);
    }
    for (int chunk : {(int)(straddleRow / per), chunks - 1}) {
        const long long r0 = chunk * per, r1 = std::min(rows, r0 + per);
        for (int g : {0, groups - 1}) {
            const long long block = (long long)chunk * groups + g;
            emu::launch_blocks(bn_partial_sum_f32_f64, (unsigned)(chunks * groups), (unsigned)block, 1, 256, (const float*)x.p,
                               rows, C, chunks, partial.data());
            bool ok = true;
            for (int c = g * 32; c < std::min(C, g * 32 + 32); c++) {
                double s = 0;
                for (long long r = r0; r < r1; r++) s += x[r * C + c];
                ok &= std::fabs(partial[(size_t)chunk * C + c] - s) <= 1e-9 * (1 + std::fabs(s));
                record(partial[(size_t)chunk * C + c]);
            }
            check(ok, at("bn partial sum past 2^31", block));
            emu::launch_blocks(bn_partial_sqdev_f32_f64, (unsigned)(chunks * groups), (unsigned)block, 1, 256,
                               (const float*)x.p, (const double*)mean.data(), rows, C, chunks, partial.data());
            ok = true;
            for (int c = g * 32; c < std::min(C, g * 32 + 32); c++) {
                double s = 0;
                for (long long r = r0; r < r1; r++) s += (x[r * C + c] - mean[c]) * (x[r * C + c] - mean[c]);
                ok &= std::fabs(partial[(size_t)chunk * C + c] - s) <= 1e-9 * (1 + std::fabs(s));
                record(partial[(size_t)chunk * C + c]);
            }
            check(ok, at("bn partial squared deviation past 2^31", block));
            emu::launch_blocks(bn_partial_bwd_f32_f64, (unsigned)(chunks * groups), (unsigned)block, 1, 256,
                               (const float*)x.p, (const float*)dy.p, (const float*)meanF.data(), (const float*)inv.data(),
                               rows, C, chunks, partial.data());
            ok = true;
            for (int c = g * 32; c < std::min(C, g * 32 + 32); c++) {
                double s0 = 0, s1 = 0;
                for (long long r = r0; r < r1; r++) {
                    s0 += dy[r * C + c];
                    s1 += (double)dy[r * C + c] * ((double)(x[r * C + c] - meanF[c]) * inv[c]);
                }
                ok &= std::fabs(partial[(size_t)chunk * C + c] - s0) <= 1e-9 * (1 + std::fabs(s0));
                ok &= std::fabs(partial[(size_t)(chunks + chunk) * C + c] - s1) <= 1e-9 * (1 + std::fabs(s1));
                record(partial[(size_t)(chunks + chunk) * C + c]);
            }
            check(ok, at("bn partial backward sums past 2^31", block));
        }
    }
    // element-wise BN kernels: one thread per element (a one-pass grid); blocks at 2^31 and at the end
    const unsigned grid = (unsigned)((n + 255) / 256);
    for (long long b : {TWO31 / 256 - 1, TWO31 / 256, (long long)grid - 1}) {
        const long long i0 = b * 256, i1 = std::min(n, i0 + 256);
        poison(y, i0, i1);
        emu::launch_blocks(bn_apply_f32, grid, (unsigned)b, 1, 256, (const float*)x.p, (const float*)gamma.data(),
                           (const float*)beta.data(), (const float*)meanF.data(), (const float*)inv.data(), y.p, n, C);
        bool ok = true;
        for (long long i = i0; i < i1; i++) {
            const int c = (int)(i % C);
            const float want = (x[i] - meanF[c]) * (inv[c] * gamma[c]) + beta[c];
            ok &= std::memcmp(&want, &y[i], 4) == 0;
            record(y[i]);
        }
        check(ok, at("bn apply past 2^31", b));
        poison(y, i0, i1);
        emu::launch_blocks(bn_scale_shift_f32, grid, (unsigned)b, 1, 256, (const float*)x.p, (const float*)coef.data(), y.p,
                           n, C);
        ok = true;
        for (long long i = i0; i < i1; i++) {
            const int c = (int)(i % C);
            const float want = x[i] * coef[c] + coef[C + c];
            ok &= std::memcmp(&want, &y[i], 4) == 0;
            record(y[i]);
        }
        check(ok, at("bn scale-shift past 2^31", b));
        poison(y, i0, i1);
        emu::launch_blocks(bn_bwd_apply_f32, grid, (unsigned)b, 1, 256, (const float*)x.p, (const float*)dy.p,
                           (const float*)meanF.data(), (const float*)inv.data(), (const float*)coef.data(), y.p, n, C);
        ok = true;
        for (long long i = i0; i < i1; i++) {
            const int c = (int)(i % C);
            const float xhat = (x[i] - meanF[c]) * inv[c];
            const float want = coef[c] * ((dy[i] - coef[C + c]) - xhat * coef[2 * C + c]);
            ok &= std::memcmp(&want, &y[i], 4) == 0;
            record(y[i]);
        }
        check(ok, at("bn backward apply past 2^31", b));
    }
}

// ---- max pooling -----------------------------------------------------------------------------------
// (1024, 112, 112, 192), window 3, stride 2, pad 1 -> (1024, 56, 56, 192). argmax is I32 (the
// Backend contract): it holds the winner's flat index modulo 2^32, which maxpool_bwd compares the same
// way, so the pair is exact for inputs up to 2^32 elements; as a flat index it reads right below 2^31.
static void test_maxpool() {
    const int PH = 112, PW = 112, C = COUT, WIN = 3, PS = 2, PP = 1, QH = 56, QW = 56;
    const long long nx = (long long)N * PH * PW * C, ny = (long long)N * QH * QW * C;
    Sparse<float> x(nx), y(ny), dy(ny), dx(nx);
    Sparse<int> arg(ny);
    auto winner = [&](long long o, float& best) {
        const int c = (int)(o % C);
        long long r = o / C;
        const int ox = (int)(r % QW), oy = (int)(r / QW % QH), n = (int)(r / QW / QH);
        long long bi = -1;
        for (int ky = 0; ky < WIN; ky++)
            for (int kx = 0; kx < WIN; kx++) {
                const int iy = oy * PS - PP + ky, ix = ox * PS - PP + kx;
                if (iy < 0 || iy >= PH || ix < 0 || ix >= PW) continue;
                const long long idx = (((long long)n * PH + iy) * PW + ix) * C + c;
                if (bi < 0 || x[idx] > best) {
                    best = x[idx];
                    bi = idx;
                }
            }
        return bi;
    };
    // the image whose input rows cross 2^31, and the last image
    const int nB = (int)(TWO31 / ((long long)PH * PW * C));
    const long long rowB = (TWO31 - (long long)nB * PH * PW * C) / ((long long)PW * C);  // input row of 2^31 in image nB
    fill(x, ((long long)nB * PH + rowB - 4) * PW * C, ((long long)nB * PH + rowB + 4) * PW * C, 7);
    fill(x, nx - 8LL * PW * C, nx, 7);
    const unsigned gridF = (unsigned)((ny + 255) / 256);
    const long long oB = (((long long)nB * QH + rowB / 2) * QW) * C;  // outputs reading rows rowB-1 .. rowB+1
    for (long long b : {oB / 256, oB / 256 + 1, (long long)gridF - 1}) {
        const long long o0 = b * 256, o1 = std::min(ny, o0 + 256);
        poison(y, o0, o1);
        emu::launch_blocks(maxpool_fwd_f32, gridF, (unsigned)b, 1, 256, (const float*)x.p, y.p, arg.p, N, PH, PW, C, WIN, PS,
                           PP, QH, QW);
        bool ok = true;
        for (long long o = o0; o < o1; o++) {
            float best = 0;
            const long long bi = winner(o, best);
            ok &= std::memcmp(&best, &y[o], 4) == 0 && arg[o] == (int)(uint32_t)bi;
            record(y[o]);
            record(arg[o]);
        }
        check(ok, at("maxpool fwd inputs past 2^31", b));
    }
    // backward: dx around 2^31 and at the end, from the outputs whose windows cover them
    const unsigned gridB = (unsigned)((nx + 255) / 256);
    for (long long b : {TWO31 / 256 - 1, TWO31 / 256, (long long)gridB - 1}) {
        const long long i0 = b * 256, i1 = std::min(nx, i0 + 256);
        // the outputs that can choose these inputs: their rows, all columns, every channel
        const long long p0 = i0 / C, p1 = (i1 - 1) / C;
        const int n = (int)(p0 / ((long long)PH * PW));
        const int iy0 = (int)(p0 / PW % PH), iy1 = (int)(p1 / PW % PH);
        const int oyLo = std::max(0, (iy0 + PP - WIN + PS) / PS), oyHi = std::min(QH - 1, (iy1 + PP) / PS);
        const long long oLo = (((long long)n * QH + oyLo) * QW) * C, oHi = (((long long)n * QH + oyHi + 1) * QW) * C;
        std::vector<double> ref(i1 - i0, 0.0);
        for (long long o = oLo; o < oHi; o++) {
            float best = 0;
            const long long bi = winner(o, best);
            arg[o] = (int)(uint32_t)bi;
            dy[o] = val(o, 8);
            if (bi >= i0 && bi < i1) ref[bi - i0] += dy[o];  // exact: at most 4 terms of k/512
        }
        poison(dx, i0, i1);
        emu::launch_blocks(maxpool_bwd_f32, gridB, (unsigned)b, 1, 256, (const float*)dy.p, (const int*)arg.p, dx.p, N, PH, PW,
                           C, WIN, PS, PP, QH, QW);
        bool ok = true;
        for (long long i = i0; i < i1; i++) {
            ok &= dx[i] == (float)ref[i - i0];
            record(dx[i]);
        }
        check(ok, at("maxpool bwd dx past 2^31", b));
    }
}

// ---- packing, element-wise, reductions ----------------------------------------------------------------
static void test_pack(int C) {
    const long long pixels = (long long)N * OH * OW, n = pixels * C;
    const int G = (C + 31) / 32, k = 4, wpp = (C * k + 31) / 32;
    const long long units = pixels * G;
    Sparse<float> x(n), back(n), dy(n), dx(n);
    Sparse<uint32_t> codes(pixels * wpp), mask(units);
    // one pass: 4 units a warp, 8 warps a block
    const unsigned grid = (unsigned)((units + 31) / 32);
    const long long straddle = TWO31 / C * G / 32;  // the block whose floats cross 2^31
    for (long long b : {straddle, straddle + 1, (long long)grid - 1}) {
        const long long u0 = b * 32, u1 = std::min(units, u0 + 32);
        const long long p0 = u0 / G, p1 = (u1 - 1) / G + 1;
        fill(x, p0 * C, p1 * C, 9);
        fill(dy, p0 * C, p1 * C, 10);
        poison(codes, p0 * wpp, p1 * wpp);
        poison(mask, u0, u1);
        emu::launch_blocks(quantize_act_pack_u4, grid, (unsigned)b, 1, 256, (const float*)x.p, codes.p, mask.p, pixels, C);
        poison(back, p0 * C, p1 * C);
        emu::launch_blocks(unpack_u4_f32, grid, (unsigned)b, 1, 256, (const uint32_t*)codes.p, back.p, pixels, C);
        poison(dx, p0 * C, p1 * C);
        emu::launch_blocks(mask_grad_f32, grid, (unsigned)b, 1, 256, (const uint32_t*)mask.p, (const float*)dy.p, dx.p, pixels,
                           C);
        // The block's units: group g of pixel p is channels [32 g, 32 g + 32), code words [p wpp + k g, ...),
        // mask word u = p G + g.
        bool ok = true, okv = true, okg = true;
        for (long long u = u0; u < u1; u++) {
            const long long p = u / G;
            const int g = (int)(u % G), c0 = g * 32, c1 = std::min(C, c0 + 32);
            std::vector<uint32_t> rc(k, 0);
            uint32_t rm = 0;
            for (int c = c0; c < c1; c++) {
                const long long i = p * C + c;
                const float v = x[i];
                const float cl = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
                const uint32_t code = (uint32_t)lrintf(cl * 15.0f);
                rc[((c - c0) * k) / 32] |= code << ((c * k) % 32);
                rm |= (uint32_t)(v > 0.f && v < 1.f) << (c % 32);
                const float want = (float)code / 15.0f;
                okv &= std::memcmp(&want, &back[i], 4) == 0;
                const float gw = (v > 0.f && v < 1.f) ? dy[i] : 0.0f;
                okg &= std::memcmp(&gw, &dx[i], 4) == 0;
                record(back[i]);
                record(dx[i]);
            }
            const int words = std::min(k, wpp - g * k);
            for (int j = 0; j < words; j++) ok &= codes[p * wpp + (long long)g * k + j] == rc[j];
            ok &= mask[u] == rm;
            record(rc);
            record(rm);
        }
        const std::string what = "C=" + std::to_string(C) + " past 2^31";
        check(ok, at(("quantize+pack " + what).c_str(), b));
        check(okv, at(("unpack " + what).c_str(), b));
        check(okg, at(("mask gradient " + what).c_str(), b));
    }
}

static void test_elementwise() {
    const long long n = (long long)N * OH * OW * COUT + 3;  // a scalar tail too
    Sparse<float> a(n), b(n), y(n);
    std::vector<double> partial;
    const long long n4 = n / 4;
    const unsigned grid = (unsigned)((n4 + 255) / 256);
    partial.assign(grid, NAN);
    for (long long blk : {0LL, TWO31 / 4 / 256 - 1, TWO31 / 4 / 256, (long long)grid - 1}) {
        const long long i0 = blk * 1024, i1 = std::min(n, i0 + 1024);
        fill(a, i0, i1, 11);
        fill(b, i0, i1, 12);
        fill(a, n - 3, n, 11);  // the tail, handled by the first threads of block 0
        fill(b, n - 3, n, 12);
        poison(y, i0, i1);
        if (blk == 0) poison(y, n - 3, n);
        emu::launch_blocks(add_f32, grid, (unsigned)blk, 1, 256, (const float*)a.p, (const float*)b.p, y.p, n);
        bool ok = true;
        auto each = [&](auto f) {
            for (long long i = i0; i < i1; i++) f(i);
            if (blk == 0) {
                for (long long i = n - 3; i < n; i++) f(i);
            }
        };
        each([&](long long i) {
            ok &= y[i] == a[i] + b[i];
            record(y[i]);
        });
        check(ok, at("add past 2^31", blk));
        emu::launch_blocks(relu_f32, grid, (unsigned)blk, 1, 256, (const float*)a.p, y.p, n);
        ok = true;
        each([&](long long i) { ok &= y[i] == (a[i] > 0 ? a[i] : 0.0f); });
        check(ok, at("relu past 2^31", blk));
        emu::launch_blocks(quantize_act_f32, grid, (unsigned)blk, 1, 256, (const float*)a.p, y.p, n, 2);
        ok = true;
        each([&](long long i) {
            const float v = a[i], cl = v < 0.f ? 0.f : (v > 1.f ? 1.f : v);
            const float want = (float)lrintf(cl * 3.0f) / 3.0f;
            ok &= std::memcmp(&want, &y[i], 4) == 0;
        });
        check(ok, at("quantize_act past 2^31", blk));
        emu::launch_blocks(reduce_sum_squares_f32_f64, grid, (unsigned)blk, 1, 256, (const float*)a.p, n, partial.data());
        double s = 0;
        each([&](long long i) { s += (double)a[i] * a[i]; });
        record(partial[blk]);
        check(std::fabs(partial[blk] - s) <= 1e-12 * (1 + s), at("sum of squares past 2^31", blk));
    }
}

int main() {
#if !EMU_ASAN && !EMU_TSAN
    signal(SIGSEGV, on_fault);  // the sanitizers report faults themselves
    signal(SIGBUS, on_fault);
#endif
    running = "conv fprop/dgrad/wgrad";
    test_conv();
    running = "batch norm";
    test_bn();
    running = "max pooling";
    test_maxpool();
    running = "quantize+pack, unpack, mask gradient";
    test_pack(192);
    test_pack(196);  // C not a multiple of 32: the per-pixel group arithmetic
    running = "element-wise and reductions";
    test_elementwise();
    return summary("index bounds emulation");
}
