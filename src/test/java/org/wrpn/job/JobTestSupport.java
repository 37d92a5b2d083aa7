package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.wrpn.backend.Device;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;

/** Small CPU runs, checkpoint comparison and child JVMs for the job tests. */
final class JobTestSupport {
    static final ObjectMapper JSON = new ObjectMapper();

    private JobTestSupport() {}

    /** lenet on a Fashion-MNIST slice: limitTrain / batch steps per epoch, a fixed seed, the CPU. */
    static TrainConfig small(Path out, double width, int batch, int epochs, int limitTrain, int checkpointEvery, long seed) {
        return TrainConfig.builder().widthMultiplier(width).batch(batch).epochs(epochs).seed(seed).out(out)
                .checkpointEvery(checkpointEvery).limitTrain(limitTrain).limitTest(100).device(Device.CPU).build();
    }

    static Path writeSpec(Path file, JobSpec spec) throws IOException {
        Files.createDirectories(file.toAbsolutePath().getParent());
        Files.writeString(file, spec.toJsonString());
        return file;
    }

    /** The weights_sha256 a sidecar records: equal hashes mean bit-identical weights and momentum. */
    static String weightsHash(Path sidecar) throws IOException {
        return JSON.readTree(sidecar.toFile()).get("weights_sha256").asText();
    }

    /** Every tensor of a checkpoint is finite. */
    static void assertFinite(Path sidecar) {
        Checkpoint.Loaded l = Checkpoint.load(sidecar);
        l.contents().tensors().forEach((name, a) -> {
            for (float f : a.floats()) assertTrue(Float.isFinite(f), name + " holds " + f);
        });
    }

    static List<JsonNode> statusLines(Path file) throws IOException {
        List<JsonNode> out = new ArrayList<>();
        if (!Files.exists(file)) return out;
        for (String line : Files.readAllLines(file)) if (!line.isBlank()) out.add(JSON.readTree(line));
        return out;
    }

    static List<String> eventNames(List<JsonNode> lines) {
        return lines.stream().map(n -> n.get("event").asText()).toList();
    }

    /** A JVM running mainClass with this test JVM's class path and the flags wrpn needs. */
    static Process startJvm(Path logDir, String name, Class<?> mainClass, String... args) throws IOException {
        String java = ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        List<String> cmd = new ArrayList<>(List.of(java, "-Xmx1g", "--add-modules", "jdk.incubator.vector", "--enable-native-access=ALL-UNNAMED",
                "--sun-misc-unsafe-memory-access=allow", "-cp", System.getProperty("java.class.path"), mainClass.getName()));
        cmd.addAll(List.of(args));
        Files.createDirectories(logDir);
        return new ProcessBuilder(cmd)
                .redirectOutput(logDir.resolve(name + ".out").toFile())
                .redirectError(logDir.resolve(name + ".err").toFile())
                .start();
    }

    static int waitFor(Process p, int seconds) throws InterruptedException {
        if (!p.waitFor(seconds, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("child JVM still running after " + seconds + " s");
        }
        return p.exitValue();
    }

    static String read(Path file) throws IOException {
        return Files.exists(file) ? Files.readString(file) : "";
    }

    static void assertOneErrorLine(String stderr, String fragment) {
        List<String> errors = stderr.lines().filter(l -> l.startsWith("error: ")).toList();
        assertEquals(1, errors.size(), "one error line in: " + stderr);
        assertTrue(errors.get(0).contains(fragment), "'" + fragment + "' in " + errors.get(0));
        assertTrue(!stderr.contains("\tat "), "no stack trace: " + stderr);
    }
}
