package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the cuda/*.cu kernels on the CPU through native/emu (a fiber per CUDA thread, warp shuffles
 * and __syncthreads at barriers) against a C++ rendering of the contract: the quantizer, packing and
 * reduction kernels (check_kernels), the layer kernels (check_layers), the quantized layers on codes
 * (check_quantized), the packed-conv variants of
 * native/conv (check_conv_variants), index arithmetic past 2^31 elements (check_bounds) and the emulated
 * driver's strictness (check_driver); each in a
 * plain build under four thread/block orders, under AddressSanitizer + UBSan and under
 * ThreadSanitizer (a missing barrier is a race), with shared memory garbage before every block, and
 * every run's output digest identical. EmulatedGpuTest runs the Java backend itself on the same
 * emulator; the GPU tests on a real GPU remain the authority. Needs g++ 11+ with the sanitizer runtimes.
 */
class KernelEmulationTest {
    @Test
    void theKernelsComputeTheContractUnderEmulation(@TempDir Path tmp) throws IOException, InterruptedException {
        Path script = Path.of("native/emu/run.sh");
        Assumptions.assumeTrue(Files.exists(script), "not run from the repository root");
        Assumptions.assumeTrue(onPath("g++"), "no g++ on this machine");
        Process p = new ProcessBuilder("bash", script.toString(), tmp.resolve("emu").toString())
                .redirectErrorStream(true).start();
        boolean done = p.waitFor(900, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(done, "kernel emulation timed out:\n" + out);
        assertEquals(0, p.exitValue(), out);
        // "[mode order] what: N passed, M failed, digest D", one line per run
        Matcher m = Pattern.compile("\\[(plain|asan|tsan) [a-z:0-9]+\\] [^\\n]*: (\\d+) passed, (\\d+) failed, digest [0-9a-f]{16}")
                .matcher(out);
        Map<String, Integer> runsPerMode = new TreeMap<>();
        while (m.find()) {
            runsPerMode.merge(m.group(1), 1, Integer::sum);
            assertTrue(Integer.parseInt(m.group(2)) > 0, out);
            assertEquals("0", m.group(3), out);
        }
        // 6 programs: 4 orders plain, one ASan+UBSan run, one TSan run each (check_driver: none)
        assertEquals(Map.of("asan", 6, "plain", 24, "tsan", 5), runsPerMode, "every build and order reports:\n" + out);
        assertTrue(out.contains("emu: all 35 runs passed") && out.contains("digests identical"), out);
    }

    private static boolean onPath(String exe) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, exe))) return true;
        }
        return false;
    }
}
