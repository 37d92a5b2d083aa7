// A tiny CUDA emulator for running the cuda/*.cu kernels on the CPU, so that their indexing, packing,
// tiling and warp shuffles are checked on machines without a GPU.
//
// Every CUDA thread of a block is a fiber (ucontext) on one OS thread; the blocks of a grid run one
// after another. A fiber runs until it reaches a barrier (__syncthreads, or the per-warp barrier
// inside __shfl_*_sync / __ballot_sync / __syncwarp), then the next fiber runs: round robin. A
// barrier releases when all threads of its block (warp) have arrived; when a whole round makes no
// progress, the launch is reported as a deadlock (a kernel whose threads diverge around a barrier or
// a shuffle, or exit before one, which is undefined on a GPU) and the program aborts.
// Float intrinsics map to the host's IEEE operations (built with -ffp-contract=off, so no FMA
// contraction); lrintf rounds half to even. __shared__ is a static: blocks run one at a time.
// Timing means nothing here; correctness only.
#pragma once
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__
#define __restrict__ __restrict
#define __shared__ static
#define __launch_bounds__(...)
#define __grid_constant__
#define __align__(n) __attribute__((aligned(n)))

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(8) float2 {
    float x, y;
};
struct alignas(16) int4 {
    int x, y, z, w;
};
struct alignas(16) uint4 {
    unsigned x, y, z, w;
};
struct alignas(4) char4 {
    signed char x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline float2 make_float2(float x, float y) { return {x, y}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline uint4 make_uint4(unsigned x, unsigned y, unsigned z, unsigned w) { return {x, y, z, w}; }
inline char4 make_char4(signed char x, signed char y, signed char z, signed char w) { return {x, y, z, w}; }

namespace emu {
constexpr size_t STACK_BYTES = 128 * 1024;

struct Fiber {
    ucontext_t ctx;
    bool done = false;
};

struct Sched {
    ucontext_t main;
    std::vector<Fiber> fibers;
    std::vector<std::unique_ptr<char[]>> stacks;
    unsigned threads = 0;
    unsigned current = 0;
    long events = 0;  // barrier arrivals and fiber exits: what counts as progress
    unsigned block_arrived = 0;
    unsigned long block_gen = 0;
    std::vector<unsigned> warp_arrived;
    std::vector<unsigned long> warp_gen;
    std::vector<uint64_t> slots;  // 32 per warp, for shuffles and ballots
    void (*entry)(void*) = nullptr;
    void* arg = nullptr;
};

inline Sched* sched = nullptr;
inline unsigned tid = 0;
inline dim3 block_idx, block_dim, grid_dim;

inline void yield() {
    Sched& s = *sched;
    swapcontext(&s.fibers[s.current].ctx, &s.main);
}

inline void trampoline() {
    Sched& s = *sched;
    s.entry(s.arg);
    s.fibers[s.current].done = true;
    s.events++;
    // returning switches to uc_link (the scheduler)
}

inline void block_barrier() {
    Sched& s = *sched;
    unsigned long gen = s.block_gen;
    s.events++;
    if (++s.block_arrived == s.threads) {
        s.block_arrived = 0;
        s.block_gen++;
        return;
    }
    while (s.block_gen == gen) yield();
}

inline void warp_barrier() {
    Sched& s = *sched;
    unsigned w = tid / 32;
    unsigned long gen = s.warp_gen[w];
    s.events++;
    if (++s.warp_arrived[w] == 32) {
        s.warp_arrived[w] = 0;
        s.warp_gen[w]++;
        return;
    }
    while (s.warp_gen[w] == gen) yield();
}

// Runs one block of `threads` fibers to completion.
inline void run_block(Sched& s) {
    for (unsigned t = 0; t < s.threads; t++) {
        Fiber& f = s.fibers[t];
        f.done = false;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = s.stacks[t].get();
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = &s.main;
        makecontext(&f.ctx, trampoline, 0);
    }
    s.block_arrived = 0;
    std::fill(s.warp_arrived.begin(), s.warp_arrived.end(), 0u);
    unsigned live = s.threads;
    while (live > 0) {
        long before = s.events;
        live = 0;
        for (unsigned t = 0; t < s.threads; t++) {
            if (s.fibers[t].done) continue;
            s.current = t;
            tid = t;
            swapcontext(&s.main, &s.fibers[t].ctx);
            if (!s.fibers[t].done) live++;
        }
        if (live > 0 && s.events == before) {
            std::fprintf(stderr, "emu: deadlock in block %u: %u threads wait at a barrier that not all threads reach\n",
                         block_idx.x, live);
            std::abort();
        }
    }
}

template <typename F>
void launch_fn(unsigned grid, unsigned threads, F&& body) {
    if (threads == 0 || threads % 32 != 0 || threads > 1024) {
        std::fprintf(stderr, "emu: block size %u must be a multiple of 32 up to 1024\n", threads);
        std::abort();
    }
    Sched s;
    s.threads = threads;
    s.fibers.resize(threads);
    for (unsigned t = 0; t < threads; t++) s.stacks.emplace_back(new char[STACK_BYTES]);
    s.warp_arrived.assign(threads / 32, 0);
    s.warp_gen.assign(threads / 32, 0);
    s.slots.assign(threads, 0);
    s.entry = [](void* p) { (*static_cast<F*>(p))(); };
    s.arg = &body;
    Sched* outer = sched;
    sched = &s;
    grid_dim = dim3{grid, 1, 1};
    block_dim = dim3{threads, 1, 1};
    for (unsigned b = 0; b < grid; b++) {
        block_idx = dim3{b, 0, 0};
        run_block(s);
    }
    sched = outer;
}

// Runs kernel(args...) on grid x threads CUDA threads; threads must be a multiple of 32.
template <typename... A, typename... B>
void launch(void (*kernel)(A...), unsigned grid, unsigned threads, B... args) {
    launch_fn(grid, threads, [&] { kernel(static_cast<A>(args)...); });
}
}  // namespace emu

#define threadIdx (dim3{emu::tid, 0, 0})
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

// ---- arithmetic intrinsics: the host's IEEE operations, one rounding each -------------------------
inline int __float2int_rn(float x) { return (int)lrintf(x); }
inline float __int2float_rn(int x) { return (float)x; }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline float __fsub_rn(float a, float b) { return a - b; }
inline float __fmaf_rn(float a, float b, float c) { return std::fma(a, b, c); }
inline double __dadd_rn(double a, double b) { return a + b; }
inline double __dsub_rn(double a, double b) { return a - b; }
inline double __dmul_rn(double a, double b) { return a * b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline double __dsqrt_rn(double a) { return std::sqrt(a); }
inline double __fma_rn(double a, double b, double c) { return std::fma(a, b, c); }
inline float __double2float_rn(double d) { return (float)d; }
inline int __float_as_int(float f) {
    int i;
    std::memcpy(&i, &f, 4);
    return i;
}
inline float __int_as_float(int i) {
    float f;
    std::memcpy(&f, &i, 4);
    return f;
}
template <typename T>
inline T __ldg(const T* p) {
    return *p;
}
// Signed 4 x int8 dot product plus accumulator.
inline int __dp4a(int a, int b, int c) {
    for (int i = 0; i < 4; i++) c += (int)(int8_t)(a >> (8 * i)) * (int)(int8_t)(b >> (8 * i));
    return c;
}
inline int __popc(unsigned x) { return __builtin_popcount(x); }
using std::max;
using std::min;

// Atomics: one OS thread runs every fiber and a fiber is never interrupted between a read and a write.
template <typename T>
inline T atomicAdd(T* p, T v) {
    T old = *p;
    *p = old + v;
    return old;
}
template <typename T>
inline T atomicMax(T* p, T v) {
    T old = *p;
    if (v > old) *p = v;
    return old;
}
template <typename T>
inline T atomicMin(T* p, T v) {
    T old = *p;
    if (v < old) *p = v;
    return old;
}

// ---- barriers and warp intrinsics ------------------------------------------------------------------
inline void __syncthreads() { emu::block_barrier(); }
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_barrier(); }

namespace emu {
template <typename T, typename Src>
T exchange(T v, Src src) {
    Sched& s = *sched;
    unsigned lane = tid & 31, base = tid & ~31u;
    std::memcpy(&s.slots[tid], &v, sizeof(T));
    warp_barrier();
    T r;
    std::memcpy(&r, &s.slots[base + src(lane)], sizeof(T));
    warp_barrier();
    return r;
}
}  // namespace emu

template <typename T>
T __shfl_xor_sync(unsigned, T v, int laneMask) {
    return emu::exchange(v, [=](unsigned lane) { return (lane ^ (unsigned)laneMask) & 31; });
}
template <typename T>
T __shfl_sync(unsigned, T v, int src) {
    return emu::exchange(v, [=](unsigned) { return (unsigned)src & 31; });
}
template <typename T>
T __shfl_down_sync(unsigned, T v, unsigned delta) {
    return emu::exchange(v, [=](unsigned lane) { return lane + delta < 32 ? lane + delta : lane; });
}

inline unsigned __ballot_sync(unsigned, int pred) {
    emu::Sched& s = *emu::sched;
    unsigned base = emu::tid & ~31u;
    s.slots[emu::tid] = pred ? 1 : 0;
    emu::warp_barrier();
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= (unsigned)s.slots[base + i] << i;
    emu::warp_barrier();
    return r;
}
inline int __any_sync(unsigned m, int pred) { return __ballot_sync(m, pred) != 0; }
inline int __all_sync(unsigned m, int pred) { return __ballot_sync(m, pred) == 0xffffffffu; }
