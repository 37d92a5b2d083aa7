// A tiny CUDA emulator for running the cuda/*.cu kernels on the CPU, so that their indexing, packing
// and warp shuffles are checked on machines without a GPU. One OS thread per CUDA thread; the
// blocks of a grid run one after another. Warp intrinsics (__shfl_xor_sync, __ballot_sync) meet at
// a per-warp barrier, __syncthreads at a per-block one, so a kernel whose lanes diverge around a
// shuffle deadlocks here as it would misbehave on a GPU. Float intrinsics map to the host's IEEE
// operations (built with -ffp-contract=off, so no FMA contraction), lrintf rounds half to even.
// Timing means nothing here; correctness only.
#pragma once
#include <barrier>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <thread>
#include <vector>

#define __global__
#define __device__
#define __host__
#define __forceinline__ inline
#define __restrict__ __restrict
#define __shared__ static thread_local_shared_
#define __launch_bounds__(...)
// Block-shared statics: blocks run one at a time, so a plain static is shared by the block's threads.
#define thread_local_shared_

struct dim3 {
    unsigned x = 1, y = 1, z = 1;
};
struct alignas(16) float4 {
    float x, y, z, w;
};
struct alignas(16) int4 {
    int x, y, z, w;
};
struct alignas(4) char4 {
    signed char x, y, z, w;
};
inline float4 make_float4(float x, float y, float z, float w) { return {x, y, z, w}; }
inline int4 make_int4(int x, int y, int z, int w) { return {x, y, z, w}; }
inline char4 make_char4(signed char x, signed char y, signed char z, signed char w) { return {x, y, z, w}; }

namespace emu {
struct Warp {
    std::barrier<> bar{32};
    uint64_t slot[32];
};
struct Block {
    std::unique_ptr<std::barrier<>> bar;
    std::vector<std::unique_ptr<Warp>> warps;
};
inline thread_local unsigned tid = 0;
inline thread_local Block* block = nullptr;
inline thread_local dim3 block_idx, block_dim, grid_dim;
}  // namespace emu

#define threadIdx (dim3{emu::tid, 0, 0})
#define blockIdx (emu::block_idx)
#define blockDim (emu::block_dim)
#define gridDim (emu::grid_dim)

inline int __float2int_rn(float x) { return (int)lrintf(x); }
inline float __fmul_rn(float a, float b) { return a * b; }
inline float __fdiv_rn(float a, float b) { return a / b; }
inline float __fadd_rn(float a, float b) { return a + b; }
inline double __ddiv_rn(double a, double b) { return a / b; }
inline float __double2float_rn(double d) { return (float)d; }
using std::max;
using std::min;

inline void __syncthreads() { emu::block->bar->arrive_and_wait(); }

template <typename T>
T __shfl_xor_sync(unsigned, T v, int laneMask) {
    emu::Warp& w = *emu::block->warps[emu::tid / 32];
    unsigned lane = emu::tid & 31;
    std::memcpy(&w.slot[lane], &v, sizeof(T));
    w.bar.arrive_and_wait();
    T r;
    std::memcpy(&r, &w.slot[lane ^ (unsigned)laneMask], sizeof(T));
    w.bar.arrive_and_wait();
    return r;
}

inline unsigned __ballot_sync(unsigned, int pred) {
    emu::Warp& w = *emu::block->warps[emu::tid / 32];
    unsigned lane = emu::tid & 31;
    w.slot[lane] = pred ? 1 : 0;
    w.bar.arrive_and_wait();
    unsigned r = 0;
    for (int i = 0; i < 32; i++) r |= (unsigned)w.slot[i] << i;
    w.bar.arrive_and_wait();
    return r;
}

namespace emu {
// Runs kernel(args...) on grid x block threads; block must be a multiple of 32.
template <typename... A>
void launch(void (*kernel)(A...), unsigned grid, unsigned threads, A... args) {
    for (unsigned b = 0; b < grid; b++) {
        Block blk;
        blk.bar = std::make_unique<std::barrier<>>(threads);
        for (unsigned w = 0; w < threads / 32; w++) blk.warps.push_back(std::make_unique<Warp>());
        std::vector<std::thread> ts;
        for (unsigned t = 0; t < threads; t++) {
            ts.emplace_back([&, t] {
                tid = t;
                block = &blk;
                block_idx = dim3{b, 0, 0};
                block_dim = dim3{threads, 1, 1};
                grid_dim = dim3{grid, 1, 1};
                kernel(args...);
            });
        }
        for (auto& th : ts) th.join();
    }
}
}  // namespace emu
