package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.UninitializedMemory;
import org.wrpn.data.DataSource;

/**
 * The CUDA backend run here without a GPU: native/emu/build-fake-driver.sh builds a stand-in
 * libcuda.so.1 whose kernels are the real cuda/*.cu under the CPU emulator, and child JVMs load it
 * through LD_LIBRARY_PATH: every @Tag("gpu") test (EmulatedGpuRun, -Dwrpn.requireGpu=true), the device
 * check's step measurement (GpuStepCheck, peak memory against the planner) and a short
 * `wrpn train --device cuda` (trainer, evaluation, checkpoints). So JCuda's argument marshalling,
 * launch grids, the allocator, pinned staging, the layer ops and whole training steps all run. It
 * cannot show speed or races (the emulator is sequentially consistent): a real GPU stays the
 * authority. Needs g++ 11+ and a build with PTX.
 */
class EmulatedGpuTest {
    @TempDir
    static Path tmp;
    private static Path driver;

    @BeforeAll
    static void buildTheEmulatedDriver() throws IOException, InterruptedException {
        Path script = Path.of("native/emu/build-fake-driver.sh");
        Assumptions.assumeTrue(Files.exists(script), "not run from the repository root");
        Assumptions.assumeTrue(onPath("g++"), "no g++ on this machine");
        PtxIndex idx = PtxIndex.ofClasspath();
        Assumptions.assumeTrue(idx != null, "this build has no PTX (no nvcc)");
        Assumptions.assumeFalse(BackendSelector.cudaStatus().available(), "a real GPU is here: the gpu tests run on it");
        Path ptx = Files.createDirectories(tmp.resolve("ptx"));
        for (PtxIndex.Entry e : idx.entries()) {
            try (InputStream in = EmulatedGpuTest.class.getResourceAsStream("/ptx/" + e.file())) {
                Files.copy(in, ptx.resolve(e.file()));
            }
        }
        driver = tmp.resolve("driver");
        run(List.of("bash", script.toString(), driver.toString(), ptx.toString()), "build.log", 300, "building the emulated driver");
    }

    private static List<String> java(String... args) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g",
                "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Djava.io.tmpdir=" + tmp,
                "-Dwrpn.poisonUninitialized=" + UninitializedMemory.POISON, "-cp", System.getProperty("java.class.path")));
        cmd.addAll(List.of(args));
        return cmd;
    }

    @Test
    void everyGpuTestPassesOnTheEmulatedDriver() throws IOException, InterruptedException {
        String out = run(java("-Dwrpn.requireGpu=true", EmulatedGpuRun.class.getName()), "gpu-tests.log", 900,
                "the gpu tests on the emulated driver");
        assertTrue(out.contains(" 0 failed, 0 aborted"), out);
    }

    @Test
    void theStepCheckMeasuresMemoryAsPlanned() throws IOException, InterruptedException {
        String out = run(java(GpuStepCheck.class.getName(), "--model", "resnet20", "--width", "1", "--batch", "2", "--input",
                "3x16x16", "--steps", "1"), "step-check.log", 300, "GpuStepCheck on the emulated driver");
        assertTrue(out.contains("measured in use within 10% of the planner"), out);
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
        Path log = tmp.resolve(logName);
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        if (driver != null) pb.environment().put("LD_LIBRARY_PATH", driver.toString());
        Process p = pb.start();
        boolean done = p.waitFor(seconds, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly().waitFor();
        String out = Files.readString(log, StandardCharsets.UTF_8);
        System.out.println(out);
        assertTrue(done, what + " timed out:\n" + out);
        assertEquals(0, p.exitValue(), what + " failed:\n" + out);
        return out;
    }

    private static boolean onPath(String exe) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty() && Files.isExecutable(Path.of(dir, exe))) return true;
        }
        return false;
    }
}
