// Times the convolution-forward variants of conv_variants.cuh on a GPU at the layer shapes of the
// device check (resnet20 width 2 at batch 128, lenet width 2 at batch 64), after checking each one:
// the packed integer kernels bit for bit against an int64 CPU reference on sampled outputs, the fp32
// kernels within fp32 tolerance. llm.c dev/cuda style: one file, variants, reference, timing.
//   native/conv/run.sh          (builds with nvcc -arch=sm_90 and runs; prints a table)
// Variants per shape and activation bit width k:
//   direct      conv_direct_f32 on unpacked values (one thread per output)
//   unpack+f32  what the backend does today: unpack_u{k}_f32 into a scratch tensor, then the tiled
//               conv2d_fprop_f32_f32_f32 (the scratch write and read are counted in its time)
//   tiled f32   conv2d_fprop_f32_f32_f32 alone, on values already unpacked
//   packed      conv2d_fprop_u{k}_s8_s32 (dp4a, int32 accumulation) straight from the packed codes
//   packed+bn   the same with the exact BN statistics of its epilogue, and bn_stats_exact_f64
// Columns: median ms of 20 runs (events, after 3 warm-up runs), TOPS = 2*M*N*K / time, GB/s = the
// fewest bytes the variant must move (its inputs once, its output once) / time.
#include <cuda_runtime.h>

#include <algorithm>
#include <cstring>
#include <functional>
#include <cstdio>
#include <random>
#include <vector>

#include "../../cuda/pack.cu"
#include "conv_host.h"
#include "conv_variants.cuh"

#define CK(call)                                                                                \
    do {                                                                                        \
        cudaError_t e_ = (call);                                                                \
        if (e_ != cudaSuccess) {                                                                \
            std::fprintf(stderr, "%s:%d %s: %s\n", __FILE__, __LINE__, #call, cudaGetErrorString(e_)); \
            std::exit(1);                                                                       \
        }                                                                                       \
    } while (0)

struct Shape {
    const char* name;
    ConvShape g;
};

template <typename F>
static float time_ms(F launch) {
    cudaEvent_t a, b;
    CK(cudaEventCreate(&a));
    CK(cudaEventCreate(&b));
    for (int i = 0; i < 3; i++) launch();
    CK(cudaGetLastError());
    std::vector<float> t;
    for (int i = 0; i < 20; i++) {
        CK(cudaEventRecord(a));
        launch();
        CK(cudaEventRecord(b));
        CK(cudaEventSynchronize(b));
        float ms;
        CK(cudaEventElapsedTime(&ms, a, b));
        t.push_back(ms);
    }
    CK(cudaGetLastError());
    std::sort(t.begin(), t.end());
    CK(cudaEventDestroy(a));
    CK(cudaEventDestroy(b));
    return (t[9] + t[10]) / 2;
}

static unsigned tiles(long m, long n) { return (unsigned)(((m + 63) / 64) * ((n + 63) / 64)); }

int main() {
    cudaDeviceProp prop;
    CK(cudaGetDeviceProperties(&prop, 0));
    std::printf("%s, %d SMs, compute capability %d.%d\n\n", prop.name, prop.multiProcessorCount, prop.major, prop.minor);
    const Shape shapes[] = {
        {"resnet20 w2 layer1", {128, 32, 32, 32, 32, 3, 1, 1}},  {"resnet20 w2 down2", {128, 32, 32, 32, 64, 3, 2, 1}},
        {"resnet20 w2 layer2", {128, 16, 16, 64, 64, 3, 1, 1}},  {"resnet20 w2 layer3", {128, 8, 8, 128, 128, 3, 1, 1}},
        {"lenet w2 conv2", {64, 14, 14, 32, 64, 5, 1, 2}},
    };
    std::printf("| shape | k | variant | check | ms | TOPS | GB/s |\n|---|---|---|---|---|---|---|\n");
    std::mt19937_64 rng(1);
    int bad = 0;
    for (const Shape& shape : shapes) {
        const ConvShape& g = shape.g;
        for (int k : {2, 4}) {
            const int OH = g.oh(), OW = g.ow();
            const long M = (long)g.n * OH * OW, pixels = (long)g.n * g.h * g.w, Kd = (long)g.k * g.k * g.cin;
            const int wbits = 4;
            const float la = (float)((1 << k) - 1), lw = (float)((1 << (wbits - 1)) - 1), levels = la * lw;
            std::uniform_int_distribution<int> uc(0, (1 << k) - 1), wc(-7, 7);
            std::vector<int> u(pixels * g.cin), s((size_t)g.cout * Kd);
            for (auto& v : u) v = uc(rng);
            for (auto& v : s) v = wc(rng);
            const std::vector<uint32_t> xw = pack_codes(u, pixels, g.cin, k);
            const std::vector<int8_t> w8 = weights_s8(s, g.cout, g.k * g.k, g.cin);
            std::vector<float> xv(u.size()), wv(s.size());
            for (size_t i = 0; i < u.size(); i++) xv[i] = (float)u[i] / la;
            for (size_t i = 0; i < s.size(); i++) wv[i] = (float)s[i] / lw;
            uint32_t* dx;
            int8_t* dw8;
            float *dxv, *dwv, *dy, *scratch;
            long long* dstats;
            double *dmean, *dvar;
            const unsigned mt = (unsigned)((M + 63) / 64);
            CK(cudaMalloc(&dx, xw.size() * 4));
            CK(cudaMalloc(&dw8, w8.size()));
            CK(cudaMalloc(&dxv, xv.size() * 4));
            CK(cudaMalloc(&scratch, xv.size() * 4));
            CK(cudaMalloc(&dwv, wv.size() * 4));
            CK(cudaMalloc(&dy, M * g.cout * 4));
            CK(cudaMalloc(&dstats, (size_t)mt * g.cout * 16));
            CK(cudaMalloc(&dmean, g.cout * 8));
            CK(cudaMalloc(&dvar, g.cout * 8));
            CK(cudaMemcpy(dx, xw.data(), xw.size() * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(dw8, w8.data(), w8.size(), cudaMemcpyHostToDevice));
            CK(cudaMemcpy(dxv, xv.data(), xv.size() * 4, cudaMemcpyHostToDevice));
            CK(cudaMemcpy(dwv, wv.data(), wv.size() * 4, cudaMemcpyHostToDevice));
            // sampled exact reference
            std::vector<long> idx(2048);
            std::uniform_int_distribution<long> pick(0, M * g.cout - 1);
            for (auto& v : idx) v = pick(rng);
            auto ref = [&](long o) { return conv_acc(g, u, s, o); };
            std::vector<float> y(M * g.cout);
            auto verify = [&](bool exact) {
                CK(cudaMemset(dy, 0xFF, M * g.cout * 4));  // poison
                return [&, exact]() {
                    CK(cudaMemcpy(y.data(), dy, y.size() * 4, cudaMemcpyDeviceToHost));
                    double atol = 1e-5 * std::max(1.0, std::sqrt(Kd / 64.0));
                    for (long o : idx) {
                        long long a = ref(o);
                        float want = (float)a / levels;
                        if (exact ? std::memcmp(&want, &y[o], 4) != 0 : !(std::fabs(y[o] - (double)a / levels) <= atol + 1e-4 * std::fabs((double)a / levels)))
                            return false;
                    }
                    return true;
                };
            };
            const double ops = 2.0 * M * g.cout * Kd;
            const double bytesPacked = xw.size() * 4.0 + w8.size() + M * g.cout * 4.0;
            const double bytesF32 = xv.size() * 4.0 + wv.size() * 4.0 + M * g.cout * 4.0;
            auto row = [&](const char* variant, bool ok, float ms, double bytes) {
                bad += !ok;
                std::printf("| %s | %d | %s | %s | %.3f | %.2f | %.0f |\n", shape.name, k, variant, ok ? "ok" : "FAIL", ms, ops / ms / 1e9,
                            bytes / ms / 1e6);
            };
            auto unpack = k == 2 ? unpack_u2_f32 : unpack_u4_f32;
            auto packed = k == 2 ? conv2d_fprop_u2_s8_s32 : conv2d_fprop_u4_s8_s32;
            const long long upThreads = (pixels * ((g.cin + 31) / 32) + 3) / 4 * 32;
            const unsigned upBlocks = (unsigned)std::min<long long>((upThreads + 255) / 256, 65535);
            auto direct = [&] { conv_direct_f32<<<prop.multiProcessorCount * 8, 256>>>(dxv, dwv, dy, g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW); };
            auto tiled = [&] { conv2d_fprop_f32_f32_f32<<<tiles(M, g.cout), 256>>>(dxv, dwv, dy, g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW); };
            auto unpackTiled = [&] {
                unpack<<<upBlocks, 256>>>(dx, scratch, pixels, g.cin);
                conv2d_fprop_f32_f32_f32<<<tiles(M, g.cout), 256>>>(scratch, dwv, dy, g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW);
            };
            auto pk = [&] { packed<<<tiles(M, g.cout), 256>>>(dx, dw8, dy, nullptr, levels, g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW); };
            auto pkbn = [&] {
                packed<<<tiles(M, g.cout), 256>>>(dx, dw8, dy, dstats, levels, g.n, g.h, g.w, g.cin, g.cout, g.k, g.k, g.s, g.p, OH, OW);
                bn_stats_exact_f64<<<1, 256>>>(dstats, (int)mt, g.cout, M, (double)levels, dmean, dvar);
            };
            struct V { const char* name; std::function<void()> f; bool exact; double bytes; };
            for (auto& v : std::vector<V>{{"direct", direct, false, bytesF32}, {"unpack+f32", unpackTiled, false, bytesPacked},
                                         {"tiled f32", tiled, false, bytesF32}, {"packed", pk, true, bytesPacked},
                                         {"packed+bn", pkbn, true, bytesPacked}}) {
                auto check = verify(v.exact);
                v.f();
                CK(cudaDeviceSynchronize());
                bool ok = check();
                row(v.name, ok, time_ms(v.f), v.bytes);
            }
            CK(cudaFree(dx));
            CK(cudaFree(dw8));
            CK(cudaFree(dxv));
            CK(cudaFree(scratch));
            CK(cudaFree(dwv));
            CK(cudaFree(dy));
            CK(cudaFree(dstats));
            CK(cudaFree(dmean));
            CK(cudaFree(dvar));
        }
    }
    std::printf("\n%s\n", bad == 0 ? "all variants checked ok" : "SOME VARIANTS FAILED THEIR CHECK");
    return bad == 0 ? 0 : 1;
}
