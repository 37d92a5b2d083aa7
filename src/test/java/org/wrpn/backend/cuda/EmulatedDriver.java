package org.wrpn.backend.cuda;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Assumptions;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.UninitializedMemory;

/**
 * The emulated CUDA driver (native/emu/fake_cuda.cpp) built once per test JVM from this build's PTX,
 * and child JVMs that load it through LD_LIBRARY_PATH. Shared by the tests that run the Java backend
 * on it (EmulatedGpuTest, EmulatedDriverFaultTest). Skips (assumptions) without g++, without PTX, off
 * the repository root, or where a real GPU is usable (its tests run on it instead).
 */
final class EmulatedDriver {
    private static Path dir;
    private static String failure;

    private EmulatedDriver() {}

    /** The folder holding libcuda.so.1 (built on first call). */
    static synchronized Path directory() throws IOException, InterruptedException {
        Path script = Path.of("native/emu/build-fake-driver.sh");
        Assumptions.assumeTrue(Files.exists(script), "not run from the repository root");
        Assumptions.assumeTrue(onPath("g++"), "no g++ on this machine");
        PtxIndex idx = PtxIndex.ofClasspath();
        Assumptions.assumeTrue(idx != null, "this build has no PTX (no nvcc)");
        Assumptions.assumeFalse(BackendSelector.cudaStatus().available(), "a real GPU is here: the gpu tests run on it");
        if (failure != null) throw new AssertionError(failure);
        if (dir != null) return dir;
        Path tmp = Files.createTempDirectory("wrpn-fake-driver");
        Path ptx = Files.createDirectories(tmp.resolve("ptx"));
        for (PtxIndex.Entry e : idx.entries()) {
            try (InputStream in = EmulatedDriver.class.getResourceAsStream("/ptx/" + e.file())) {
                Files.copy(in, ptx.resolve(e.file()));
            }
        }
        Path out = tmp.resolve("driver");
        Result r = run(List.of("bash", script.toString(), out.toString(), ptx.toString()), tmp.resolve("build.log"), 300, Map.of());
        if (!r.ok()) {
            failure = "building the emulated driver failed:\n" + r.output();
            throw new AssertionError(failure);
        }
        dir = out;
        return dir;
    }

    /** A child JVM on this test classpath with the emulated driver, running MAIN ARGS. */
    static List<String> java(Path tmp, String... mainAndArgs) {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(), "-Xmx2g",
                "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED", "--sun-misc-unsafe-memory-access=allow", "-Djava.io.tmpdir=" + tmp,
                "-Dwrpn.poisonUninitialized=" + UninitializedMemory.POISON, "-cp", System.getProperty("java.class.path")));
        cmd.addAll(List.of(mainAndArgs));
        return cmd;
    }

    record Result(boolean finished, int exit, String output) {
        boolean ok() {
            return finished && exit == 0;
        }
    }

    /** Runs a command (with LD_LIBRARY_PATH at the driver once it is built), output to LOG. */
    static Result run(List<String> cmd, Path log, int seconds, Map<String, String> env) throws IOException, InterruptedException {
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile());
        if (dir != null) pb.environment().put("LD_LIBRARY_PATH", dir.toString());
        pb.environment().putAll(env);
        Process p = pb.start();
        boolean done = p.waitFor(seconds, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly().waitFor();
        String out = Files.readString(log, StandardCharsets.UTF_8);
        return new Result(done, done ? p.exitValue() : -1, out);
    }

    static boolean onPath(String exe) {
        for (String d : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!d.isEmpty() && Files.isExecutable(Path.of(d, exe))) return true;
        }
        return false;
    }
}
