// A tiny CUDA emulator for running the cuda/*.cu kernels on the CPU, so that their indexing, packing,
// tiling and warp shuffles are checked on machines without a GPU.
//
// Every CUDA thread of a block is a fiber (ucontext) on one OS thread; the blocks of a grid run one
// after another. A fiber runs until it reaches a barrier (__syncthreads, or the per-warp barrier
// inside __shfl_*_sync / __ballot_sync / __syncwarp), then the next fiber runs. A barrier releases
// when all threads of its block (warp) have arrived; when a whole round makes no progress, the launch
// is reported as a deadlock (a kernel whose threads diverge around a barrier or a shuffle, or exit
// before one, which is undefined on a GPU) and the program aborts.
// The one tensor-core instruction the kernels use, mma.m16n8k32 u8 x s8 -> s32 (cuda/mma.cuh), is a
// warp-collective exchange like a shuffle (emu::mma_m16n8k32_s32_u8_s8_s32, at the end).
// Float intrinsics map to the host's IEEE operations (built with -ffp-contract=off, so no FMA
// contraction); lrintf rounds half to even. Timing means nothing here; correctness only.
//
// Checking like a sanitizer (native/emu/run.sh runs every mode):
//  - Orders. EMU_ORDER=forward (default) | reverse | shuffle:SEED sets the order in which the blocks
//    of a grid run and in which the fibers of a block are resumed in each scheduling round (shuffle:
//    a fresh seeded permutation per block and per round). A kernel's results must not depend on it.
//  - Shared memory. __shared__ variables are statics; before every block they are filled with
//    pseudo-random garbage (never the previous block's or launch's values), so a read before the
//    barrier that orders it after the write sees garbage, as on a GPU. EMU_SHARED_FILL=0 turns it off.
//    Built with -fdata-sections, every function-local static gets its own .bss._ZZ* section, which
//    the linker script emu_shared.ld gathers into one range (__emu_shared_begin/_end); a section
//    attribute would not do (GCC ignores it in templates). shared-symbols.sh checks that nothing but
//    statics of kernel-source functions lies in the range, so emulator code keeps no local statics.
//  - AddressSanitizer + UBSan (-fsanitize=address,undefined): fiber switches are announced to ASan,
//    the garbage fill skips ASan's redzones around shared arrays.
//  - ThreadSanitizer (-fsanitize=thread): each CUDA thread is a TSan fiber, switched to without implied
//    synchronisation; consecutive blocks run on two alternating sets of fibers, so neighbouring blocks
//    of a launch are unordered, as on a GPU (a block and the one after next share fibers and so
//    program order: fiber creation per block cost minutes). The only happens-before edges are the ones CUDA gives: each barrier generation
//    (block, and per warp for shuffles/ballots) is a release by every arriving thread and an acquire by
//    every leaving one; a launch's start orders the host's prior work before its threads (fiber
//    block_start, acquired by each thread), and its end orders all its threads before the host's
//    next step (launch_end). Before each block the shared-memory pages are mapped afresh (mmap
//    MAP_FIXED, which also clears TSan's record of the previous block's accesses; the runtime exports
//    no other way). So a missing __syncthreads() is a data race report even when the values happen to
//    come out right.
//  - Mutation testing. EMU_DROP_BARRIER=FILE:LINE makes the __syncthreads() at that source line a
//    no-op (FILE is matched as a path suffix); EMU_LIST_BARRIERS=1 prints every barrier site reached.
//    At exit both print "emu: barrier FILE:LINE reached N times[, dropped]" to stderr.
#pragma once
#define WRPN_CUDA_EMU 1  // kernel headers that need the emulator's warp machinery test this (mma.cuh)
#include <sys/mman.h>
#include <ucontext.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <random>
#include <source_location>
#include <string>
#include <type_traits>
#include <vector>

#if defined(__SANITIZE_THREAD__)
#define EMU_TSAN 1
#include <sanitizer/tsan_interface.h>
#define EMU_NO_TSAN __attribute__((no_sanitize_thread, noinline))
#else
#define EMU_TSAN 0
#define EMU_NO_TSAN
#endif
#if defined(__SANITIZE_ADDRESS__)
#define EMU_ASAN 1
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#else
#define EMU_ASAN 0
#endif

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

// The range of all __shared__ variables (emu_shared.ld); weak, so a program without the script links.
extern "C" __attribute__((weak)) char __emu_shared_begin[];
extern "C" __attribute__((weak)) char __emu_shared_end[];

namespace emu {
constexpr size_t STACK_BYTES = 128 * 1024;

// ---- configuration, from the environment -----------------------------------------------------------
enum class Order { FORWARD, REVERSE, SHUFFLE };

struct Config {
    Order order = Order::FORWARD;
    uint64_t seed = 0;
    bool fill_shared = true;
    bool list_barriers = false;
    std::string drop_file;  // EMU_DROP_BARRIER: a path suffix ...
    unsigned drop_line = 0;  // ... and a line; 0: none
};

inline Config read_config() {
    Config c;
    if (const char* o = std::getenv("EMU_ORDER")) {
        std::string v(o);
        if (v == "reverse") {
            c.order = Order::REVERSE;
        } else if (v.rfind("shuffle", 0) == 0) {
            c.order = Order::SHUFFLE;
            c.seed = v.size() > 8 ? std::strtoull(v.c_str() + 8, nullptr, 10) : 1;
        } else if (v != "forward" && !v.empty()) {
            std::fprintf(stderr, "emu: EMU_ORDER=%s: use forward, reverse or shuffle:SEED\n", o);
            std::abort();
        }
    }
    if (const char* f = std::getenv("EMU_SHARED_FILL")) c.fill_shared = std::strcmp(f, "0") != 0;
    if (const char* l = std::getenv("EMU_LIST_BARRIERS")) c.list_barriers = std::strcmp(l, "0") != 0;
    if (const char* d = std::getenv("EMU_DROP_BARRIER")) {
        std::string v(d);
        size_t colon = v.rfind(':');
        if (colon == std::string::npos || colon + 1 >= v.size()) {
            std::fprintf(stderr, "emu: EMU_DROP_BARRIER=%s: use FILE:LINE\n", d);
            std::abort();
        }
        c.drop_file = v.substr(0, colon);
        c.drop_line = (unsigned)std::strtoul(v.c_str() + colon + 1, nullptr, 10);
    }
    return c;
}

inline const Config cfg = read_config();

// Barrier sites reached (only counted when listing or dropping), printed at exit. A fixed table of
// plain values: touched by fibers, it must not allocate (nor be seen by TSan).
struct Site {
    const char* file;  // source_location's string: one pointer per site
    unsigned line;
    long hits;
    bool dropped;
};

struct SiteStats {
    Site sites[256];
    unsigned count = 0;
    ~SiteStats() {
        bool any = false;
        for (unsigned i = 0; i < count; i++) {
            const char* base = std::strrchr(sites[i].file, '/');
            std::fprintf(stderr, "emu: barrier %s:%u reached %ld times%s\n", base ? base + 1 : sites[i].file, sites[i].line,
                         sites[i].hits, sites[i].dropped ? ", dropped" : "");
            any |= sites[i].dropped;
        }
        if (cfg.drop_line != 0 && !any) {
            std::fprintf(stderr, "emu: EMU_DROP_BARRIER=%s:%u matched no barrier that ran\n", cfg.drop_file.c_str(),
                         cfg.drop_line);
        }
    }
};
inline SiteStats site_stats;

inline bool ends_with(const char* s, const std::string& suffix) {
    size_t n = std::strlen(s);
    return n >= suffix.size() && std::memcmp(s + n - suffix.size(), suffix.data(), suffix.size()) == 0;
}

// Whether the barrier at file:line is dropped (mutation testing); counts the site when asked to.
EMU_NO_TSAN inline bool barrier_dropped(const char* file, unsigned line) {
    if (cfg.drop_line == 0 && !cfg.list_barriers) return false;
    SiteStats& st = site_stats;
    Site* site = nullptr;
    for (unsigned i = 0; i < st.count && site == nullptr; i++) {
        if (st.sites[i].file == file && st.sites[i].line == line) site = &st.sites[i];
    }
    if (site == nullptr) {
        if (st.count == sizeof st.sites / sizeof st.sites[0]) std::abort();
        site = &st.sites[st.count++];
        *site = Site{file, line, 0, line == cfg.drop_line && ends_with(file, cfg.drop_file)};
    }
    site->hits++;
    return site->dropped;
}

// ---- the scheduler ---------------------------------------------------------------------------------
constexpr unsigned MAX_THREADS = 1024;
constexpr unsigned MMA_WORDS = 10;  // a lane's A (4), B (2) and C (4) registers of an m16n8k32
// Fiber sets: under ThreadSanitizer consecutive blocks alternate between two sets of TSan fibers
// (and stacks), so the threads of neighbouring blocks are distinct TSan threads: unordered, as on a
// GPU, even at the same thread index. Elsewhere one set.
constexpr unsigned SETS = EMU_TSAN ? 2 : 1;

struct Fiber {
    ucontext_t ctx;
    bool done = false;
};

// What the fibers touch is reached through raw pointers (fib, warp_*, slots, sync), set once per
// launch: under ThreadSanitizer, emulator code is not instrumented (EMU_NO_TSAN), but container
// methods that -O1 leaves out of line would be, and would report the scheduler's bookkeeping as races.
struct Sched {
    ucontext_t main;
    std::vector<Fiber> fibers;
    std::vector<unsigned> order;  // resumption order of the current round
    std::vector<unsigned> warp_arrived_v;
    std::vector<unsigned long> warp_gen_v;
    std::vector<uint64_t> slots_v;
    std::vector<char> sync_v;  // TSan sync objects: 2 for the block barrier, 2 per warp (by generation parity)
    std::vector<uint32_t> mma_v;
    Fiber* fib = nullptr;
    unsigned* warp_arrived = nullptr;
    unsigned long* warp_gen = nullptr;
    uint64_t* slots = nullptr;  // 32 per warp, for shuffles and ballots
    uint32_t* mma = nullptr;    // MMA_WORDS per thread: the fragments of a warp-wide mma
    char* sync = nullptr;
    char* stacks = nullptr;  // the current set's stacks, STACK_BYTES each
    unsigned set = 0;
    unsigned threads = 0;
    unsigned current = 0;
    long events = 0;  // barrier arrivals and fiber exits: what counts as progress
    unsigned block_arrived = 0;
    unsigned long block_gen = 0;
    void (*entry)(void*) = nullptr;
    void* arg = nullptr;
    std::mt19937_64 rng;
#if EMU_TSAN
    void* tsan_main = nullptr;
#endif
#if EMU_ASAN
    const void* main_bottom = nullptr;
    size_t main_size = 0;
#endif
};

inline Sched* sched = nullptr;
inline unsigned tid = 0;
inline dim3 block_idx, block_dim, grid_dim;
inline unsigned long launches = 0;
// Fiber stacks for SETS x MAX_THREADS fibers, mapped once (untouched pages cost nothing).
inline char* stack_pool = nullptr;
#if EMU_TSAN
inline void* tsan_pool[SETS][MAX_THREADS];  // created on first use, kept for the whole run
inline char block_start;  // the host releases here before each block; its threads acquire it
inline char launch_end;    // every thread releases here when it ends; the host acquires after a launch
#endif

inline char* stacks_of(unsigned set) {
    if (stack_pool == nullptr) {
        void* p = mmap(nullptr, (size_t)SETS * MAX_THREADS * STACK_BYTES, PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (p == MAP_FAILED) {
            std::perror("emu: mmap of the fiber stacks");
            std::abort();
        }
        stack_pool = static_cast<char*>(p);
    }
    return stack_pool + (size_t)set * MAX_THREADS * STACK_BYTES;
}

// Index accessors: the scheduler writes these between fibers; TSan must not see that as a race.
EMU_NO_TSAN inline unsigned thread_index() { return tid; }
EMU_NO_TSAN inline dim3 block_index() { return block_idx; }
EMU_NO_TSAN inline dim3 block_dims() { return block_dim; }
EMU_NO_TSAN inline dim3 grid_dims() { return grid_dim; }

// Fiber -> scheduler.
EMU_NO_TSAN inline void yield() {
    Sched& s = *sched;
#if EMU_TSAN
    __tsan_switch_to_fiber(s.tsan_main, __tsan_switch_to_fiber_no_sync);
#endif
#if EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, s.main_bottom, s.main_size);
#endif
    swapcontext(&s.fib[s.current].ctx, &s.main);
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

// Scheduler -> fiber t.
EMU_NO_TSAN inline void resume(Sched& s, unsigned t) {
    s.current = t;
    tid = t;
#if EMU_TSAN
    __tsan_switch_to_fiber(tsan_pool[s.set][t], __tsan_switch_to_fiber_no_sync);
#endif
#if EMU_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, s.stacks + (size_t)t * STACK_BYTES, STACK_BYTES);
#endif
    swapcontext(&s.main, &s.fib[t].ctx);
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
}

EMU_NO_TSAN inline void trampoline() {
    Sched& s = *sched;
#if EMU_ASAN
    __sanitizer_finish_switch_fiber(nullptr, &s.main_bottom, &s.main_size);
#endif
#if EMU_TSAN
    __tsan_acquire(&block_start);
#endif
    s.entry(s.arg);
    s.fib[s.current].done = true;
    s.events++;
#if EMU_TSAN
    __tsan_release(&launch_end);
    __tsan_switch_to_fiber(s.tsan_main, __tsan_switch_to_fiber_no_sync);
#endif
#if EMU_ASAN
    __sanitizer_start_switch_fiber(nullptr, s.main_bottom, s.main_size);
#endif
    // returning switches to uc_link (the scheduler)
}

EMU_NO_TSAN inline void block_barrier() {
    Sched& s = *sched;
    unsigned long gen = s.block_gen;
#if EMU_TSAN
    __tsan_release(&s.sync[gen & 1]);
#endif
    s.events++;
    if (++s.block_arrived == s.threads) {
        s.block_arrived = 0;
        s.block_gen++;
    } else {
        while (s.block_gen == gen) yield();
    }
#if EMU_TSAN
    __tsan_acquire(&s.sync[gen & 1]);
#endif
}

EMU_NO_TSAN inline void warp_barrier() {
    Sched& s = *sched;
    unsigned w = tid / 32;
    unsigned long gen = s.warp_gen[w];
#if EMU_TSAN
    __tsan_release(&s.sync[2 + 2 * w + (gen & 1)]);
#endif
    s.events++;
    if (++s.warp_arrived[w] == 32) {
        s.warp_arrived[w] = 0;
        s.warp_gen[w]++;
    } else {
        while (s.warp_gen[w] == gen) yield();
    }
#if EMU_TSAN
    __tsan_acquire(&s.sync[2 + 2 * w + (gen & 1)]);
#endif
}

// Maps fresh zero pages over [p, p + n) (page-aligned): under TSan this also forgets every access
// recorded there (the runtime exports no other way), so the next block's threads do not race with the
// previous block's on shared memory.
inline void renew(void* p, size_t n) {
    if (mmap(p, n, PROT_READ | PROT_WRITE, MAP_FIXED | MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) != p) {
        std::perror("emu: mmap");
        std::abort();
    }
}

// Fills every __shared__ variable with garbage that depends on the launch and the block.
EMU_NO_TSAN inline void fill_shared(uint64_t salt) {
    char* begin = __emu_shared_begin;
    char* end = __emu_shared_end;
    if (begin == nullptr || end <= begin) return;
#if EMU_TSAN
    renew(begin, (size_t)(end - begin));  // emu_shared.ld page-aligns the range
#endif
    if (!cfg.fill_shared) return;
    uint64_t x = 0x9E3779B97F4A7C15ull ^ (salt * 0xD1B54A32D192ED03ull);
#if EMU_ASAN
    for (char* p = begin; p < end;) {
        if (__asan_address_is_poisoned(p)) {  // a redzone between two shared arrays
            p++;
            continue;
        }
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        *p++ = (char)(x >> 24);
    }
#else
    for (char* p = begin; p + 8 <= end; p += 8) {  // whole pages (emu_shared.ld)
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        std::memcpy(p, &x, 8);
    }
#endif
}

// The resumption order of one scheduling round.
inline void order_round(Sched& s) {
    const unsigned n = s.threads;
    s.order.resize(n);
    for (unsigned t = 0; t < n; t++) s.order[t] = cfg.order == Order::REVERSE ? n - 1 - t : t;
    if (cfg.order == Order::SHUFFLE) std::shuffle(s.order.begin(), s.order.end(), s.rng);
}

// Runs one block of `threads` fibers to completion, on fiber set `set`.
EMU_NO_TSAN inline void run_block(Sched& s, unsigned set) {
    fill_shared(launches * 0x100000001B3ull + block_idx.x);
#if EMU_TSAN
    __tsan_release(&block_start);  // the host's work so far (the fresh shared memory too) before the block
#endif
    s.set = set;
    s.stacks = stacks_of(set);
#if EMU_TSAN
    s.tsan_main = __tsan_get_current_fiber();
    for (unsigned t = 0; t < s.threads; t++) {
        if (tsan_pool[set][t] == nullptr) tsan_pool[set][t] = __tsan_create_fiber(0);
    }
#endif
    for (unsigned t = 0; t < s.threads; t++) {
        Fiber& f = s.fib[t];
        f.done = false;
        getcontext(&f.ctx);
        f.ctx.uc_stack.ss_sp = s.stacks + (size_t)t * STACK_BYTES;
        f.ctx.uc_stack.ss_size = STACK_BYTES;
        f.ctx.uc_link = &s.main;
        makecontext(&f.ctx, trampoline, 0);
    }
    s.block_arrived = 0;
    s.block_gen = 0;
    std::fill(s.warp_arrived_v.begin(), s.warp_arrived_v.end(), 0u);
    std::fill(s.warp_gen_v.begin(), s.warp_gen_v.end(), 0ul);
    // Fresh sync objects (a new allocation has no history): no edge from the previous block's barriers.
    s.sync_v.assign(2 + 2 * (s.threads / 32), 0);
    s.sync = s.sync_v.data();
    unsigned live = s.threads;
    order_round(s);
    while (live > 0) {
        long before = s.events;
        live = 0;
        if (cfg.order == Order::SHUFFLE) order_round(s);
        for (unsigned t : s.order) {
            if (s.fib[t].done) continue;
            resume(s, t);
            if (!s.fib[t].done) live++;
        }
        if (live > 0 && s.events == before) {
            std::fprintf(stderr, "emu: deadlock in block %u: %u threads wait at a barrier that not all threads reach\n",
                         block_idx.x, live);
            std::abort();
        }
    }
    std::vector<char>().swap(s.sync_v);  // frees them: their addresses may come back with no history
    s.sync = nullptr;
}

// Runs blocks [first, first + count) of a grid of `grid` blocks (all of them by default), in the
// configured order.
template <typename F>
EMU_NO_TSAN void launch_fn(unsigned grid, unsigned threads, F&& body, unsigned first = 0, unsigned count = ~0u) {
    if (threads == 0 || threads % 32 != 0 || threads > MAX_THREADS) {
        std::fprintf(stderr, "emu: block size %u must be a multiple of 32 up to %u\n", threads, MAX_THREADS);
        std::abort();
    }
    if (count == ~0u) count = grid - first;
    if (first > grid || count > grid - first) {
        std::fprintf(stderr, "emu: blocks [%u, %u + %u) outside a grid of %u\n", first, first, count, grid);
        std::abort();
    }
    Sched s;
    s.threads = threads;
    s.fibers.resize(threads);
    s.warp_arrived_v.assign(threads / 32, 0);
    s.warp_gen_v.assign(threads / 32, 0);
    s.slots_v.assign(threads, 0);
    s.mma_v.assign((size_t)threads * MMA_WORDS, 0);
    s.fib = s.fibers.data();
    s.warp_arrived = s.warp_arrived_v.data();
    s.warp_gen = s.warp_gen_v.data();
    s.slots = s.slots_v.data();
    s.mma = s.mma_v.data();
    s.entry = [](void* p) { (*static_cast<F*>(p))(); };
    s.arg = &body;
    s.rng.seed(cfg.seed * 0x9E3779B97F4A7C15ull + launches);
    Sched* outer = sched;
    sched = &s;
    grid_dim = dim3{grid, 1, 1};
    block_dim = dim3{threads, 1, 1};
    std::vector<unsigned> blocks(count);
    for (unsigned i = 0; i < count; i++) blocks[i] = first + (cfg.order == Order::REVERSE ? count - 1 - i : i);
    if (cfg.order == Order::SHUFFLE) std::shuffle(blocks.begin(), blocks.end(), s.rng);
    for (unsigned i = 0; i < count; i++) {
        block_idx = dim3{blocks[i], 0, 0};
        run_block(s, i % SETS);
    }
#if EMU_TSAN
    __tsan_acquire(&launch_end);  // and every thread's work before the host's next step
#endif
    sched = outer;
    launches++;
}

// Runs kernel(args...) on grid x threads CUDA threads; threads must be a multiple of 32.
template <typename... A, typename... B>
void launch(void (*kernel)(A...), unsigned grid, unsigned threads, B... args) {
    launch_fn(grid, threads, [&] { kernel(static_cast<A>(args)...); });
}

// Only blocks [first, first + count) of the grid: for index checks near 2^31 on huge grids.
template <typename... A, typename... B>
void launch_blocks(void (*kernel)(A...), unsigned grid, unsigned first, unsigned count, unsigned threads, B... args) {
    launch_fn(grid, threads, [&] { kernel(static_cast<A>(args)...); }, first, count);
}
}  // namespace emu

#define threadIdx (dim3{emu::thread_index(), 0, 0})
#define blockIdx (emu::block_index())
#define blockDim (emu::block_dims())
#define gridDim (emu::grid_dims())

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
// Relaxed __atomic operations, so that ThreadSanitizer treats them as atomics (never a race).
template <typename T>
inline T atomicAdd(T* p, T v) {
    if constexpr (std::is_integral_v<T>) {
        return __atomic_fetch_add(p, v, __ATOMIC_RELAXED);
    } else {
        T old, sum;
        __atomic_load(p, &old, __ATOMIC_RELAXED);
        do {
            sum = old + v;
        } while (!__atomic_compare_exchange(p, &old, &sum, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED));
        return old;
    }
}
template <typename T>
inline T atomicMax(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v > old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}
template <typename T>
inline T atomicMin(T* p, T v) {
    T old = __atomic_load_n(p, __ATOMIC_RELAXED);
    while (v < old && !__atomic_compare_exchange_n(p, &old, v, false, __ATOMIC_RELAXED, __ATOMIC_RELAXED)) {
    }
    return old;
}

// ---- barriers and warp intrinsics ------------------------------------------------------------------
// The call site's line is what EMU_DROP_BARRIER names.
inline void __syncthreads(std::source_location at = std::source_location::current()) {
    if (!emu::barrier_dropped(at.file_name(), at.line())) emu::block_barrier();
}
inline void __syncwarp(unsigned = 0xffffffffu) { emu::warp_barrier(); }

namespace emu {
template <typename T, typename Src>
EMU_NO_TSAN T exchange(T v, Src src) {
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

EMU_NO_TSAN inline unsigned __ballot_sync(unsigned, int pred) {
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

// ---- warp-level matrix multiply-accumulate ---------------------------------------------------------
namespace emu {
// mma.sync.aligned.m16n8k32.row.col.s32.u8.s8.s32 d, a, b, c: D (16 x 8) = A (16 x 32, u8) B (32 x 8, s8)
// + C, int32 wrapping (no .satfinite). Every lane publishes its registers, the warp meets, each lane
// rebuilds the whole A, B and C from the PTX ISA's element tables (9.7.14.5.10 "Matrix Fragments for
// mma.m16n8k32", .u8/.s8 multiplicands, .s32 accumulators; elements low to high within a .b32
// register), computes its own D elements, and the warp meets again before the slots are reused:
//   groupID = laneid >> 2, threadID_in_group = laneid % 4
//   A element ai (i < 16, byte i % 4 of register i / 4):
//     row = groupID for 0 <= i < 4 || 8 <= i < 12, groupID + 8 otherwise
//     col = threadID_in_group * 4 + (i & 3) for i < 8, threadID_in_group * 4 + (i & 3) + 16 for i >= 8
//   B element bi (i < 8, byte i % 4 of register i / 4):
//     row = threadID_in_group * 4 + (i & 3) for i < 4, threadID_in_group * 4 + (i & 3) + 16 for i >= 4
//     col = groupID
//   C / D element ci (i < 4, register i): row = groupID for i < 2, groupID + 8 for i >= 2;
//     col = threadID_in_group * 2 + (i & 1)
// c may alias d. All 32 lanes of the warp must call it (a missing lane is reported as a deadlock).
EMU_NO_TSAN inline void mma_m16n8k32_s32_u8_s8_s32(int (&d)[4], const uint32_t (&a)[4], const uint32_t (&b)[2],
                                                    const int (&c)[4]) {
    Sched& s = *sched;
    const unsigned base = tid & ~31u, lane = tid & 31;
    uint32_t* mine = s.mma + (size_t)tid * MMA_WORDS;
    for (int r = 0; r < 4; r++) mine[r] = a[r];
    for (int r = 0; r < 2; r++) mine[4 + r] = b[r];
    for (int r = 0; r < 4; r++) mine[6 + r] = (uint32_t)c[r];
    warp_barrier();
    int A[16][32], B[32][8];
    long long C[16][8];
    for (unsigned l = 0; l < 32; l++) {
        const uint32_t* f = s.mma + (size_t)(base + l) * MMA_WORDS;
        const int groupID = (int)(l >> 2), tig = (int)(l % 4);
        for (int i = 0; i < 16; i++) {
            const int row = (i < 4 || (8 <= i && i < 12)) ? groupID : groupID + 8;
            const int col = i < 8 ? tig * 4 + (i & 3) : tig * 4 + (i & 3) + 16;
            A[row][col] = (int)(uint8_t)(f[i / 4] >> (8 * (i % 4)));
        }
        for (int i = 0; i < 8; i++) {
            const int row = i < 4 ? tig * 4 + (i & 3) : tig * 4 + (i & 3) + 16;
            B[row][groupID] = (int)(int8_t)(uint8_t)(f[4 + i / 4] >> (8 * (i % 4)));
        }
        for (int i = 0; i < 4; i++) C[i < 2 ? groupID : groupID + 8][tig * 2 + (i & 1)] = (int32_t)f[6 + i];
    }
    const int groupID = (int)(lane >> 2), tig = (int)(lane % 4);
    int out[4];
    for (int i = 0; i < 4; i++) {
        const int row = i < 2 ? groupID : groupID + 8, col = tig * 2 + (i & 1);
        long long acc = C[row][col];
        for (int k = 0; k < 32; k++) acc += (long long)A[row][k] * B[k][col];
        out[i] = (int32_t)(uint32_t)(uint64_t)acc;  // .s32 without .satfinite wraps
    }
    warp_barrier();
    for (int i = 0; i < 4; i++) d[i] = out[i];
}
}  // namespace emu
