// The bookkeeping the emulator's check programs share: a pass/fail count, the first 30 failures
// printed, and the summary line that KernelEmulationTest reads ("<what>: N passed, M failed").
#pragma once
#include <cstdio>
#include <string>

static int passed = 0, failed = 0;

static void check(bool ok, const std::string& what) {
    if (ok) {
        passed++;
    } else {
        failed++;
        if (failed <= 30) std::printf("FAIL %s\n", what.c_str());
    }
}

static int summary(const char* what) {
    std::printf("%s: %d passed, %d failed\n", what, passed, failed);
    return failed == 0 ? 0 : 1;
}
