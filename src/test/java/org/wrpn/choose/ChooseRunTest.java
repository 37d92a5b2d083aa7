package org.wrpn.choose;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.data.DataSource;
import org.wrpn.job.ExitCode;
import org.wrpn.job.JobSpec;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.sweep.CellFiles;

/** Small chooses on a Fashion-MNIST slice, end to end on the CPU: a few proxy runs of a few steps each. */
class ChooseRunTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    /** At batch 32 this admits lenet 1x at 32/32 (9.1 MiB) and 4/4 (7.8 MiB) and 1.5x at 4/4 (13.7 MiB), not 1.5x at 32/32 (15.4 MiB). */
    private static final long BUDGET = 14L << 20;

    private static ChooseSpec spec(Path out, String widths, int limitTrain, Duration time) {
        ObjectNode flags = (ObjectNode) JobSpec.tree("""
                {"widths": "%s", "bits": "32/32,4/4", "batch": 32, "epochs": 1, "limit_train": %d, "limit_test": 100,
                 "device": "cpu", "out": "%s", "data": "%s", "name": "t"}""".formatted(widths, limitTrain, out, DataSource.DEFAULT_DIR),
                "test");
        return ChooseSpec.fromFlags(flags, BUDGET, Device.CPU, time);
    }

    private record Run(Chooser.Outcome outcome, String out) {}

    private static Run run(Chooser chooser, ByteArrayOutputStream bytes) throws Exception {
        return new Run(chooser.run(), bytes.toString(StandardCharsets.UTF_8));
    }

    private static Run run(ChooseSpec spec) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        return run(new Chooser(spec, new PrintStream(bytes, true, StandardCharsets.UTF_8), false, false), bytes);
    }



    @Test
    void aChooseRanksWhatFitsRecommendsTheBestAndDoesNotRetrainOnASecondRun(@TempDir Path out) throws Exception {
        ChooseSpec spec = spec(out, "1,1.5", 256, Duration.ofSeconds(20));
        Run first = run(spec);
        Chooser.Outcome o = first.outcome();
        assertEquals(0, o.exitCode(), first.out());
        assertEquals(4, o.candidates().size());
        assertEquals(List.of("lenet-w1-w32a32-s1", "lenet-w1-w4a4-s1", "lenet-w1.5-w4a4-s1"),
                o.candidates().stream().filter(c -> c.fit().fits()).map(Chooser.Candidate::name).toList(), first.out());
        assertEquals(List.of(0, 1, 2), o.rounds().stream().map(Chooser.Round::number).toList(), "timing, then 3 -> 2 -> 1");

        // the winner is the best of the last round, by the runs' own metrics
        Chooser.Round last = o.rounds().get(2);
        Path lastDir = out.resolve("proxy-" + last.proxy().images());
        double best = -1;
        String bestName = null;
        for (Chooser.Candidate c : last.candidates()) {
            double a = CellFiles.finalAccuracy(lastDir.resolve(c.name()));
            if (a > best) {
                best = a;
                bestName = c.name();
            }
        }
        assertEquals(bestName, o.recommended().name(), first.out());

        // the recommended job spec: the winner's width and bits, planned within the budget
        JobSpec job = JobSpec.read(out.resolve("t-recommended.json"));
        assertEquals(o.recommended().widthMultiplier(), job.config().widthMultiplier());
        assertEquals(o.recommended().bits().weights(), job.config().weightBits());
        assertEquals(o.recommended().bits().activations(), job.config().activationBits());
        long planned = MemoryPlanner.plan(o.recommended().fit().request()).total();
        assertTrue(planned <= BUDGET);
        JsonNode rows = JSON.readTree(out.resolve("t.json").toFile()).get("rows");
        JsonNode rec = null;
        for (JsonNode r : rows) if (r.get("recommended").asBoolean()) rec = r;
        assertEquals(planned, rec.get("planned_bytes").asLong());
        assertEquals(o.recommended().fit().largestBatch(), rec.get("largest_batch").asInt());
        assertTrue(Files.readString(out.resolve("t-rounds.csv")).lines().count() > 3);
        assertTrue(Files.readString(out.resolve("t.md")).contains("| timing |"));
        for (String png : List.of("t-vs-memory.png", "t-vs-step-time.png")) {
            byte[] head = Files.readAllBytes(out.resolve(png));
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(head, 4), png);
        }
        assertTrue(first.out().contains("recommended: lenet width"), first.out());

        assertTrue(Files.readString(out.resolve("t.md")).contains("while the proxy runs trained"), "the machine's load is recorded");
        JsonNode load = JSON.readTree(out.resolve(ChooseState.FILE).toFile()).get("load");
        assertTrue(load.get("wall_seconds").asDouble() > 0 && load.has("other_processes_avg_cores_busy"), load.toString());

        Map<Path, FileTime> before = CellFiles.checkpointTimes(out);
        Run again = run(spec);
        assertEquals(0, again.outcome().exitCode(), again.out());
        assertEquals(o.recommended().name(), again.outcome().recommended().name());
        assertTrue(again.out().contains("not rerun") && !again.out().contains("after 1 epoch(s)"), "nothing trained again: " + again.out());
        assertEquals(before, CellFiles.checkpointTimes(out), "no checkpoint written or replaced by the second run");
        assertEquals(load, JSON.readTree(out.resolve(ChooseState.FILE).toFile()).get("load"), "a run that trains nothing adds no load");

        BadInputException other = assertThrows(BadInputException.class,
                () -> run(ChooseSpec.fromFlags((ObjectNode) JobSpec.tree("{\"widths\": \"1,1.5\", \"bits\": \"32/32,4/4\", \"batch\": 32,"
                        + " \"epochs\": 1, \"limit_train\": 256, \"limit_test\": 100, \"out\": \"" + out + "\", \"name\": \"t\"}", "test"),
                        BUDGET + (1 << 20), Device.CPU, Duration.ofSeconds(20))));
        assertTrue(other.getMessage().contains("holds a choose with other settings (budget_bytes is"), other.getMessage());
    }

    @Test
    void aStoppedChooseContinuesWithoutRetrainingFinishedRuns(@TempDir Path out) throws Exception {
        ChooseSpec spec = spec(out, "1", 512, Duration.ofSeconds(60)); // 2 candidates: timing at 256 images, round 1 at 512
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Chooser chooser = new Chooser(spec, new PrintStream(bytes, true, StandardCharsets.UTF_8), false, false);
        Path round1 = out.resolve("proxy-512");
        Thread stopper = Thread.ofPlatform().start(() -> {
            try {
                while (!Files.isDirectory(round1) || firstCheckpoint(round1) == null) Thread.sleep(20);
                chooser.stop();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Run stopped = run(chooser, bytes);
        stopper.join();
        assertEquals(ExitCode.TERMINATED, stopped.outcome().exitCode(), stopped.out());
        Path finished = firstCheckpoint(round1).getParent().getParent();
        Map<Path, FileTime> before = CellFiles.checkpointTimes(finished);

        Run resumed = run(spec);
        assertEquals(0, resumed.outcome().exitCode(), resumed.out());
        assertTrue(resumed.out().contains(finished.getFileName() + ": done before"), resumed.out());
        assertTrue(resumed.out().lines().filter(l -> l.contains("(not rerun)")).count() >= 3, "both timing runs and one of round 1: "
                + resumed.out());
        assertEquals(1, Files.readAllLines(finished.resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"type\":\"epoch\"")).count());
        assertEquals(before, CellFiles.checkpointTimes(finished), "the finished proxy run is not trained again");
        assertEquals(List.of(0, 1), resumed.outcome().rounds().stream().map(Chooser.Round::number).toList());
    }

    /** The first epoch checkpoint written under a round's directory, or null. */
    private static Path firstCheckpoint(Path round) throws Exception {
        try (Stream<Path> files = Files.walk(round)) {
            return files.filter(p -> p.getFileName().toString().matches("ckpt-e001-.*\\.json")).findFirst().orElse(null);
        }
    }
}
