// A stand-in libcuda.so.1 for machines without a GPU: the CUDA driver API calls that JCuda makes for
// the wrpn CUDA backend, with device memory in host memory and every kernel run by the CPU emulator of
// cuda_emu.h. Loaded through LD_LIBRARY_PATH in place of NVIDIA's driver, it lets the real Java
// backend (JCuda marshalling, launch geometry, allocator, staging, whole training steps) and the
// @Tag("gpu") tests run end to end. It proves the host side and the kernels' logic together; it says
// nothing about speed, and its memory model is the emulator's (sequentially consistent).
//
// Streams are synchronous: every copy, memset and launch completes before the call returns. Fresh
// device allocations are filled with 0xFF bytes (NaN as floats), as real ones hold garbage. The device
// reports compute capability 9.0, 2 multiprocessors (so grid-stride kernels run on small grids and
// their loops wrap), 16 GiB and driver version 13.0.
//
// Built by native/emu/build-fake-driver.sh, which generates kernels.inc (one X(name) per .entry of
// the PTX the jar carries) and sources.inc (every cuda/*.cu): a module whose PTX names a kernel this
// library does not define fails to load.
#include "cuda_emu.h"

#include <chrono>
#include <cstddef>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <utility>

#include "sources.inc"

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
};

struct Kernel {
    std::string name;
    Thunk run;
};

static const std::map<std::string, Kernel>& registry() {
    static const std::map<std::string, Kernel> r = [] {
        std::map<std::string, Kernel> m;
#define X(name) m[#name] = Kernel{#name, &Sig<decltype(&name)>::template thunk<&name>};
#include "kernels.inc"
#undef X
        return m;
    }();
    return r;
}

struct Module {
    std::set<std::string> entries;
};

static std::mutex lock;
static size_t allocated = 0;
static std::map<unsigned long long, size_t> blocks;
constexpr size_t TOTAL = 16ull << 30;

static void say(const std::string& m) { std::fprintf(stderr, "fake libcuda: %s\n", m.c_str()); }
}  // namespace fake

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
    INVALID_PTX = 218,
    INVALID_HANDLE = 400,
    NOT_FOUND = 500,
    LAUNCH_FAILED = 719,
};

extern "C" {

CUresult cuInit(unsigned) { return OK; }

CUresult cuDriverGetVersion(int* v) {
    *v = 13000;
    return OK;
}

CUresult cuDeviceGetCount(int* n) {
    *n = 1;
    return OK;
}

CUresult cuDeviceGet(CUdevice* d, int ordinal) {
    if (ordinal != 0) return INVALID_VALUE;
    *d = 0;
    return OK;
}

CUresult cuDeviceGetName(char* name, int len, CUdevice) {
    std::snprintf(name, len, "wrpn emulated GPU (CPU fibers)");
    return OK;
}

CUresult cuDeviceTotalMem_v2(size_t* bytes, CUdevice) {
    *bytes = fake::TOTAL;
    return OK;
}

CUresult cuDeviceGetAttribute(int* v, int attribute, CUdevice) {
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
    static int primary;
    *ctx = &primary;
    return OK;
}

CUresult cuDevicePrimaryCtxRelease_v2(CUdevice) { return OK; }
CUresult cuCtxSetCurrent(CUcontext) { return OK; }
CUresult cuCtxGetCurrent(CUcontext* ctx) { return cuDevicePrimaryCtxRetain(ctx, 0); }
CUresult cuCtxGetDevice(CUdevice* d) { return cuDeviceGet(d, 0); }
CUresult cuCtxSynchronize() { return OK; }

CUresult cuGetErrorString(CUresult e, const char** s) {
    *s = e == OK ? "no error" : "fake libcuda error";
    return OK;
}

CUresult cuGetErrorName(CUresult e, const char** s) {
    *s = e == OK ? "CUDA_SUCCESS" : "CUDA_ERROR_FAKE";
    return OK;
}

// ---- modules and kernels -----------------------------------------------------------------------

CUresult cuModuleLoadData(CUmodule* module, const void* image) {
    std::string ptx(static_cast<const char*>(image));
    auto* m = new fake::Module();
    const std::string key = ".entry ";
    for (size_t at = ptx.find(key); at != std::string::npos; at = ptx.find(key, at + 1)) {
        size_t start = at + key.size(), end = ptx.find('(', start);
        std::string name = ptx.substr(start, end - start);
        if (!fake::registry().count(name)) {
            fake::say("PTX entry " + name + " has no emulated kernel (rebuild the fake driver)");
            delete m;
            return INVALID_PTX;
        }
        m->entries.insert(name);
    }
    *module = m;
    return OK;
}

CUresult cuModuleUnload(CUmodule m) {
    delete static_cast<fake::Module*>(m);
    return OK;
}

CUresult cuModuleGetFunction(CUfunction* f, CUmodule module, const char* name) {
    auto* m = static_cast<fake::Module*>(module);
    if (m == nullptr) return INVALID_HANDLE;
    if (!m->entries.count(name)) return NOT_FOUND;
    *f = const_cast<fake::Kernel*>(&fake::registry().at(name));
    return OK;
}

CUresult cuOccupancyMaxActiveBlocksPerMultiprocessor(int* blocks, CUfunction, int, size_t) {
    *blocks = 1;
    return OK;
}

CUresult cuLaunchKernel(CUfunction f, unsigned gx, unsigned gy, unsigned gz, unsigned bx, unsigned by, unsigned bz,
                        unsigned sharedBytes, CUstream, void** params, void** extra) {
    auto* k = static_cast<fake::Kernel*>(f);
    if (k == nullptr || gx == 0 || bx == 0) return INVALID_VALUE;
    if (gy != 1 || gz != 1 || by != 1 || bz != 1 || sharedBytes != 0 || extra != nullptr || bx % 32 != 0) {
        fake::say("launch of " + k->name + ": only 1-D grids of whole warps without dynamic shared memory are emulated");
        return INVALID_VALUE;
    }
    std::lock_guard<std::mutex> g(fake::lock);
    k->run(params, gx, bx);
    return OK;
}

// ---- memory ---------------------------------------------------------------------------------------

CUresult cuMemAlloc_v2(CUdeviceptr* p, size_t bytes) {
    std::lock_guard<std::mutex> g(fake::lock);
    size_t size = (std::max<size_t>(bytes, 1) + 255) / 256 * 256;
    if (fake::allocated + size > fake::TOTAL) return OUT_OF_MEMORY;
    void* mem = std::aligned_alloc(256, size);
    if (mem == nullptr) return OUT_OF_MEMORY;
    std::memset(mem, 0xFF, size);
    *p = reinterpret_cast<CUdeviceptr>(mem);
    fake::blocks[*p] = size;
    fake::allocated += size;
    return OK;
}

CUresult cuMemFree_v2(CUdeviceptr p) {
    std::lock_guard<std::mutex> g(fake::lock);
    auto it = fake::blocks.find(p);
    if (it == fake::blocks.end()) return INVALID_VALUE;
    fake::allocated -= it->second;
    fake::blocks.erase(it);
    std::free(reinterpret_cast<void*>(p));
    return OK;
}

CUresult cuMemGetInfo_v2(size_t* free, size_t* total) {
    std::lock_guard<std::mutex> g(fake::lock);
    *free = fake::TOTAL - fake::allocated;
    *total = fake::TOTAL;
    return OK;
}

CUresult cuMemHostAlloc(void** p, size_t bytes, unsigned) {
    *p = std::aligned_alloc(4096, (std::max<size_t>(bytes, 1) + 4095) / 4096 * 4096);
    return *p ? OK : OUT_OF_MEMORY;
}

CUresult cuMemFreeHost(void* p) {
    std::free(p);
    return OK;
}

CUresult cuMemcpyHtoDAsync_v2(CUdeviceptr dst, const void* src, size_t n, CUstream) {
    std::memcpy(reinterpret_cast<void*>(dst), src, n);
    return OK;
}

CUresult cuMemcpyDtoHAsync_v2(void* dst, CUdeviceptr src, size_t n, CUstream) {
    std::memcpy(dst, reinterpret_cast<const void*>(src), n);
    return OK;
}

CUresult cuMemcpyDtoDAsync_v2(CUdeviceptr dst, CUdeviceptr src, size_t n, CUstream) {
    std::memmove(reinterpret_cast<void*>(dst), reinterpret_cast<const void*>(src), n);
    return OK;
}

CUresult cuMemcpyHtoD_v2(CUdeviceptr dst, const void* src, size_t n) { return cuMemcpyHtoDAsync_v2(dst, src, n, nullptr); }
CUresult cuMemcpyDtoH_v2(void* dst, CUdeviceptr src, size_t n) { return cuMemcpyDtoHAsync_v2(dst, src, n, nullptr); }

CUresult cuMemsetD8Async(CUdeviceptr p, unsigned char v, size_t n, CUstream) {
    std::memset(reinterpret_cast<void*>(p), v, n);
    return OK;
}

CUresult cuMemsetD32Async(CUdeviceptr p, unsigned v, size_t n, CUstream) {
    auto* w = reinterpret_cast<unsigned*>(p);
    for (size_t i = 0; i < n; i++) w[i] = v;
    return OK;
}

CUresult cuMemsetD8_v2(CUdeviceptr p, unsigned char v, size_t n) { return cuMemsetD8Async(p, v, n, nullptr); }
CUresult cuMemsetD32_v2(CUdeviceptr p, unsigned v, size_t n) { return cuMemsetD32Async(p, v, n, nullptr); }

// ---- streams and events ---------------------------------------------------------------------------

CUresult cuStreamCreate(CUstream* s, unsigned) {
    *s = new int(0);
    return OK;
}

CUresult cuStreamDestroy_v2(CUstream s) {
    delete static_cast<int*>(s);
    return OK;
}

CUresult cuStreamSynchronize(CUstream) { return OK; }
CUresult cuStreamQuery(CUstream) { return OK; }

CUresult cuEventCreate(CUevent* e, unsigned) {
    *e = new double(0);
    return OK;
}

CUresult cuEventDestroy_v2(CUevent e) {
    delete static_cast<double*>(e);
    return OK;
}

CUresult cuEventRecord(CUevent e, CUstream) {
    *static_cast<double*>(e) =
            std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now().time_since_epoch()).count();
    return OK;
}

CUresult cuEventSynchronize(CUevent) { return OK; }
CUresult cuEventQuery(CUevent) { return OK; }

CUresult cuEventElapsedTime(float* ms, CUevent start, CUevent end) {
    *ms = (float)(*static_cast<double*>(end) - *static_cast<double*>(start));
    return OK;
}
}  // extern "C"
