package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.data.DataSource;

/**
 * The CUDA backend run here without a GPU: native/emu/build-fake-driver.sh builds a stand-in
 * libcuda.so.1 whose kernels are the real cuda/*.cu under the CPU emulator, and child JVMs load it
 * through LD_LIBRARY_PATH (EmulatedDriver): every @Tag("gpu") test (EmulatedGpuRun, -Dwrpn.requireGpu=true), the device
 * check's step measurement (GpuStepCheck, peak memory against the planner) and a short
 * `wrpn train --device cuda` (trainer, evaluation, checkpoints). So JCuda's argument marshalling,
 * launch grids, the allocator, pinned staging, the layer ops and whole training steps all run, on a
 * driver as strict as a real one (per-thread contexts, work queued until a synchronisation, exact-size
 * allocations behind guard pages). It cannot show speed, and the Java path runs kernels one block at a
 * time (races are native/emu/run.sh's ThreadSanitizer build's job): a real GPU stays the authority.
 * Needs g++ 11+ and a build with PTX.
 */
class EmulatedGpuTest {
    @TempDir
    static Path tmp;
    private static Path driver;

    @BeforeAll
    static void buildTheEmulatedDriver() throws IOException, InterruptedException {
        driver = EmulatedDriver.directory();
    }

    private static List<String> java(String... args) {
        return EmulatedDriver.java(tmp, args);
    }

    @Test
    void everyGpuTestPassesOnTheEmulatedDriver() throws IOException, InterruptedException {
        String out = run(java("-Dwrpn.requireGpu=true", EmulatedGpuRun.class.getName()), "gpu-tests.log", 900,
                "the gpu tests on the emulated driver");
        assertTrue(out.contains(" 0 failed, 0 aborted"), out);
    }

    /**
     * Batch 16 at 16x16: 4096 output pixels in the first stage, so its weight gradients split and take scratch
     * (the planner once declared that scratch over the whole convolution: the H200 run found it). The packed
     * policy only, to keep its time; SavePolicyGradientTest and the bundle's own check cover fp32.
     */
    @Test
    void theStepCheckMeasuresMemoryAsPlanned() throws IOException, InterruptedException {
        String out = run(java(GpuStepCheck.class.getName(), "--model", "resnet20", "--width", "1", "--batch", "16", "--input",
                "3x16x16", "--steps", "1", "--warmup", "0", "--save", "packed"), "step-check.log", 300, "GpuStepCheck on the emulated driver");
        assertTrue(out.contains("measured in use equals the planner, byte for byte"), out);
    }

    @Test
    void wrpnTrainRunsOnTheCudaBackend() throws IOException, InterruptedException {
        Assumptions.assumeTrue(Files.isDirectory(DataSource.DEFAULT_DIR), "no Fashion-MNIST in " + DataSource.DEFAULT_DIR);
        String out = run(java("org.wrpn.cli.Main", "train", "--device", "cuda", "--model", "lenet", "--width", "1", "--epochs", "1",
                "--batch", "16", "--limit-train", "32", "--limit-test", "16", "--out", tmp.resolve("train").toString(),
                "--no-progress"), "train.log", 300, "wrpn train --device cuda on the emulated driver");
        assertTrue(out.contains("test accuracy"), out);
        assertTrue(Files.list(tmp.resolve("train/checkpoints")).anyMatch(p -> p.toString().endsWith(".safetensors")), out);
    }

    private static String run(List<String> cmd, String logName, int seconds, String what) throws IOException, InterruptedException {
        EmulatedDriver.Result r = EmulatedDriver.run(cmd, tmp.resolve(logName), seconds, Map.of());
        System.out.println(r.output());
        assertTrue(r.finished(), what + " timed out:\n" + r.output());
        assertEquals(0, r.exit(), what + " failed:\n" + r.output());
        return r.output();
    }
}
