package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Cheap checks that benchmarks/device-check.sh and the bundle's run.sh fit the code: the scripts
 * parse, every test class run.sh selects exists, the jars the bundle picks by name are on the
 * runtime classpath, and the JDK that runs the tests has jlink. (CI also builds and runs the whole
 * bundle with --local.)
 */
class DeviceCheckInputsTest {
    private static final Path BUILD = Path.of("benchmarks/device-check.sh");
    private static final Path RUN = Path.of("benchmarks/gpu-bundle/run.sh");
    private static final Path TRAIN = Path.of("benchmarks/gpu-bundle/train-check.sh");

    @Test
    void scriptsParse() throws Exception {
        Assumptions.assumeTrue(Files.exists(BUILD), "not run from the repository root");
        for (Path p : List.of(BUILD, RUN, TRAIN)) {
            Process proc = new ProcessBuilder("bash", "-n", p.toString()).redirectErrorStream(true).start();
            assertTrue(proc.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, proc.exitValue(), p + ": " + new String(proc.getInputStream().readAllBytes(), StandardCharsets.UTF_8));
            assertTrue(Files.isExecutable(p), p + " must be executable");
        }
    }

    @Test
    void everyTestClassTheBundleRunsExists() throws IOException, ClassNotFoundException {
        Assumptions.assumeTrue(Files.exists(RUN), "not run from the repository root");
        Matcher array = Pattern.compile("TEST_CLASSES=\\(([^)]*)\\)").matcher(Files.readString(RUN));
        assertTrue(array.find(), "run.sh lists its test classes in TEST_CLASSES=(...)");
        List<String> classes = new ArrayList<>(List.of(array.group(1).trim().split("\\s+")));
        assertTrue(classes.contains("org.wrpn.backend.cuda.CudaKernelsGpuTest"), classes.toString());
        assertTrue(classes.contains("org.wrpn.backend.cuda.CudaDriverContractGpuTest"), classes.toString());
        for (String c : classes) {
            Class.forName(c);
            assertTrue(c.startsWith("org.wrpn.backend.cuda."), c + ": the bundle copies only the cuda tests and the reference");
        }
    }

    @Test
    void theJarsTheBundlePicksAreOnTheClasspathAndTheJdkCanLink() {
        String cp = System.getProperty("java.class.path");
        for (String jar : List.of("jcuda-12.6.0.jar", "jcuda-natives-12.6.0-linux-x86_64.jar", "picocli-", "jackson-databind-",
                "jackson-core-", "jackson-annotations-", "log4j-api-")) {
            assertTrue(cp.contains(jar), jar + " is not on the runtime classpath; update benchmarks/device-check.sh");
        }
        assertTrue(Files.isExecutable(Path.of(System.getProperty("java.home"), "bin", "jlink")),
                "the JDK running the tests has no jlink");
        assertFalse(System.getProperty("java.home").isBlank());
    }
}
