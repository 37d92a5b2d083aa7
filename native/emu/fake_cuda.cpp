// A stand-in libcuda.so.1 for machines without a GPU: the CUDA driver API calls that JCuda makes for
// the wrpn CUDA backend, with device memory in host memory and every kernel run by the CPU emulator of
// cuda_emu.h. Loaded through LD_LIBRARY_PATH in place of NVIDIA's driver, it lets the real Java
// backend (JCuda marshalling, launch geometry, allocator, staging, whole training steps) and the
// @Tag("gpu") tests run end to end. It says nothing about speed.
//
// As strict as a real driver where a mistake would otherwise pass here and fail on a GPU:
//  - Contexts. The current context is per thread: cuCtxSetCurrent sets the calling thread's. Every call
//    that needs one fails with CUDA_ERROR_INVALID_CONTEXT on a thread that has none current, and with
//    CUDA_ERROR_NOT_INITIALIZED before cuInit.
//  - Memory. Every allocation is exact-size and 256-byte aligned at the end of its own mapping, with an
//    inaccessible guard page after and before it: an access past the end (or before the start) faults.
//    Sizes that are no multiple of 256 leave a tail below 256 bytes before the guard; it holds a canary
//    that is checked after every kernel that was given a pointer into the allocation, and at cuMemFree.
//    A fault or a broken canary fails the work with CUDA_ERROR_ILLEGAL_ADDRESS and, as on a GPU, that
//    error is sticky: every later call on the context returns it. Freed memory is unmapped (a later
//    access faults). Fresh allocations hold 0xFF bytes (NaN as floats), as real ones hold garbage.
//    Copies and memsets must lie inside one allocation (else CUDA_ERROR_INVALID_VALUE).
//  - Streams. Launches, copies, memsets and event records are queued per stream and run only at a
//    synchronisation point: cuStreamSynchronize, cuEventSynchronize (up to the event), cuCtxSynchronize,
//    cuStreamQuery / cuEventQuery (which answer CUDA_ERROR_NOT_READY when work was pending, then run
//    it), cuMemFree (which synchronises, as the real one does), a copy to pageable host memory (which
//    the real driver completes before returning) and the synchronous memcpy calls. So a result read
//    before its synchronisation is stale here. Kernel arguments and pageable copy sources are captured
//    when queued (as the real driver does); a pinned (cuMemHostAlloc) source is read when the copy runs.
//    The legacy NULL stream orders against blocking streams, not against non-blocking ones.
//  - Modules. cuModuleLoadData(Ex) checks every .entry of the PTX: it must be a kernel of this library,
//    and its .param list must have the sizes of the C++ kernel's parameters. A rejection says why in the
//    JIT error log buffer (CU_JIT_ERROR_LOG_BUFFER), as the real JIT does; success writes the info log.
// The device reports compute capability 9.0, 2 multiprocessors (so grid-stride kernels run on small
// grids and their loops wrap), 16 GiB and driver version 13.0. FAKE_CUDA_STATS=1 prints at exit how
// many launches, blocks and copied bytes ran.
//
// Built by native/emu/build-fake-driver.sh, which generates kernels.inc (one X(name) per .entry of
// the PTX the jar carries) and sources.inc (every cuda/*.cu). No function-local statics here:
// emu_shared.ld would take them for shared memory (shared-symbols.sh checks).
#include "cuda_emu.h"

#include <setjmp.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstddef>
#include <deque>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "sources.inc"

typedef int CUresult;
typedef int CUdevice;
typedef unsigned long long CUdeviceptr;
typedef void* CUcontext;
typedef void* CUmodule;
typedef void* CUfunction;
typedef void* CUstream;
typedef void* CUevent;

enum : int {
    OK = 0,
    INVALID_VALUE = 1,
    OUT_OF_MEMORY = 2,
    NOT_INITIALIZED = 3,
    INVALID_CONTEXT = 201,
    INVALID_PTX = 218,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    NOT_READY = 600,
    ILLEGAL_ADDRESS = 700,
    LAUNCH_FAILED = 719,
};

namespace fake {
using Thunk = void (*)(void** params, unsigned grid, unsigned block);

template <typename F>
struct Sig;
template <typename... A>
struct Sig<void (*)(A...)> {
    template <void (*K)(A...), size_t... I>
    static void run(void** p, unsigned grid, unsigned block, std::index_sequence<I...>) {
        emu::launch(K, grid, block, *static_cast<A*>(p[I])...);
    }
    template <void (*K)(A...)>
    static void thunk(void** p, unsigned grid, unsigned block) {
        run<K>(p, grid, block, std::index_sequence_for<A...>{});
    }
    static std::vector<size_t> sizes() { return {sizeof(A)...}; }
};

struct Kernel {
    std::string name;
    Thunk run;
    std::vector<size_t> params;  // sizeof each parameter of the C++ kernel
};

std::map<std::string, Kernel> make_registry() {
    std::map<std::string, Kernel> m;
#define X(name) m[#name] = Kernel{#name, &Sig<decltype(&name)>::template thunk<&name>, Sig<decltype(&name)>::sizes()};
#include "kernels.inc"
#undef X
    return m;
}

const std::map<std::string, Kernel> registry = make_registry();

struct Module {
    std::set<std::string> entries;
};

// ---- state (all under `lock`) ----------------------------------------------------------------------
constexpr size_t TOTAL = 16ull << 30;
constexpr size_t PAGE = 4096;
constexpr unsigned char CANARY = 0xCD;

std::recursive_mutex lock;
bool initialized = false;
int primary_token;
CUcontext const primary = &primary_token;
thread_local CUcontext current = nullptr;
int sticky = OK;  // an error of queued work that poisons the context, as on a GPU

struct Alloc {
    char* map;        // the whole mapping: guard page, slack, data, tail, guard page
    size_t map_bytes;
    char* user;       // 256-byte aligned
    size_t bytes;     // as requested
    size_t rounded;   // bytes rounded up to 256: [user + bytes, user + rounded) is the canary tail
};
std::map<uintptr_t, Alloc> allocs;  // by user address
std::map<uintptr_t, size_t> pinned;  // cuMemHostAlloc ranges
size_t allocated = 0;

enum class OpKind { LAUNCH, COPY, MEMSET8, MEMSET32, EVENT };
struct Event;
struct Op {
    OpKind kind;
    uint64_t seq;
    // launch
    const Kernel* kernel = nullptr;
    unsigned grid = 0, block = 0;
    std::vector<char> args;  // the captured parameter values, each at its offset
    // copy: dst <- src (or the snapshot), n bytes
    char* dst = nullptr;
    const char* src = nullptr;
    std::vector<char> snapshot;
    size_t n = 0;
    unsigned value = 0;  // memset
    Event* event = nullptr;
};
struct Stream {
    std::deque<Op> queue;
    bool blocking;
};
struct Event {
    bool timing = true;
    bool recorded = false;
    bool done = false;
    double ms = 0;
    Stream* stream = nullptr;
    uint64_t seq = 0;
};
Stream legacy{{}, true};
std::set<Stream*> streams;
std::set<Event*> events;
uint64_t next_seq = 1;

struct Stats {
    long launches = 0, blocks = 0;
    long long copied = 0;
    double kernel_ms = 0;
    ~Stats() {
        if (const char* s = std::getenv("FAKE_CUDA_STATS"); s != nullptr && std::strcmp(s, "0") != 0) {
            std::fprintf(stderr, "fake libcuda: %ld launches, %ld blocks, %lld bytes copied, %.1f ms in kernels\n", launches,
                         blocks, copied, kernel_ms);
        }
    }
} stats;

void say(const std::string& m) { std::fprintf(stderr, "fake libcuda: %s\n", m.c_str()); }

// The allocation holding [p, p + n), or null.
const Alloc* find(uintptr_t p, size_t n) {
    auto it = allocs.upper_bound(p);
    if (it == allocs.begin()) return nullptr;
    --it;
    const Alloc& a = it->second;
    uintptr_t u = (uintptr_t)a.user;
    return p >= u && p - u <= a.bytes && n <= a.bytes - (p - u) ? &a : nullptr;
}

// The allocation whose mapping (guard pages and slack included) holds p, or null.
const Alloc* near(uintptr_t p) {
    auto it = allocs.upper_bound(p);  // the first allocation starting after p: p may be in its front guard
    if (it != allocs.end() && p >= (uintptr_t)it->second.map) return &it->second;
    if (it == allocs.begin()) return nullptr;
    --it;
    const Alloc& a = it->second;
    return p < (uintptr_t)a.map + a.map_bytes ? &a : nullptr;
}

bool is_pinned(const void* p) {
    auto it = pinned.upper_bound((uintptr_t)p);
    if (it == pinned.begin()) return false;
    --it;
    return (uintptr_t)p < it->first + it->second;
}

// Where a broken canary starts, or -1.
long canary_broken(const Alloc& a) {
    for (size_t i = a.bytes; i < a.rounded; i++) {
        if ((unsigned char)a.user[i] != CANARY) return (long)i;
    }
    for (char* q = a.map + PAGE; q < a.user; q++) {
        if ((unsigned char)*q != CANARY) return (long)(q - a.user);
    }
    return -1;
}

std::string describe(const Alloc& a) {
    char b[96];
    std::snprintf(b, sizeof b, "%zu-byte allocation at %p", a.bytes, (void*)a.user);
    return b;
}

// ---- faults during queued work -------------------------------------------------------------------
// While the executor runs an op, any SIGSEGV/SIGBUS on its thread is the op's (the JVM runs no Java
// there then): it jumps back and the op fails. Faults on other threads go to the handler that was
// installed before (the JVM's).
sigjmp_buf fault_jump;
std::atomic<long> executor{0};
uintptr_t fault_address = 0;
struct sigaction previous_segv, previous_bus;
bool handlers_installed = false;

void on_fault(int sig, siginfo_t* info, void* uc) {
    if (executor.load() != 0 && syscall(SYS_gettid) == executor.load()) {
        fault_address = (uintptr_t)info->si_addr;
        siglongjmp(fault_jump, 1);
    }
    struct sigaction& prev = sig == SIGSEGV ? previous_segv : previous_bus;
    if (prev.sa_flags & SA_SIGINFO) {
        prev.sa_sigaction(sig, info, uc);
    } else if (prev.sa_handler == SIG_DFL) {
        signal(sig, SIG_DFL);
        raise(sig);
    } else if (prev.sa_handler != SIG_IGN) {
        prev.sa_handler(sig);
    }
}

void install_handlers() {
    if (handlers_installed) return;
    struct sigaction sa;
    std::memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, &previous_segv);
    sigaction(SIGBUS, &sa, &previous_bus);
    handlers_installed = true;
}

std::string fault_message(const Op& op) {
    std::string what = op.kind == OpKind::LAUNCH ? "kernel " + op.kernel->name : std::string("a copy or memset");
    char b[160];
    std::snprintf(b, sizeof b, " faulted at %p", (void*)fault_address);
    std::string m = what + b;
    if (const Alloc* a = near(fault_address)) {
        long off = (long)(fault_address - (uintptr_t)a->user);
        m += off >= (long)a->bytes ? ": " + std::to_string(off - (long)a->bytes) + " bytes past the end of the " + describe(*a)
                                   : ": " + std::to_string(-off) + " bytes before the start of the " + describe(*a);
    } else {
        m += " (no live allocation there: freed memory, a host pointer or garbage)";
    }
    return m + " -> CUDA_ERROR_ILLEGAL_ADDRESS, sticky as on a GPU";
}

// Runs one op; a fault or a broken canary sets the sticky error.
void execute(Op& op) {
    if (sticky != OK) return;
    if (op.kind == OpKind::EVENT) {
        op.event->done = true;
        op.event->ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
        return;
    }
    install_handlers();
    auto t0 = std::chrono::steady_clock::now();
    executor.store(syscall(SYS_gettid));
    if (sigsetjmp(fault_jump, 1) != 0) {
        executor.store(0);
        emu::sched = nullptr;  // the launch was abandoned mid-block
        say(fault_message(op));
        sticky = ILLEGAL_ADDRESS;
        return;
    }
    switch (op.kind) {
        case OpKind::LAUNCH: {
            std::vector<void*> params;
            size_t at = 0;
            for (size_t s : op.kernel->params) {
                params.push_back(op.args.data() + at);
                at += s;
            }
            op.kernel->run(params.data(), op.grid, op.block);
            stats.launches++;
            stats.blocks += op.grid;
            break;
        }
        case OpKind::COPY:
            std::memmove(op.dst, op.snapshot.empty() ? op.src : op.snapshot.data(), op.n);
            stats.copied += (long long)op.n;
            break;
        case OpKind::MEMSET8:
            std::memset(op.dst, (int)op.value, op.n);
            break;
        case OpKind::MEMSET32:
            for (size_t i = 0; i < op.n; i++) std::memcpy(op.dst + 4 * i, &op.value, 4);
            break;
        case OpKind::EVENT:
            break;
    }
    executor.store(0);
    stats.kernel_ms += std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    if (op.kind == OpKind::LAUNCH) {
        // The canaries of every allocation the kernel was given a pointer into.
        size_t at = 0;
        for (size_t s : op.kernel->params) {
            if (s == 8) {
                uintptr_t p;
                std::memcpy(&p, op.args.data() + at, 8);
                if (const Alloc* a = near(p)) {
                    long bad = canary_broken(*a);
                    if (bad >= 0) {
                        say("kernel " + op.kernel->name + " wrote at byte " + std::to_string(bad) + " of the " + describe(*a) +
                            ", outside it -> CUDA_ERROR_ILLEGAL_ADDRESS, sticky as on a GPU");
                        sticky = ILLEGAL_ADDRESS;
                    }
                }
            }
            at += s;
        }
    }
}

// Runs the ops of `s` with seq <= upto, in order; legacy and blocking streams order against each
// other (each op first runs the other side's earlier work).
void drain(Stream* s, uint64_t upto);

void drain_before(Stream* s, uint64_t seq) {
    if (!s->blocking) return;
    if (s == &legacy) {
        for (Stream* o : streams) {
            if (o->blocking) drain(o, seq - 1);
        }
    } else {
        drain(&legacy, seq - 1);
    }
}

void drain(Stream* s, uint64_t upto) {
    while (!s->queue.empty() && s->queue.front().seq <= upto) {
        Op op = std::move(s->queue.front());
        s->queue.pop_front();
        drain_before(s, op.seq);
        execute(op);
    }
}

void drain_all() {
    // in queueing order across streams
    for (;;) {
        Stream* first = legacy.queue.empty() ? nullptr : &legacy;
        for (Stream* o : streams) {
            if (!o->queue.empty() && (first == nullptr || o->queue.front().seq < first->queue.front().seq)) first = o;
        }
        if (first == nullptr) return;
        drain(first, first->queue.front().seq);
    }
}

Stream* stream_of(CUstream h) { return h == nullptr ? &legacy : static_cast<Stream*>(h); }

bool pending(Stream* s) { return !s->queue.empty(); }

void enqueue(Stream* s, Op op) {
    op.seq = next_seq++;
    s->queue.push_back(std::move(op));
}
}  // namespace fake

using fake::lock;

// Guards: the driver initialised, a context current on this thread, no sticky error.
#define NEED_INIT()                                             \
    std::lock_guard<std::recursive_mutex> guard_(fake::lock);  \
    if (!fake::initialized) return NOT_INITIALIZED
#define NEED_CONTEXT()                                   \
    NEED_INIT();                                         \
    if (fake::current == nullptr) return INVALID_CONTEXT; \
    if (fake::sticky != OK) return fake::sticky

extern "C" {

CUresult cuInit(unsigned) {
    std::lock_guard<std::recursive_mutex> g(fake::lock);
    fake::initialized = true;
    return OK;
}

CUresult cuDriverGetVersion(int* v) {
    *v = 13000;
    return OK;
}

CUresult cuDeviceGetCount(int* n) {
    NEED_INIT();
    *n = 1;
    return OK;
}

CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    NEED_INIT();
    if (ordinal != 0) return INVALID_VALUE;
    *d = 0;
    return OK;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice) {
    NEED_INIT();
    std::snprintf(name, len, "wrpn emulated GPU (CPU fibers)");
    return OK;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice) {
    NEED_INIT();
    *bytes = fake::TOTAL;
    return OK;
}

CUresult cuDeviceGetAttribute(int* v, int attribute, CUdevice) {
    NEED_INIT();
    switch (attribute) {
        case 75: *v = 9; break;          // compute capability major
        case 76: *v = 0; break;          // minor
        case 16: *v = 2; break;          // multiprocessors
        case 38: *v = 50 << 20; break;   // L2 bytes
        default: *v = 0;
    }
    return OK;
}

CUresult cuDevicePrimaryCtxRetain(CUcontext* ctx, CUdevice) {
    NEED_INIT();
    *ctx = fake::primary;
    return OK;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) {
    NEED_INIT();
    return OK;
}

CUresult cuCtxSetCurrent(CUcontext ctx) {
    NEED_INIT();
    if (ctx != nullptr && ctx != fake::primary) return INVALID_CONTEXT;
    fake::current = ctx;
    return OK;
}

CUresult cuCtxGetCurrent(CUcontext* ctx) {
    NEED_INIT();
    *ctx = fake::current;
    return OK;
}

CUresult cuCtxGetDevice(CUdevice* d) {
    NEED_CONTEXT();
    *d = 0;
    return OK;
}

CUresult cuCtxSynchronize() {
    NEED_CONTEXT();
    fake::drain_all();
    return fake::sticky;
}

CUresult cuGetErrorName(CUresult e, const char** s) {
    switch (e) {
        case OK: *s = "CUDA_SUCCESS"; break;
        case INVALID_VALUE: *s = "CUDA_ERROR_INVALID_VALUE"; break;
        case OUT_OF_MEMORY: *s = "CUDA_ERROR_OUT_OF_MEMORY"; break;
        case NOT_INITIALIZED: *s = "CUDA_ERROR_NOT_INITIALIZED"; break;
        case INVALID_CONTEXT: *s = "CUDA_ERROR_INVALID_CONTEXT"; break;
        case INVALID_PTX: *s = "CUDA_ERROR_INVALID_PTX"; break;
        case INVALID_HANDLE: *s = "CUDA_ERROR_INVALID_HANDLE"; break;
        case NOT_FOUND: *s = "CUDA_ERROR_NOT_FOUND"; break;
        case NOT_READY: *s = "CUDA_ERROR_NOT_READY"; break;
        case ILLEGAL_ADDRESS: *s = "CUDA_ERROR_ILLEGAL_ADDRESS"; break;
        case LAUNCH_FAILED: *s = "CUDA_ERROR_LAUNCH_FAILED"; break;
        default: *s = nullptr; return INVALID_VALUE;
    }
    return OK;
}

CUresult cuGetErrorString(CUresult e, const char** s) {
    if (cuGetErrorName(e, s) != OK) return INVALID_VALUE;
    return OK;
}

// ---- modules and kernels -----------------------------------------------------------------------

// The byte sizes of an .entry's .param list, e.g. ".param .u64 .ptr .align 1 k_param_0" -> 8,
// ".param .align 4 .b8 k_param_3[44]" -> 44.
static bool ptx_params(const std::string& list, std::vector<size_t>& sizes, std::string& why) {
    size_t at = 0;
    while ((at = list.find(".param", at)) != std::string::npos) {
        size_t end = list.find_first_of(",)", at);
        std::string decl = list.substr(at, end == std::string::npos ? std::string::npos : end - at);
        at += 6;
        size_t width = 0;
        for (auto [type, w] : std::initializer_list<std::pair<const char*, size_t>>{
                     {".u8", 1}, {".s8", 1}, {".b8", 1}, {".u16", 2}, {".s16", 2}, {".b16", 2}, {".f16", 2}, {".u32", 4},
                     {".s32", 4}, {".b32", 4}, {".f32", 4}, {".u64", 8}, {".s64", 8}, {".b64", 8}, {".f64", 8}}) {
            size_t p = decl.find(type);
            if (p != std::string::npos && !std::isalnum((unsigned char)decl[p + std::strlen(type)])) {
                width = w;
                break;
            }
        }
        if (width == 0) {
            why = "cannot read the parameter '" + decl + "'";
            return false;
        }
        size_t lb = decl.find('[');
        if (lb != std::string::npos) width *= std::strtoull(decl.c_str() + lb + 1, nullptr, 10);
        sizes.push_back(width);
    }
    return true;
}

static std::string sizes_str(const std::vector<size_t>& v) {
    std::string s = "(";
    for (size_t i = 0; i < v.size(); i++) s += (i ? ", " : "") + std::to_string(v[i]);
    return s + ")";
}

// The JIT options: CU_JIT_INFO_LOG_BUFFER 3, _SIZE_BYTES 4, CU_JIT_ERROR_LOG_BUFFER 5, _SIZE_BYTES 6.
static void jit_log(unsigned n, int* options, void** values, int buffer_option, const std::string& text) {
    char* buffer = nullptr;
    size_t size = 0;
    int size_at = -1;
    for (unsigned i = 0; i < n; i++) {
        if (options[i] == buffer_option) buffer = static_cast<char*>(values[i]);
        if (options[i] == buffer_option + 1) {
            size = (size_t)(uintptr_t)values[i];
            size_at = (int)i;
        }
    }
    if (buffer == nullptr || size == 0) return;
    size_t len = std::min(text.size(), size - 1);
    std::memcpy(buffer, text.data(), len);
    buffer[len] = 0;
    values[size_at] = (void*)(uintptr_t)(len + 1);
}

CUresult cuModuleLoadDataEx(CUmodule* module, const void* image, unsigned numOptions, int* options, void** values) {
    NEED_CONTEXT();
    std::string ptx(static_cast<const char*>(image));
    auto fail = [&](const std::string& why) {
        fake::say(why);
        jit_log(numOptions, options, values, 5, "ptxas fatal (fake libcuda): " + why);
        return INVALID_PTX;
    };
    if (ptx.find(".version ") == std::string::npos || ptx.find(".target ") == std::string::npos) {
        return fail("not PTX: no .version / .target line");
    }
    auto* m = new fake::Module();
    const std::string key = ".entry ";
    std::string info;
    for (size_t at = ptx.find(key); at != std::string::npos; at = ptx.find(key, at + 1)) {
        size_t start = at + key.size(), open = ptx.find('(', start), close = ptx.find(')', open);
        if (open == std::string::npos || close == std::string::npos) {
            delete m;
            return fail("unreadable .entry at offset " + std::to_string(at));
        }
        std::string name = ptx.substr(start, open - start);
        while (!name.empty() && std::isspace((unsigned char)name.back())) name.pop_back();
        auto k = fake::registry.find(name);
        if (k == fake::registry.end()) {
            delete m;
            return fail("PTX entry " + name + " has no emulated kernel (rebuild the fake driver)");
        }
        std::vector<size_t> sizes;
        std::string why;
        if (!ptx_params(ptx.substr(open, close - open + 1), sizes, why)) {
            delete m;
            return fail("entry " + name + ": " + why);
        }
        if (sizes != k->second.params) {
            delete m;
            return fail("entry " + name + ": PTX .param sizes " + sizes_str(sizes) + " differ from the kernel's " +
                        sizes_str(k->second.params));
        }
        m->entries.insert(name);
    }
    if (m->entries.empty()) {
        delete m;
        return fail("no .entry in the module");
    }
    jit_log(numOptions, options, values, 3,
            "fake libcuda: " + std::to_string(m->entries.size()) + " entries checked against the emulated kernels");
    *module = m;
    return OK;
}

CUresult cuModuleLoadData(CUmodule* module, const void* image) { return cuModuleLoadDataEx(module, image, 0, nullptr, nullptr); }

CUresult cuModuleUnload(CUmodule m) {
    NEED_CONTEXT();
    delete static_cast<fake::Module*>(m);
    return OK;
}

CUresult cuModuleGetFunction(CUfunction* f, CUmodule module, const char* name) {
    NEED_CONTEXT();
    auto* m = static_cast<fake::Module*>(module);
    if (m == nullptr) return INVALID_HANDLE;
    if (!m->entries.count(name)) return NOT_FOUND;
    *f = const_cast<fake::Kernel*>(&fake::registry.at(name));
    return OK;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction f, int, size_t) {
    NEED_CONTEXT();
    if (f == nullptr) return INVALID_HANDLE;
    *blocks = 1;
    return OK;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned sharedBytes, CUstream stream, void** params, void** extra) {
    NEED_CONTEXT();
    auto* k = static_cast<fake::Kernel*>(f);
    if (k == nullptr) return INVALID_HANDLE;
    if (gx == 0 || bx == 0 || bx > 1024 || gx > 0x7fffffffu) return INVALID_VALUE;
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || sharedBytes != 0 || extra != nullptr || bx % 32 != 0) {
        fake::say("launch of " + k->name + ": only 1-D grids of whole warps without dynamic shared memory are emulated");
        return INVALID_VALUE;
    }
    if (params == nullptr && !k->params.empty()) return INVALID_VALUE;
    fake::Op op;
    op.kind = fake::OpKind::LAUNCH;
    op.kernel = k;
    op.grid = gx;
    op.block = bx;
    for (size_t i = 0; i < k->params.size(); i++) {  // captured now: the caller's buffers die with the call
        const char* p = static_cast<const char*>(params[i]);
        op.args.insert(op.args.end(), p, p + k->params[i]);
    }
    fake::enqueue(fake::stream_of(stream), std::move(op));
    return OK;
}

// ---- memory ---------------------------------------------------------------------------------------

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    NEED_CONTEXT();
    if (bytes == 0) return INVALID_VALUE;
    size_t rounded = (bytes + 255) / 256 * 256;
    size_t data = (rounded + fake::PAGE - 1) / fake::PAGE * fake::PAGE;
    if (fake::allocated + rounded > fake::TOTAL) return OUT_OF_MEMORY;
    size_t map_bytes = data + 2 * fake::PAGE;
    void* m = mmap(nullptr, map_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    if (m == MAP_FAILED) return OUT_OF_MEMORY;
    char* map = static_cast<char*>(m);
    mprotect(map, fake::PAGE, PROT_NONE);
    mprotect(map + fake::PAGE + data, fake::PAGE, PROT_NONE);
    fake::Alloc a{map, map_bytes, map + fake::PAGE + data - rounded, bytes, rounded};
    std::memset(map + fake::PAGE, fake::CANARY, (size_t)(a.user - map - fake::PAGE));
    std::memset(a.user, 0xFF, bytes);
    std::memset(a.user + bytes, fake::CANARY, rounded - bytes);
    *p = reinterpret_cast<CUdeviceptr>(a.user);
    fake::allocs[*p] = a;
    fake::allocated += rounded;
    return OK;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
    NEED_CONTEXT();
    fake::drain_all();  // cuMemFree synchronises
    auto it = fake::allocs.find(p);
    if (it == fake::allocs.end()) return INVALID_VALUE;
    fake::Alloc a = it->second;
    long bad = fake::canary_broken(a);
    fake::allocs.erase(it);
    fake::allocated -= a.rounded;
    munmap(a.map, a.map_bytes);
    if (bad >= 0) {
        fake::say("byte " + std::to_string(bad) + " outside the " + fake::describe(a) +
                  " was written (found at cuMemFree) -> CUDA_ERROR_ILLEGAL_ADDRESS");
        fake::sticky = ILLEGAL_ADDRESS;
    }
    return fake::sticky;
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    NEED_CONTEXT();
    *free = fake::TOTAL - fake::allocated;
    *total = fake::TOTAL;
    return OK;
}

CUresult cuMemHostAlloc(void** p, size_t bytes, unsigned) {
    NEED_CONTEXT();
    *p = std::aligned_alloc(4096, (std::max<size_t>(bytes, 1) + 4095) / 4096 * 4096);
    if (*p == nullptr) return OUT_OF_MEMORY;
    fake::pinned[(uintptr_t)*p] = bytes;
    return OK;
}

CUresult cuMemFreeHost(void* p) {
    NEED_CONTEXT();
    if (!fake::pinned.erase((uintptr_t)p)) return INVALID_VALUE;
    std::free(p);
    return OK;
}

// A device range must lie inside one allocation.
static bool device_range(CUdeviceptr p, size_t n) { return fake::find((uintptr_t)p, n) != nullptr; }

static CUresult copy(CUstream stream, char* dst, const char* src, size_t n, bool host_src, bool host_dst) {
    fake::Op op;
    op.kind = fake::OpKind::COPY;
    op.dst = dst;
    op.src = src;
    op.n = n;
    if (host_src && !fake::is_pinned(src)) op.snapshot.assign(src, src + n);  // staged now, as the driver does
    fake::Stream* s = fake::stream_of(stream);
    fake::enqueue(s, std::move(op));
    if (host_dst && !fake::is_pinned(dst)) fake::drain(s, fake::next_seq - 1);  // pageable: complete on return
    return fake::sticky;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream s) {
    NEED_CONTEXT();
    if (!device_range(dst, n)) return INVALID_VALUE;
    return copy(s, reinterpret_cast<char*>(dst), static_cast<const char*>(src), n, true, false);
}

CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CONTEXT();
    if (!device_range(src, n)) return INVALID_VALUE;
    return copy(s, static_cast<char*>(dst), reinterpret_cast<const char*>(src), n, false, true);
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream s) {
    NEED_CONTEXT();
    if (!device_range(dst, n) || !device_range(src, n)) return INVALID_VALUE;
    return copy(s, reinterpret_cast<char*>(dst), reinterpret_cast<const char*>(src), n, false, false);
}

// The synchronous copies run on the legacy stream and return when done.
CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) {
    NEED_CONTEXT();
    CUresult rc = cuMemcpyHtoDAsync_v2(dst, src, n, nullptr);
    fake::drain(&fake::legacy, fake::next_seq - 1);
    return rc != OK ? rc : fake::sticky;
}

CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) {
    NEED_CONTEXT();
    CUresult rc = cuMemcpyDtoHAsync_v2(dst, src, n, nullptr);
    fake::drain(&fake::legacy, fake::next_seq - 1);
    return rc != OK ? rc : fake::sticky;
}

static CUresult memset_op(CUdeviceptr p, unsigned v, size_t n, size_t width, CUstream s) {
    if (!device_range(p, n * width)) return INVALID_VALUE;
    fake::Op op;
    op.kind = width == 1 ? fake::OpKind::MEMSET8 : fake::OpKind::MEMSET32;
    op.dst = reinterpret_cast<char*>(p);
    op.n = n;
    op.value = v;
    fake::enqueue(fake::stream_of(s), std::move(op));
    return OK;
}

CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream s) {
    NEED_CONTEXT();
    return memset_op(p, v, n, 1, s);
}

CUresult cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, CUstream s) {
    NEED_CONTEXT();
    return memset_op(p, v, n, 4, s);
}

CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) {
    NEED_CONTEXT();
    CUresult rc = memset_op(p, v, n, 1, nullptr);
    fake::drain(&fake::legacy, fake::next_seq - 1);
    return rc != OK ? rc : fake::sticky;
}

CUresult cuMemsetD32_v2(CUdeviceptr p, unsigned v, size_t n) {
    NEED_CONTEXT();
    CUresult rc = memset_op(p, v, n, 4, nullptr);
    fake::drain(&fake::legacy, fake::next_seq - 1);
    return rc != OK ? rc : fake::sticky;
}

// ---- streams and events ---------------------------------------------------------------------------

CUresult cuStreamCreate(CUstream* s, unsigned flags) {
    NEED_CONTEXT();
    auto* st = new fake::Stream{{}, (flags & 1u) == 0};  // CU_STREAM_NON_BLOCKING = 1
    fake::streams.insert(st);
    *s = st;
    return OK;
}

CUresult cuStreamDestroy_v2(CUstream s) {
    NEED_CONTEXT();
    auto* st = static_cast<fake::Stream*>(s);
    if (!fake::streams.count(st)) return INVALID_HANDLE;
    fake::drain(st, ~0ull);  // queued work still runs
    fake::streams.erase(st);
    delete st;
    return fake::sticky;
}

CUresult cuStreamSynchronize(CUstream s) {
    NEED_INIT();
    if (fake::current == nullptr) return INVALID_CONTEXT;
    fake::Stream* st = fake::stream_of(s);
    if (st != &fake::legacy && !fake::streams.count(st)) return INVALID_HANDLE;
    fake::drain(st, ~0ull);
    return fake::sticky;
}

CUresult cuStreamQuery(CUstream s) {
    NEED_CONTEXT();
    fake::Stream* st = fake::stream_of(s);
    if (!fake::pending(st)) return OK;
    fake::drain(st, ~0ull);  // not ready now; it will be on the next query
    return fake::sticky != OK ? fake::sticky : NOT_READY;
}

CUresult cuEventCreate(CUevent* e, unsigned flags) {
    NEED_CONTEXT();
    auto* ev = new fake::Event();
    ev->timing = (flags & 2u) == 0;  // CU_EVENT_DISABLE_TIMING = 2
    fake::events.insert(ev);
    *e = ev;
    return OK;
}

CUresult cuEventDestroy_v2(CUevent e) {
    NEED_CONTEXT();
    auto* ev = static_cast<fake::Event*>(e);
    if (!fake::events.count(ev)) return INVALID_HANDLE;
    if (ev->recorded && !ev->done) fake::drain(ev->stream, ev->seq);
    fake::events.erase(ev);
    delete ev;
    return OK;
}

CUresult cuEventRecord(CUevent e, CUstream s) {
    NEED_CONTEXT();
    auto* ev = static_cast<fake::Event*>(e);
    if (!fake::events.count(ev)) return INVALID_HANDLE;
    fake::Stream* st = fake::stream_of(s);
    ev->recorded = true;
    ev->done = false;
    ev->stream = st;
    ev->seq = fake::next_seq;
    fake::Op op;
    op.kind = fake::OpKind::EVENT;
    op.event = ev;
    fake::enqueue(st, std::move(op));
    return OK;
}

CUresult cuEventSynchronize(CUevent e) {
    NEED_CONTEXT();
    auto* ev = static_cast<fake::Event*>(e);
    if (!fake::events.count(ev)) return INVALID_HANDLE;
    if (ev->recorded && !ev->done) fake::drain(ev->stream, ev->seq);
    return fake::sticky;
}

CUresult cuEventQuery(CUevent e) {
    NEED_CONTEXT();
    auto* ev = static_cast<fake::Event*>(e);
    if (!fake::events.count(ev)) return INVALID_HANDLE;
    if (!ev->recorded || ev->done) return OK;
    fake::drain(ev->stream, ev->seq);
    return fake::sticky != OK ? fake::sticky : NOT_READY;
}

CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
    NEED_CONTEXT();
    auto* a = static_cast<fake::Event*>(start);
    auto* b = static_cast<fake::Event*>(end);
    if (!fake::events.count(a) || !fake::events.count(b)) return INVALID_HANDLE;
    if (!a->timing || !b->timing) return INVALID_HANDLE;
    if (!a->done || !b->done) return NOT_READY;
    *ms = (float)(b->ms - a->ms);
    return OK;
}
}  // extern "C"
