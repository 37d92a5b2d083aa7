// Runs the cuda/*.cu kernels under cuda_emu.h on the CPU and compares them with a plain C++
// rendering of the contract (DESIGN.md; the Java reference is the authority, this mirrors it).
// Small grids on purpose, so that grid-stride loops wrap. Prints "N passed, M failed".
//   native/emu/run.sh
#include "cuda_emu.h"
#include "check.h"

#include <cstdio>
#include <random>
#include <string>

#include "../../cuda/elementwise.cu"
#include "../../cuda/pack.cu"
#include "../../cuda/quantize.cu"
#include "../../cuda/reduce.cu"

static std::mt19937_64 rng(12345);

// ---- the contract, scalar -------------------------------------------------------------------
static uint32_t ref_act_code(float x, int k) {
    if (x != x) return 0;
    float c = x < 0.f ? 0.f : (x > 1.f ? 1.f : x);
    return (uint32_t)lrintf(c * (float)((1 << k) - 1));
}
static uint32_t ref_mask(float x) { return x > 0.f && x < 1.f; }
static int ref_weight_code(float w, int k) {
    if (w != w) return 0;
    float c = w < -1.f ? -1.f : (w > 1.f ? 1.f : w);
    return (int)lrintf(c * (float)((1 << (k - 1)) - 1));
}
static std::vector<uint32_t> ref_pack(const std::vector<uint32_t>& codes, long pixels, int C, int k) {
    int wpp = (C * k + 31) / 32;
    std::vector<uint32_t> w(pixels * wpp, 0);
    for (long p = 0; p < pixels; p++)
        for (int c = 0; c < C; c++) w[p * wpp + (c * k) / 32] |= codes[p * C + c] << ((c * k) % 32);
    return w;
}

static std::vector<float> inputs(long n, float lo, float hi, int levels) {
    std::uniform_real_distribution<float> u(lo, hi);
    std::vector<float> x(n);
    for (auto& v : x) v = u(rng);
    const float specials[] = {NAN, INFINITY, -INFINITY, -0.f, 0.f, 1.f, -1.f, 0.5f, 1e30f, -1e30f,
                              nextafterf(1.f, 2.f), nextafterf(1.f, 0.f), 1e-45f};
    std::uniform_int_distribution<long> at(0, n - 1);
    for (float s : specials) x[at(rng)] = s;
    for (int j = 0; j < levels && n > 16; j++) x[at(rng)] = (float)((j + 0.5) / levels);  // ties
    return x;
}

static void test_pack(int k, long pixels, int C, unsigned grid, unsigned threads) {
    long n = pixels * C;
    auto x = inputs(n, -0.5f, 1.5f, (1 << k) - 1);
    int wpp = (C * k + 31) / 32, G = (C + 31) / 32;
    std::vector<uint32_t> codes(pixels * wpp, 0xDEADBEEF), mask(pixels * G, 0xDEADBEEF);
    auto kern = k == 1 ? quantize_act_pack_u1 : k == 2 ? quantize_act_pack_u2 : k == 4 ? quantize_act_pack_u4
                                                                                : quantize_act_pack_u8;
    emu::launch(kern, grid, threads, (const float*)x.data(), codes.data(), mask.data(), (long long)pixels, C);
    std::vector<uint32_t> rc(n), rm(n);
    for (long i = 0; i < n; i++) {
        rc[i] = ref_act_code(x[i], k);
        rm[i] = ref_mask(x[i]);
    }
    std::string what = "k=" + std::to_string(k) + " pixels=" + std::to_string(pixels) + " C=" + std::to_string(C);
    record(codes);
    record(mask);
    check(codes == ref_pack(rc, pixels, C, k), "pack " + what);
    check(mask == ref_pack(rm, pixels, C, 1), "mask " + what);

    // unpack the reference words back
    auto words = ref_pack(rc, pixels, C, k);
    std::vector<int> got(n, 0x7777777);
    std::vector<float> vals(n, NAN);
    auto u32 = k == 1 ? unpack_u1_s32 : k == 2 ? unpack_u2_s32 : k == 4 ? unpack_u4_s32 : unpack_u8_s32;
    auto f32 = k == 1 ? unpack_u1_f32 : k == 2 ? unpack_u2_f32 : k == 4 ? unpack_u4_f32 : unpack_u8_f32;
    emu::launch(u32, grid, threads, (const uint32_t*)words.data(), got.data(), (long long)pixels, C);
    emu::launch(f32, grid, threads, (const uint32_t*)words.data(), vals.data(), (long long)pixels, C);
    bool ok = true, okv = true;
    for (long i = 0; i < n; i++) {
        ok &= got[i] == (int)rc[i];
        float want = (float)rc[i] / (float)((1 << k) - 1);
        okv &= std::memcmp(&want, &vals[i], 4) == 0;
    }
    record(got);
    record(vals);
    check(ok, "unpack codes " + what);
    check(okv, "unpack values " + what);

    std::vector<float> dy(n), dx(n, NAN);
    std::normal_distribution<float> g(0.f, 1.f);
    for (auto& v : dy) v = g(rng);
    auto mwords = ref_pack(rm, pixels, C, 1);
    emu::launch(mask_grad_f32, grid, threads, (const uint32_t*)mwords.data(), (const float*)dy.data(), dx.data(),
                (long long)pixels, C);
    bool okg = true;
    for (long i = 0; i < n; i++) {
        float want = rm[i] ? dy[i] : 0.f;
        okg &= std::memcmp(&want, &dx[i], 4) == 0;
    }
    record(dx);
    check(okg, "mask gradient " + what);
}

static void test_elementwise(long n) {
    auto x = inputs(n, -1.5f, 1.5f, 7);
    for (int k : {1, 2, 4, 8}) {
        std::vector<float> y(n, NAN);
        emu::launch(quantize_act_f32, 2, 64, (const float*)x.data(), y.data(), (long long)n, k);
        bool ok = true;
        for (long i = 0; i < n; i++) {
            float want = (float)ref_act_code(x[i], k) / (float)((1 << k) - 1);
            ok &= std::memcmp(&want, &y[i], 4) == 0;
        }
        record(y);
        check(ok, "quantize_act_f32 k=" + std::to_string(k) + " n=" + std::to_string(n));
    }
    for (int k : {2, 4, 8}) {
        std::vector<int8_t> c(n, -128);
        emu::launch(quantize_weight_f32_s8, 2, 64, (const float*)x.data(), c.data(), (long long)n, k);
        std::vector<float> v(n, NAN);
        emu::launch(quantize_weight_f32_f32, 2, 64, (const float*)x.data(), v.data(), (long long)n, k);
        bool ok = true, okv = true;
        for (long i = 0; i < n; i++) {
            int s = ref_weight_code(x[i], k);
            ok &= c[i] == s;
            float want = (float)s / (float)((1 << (k - 1)) - 1);
            okv &= want == v[i];
        }
        record(c);
        record(v);
        check(ok, "weight codes k=" + std::to_string(k) + " n=" + std::to_string(n));
        check(okv, "weight values k=" + std::to_string(k) + " n=" + std::to_string(n));
    }
    // binary: codes, then mean|w| through the two-stage reduction, then values from the device scale
    std::vector<int8_t> bc(n, -128);
    emu::launch(binarize_weight_f32_s8, 2, 64, (const float*)x.data(), bc.data(), (long long)n);
    std::vector<double> partial(3);
    double sum = 0;
    float mean = -1;
    emu::launch(reduce_sum_abs_f32_f64, 3, 256, (const float*)x.data(), (long long)n, partial.data());
    emu::launch(reduce_final_f64, 1, 256, (const double*)partial.data(), 3, &sum, &mean, (long long)n);
    double ref = 0;
    bool okc = true;
    for (long i = 0; i < n; i++) {
        if (x[i] == x[i]) ref += std::fabs((double)x[i]);
        okc &= bc[i] == (x[i] < 0.f ? -1 : 1);
    }
    record(bc);
    record(sum);
    record(mean);
    check(okc, "binary codes n=" + std::to_string(n));
    // Specials include +-1e30 and Inf, so compare the sum loosely and the mean via the same division.
    check(sum == ref || std::fabs(sum - ref) <= 1e-12 * std::fabs(ref) || (std::isinf(sum) && std::isinf(ref)),
          "sum|w| n=" + std::to_string(n));
    check(mean == (float)(sum / n), "mean|w| rounding n=" + std::to_string(n));
    std::vector<float> bv(n, NAN);
    emu::launch(binarize_weight_f32_f32, 2, 64, (const float*)x.data(), bv.data(), (long long)n, (const float*)&mean);
    bool okb = true;
    for (long i = 0; i < n; i++) okb &= bv[i] == (x[i] < 0.f ? -mean : mean);
    record(bv);
    check(okb, "binary values n=" + std::to_string(n));

    // reductions on finite data
    std::normal_distribution<float> g(0.f, 3.f);
    std::vector<float> z(n);
    for (auto& v : z) v = g(rng);
    double ss = 0, s = 0, ssum = -1, sq = -1;
    float mx = 0, gmx = -1;
    for (float v : z) {
        ss += (double)v * v;
        s += v;
        mx = std::max(mx, std::fabs(v));
    }
    std::vector<float> pf(5);
    emu::launch(reduce_sum_squares_f32_f64, 3, 256, (const float*)z.data(), (long long)n, partial.data());
    emu::launch(reduce_final_f64, 1, 256, (const double*)partial.data(), 3, &sq, (float*)nullptr, (long long)n);
    emu::launch(reduce_sum_f32_f64, 3, 256, (const float*)z.data(), (long long)n, partial.data());
    emu::launch(reduce_final_f64, 1, 256, (const double*)partial.data(), 3, &ssum, (float*)nullptr, (long long)n);
    emu::launch(reduce_max_abs_f32, 5, 256, (const float*)z.data(), (long long)n, pf.data());
    emu::launch(reduce_final_max_f32, 1, 256, (const float*)pf.data(), 5, &gmx);
    record(sq);
    record(ssum);
    record(gmx);
    check(std::fabs(sq - ss) <= 1e-12 * ss, "sum of squares n=" + std::to_string(n));
    check(std::fabs(ssum - s) <= 1e-9 * ss, "sum n=" + std::to_string(n));
    check(gmx == mx, "max|x| n=" + std::to_string(n));
    z[n / 2] = NAN;
    emu::launch(reduce_max_abs_f32, 5, 256, (const float*)z.data(), (long long)n, pf.data());
    emu::launch(reduce_final_max_f32, 1, 256, (const float*)pf.data(), 5, &gmx);
    record(gmx);
    check(gmx != gmx, "max|x| propagates NaN n=" + std::to_string(n));

    std::vector<float> a(n), b(n), o(n, NAN);
    for (long i = 0; i < n; i++) {
        a[i] = g(rng);
        b[i] = g(rng);
    }
    emu::launch(add_f32, 2, 64, (const float*)a.data(), (const float*)b.data(), o.data(), (long long)n);
    bool oka = true;
    for (long i = 0; i < n; i++) oka &= o[i] == a[i] + b[i];
    record(o);
    check(oka, "add n=" + std::to_string(n));
}

int main() {
    for (int k : {1, 2, 4, 8}) {
        for (int C : {1, 3, 4, 7, 12, 31, 32, 33, 36, 64, 100, 129}) {
            for (long p : {1L, 5L, 37L}) test_pack(k, p, C, 2, 64);
        }
        test_pack(k, 300, 64, 3, 96);
    }
    for (long n : {1L, 3L, 4L, 5L, 63L, 1000L, 4099L}) test_elementwise(n);
    return summary("kernel emulation");
}
