// The bookkeeping the emulator's check programs share: a pass/fail count, the first 30 failures
// printed, a digest of every kernel output that was compared, and the summary line that
// KernelEmulationTest and run.sh read ("<what>: N passed, M failed, digest D"). The digest must be the
// same in every thread/block order and every build mode (run.sh compares them): a kernel whose
// output depends on the schedule shows there even where the comparison's tolerance would hide it.
#pragma once
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

static int passed = 0, failed = 0;
static uint64_t digest = 14695981039346656037ull;  // FNV-1a over the bytes of compared outputs

static void record_bytes(const void* p, size_t n) {
    const unsigned char* b = static_cast<const unsigned char*>(p);
    for (size_t i = 0; i < n; i++) digest = (digest ^ b[i]) * 1099511628211ull;
}

template <typename T>
static void record(const std::vector<T>& v) {
    record_bytes(v.data(), v.size() * sizeof(T));
}

template <typename T>
static void record(const T& v) {
    record_bytes(&v, sizeof(T));
}

static void check(bool ok, const std::string& what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        if (failed <= 30) std::printf("FAIL %s\n", what.c_str());
    }
}

static int summary(const char* what) {
    std::printf("%s: %d passed, %d failed, digest %016llx\n", what, passed, failed, (unsigned long long)digest);
    return failed == 0 ? 0 : 1;
}
