// Checks the emulated driver (fake_cuda.cpp, compiled in) for the strictness the Java backend's tests
// rely on: calls before cuInit and on a thread without a current context fail; queued work runs only
// at a synchronisation point (a result read before it is stale); an access past an allocation faults
// into CUDA_ERROR_ILLEGAL_ADDRESS, sticky; a write into an allocation's tail breaks its canary; module
// loading checks the .param sizes and explains a rejection in the JIT error log. Prints
// "N passed, M failed". run.sh generates kernels.inc (a few kernels) and sources.inc for it.
#include "fake_cuda.cpp"

#include <thread>

#include "check.h"

static const char* GOOD_PTX = R"(
.version 9.0
.target sm_80
.address_size 64
.visible .entry add_f32(
	.param .u64 .ptr .align 1 add_f32_param_0,
	.param .u64 .ptr .align 1 add_f32_param_1,
	.param .u64 .ptr .align 1 add_f32_param_2,
	.param .u64 add_f32_param_3
)
{ ret; }
.visible .entry relu_f32(
	.param .u64 .ptr .align 1 relu_f32_param_0,
	.param .u64 .ptr .align 1 relu_f32_param_1,
	.param .u64 relu_f32_param_2
)
{ ret; }
)";

// n is declared 32-bit: what a kernel signature changed without rebuilding the PTX (or the reverse) gives.
static const char* WRONG_PARAMS_PTX = R"(
.version 9.0
.target sm_80
.visible .entry add_f32(
	.param .u64 .ptr .align 1 add_f32_param_0,
	.param .u64 .ptr .align 1 add_f32_param_1,
	.param .u64 .ptr .align 1 add_f32_param_2,
	.param .u32 add_f32_param_3
)
{ ret; }
)";

static const char* UNKNOWN_ENTRY_PTX = R"(
.version 9.0
.target sm_80
.visible .entry no_such_kernel(
	.param .u64 no_such_kernel_param_0
)
{ ret; }
)";

struct Buffers {
    CUdeviceptr a = 0, b = 0, y = 0;
};

static CUresult launch_add(CUfunction f, CUdeviceptr a, CUdeviceptr b, CUdeviceptr y, long long n, CUstream s) {
    void* params[] = {&a, &b, &y, &n};
    return cuLaunchKernel(f, 2, 1, 1, 64, 1, 1, 0, s, params, nullptr);
}

int main() {
    CUdeviceptr p = 0;
    check(cuMemAlloc_v2(&p, 64) == NOT_INITIALIZED, "a call before cuInit fails with CUDA_ERROR_NOT_INITIALIZED");
    check(cuInit(0) == OK, "cuInit");
    check(cuMemAlloc_v2(&p, 64) == INVALID_CONTEXT, "no current context: CUDA_ERROR_INVALID_CONTEXT");
    CUcontext ctx = nullptr, cur = &ctx;
    check(cuCtxGetCurrent(&cur) == OK && cur == nullptr, "no context is current until one is set");
    check(cuDevicePrimaryCtxRetain(&ctx, 0) == OK && ctx != nullptr, "primary context");
    check(cuCtxSetCurrent(ctx) == OK, "cuCtxSetCurrent");
    check(cuMemAlloc_v2(&p, 64) == OK, "allocation with a current context");

    // A second thread has no current context until it sets one.
    CUresult other[4] = {-1, -1, -1, -1};
    std::thread t([&] {
        CUdeviceptr q = 0;
        CUstream s = nullptr;
        other[0] = cuMemAlloc_v2(&q, 64);
        other[1] = cuStreamCreate(&s, 1);
        other[2] = cuCtxSetCurrent(ctx);
        other[3] = cuMemAlloc_v2(&q, 64);
        if (other[3] == OK) cuMemFree_v2(q);
    });
    t.join();
    check(other[0] == INVALID_CONTEXT && other[1] == INVALID_CONTEXT,
          "a thread without the context current: CUDA_ERROR_INVALID_CONTEXT (" + std::to_string(other[0]) + ")");
    check(other[2] == OK && other[3] == OK, "the same thread after cuCtxSetCurrent");
    check(cuMemFree_v2(p) == OK, "free");

    // Modules: .param sizes against the kernels, the JIT logs.
    char error[512] = {0}, info[512] = {0};
    int options[] = {3, 4, 5, 6};
    void* values[] = {info, (void*)(uintptr_t)sizeof info, error, (void*)(uintptr_t)sizeof error};
    CUmodule bad = nullptr;
    check(cuModuleLoadDataEx(&bad, WRONG_PARAMS_PTX, 4, options, values) == INVALID_PTX, "a .param size mismatch is rejected");
    check(std::strstr(error, "add_f32") != nullptr && std::strstr(error, "(8, 8, 8, 4)") != nullptr &&
              (size_t)(uintptr_t)values[3] == std::strlen(error) + 1,
          std::string("the JIT error log says why: ") + error);
    error[0] = 0;
    check(cuModuleLoadDataEx(&bad, UNKNOWN_ENTRY_PTX, 4, options, values) == INVALID_PTX && std::strstr(error, "no_such_kernel"),
          std::string("an unknown entry is rejected with a log: ") + error);
    CUmodule mod = nullptr;
    check(cuModuleLoadDataEx(&mod, GOOD_PTX, 4, options, values) == OK && std::strstr(info, "2 entries") != nullptr,
          std::string("a matching module loads, with an info log: ") + info);
    CUfunction add = nullptr;
    check(cuModuleGetFunction(&add, mod, "add_f32") == OK, "cuModuleGetFunction");

    // Queued work runs at synchronisation points only.
    const long long n = 1000;
    std::vector<float> ha(n), hb(n);
    for (long long i = 0; i < n; i++) {
        ha[i] = (float)i;
        hb[i] = 0.5f;
    }
    Buffers d;
    cuMemAlloc_v2(&d.a, n * 4);
    cuMemAlloc_v2(&d.b, n * 4);
    cuMemAlloc_v2(&d.y, n * 4);
    CUstream s = nullptr;
    cuStreamCreate(&s, 1);
    float* pinned = nullptr;
    cuMemHostAlloc((void**)&pinned, n * 4, 0);
    for (long long i = 0; i < n; i++) pinned[i] = -7.0f;
    cuMemcpyHtoDAsync_v2(d.a, ha.data(), n * 4, s);
    cuMemcpyHtoDAsync_v2(d.b, hb.data(), n * 4, s);
    ha[3] = 1e6f;  // a pageable source is staged when queued: this change does not travel
    check(launch_add(add, d.a, d.b, d.y, n, s) == OK, "launch queued");
    cuMemcpyDtoHAsync_v2(pinned, d.y, n * 4, s);
    check(pinned[10] == -7.0f, "before synchronising, the pinned destination still holds its old values");
    check(cuStreamQuery(s) == NOT_READY, "cuStreamQuery answers NOT_READY while work is queued");
    check(cuStreamQuery(s) == OK, "and OK once it ran");
    check(pinned[10] == 10.5f && pinned[3] == 3.5f, "after synchronising: y = a + b, from the staged source");
    record(pinned[10]);

    // Events time only completed work.
    CUevent e0 = nullptr, e1 = nullptr;
    cuEventCreate(&e0, 0);
    cuEventCreate(&e1, 0);
    cuEventRecord(e0, s);
    launch_add(add, d.a, d.b, d.y, n, s);
    cuEventRecord(e1, s);
    float ms = -1;
    check(cuEventElapsedTime(&ms, e0, e1) == NOT_READY, "elapsed time before the events completed: NOT_READY");
    check(cuEventSynchronize(e1) == OK && cuEventElapsedTime(&ms, e0, e1) == OK && ms >= 0, "elapsed time after");

    // Copies and memsets must stay inside one allocation.
    check(cuMemsetD32Async(d.y, 0, n + 1, s) == INVALID_VALUE, "a memset past the end is refused");
    check(cuMemcpyDtoDAsync_v2(d.y, d.a, n * 4 + 4, s) == INVALID_VALUE, "a copy past the end is refused");

    // A kernel that writes into the tail of a 100-float allocation (rounded to 512 bytes): canary.
    CUdeviceptr small = 0;
    cuMemAlloc_v2(&small, 400);
    check((small & 255) == 0, "allocations are 256-byte aligned");
    launch_add(add, d.a, d.b, small, 104, s);
    CUresult rc = cuStreamSynchronize(s);
    check(rc == ILLEGAL_ADDRESS, "a write into the tail past a 400-byte allocation: CUDA_ERROR_ILLEGAL_ADDRESS (" +
                                     std::to_string(rc) + ")");
    check(cuMemAlloc_v2(&p, 64) == ILLEGAL_ADDRESS, "and the error is sticky");
    fake::sticky = OK;  // (the test resets what a real context could not)

    // A kernel that runs past an exact-size allocation hits the guard page (its inputs are longer).
    CUdeviceptr exact = 0, a2 = 0, b2 = 0;
    cuMemAlloc_v2(&exact, 4096);  // ends at the guard page
    cuMemAlloc_v2(&a2, 8192);
    cuMemAlloc_v2(&b2, 8192);
    launch_add(add, a2, b2, exact, 1024 + 4, s);
    rc = cuStreamSynchronize(s);
    check(rc == ILLEGAL_ADDRESS, "a kernel past the end of an exact allocation faults: CUDA_ERROR_ILLEGAL_ADDRESS (" +
                                     std::to_string(rc) + ")");
    fake::sticky = OK;

    // Freed memory is gone.
    CUdeviceptr gone = 0;
    cuMemAlloc_v2(&gone, n * 4);
    cuMemFree_v2(gone);
    launch_add(add, d.a, d.b, gone, n, s);
    rc = cuStreamSynchronize(s);
    check(rc == ILLEGAL_ADDRESS, "a kernel writing freed memory faults (" + std::to_string(rc) + ")");
    fake::sticky = OK;

    cuMemFreeHost(pinned);
    return summary("emulated driver");
}
