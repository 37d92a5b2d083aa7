package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicReference;
import java.util.stream.Stream;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.RunLock;
import org.wrpn.train.StorageException;
import org.wrpn.train.TrainConfig;

/** A fresh run never writes over another run; --overwrite, --resume, retention and the lock, in this JVM. */
class RunFilesTest {
    private static final String[] SMALL = {"--limit-train", "256", "--limit-test", "100", "--batch", "32", "--width", "0.5",
        "--device", "cpu", "--no-progress"};

    private static JobSpecTest.Cli train(Path out, String... more) {
        List<String> args = new ArrayList<>(List.of("train", "--out", out.toString()));
        args.addAll(List.of(SMALL));
        args.addAll(List.of(more));
        return JobSpecTest.cli(args.toArray(String[]::new));
    }

    @Test
    void aFreshRunIntoAUsedDirectoryIsRefusedWhileResumeAndOverwriteWork(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("run");
        assertEquals(0, train(out, "--epochs", "2", "--seed", "1").code());
        Map<String, Long> before = RunDirectoryProcessTest.files(out);

        JobSpecTest.Cli fresh = train(out, "--epochs", "2", "--seed", "2");
        assertEquals(ExitCode.BAD_INPUT, fresh.code());
        JobTestSupport.assertOneErrorLine(fresh.err(), out + " holds another run (4 checkpoint file(s) in " + out.resolve("checkpoints")
                + " and " + out.resolve("metrics.jsonl") + "); use --resume to continue it or --overwrite to replace it");
        assertEquals(before, RunDirectoryProcessTest.files(out), "the refused run touched nothing");

        JobSpecTest.Cli resumed = train(out, "--epochs", "2", "--seed", "1", "--resume");
        assertEquals(0, resumed.code(), resumed.err());
        assertTrue(resumed.out().contains("nothing left to train"), resumed.out());
        assertEquals(before, RunDirectoryProcessTest.files(out));

        JobSpecTest.Cli over = train(out, "--epochs", "1", "--seed", "2", "--overwrite");
        assertEquals(0, over.code(), over.err());
        List<Path> sidecars = sidecars(out.resolve("checkpoints"));
        assertEquals(1, sidecars.size(), "only the new run's checkpoint: " + sidecars);
        assertEquals(2, Checkpoint.load(sidecars.getFirst()).config().seed());
        assertEquals(List.of(RunLock.FILE, "checkpoints", "metrics.jsonl"), names(out));
        assertEquals(1, Files.readAllLines(out.resolve("metrics.jsonl")).stream().filter(l -> l.contains("\"type\":\"epoch\"")).count(),
                "metrics.jsonl holds the new run only");
    }

    @Test
    void anOverwriteThatFailsBeforeItsFirstCheckpointLeavesTheOldRunWhole(@TempDir Path dir) throws Exception {
        TrainConfig old = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 1, 256, 0, 1);
        assertEquals(JobState.COMPLETED, Jobs.start(JobSpec.of(old), null).awaitCompletion().state());
        Map<String, Long> before = RunDirectoryProcessTest.files(old.out());
        String metrics = Files.readString(old.out().resolve("metrics.jsonl"));

        JobSpec replacing = JobSpec.of(old.toBuilder().seed(2).build()).withOverwrite(true);
        JobResult failed = Jobs.start(replacing, null, (step, images) -> {
            if (step == 3) throw new IllegalStateException("injected failure at step 3");
        }).awaitCompletion();
        assertEquals(JobState.FAILED, failed.state());
        before.keySet().forEach(f -> assertTrue(Files.exists(old.out().resolve(f)), f + " survives"));
        assertEquals(metrics, Files.readString(old.out().resolve("metrics.jsonl")));
        assertEquals(1, Checkpoint.load(Checkpoint.newestIn(old.out())).config().seed(), "the old run still resumes");

        assertEquals(JobState.COMPLETED, Jobs.start(replacing, null).awaitCompletion().state());
        assertEquals(2, Checkpoint.load(Checkpoint.newestIn(old.out())).config().seed());
    }

    @Test
    void retentionKeepsExactlyTheNewestNAndNeverTheCheckpointResumedFrom(@TempDir Path dir) throws Exception {
        // 10 steps, a checkpoint every 2: steps 2, 4, 6, 8 and the epoch's end at 10.
        TrainConfig c = JobTestSupport.small(dir.resolve("keep2"), 0.5, 32, 1, 320, 2, 1).toBuilder().keepCheckpoints(2).build();
        assertEquals(JobState.COMPLETED, Jobs.start(JobSpec.of(c), null).awaitCompletion().state());
        assertEquals(List.of("ckpt-e000-s00000008.json", "ckpt-e000-s00000008.safetensors", "ckpt-e001-s00000010.json",
                "ckpt-e001-s00000010.safetensors"), names(c.out().resolve("checkpoints")));

        TrainConfig one = c.toBuilder().out(dir.resolve("keep1")).keepCheckpoints(1).build();
        AtomicReference<JobHandle> handle = new AtomicReference<>();
        JobHandle h = Jobs.start(JobSpec.of(one), null, (step, images) -> {
            if (step == 5) {
                while (handle.get() == null) Thread.onSpinWait();
                handle.get().cancel(); // stops after this step, with a checkpoint at step 6
            }
        });
        handle.set(h);
        assertEquals(JobState.STOPPED, h.awaitCompletion().state());
        Path ckpts = one.out().resolve("checkpoints");
        assertEquals(List.of("ckpt-e000-s00000006.json"), names(ckpts).stream().filter(n -> n.endsWith(".json")).toList());
        JobResult resumed = Jobs.start(JobSpec.of(one), null).awaitCompletion();
        assertEquals(JobState.COMPLETED, resumed.state(), resumed.message());
        assertEquals(List.of("ckpt-e000-s00000006.json", "ckpt-e001-s00000010.json"),
                names(ckpts).stream().filter(n -> n.endsWith(".json")).toList(), "the newest one and the one resumed from");
    }

    @Test
    void aLockedRunOrSweepDirectoryIsRefusedBeforeAnythingIsTouched(@TempDir Path dir) throws Exception {
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 1, 128, 0, 1);
        try (RunLock held = RunLock.acquire("run directory", c.out())) {
            JobResult r = Jobs.start(JobSpec.of(c), null).awaitCompletion();
            assertEquals(ExitCode.BUSY, r.exitCode());
            assertTrue(r.message().contains("pid " + ProcessHandle.current().pid() + " on "), r.message());
            assertEquals(List.of(RunLock.FILE), names(c.out()));
        }
        Path elsewhere = dir.resolve("ckpts");
        try (RunLock held = RunLock.acquire("run directory", elsewhere)) {
            JobResult r = Jobs.start(JobSpec.of(c).withCheckpointDir(elsewhere), null).awaitCompletion();
            assertEquals(ExitCode.BUSY, r.exitCode(), "a checkpoint directory outside OUT is locked too: " + r.message());
            assertTrue(r.message().contains(elsewhere.toString()), r.message());
        }
        assertEquals(JobState.COMPLETED, Jobs.start(JobSpec.of(c), null).awaitCompletion().state(), "a released lock blocks nothing");

        Path sweep = dir.resolve("sweep");
        try (RunLock held = RunLock.acquire("run directory", sweep)) {
            JobSpecTest.Cli r = JobSpecTest.cli("sweep", "--out", sweep.toString(), "--widths", "0.5", "--bits", "4/4", "--seeds", "1",
                    "--epochs", "1", "--limit-train", "64", "--limit-test", "50", "--device", "cpu", "--results", dir.resolve("res").toString(),
                    "--no-progress");
            assertEquals(ExitCode.BUSY, r.code(), r.err());
            JobTestSupport.assertOneErrorLine(r.err(), "busy: sweep directory " + sweep.toAbsolutePath());
            assertFalse(Files.exists(sweep.resolve("sweep.json")));
        }
    }

    @Test
    void aFullDeviceUnderTheMetricsFileExitsSixNamingItAndTheCheckpointKept(@TempDir Path dir) throws Exception {
        Path full = Path.of("/dev/full"); // every write fails with ENOSPC: a full disk without mounting one
        Assumptions.assumeTrue(Files.exists(full), "no /dev/full on this machine");
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 1, 512, 4, 3);
        Path metrics = Files.createSymbolicLink(Files.createDirectories(c.out()).resolve("metrics.jsonl"), full);
        Path spec = JobTestSupport.writeSpec(dir.resolve("job.json"), JobSpec.of(c));
        JobSpecTest.Cli r = JobSpecTest.cli("train", "--spec", spec.toString(), "--no-progress");
        assertEquals(ExitCode.STORAGE, r.code(), r.err());
        Path kept = c.out().resolve("checkpoints/ckpt-e000-s00000012.json"); // the epoch's metrics line comes before its checkpoint
        JobTestSupport.assertOneErrorLine(r.err(), "storage: cannot write the metrics file " + metrics
                + ": no space left on the device (disk full); the previous checkpoint " + kept + " is intact");
        Files.delete(metrics); // space is back
        JobSpecTest.Cli again = JobSpecTest.cli("train", "--spec", spec.toString(), "--no-progress");
        assertEquals(0, again.code(), again.err());
        assertEquals(16, Checkpoint.load(Checkpoint.newestIn(c.out())).progress().globalStep());
    }

    @Test
    void aRunDirectoryThatVanishesMidRunIsAStorageFailureNotRecreated(@TempDir Path dir) throws Exception {
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 1, 512, 4, 3);
        JobResult r = Jobs.start(JobSpec.of(c), null, (step, images) -> {
            if (step == 10) deleteTree(c.out()); // after the checkpoints at steps 4 and 8
        }).awaitCompletion();
        assertEquals(ExitCode.STORAGE, r.exitCode(), r.message());
        assertEquals("storage: cannot write checkpoint to " + c.out().resolve("checkpoints") + ": the directory no longer exists ("
                + c.out() + "); the previous checkpoint " + c.out().resolve("checkpoints/ckpt-e000-s00000008.json") + " is gone too",
                r.message());
        assertFalse(Files.exists(c.out()), "not recreated");
    }

    private static void deleteTree(Path root) {
        try (Stream<Path> s = Files.walk(root)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) Files.delete(p);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    @Test
    void storageFailuresNameTheirCause(@TempDir Path dir) throws IOException {
        Path p = Path.of("runs/a/checkpoints");
        Path kept = Files.writeString(dir.resolve("ckpt-e001-s00000016.json"), "{}");
        assertEquals("cannot write checkpoint to runs/a/checkpoints: no space left on the device (disk full); the previous checkpoint "
                + kept + " is intact, a restart with --resume continues from it",
                StorageException.of("cannot write checkpoint to " + p, p, new IOException("No space left on device"), kept).getMessage());
        assertEquals("x: permission denied (runs/a/checkpoints/f)",
                StorageException.of("x", p, new AccessDeniedException("runs/a/checkpoints/f"), null).getMessage());
        assertEquals("x: read-only file system (runs/a/m)",
                StorageException.of("x", p, new FileSystemException("runs/a/m", null, "Read-only file system"), null).getMessage());
        assertEquals("x: the directory no longer exists (runs/a/checkpoints/g)",
                StorageException.of("x", p, new NoSuchFileException("runs/a/checkpoints/g"), null).getMessage());
        assertEquals(ExitCode.STORAGE, ExitCode.of(StorageException.of("x", p, new IOException("EIO"), null)));
    }

    private static List<Path> sidecars(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> f.getFileName().toString().matches("ckpt-.*\\.json")).sorted().toList();
        }
    }

    private static List<String> names(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.map(f -> f.getFileName().toString()).sorted().toList();
        }
    }
}
