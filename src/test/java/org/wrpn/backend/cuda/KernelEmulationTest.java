package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the cuda/*.cu kernels on the CPU through native/emu (a fiber per CUDA thread, warp shuffles
 * and __syncthreads at barriers) against a C++ rendering of the contract: the quantizer, packing and
 * reduction kernels (check_kernels), the layer kernels (check_layers) and the packed-conv variants of
 * native/conv (check_conv_variants). EmulatedGpuTest runs the Java backend itself on the same
 * emulator; the GPU tests on a real GPU remain the authority. Needs g++ 11+.
 */
class KernelEmulationTest {
    @Test
    void theKernelsComputeTheContractUnderEmulation(@TempDir Path tmp) throws IOException, InterruptedException {
        Path script = Path.of("native/emu/run.sh");
        Assumptions.assumeTrue(Files.exists(script), "not run from the repository root");
        Assumptions.assumeTrue(onPath("g++"), "no g++ on this machine");
        Process p = new ProcessBuilder("bash", script.toString(), tmp.resolve("emu").toString())
                .redirectErrorStream(true).start();
        boolean done = p.waitFor(180, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(done, "kernel emulation timed out:\n" + out);
        assertEquals(0, p.exitValue(), out);
        Matcher m = Pattern.compile("(\\d+) passed, (\\d+) failed").matcher(out);
        int programs = 0;
        while (m.find()) {
            programs++;
            assertTrue(Integer.parseInt(m.group(1)) > 0, out);
            assertEquals("0", m.group(2), out);
        }
        assertEquals(3, programs, "every emulation program reports:\n" + out);
    }

    private static boolean onPath(String exe) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, exe))) return true;
        }
        return false;
    }
}
