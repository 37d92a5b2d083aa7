package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.cli.Main;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.RunLock;
import org.wrpn.train.TrainConfig;

/**
 * One writer per run directory and storage failures, with `wrpn train` in child JVMs: a second
 * process on a running run's directory, and a file system that fills up during a checkpoint write.
 */
class RunDirectoryProcessTest {

    @Test
    void aSecondProcessOnARunningDirectoryIsRefusedAndTheFirstEndsWithItsOwnWeights(@TempDir Path dir) throws Exception {
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 2, 256, 0, 7);
        Path spec = JobTestSupport.writeSpec(dir.resolve("job.json"), JobSpec.of(c));
        Path gate = dir.resolve("gate");
        Path status = dir.resolve("first.jsonl");
        Process first = JobTestSupport.startJvm(dir, "first", GatedTrain.class, spec.toString(), gate.toString(), status.toString());
        try {
            ProcessFaultTest.awaitEvent(first, status, "started", 90);
            while (!Files.exists(dir.resolve("gate.waiting")) && first.isAlive()) Thread.sleep(10); // its files are open
            Map<String, Long> before = files(c.out());

            // The same spec again, as a scheduler retrying a job whose first attempt still runs; and a fresh run.
            Process second = JobTestSupport.startJvm(dir, "second", Main.class, "train", "--spec", spec.toString(), "--no-progress");
            assertEquals(ExitCode.BUSY, JobTestSupport.waitFor(second, 60), JobTestSupport.read(dir.resolve("second.err")));
            String err = JobTestSupport.read(dir.resolve("second.err"));
            JobTestSupport.assertOneErrorLine(err, "busy: run directory " + c.out().toAbsolutePath());
            assertTrue(err.contains("pid " + first.pid() + " on "), "names the holder: " + err);
            Process fresh = JobTestSupport.startJvm(dir, "fresh", Main.class, "train", "--spec", spec.toString(), "--seed", "8",
                    "--overwrite", "--no-progress");
            assertEquals(ExitCode.BUSY, JobTestSupport.waitFor(fresh, 60), JobTestSupport.read(dir.resolve("fresh.err")));
            assertEquals(before, files(c.out()), "the refused processes touched nothing");
        } finally {
            Files.writeString(gate, "go");
        }
        assertEquals(ExitCode.OK, JobTestSupport.waitFor(first, 120), JobTestSupport.read(dir.resolve("first.err")));

        Path last = Path.of(JobTestSupport.statusLines(status).getLast().get("checkpoint").asText());
        JobResult reference = Jobs.start(JobSpec.of(c.toBuilder().out(dir.resolve("reference")).build()), null).awaitCompletion();
        assertEquals(JobTestSupport.weightsHash(reference.lastCheckpoint()), JobTestSupport.weightsHash(last),
                "the first run's final checkpoint holds its own weights, bit for bit");
        Checkpoint.load(last); // the weights file matches the hash its sidecar records
        long epochLines = Files.readAllLines(c.out().resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"type\":\"epoch\"")).count();
        assertEquals(c.epochs(), epochLines, "metrics.jsonl holds one run");
    }

    @Test
    void aFullFileSystemDuringACheckpointExitsSixKeepingThePreviousOneAndAResumeFinishes(@TempDir Path dir) throws Exception {
        Path disk = Files.createDirectories(dir.resolve("disk"));
        // One checkpoint of this net is ~440 KB: 700 KB holds the first, not the second beside it.
        mountTmpfs(disk, "700k");
        try {
            TrainConfig c = JobTestSupport.small(disk.resolve("run"), 0.5, 32, 2, 512, 0, 9);
            Path spec = JobTestSupport.writeSpec(dir.resolve("job.json"), JobSpec.of(c));
            Process p = JobTestSupport.startJvm(dir, "full", Main.class, "train", "--spec", spec.toString(), "--no-progress",
                    "--status-file", dir.resolve("full.jsonl").toString());
            assertEquals(ExitCode.STORAGE, JobTestSupport.waitFor(p, 120), JobTestSupport.read(dir.resolve("full.err")));
            Path ckpts = c.out().resolve("checkpoints");
            Path kept = Checkpoint.newestIn(ckpts);
            assertEquals(16, Checkpoint.load(kept).progress().globalStep(), "the first epoch's checkpoint is kept");
            String err = JobTestSupport.read(dir.resolve("full.err"));
            JobTestSupport.assertOneErrorLine(err, "storage: cannot write checkpoint to " + ckpts);
            assertTrue(err.contains("no space left on the device") && err.contains("previous checkpoint " + kept + " is intact"), err);
            JsonNode failed = JobTestSupport.statusLines(dir.resolve("full.jsonl")).getLast();
            assertEquals("storage", failed.get("error_kind").asText());
            assertEquals(List.of(), files(ckpts).keySet().stream().filter(n -> n.contains(".tmp-")).toList(), "no temp file left");

            remountTmpfs(disk, "8m"); // space is back
            JobSpecTest.Cli restart = JobSpecTest.cli("train", "--spec", spec.toString(), "--no-progress", "--status-file",
                    dir.resolve("restart.jsonl").toString());
            assertEquals(0, restart.code(), restart.err());
            List<JsonNode> events = JobTestSupport.statusLines(dir.resolve("restart.jsonl"));
            assertEquals(kept.toString(), events.getFirst().get("resumed_from").asText());
            JobResult reference = Jobs.start(JobSpec.of(c.toBuilder().out(dir.resolve("reference")).build()), null).awaitCompletion();
            assertEquals(JobTestSupport.weightsHash(reference.lastCheckpoint()),
                    JobTestSupport.weightsHash(Path.of(events.getLast().get("checkpoint").asText())), "the resumed run finishes as one run");
        } finally {
            new ProcessBuilder("umount", disk.toString()).inheritIO().start().waitFor();
        }
    }

    private static void mountTmpfs(Path at, String size) throws Exception {
        Process m = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=" + size, "tmpfs", at.toString()).redirectErrorStream(true).start();
        String out = new String(m.getInputStream().readAllBytes());
        Assumptions.assumeTrue(m.waitFor() == 0, "a small tmpfs cannot be mounted here (needs root with CAP_SYS_ADMIN): " + out.trim());
    }

    private static void remountTmpfs(Path at, String size) throws Exception {
        Process m = new ProcessBuilder("mount", "-o", "remount,size=" + size, at.toString()).redirectErrorStream(true).start();
        String out = new String(m.getInputStream().readAllBytes());
        assertEquals(0, m.waitFor(), "remount: " + out);
    }

    /** Every file under dir but the lock's (relative name to size and mtime), to show that nothing changed. */
    static Map<String, Long> files(Path dir) throws IOException {
        Map<String, Long> m = new TreeMap<>();
        if (!Files.isDirectory(dir)) return m;
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path f : s.filter(f -> Files.isRegularFile(f) && !f.getFileName().toString().equals(RunLock.FILE)).toList()) {
                m.put(dir.relativize(f).toString(), Files.size(f) * 31 + Files.getLastModifiedTime(f).toMillis());
            }
        }
        return m;
    }
}
