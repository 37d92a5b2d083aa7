package org.wrpn.sweep;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.data.DataSource;
import org.wrpn.job.ExitCode;
import org.wrpn.job.JobSpec;
import org.wrpn.nn.SavePolicy;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;

/** Small sweeps on a Fashion-MNIST slice, end to end on the CPU. */
class SweepRunTest {

    private static SweepSpec small(Path out, int epochs, int jobs, double lr) {
        return SweepSpec.fromJson(JobSpec.tree("""
                {"widths": [1], "bits": ["32/32", "2/2"], "seeds": [1, 2], "epochs": %d, "batch": 32, "limit_train": 256,
                 "limit_test": 100, "device": "cpu", "jobs": %d, "lr": %s, "out": "%s", "data": "%s", "name": "t"}"""
                .formatted(epochs, jobs, lr, out, DataSource.DEFAULT_DIR), "test"), "test", null);
    }

    private record Run(int code, String out) {}

    private static Run run(Sweep sweep, ByteArrayOutputStream bytes) throws Exception {
        int code = sweep.run().exitCode();
        return new Run(code, bytes.toString(StandardCharsets.UTF_8));
    }

    private static Run run(SweepSpec spec) throws Exception {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        return run(new Sweep(spec, new PrintStream(bytes, true, StandardCharsets.UTF_8), false, false), bytes);
    }


    private static List<Map<String, String>> csv(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file);
        String[] head = lines.get(0).split(",");
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] cells = line.split(",(?=(?:[^\"]*\"[^\"]*\")*[^\"]*$)");
            Map<String, String> r = new HashMap<>();
            for (int i = 0; i < head.length; i++) r.put(head[i], i < cells.length ? cells[i] : "");
            rows.add(r);
        }
        return rows;
    }


    @Test
    void aSweepTrainsEveryCellReportsThemAndDoesNotRerunThem(@TempDir Path out) throws Exception {
        SweepSpec spec = small(out, 1, 2, 0.05);
        Run first = run(spec);
        assertEquals(0, first.code(), first.out());
        assertEquals(4, first.out().lines().filter(l -> l.startsWith("[")).count(), "one line per cell: " + first.out());

        List<Map<String, String>> rows = csv(out.resolve("t.csv"));
        assertEquals(2, rows.size());
        for (Map<String, String> r : rows) {
            String bits = r.get("wbits") + "a" + r.get("abits");
            double a1 = CellFiles.finalAccuracy(out.resolve("lenet-w1-w" + bits + "-s1"));
            double a2 = CellFiles.finalAccuracy(out.resolve("lenet-w1-w" + bits + "-s2"));
            assertEquals((a1 + a2) / 2, Double.parseDouble(r.get("test_accuracy_mean")), 1e-5);
            assertEquals(Math.abs(a1 - a2) / Math.sqrt(2), Double.parseDouble(r.get("test_accuracy_std")), 1e-5);
            assertEquals(Math.min(a1, a2), Double.parseDouble(r.get("test_accuracy_min")), 1e-9);
            assertEquals("2", r.get("seeds"));
            boolean quantized = bits.equals("2a2");
            SavePolicy policy = quantized ? SavePolicy.PACKED : SavePolicy.FP32;
            long saved = MemoryPlanner.plan(PlanRequest.of("lenet", 1, quantized ? 2 : 32, quantized ? 2 : 32, policy, 32)).savedActivations();
            assertEquals(saved / 32.0, Double.parseDouble(r.get("saved_activation_bytes_per_image")), 1e-3);
            assertEquals(policy.flag(), r.get("saved_policy"));
            assertTrue(r.get("machine").length() > 2 && !r.get("commit").isEmpty());
        }
        assertEquals(4, csv(out.resolve("t-cells.csv")).size());
        String md = Files.readString(out.resolve("t.md"));
        assertTrue(md.contains("| 1 | 32/32 | 2 | ") && md.contains("| +0.0000 |") && md.contains("| 1 | 2/2 | 2 | "), md);
        for (String png : List.of("t-accuracy-vs-bits.png", "t-accuracy-vs-memory.png")) {
            byte[] head = Files.readAllBytes(out.resolve(png));
            assertArrayEquals(new byte[] {(byte) 0x89, 'P', 'N', 'G'}, java.util.Arrays.copyOf(head, 4), png);
        }

        Map<Path, FileTime> before = CellFiles.checkpointTimes(out);
        Run again = run(spec);
        assertEquals(0, again.code(), again.out());
        assertEquals(4, again.out().lines().filter(l -> l.contains("done before") && l.contains("not rerun")).count(), again.out());
        assertEquals(before, CellFiles.checkpointTimes(out), "no checkpoint written or replaced by the second run");
    }

    @Test
    void aStoppedSweepResumesItsUnfinishedCell(@TempDir Path out) throws Exception {
        SweepSpec spec = small(out, 3, 1, 0.05);
        ByteArrayOutputStream bytes = new ByteArrayOutputStream();
        Sweep sweep = new Sweep(spec, new PrintStream(bytes, true, StandardCharsets.UTF_8), false, false);
        Path firstCell = out.resolve(spec.cells().get(0).name()).resolve("checkpoints");
        Thread stopper = Thread.ofPlatform().start(() -> {
            try {
                while (!Files.isDirectory(firstCell) || Files.list(firstCell).noneMatch(p -> p.toString().endsWith(".json"))) Thread.sleep(20);
                sweep.stop();
            } catch (Exception e) {
                throw new RuntimeException(e);
            }
        });
        Run stopped = run(sweep, bytes);
        stopper.join();
        assertEquals(ExitCode.TERMINATED, stopped.code(), stopped.out());
        assertTrue(stopped.out().contains("stopped with a checkpoint"), stopped.out());
        SweepReport partial = SweepReport.read(spec);
        assertEquals(SweepReport.CellState.PARTIAL, partial.cells().get(0).state());
        assertEquals(SweepReport.CellState.NOT_STARTED, partial.cells().get(3).state());

        Run resumed = run(spec);
        assertEquals(0, resumed.code(), resumed.out());
        SweepReport done = SweepReport.read(spec);
        for (SweepReport.CellResult c : done.cells()) {
            assertEquals(SweepReport.CellState.DONE, c.state(), c.cell().name());
            assertEquals(List.of(1, 2, 3), c.epochs().stream().map(e -> e.epoch()).toList());
        }
    }

    @Test
    void cellDirectoriesOfAnotherRunFailTheirCellsWithExitTwo(@TempDir Path out) throws Exception {
        assertEquals(0, run(small(out, 1, 1, 0.05)).code());
        Run other = run(small(out, 1, 1, 0.1)); // same cells, another learning rate
        assertEquals(ExitCode.BAD_INPUT, other.code(), other.out());
        assertEquals(4, other.out().lines().filter(l -> l.contains("belongs to another run") && l.contains("lr is 0.05 there")).count(),
                other.out());
        assertTrue(SweepReport.read(small(out, 1, 1, 0.1)).cells().stream().allMatch(c -> c.state() == SweepReport.CellState.FOREIGN));
    }

    @Test
    void epochRecordsKeepTheLastOfEachEpochAndSkipACutLine(@TempDir Path dir) throws Exception {
        Path m = dir.resolve("metrics.jsonl");
        Files.writeString(m, """
                {"type":"epoch","epoch":1,"test_accuracy":0.5,"seconds":2}
                {"type":"step","epoch":2,"step":3}
                {"type":"epoch","epoch":1,"test_accuracy":0.6,"seconds":3}
                {"type":"epoch","epoch":2,"test_accuracy":0.7,"seconds":4}
                {"type":"epoch","epoch":3,"test_acc""");
        List<org.wrpn.train.Trainer.EpochResult> e = SweepReport.epochs(m, 3);
        assertEquals(2, e.size());
        assertEquals(0.6, e.get(0).testAccuracy());
        assertEquals(0.7, e.get(1).testAccuracy());
        assertEquals(1, SweepReport.epochs(m, 1).size());
    }
}
