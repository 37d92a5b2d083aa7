package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.backend.Device;
import org.wrpn.cli.Main;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;

/**
 * The process contract under faults, with `wrpn train` in a child JVM: SIGTERM, kill -9 during a
 * checkpoint write, and a NaN in the data. Restarts run in this JVM through the same CLI.
 */
class ProcessFaultTest {

    @Test
    void sigtermMidEpochThenRestartEndsWithTheWeightsOfAnUninterruptedRun(@TempDir Path dir) throws Exception {
        // 1024 images, batch 32: 32 steps per epoch, 2 epochs.
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 2, 1024, 0, 21);
        Path spec = JobTestSupport.writeSpec(dir.resolve("job.json"), JobSpec.of(c));
        Path status = dir.resolve("status.jsonl");
        Process p = JobTestSupport.startJvm(dir, "first", Main.class, "train", "--spec", spec.toString(), "--status-file",
                status.toString(), "--no-progress");
        awaitEvent(p, status, "started", 60);
        p.destroy(); // SIGTERM
        int code = JobTestSupport.waitFor(p, 60);
        assertEquals(ExitCode.TERMINATED, code, JobTestSupport.read(dir.resolve("first.err")));
        List<JsonNode> events = JobTestSupport.statusLines(status);
        assertEquals(List.of("started", "checkpoint", "finished"), JobTestSupport.eventNames(events));
        JsonNode stop = events.get(1);
        assertEquals("stop", stop.get("reason").asText());
        assertEquals(0, stop.get("epoch").asInt());
        int at = stop.get("step_in_epoch").asInt();
        assertTrue(at > 0 && at < 32, "stopped mid-epoch, after step " + at);
        assertEquals("stopped", events.get(2).get("state").asText());
        assertEquals(143, events.get(2).get("exit_code").asInt());
        JobTestSupport.assertFinite(Path.of(stop.get("path").asText()));

        JobSpecTest.Cli restart = JobSpecTest.cli("train", "--spec", spec.toString(), "--status-file", status.toString(), "--no-progress");
        assertEquals(0, restart.code(), restart.err());
        List<JsonNode> all = JobTestSupport.statusLines(status);
        JsonNode resumed = all.get(3);
        assertEquals("started", resumed.get("event").asText());
        assertEquals(stop.get("path").asText(), resumed.get("resumed_from").asText(), "restarting the same spec resumes automatically");
        JsonNode finished = all.getLast();
        assertEquals("completed", finished.get("state").asText());

        JobResult reference = Jobs.start(JobSpec.of(c.toBuilder().out(dir.resolve("reference")).build()), null).awaitCompletion();
        assertEquals(JobTestSupport.weightsHash(reference.lastCheckpoint()),
                JobTestSupport.weightsHash(Path.of(finished.get("checkpoint").asText())),
                "SIGTERM, restart: the same weights and momentum, bit for bit");
    }

    @Test
    void killDashNineDuringACheckpointWriteLeavesThePreviousCheckpointLoadable(@TempDir Path dir) throws Exception {
        // Width 4 makes each checkpoint ~27 MB, so its write is wide enough to be hit reliably; retried if missed.
        for (int attempt = 1; attempt <= 3; attempt++) {
            Path out = dir.resolve("run" + attempt);
            TrainConfig c = TrainConfig.builder().widthMultiplier(4.0).batch(8).seed(31).out(out).checkpointEvery(1).limitTrain(96)
                    .limitTest(50).device(Device.CPU).build();
            Path spec = JobTestSupport.writeSpec(dir.resolve("job" + attempt + ".json"), JobSpec.of(c));
            Process p = JobTestSupport.startJvm(dir, "kill" + attempt, Main.class, "train", "--spec", spec.toString(), "--no-progress");
            Path ckpts = out.resolve("checkpoints");
            boolean killed = false;
            long deadline = System.nanoTime() + 90_000_000_000L;
            while (!killed && p.isAlive() && System.nanoTime() < deadline) {
                if (completeCheckpoints(ckpts) >= 1 && !tempFiles(ckpts).isEmpty()) {
                    p.destroyForcibly(); // SIGKILL
                    killed = true;
                } else {
                    Thread.sleep(1);
                }
            }
            assertTrue(killed, "the child ended before a second checkpoint was written: " + JobTestSupport.read(dir.resolve("kill" + attempt + ".err")));
            assertEquals(137, JobTestSupport.waitFor(p, 30));
            if (tempFiles(ckpts).isEmpty()) continue; // the write finished before the kill landed: try again

            Path newest = Checkpoint.newestIn(out);
            assertNotNull(newest, "a loadable checkpoint survives");
            Checkpoint.Loaded l = Checkpoint.load(newest);
            JobTestSupport.assertFinite(newest);
            assertTrue(l.progress().globalStep() >= 1);

            Path status = dir.resolve("restart" + attempt + ".jsonl");
            JobSpecTest.Cli restart = JobSpecTest.cli("train", "--spec", spec.toString(), "--checkpoint-every", "0", "--status-file",
                    status.toString(), "--no-progress");
            assertEquals(0, restart.code(), restart.err());
            JsonNode started = JobTestSupport.statusLines(status).getFirst();
            assertEquals(newest.toString(), started.get("resumed_from").asText());
            assertEquals("completed", JobTestSupport.statusLines(status).getLast().get("state").asText());
            return;
        }
        throw new AssertionError("three kills all missed the checkpoint write");
    }

    @Test
    void aNaNInTheDataExitsFourNamingLayerAndStepWithACheckpointFromBeforeIt(@TempDir Path dir) throws Exception {
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 1, 320, 2, 41);
        Path spec = JobTestSupport.writeSpec(dir.resolve("job.json"), JobSpec.of(c));
        Path status = dir.resolve("status.jsonl");
        Process p = JobTestSupport.startJvm(dir, "nan", NanInjectingTrain.class, spec.toString(), "7", status.toString());
        assertEquals(ExitCode.NUMERICAL, JobTestSupport.waitFor(p, 90));
        String err = JobTestSupport.read(dir.resolve("nan.err"));
        JobTestSupport.assertOneErrorLine(err, "numerical failure: ");
        assertTrue(err.contains("layer conv1") && err.contains("(global step 7)"), err);
        JsonNode failed = JobTestSupport.statusLines(status).getLast();
        assertEquals("failed", failed.get("event").asText());
        assertEquals(4, failed.get("exit_code").asInt());
        assertEquals("conv1", failed.get("layer").asText());
        assertEquals(7, failed.get("global_step").asInt());
        Path before = Checkpoint.newestIn(c.out());
        assertEquals(before.toString(), failed.get("checkpoint").asText());
        assertEquals(6, Checkpoint.load(before).progress().globalStep(), "the newest checkpoint is the one before the NaN");
        JobTestSupport.assertFinite(before);
    }

    /** Waits until the child has written event to its status file. */
    static void awaitEvent(Process p, Path status, String event, int seconds) throws Exception {
        long deadline = System.nanoTime() + seconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            if (JobTestSupport.eventNames(JobTestSupport.statusLines(status)).contains(event)) return;
            if (!p.isAlive()) throw new AssertionError("child exited " + p.exitValue() + " before '" + event + "'");
            Thread.sleep(10);
        }
        throw new AssertionError("no '" + event + "' event within " + seconds + " s");
    }

    private static long completeCheckpoints(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return 0;
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().matches("ckpt-.*\\.json")).count();
        }
    }

    private static List<Path> tempFiles(Path dir) throws IOException {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().contains(".tmp-")).toList();
        }
    }
}
