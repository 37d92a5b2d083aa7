package org.wrpn.job;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.backend.Device;
import org.wrpn.nn.SaveChoice;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.LrSchedule;
import org.wrpn.train.NumericalFailureException;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;

/** The org.wrpn.job Java API: plan, start, watch, cancel, resume; in one JVM, on the CPU. */
class JobApiTest {

    static final class Recorder implements JobListener {
        final List<JobEvent> events = Collections.synchronizedList(new ArrayList<>());
        final CountDownLatch started = new CountDownLatch(1);

        @Override
        public void onEvent(JobEvent e) {
            events.add(e);
            if (e instanceof JobEvent.Started) started.countDown();
        }

        List<JobEvent> snapshot() {
            synchronized (events) {
                return List.copyOf(events);
            }
        }

        <T extends JobEvent> List<T> of(Class<T> type) {
            return snapshot().stream().filter(type::isInstance).map(type::cast).toList();
        }
    }

    static JobResult runToEnd(JobSpec spec) throws InterruptedException {
        JobResult r = Jobs.start(spec, null).awaitCompletion();
        assertEquals(JobState.COMPLETED, r.state(), r.message());
        return r;
    }

    @Test
    void aJobReportsItsEventsInOrderAndItsStatus(@TempDir Path dir) throws Exception {
        // 256 images, batch 32: 8 steps per epoch; checkpoints every 3 global steps within an epoch and at epoch ends.
        JobSpec spec = JobSpec.of(JobTestSupport.small(dir.resolve("run"), 0.5, 32, 2, 256, 3, 1));
        Recorder rec = new Recorder();
        JobHandle h = Jobs.start(spec, rec);
        JobResult r = h.awaitCompletion();
        assertEquals(JobState.COMPLETED, r.state(), r.message());
        assertEquals(ExitCode.OK, r.exitCode());
        List<JobEvent> ev = rec.snapshot();
        assertInstanceOf(JobEvent.Started.class, ev.get(0));
        JobEvent.Started s = (JobEvent.Started) ev.get(0);
        assertNull(s.resumedFrom());
        assertEquals(16, s.totalSteps());
        JobEvent.Finished f = assertInstanceOf(JobEvent.Finished.class, ev.get(ev.size() - 1));
        assertEquals(JobState.COMPLETED, f.state());
        assertEquals(16, f.globalStep());
        assertEquals(2, rec.of(JobEvent.EpochEnded.class).size());
        assertEquals(List.of(3L, 6L, 8L, 9L, 12L, 15L, 16L), rec.of(JobEvent.CheckpointWritten.class).stream()
                .map(JobEvent.CheckpointWritten::globalStep).toList());
        assertEquals(Trainer.CheckpointReason.EPOCH, rec.of(JobEvent.CheckpointWritten.class).get(2).reason());
        // the epoch event precedes its checkpoint
        int epoch1 = ev.indexOf(rec.of(JobEvent.EpochEnded.class).get(0));
        assertEquals(8, ((JobEvent.CheckpointWritten) ev.get(epoch1 + 1)).globalStep());
        JobStatus st = h.status();
        assertEquals(JobState.COMPLETED, st.state());
        assertEquals(16, st.globalStep());
        assertEquals(2, st.epoch());
        assertEquals(0, st.exitCode());
        assertEquals(r.lastCheckpoint(), st.lastCheckpoint());
        assertTrue(r.lastCheckpoint().getFileName().toString().equals("ckpt-e002-s00000016.json"), r.lastCheckpoint().toString());
    }

    @Test
    void cancelWritesACheckpointAndTheSameSpecResumesToTheSameWeights(@TempDir Path dir) throws Exception {
        TrainConfig c = JobTestSupport.small(dir.resolve("a"), 0.5, 32, 2, 256, 0, 5);
        JobResult reference = runToEnd(JobSpec.of(c));

        JobSpec spec = JobSpec.of(c.toBuilder().out(dir.resolve("b")).build());
        Recorder rec = new Recorder();
        JobHandle h = Jobs.start(spec, rec);
        assertTrue(rec.started.await(60, TimeUnit.SECONDS));
        h.cancel();
        JobResult stopped = h.awaitCompletion();
        assertEquals(JobState.STOPPED, stopped.state(), stopped.message());
        assertEquals(ExitCode.TERMINATED, stopped.exitCode());
        JobEvent.CheckpointWritten stop = rec.of(JobEvent.CheckpointWritten.class).getLast();
        assertEquals(Trainer.CheckpointReason.STOP, stop.reason());
        assertEquals(stop.sidecar(), stopped.lastCheckpoint());
        assertTrue(stop.globalStep() > 0 && stop.globalStep() < 16, "stopped mid-run at " + stop.globalStep());

        Recorder again = new Recorder();
        JobResult resumed = Jobs.start(spec, again).awaitCompletion();
        assertEquals(JobState.COMPLETED, resumed.state(), resumed.message());
        JobEvent.Started s = again.of(JobEvent.Started.class).getFirst();
        assertEquals(stop.sidecar(), s.resumedFrom());
        assertEquals(stop.globalStep(), s.globalStep());
        assertEquals(JobTestSupport.weightsHash(reference.lastCheckpoint()), JobTestSupport.weightsHash(resumed.lastCheckpoint()),
                "stopped and resumed ends bit for bit where the uninterrupted run ends");

        // Once complete, starting it again trains nothing and says where the result is.
        Recorder done = new Recorder();
        JobResult nothing = Jobs.start(spec, done).awaitCompletion();
        assertEquals(JobState.COMPLETED, nothing.state());
        assertTrue(nothing.epochs().isEmpty());
        assertEquals(resumed.lastCheckpoint(), nothing.lastCheckpoint());
        assertEquals(List.of(JobEvent.Started.class, JobEvent.Finished.class), done.snapshot().stream().map(Object::getClass).toList());
    }

    @Test
    void twoConcurrentJobsDoNotInterfere(@TempDir Path dir) throws Exception {
        TrainConfig a = JobTestSupport.small(dir.resolve("a"), 0.5, 32, 1, 320, 2, 11);
        TrainConfig b = TrainConfig.builder().widthMultiplier(1.0).weightBits(2).activationBits(2).save(SaveChoice.FP32).data(a.data())
                .batch(16).lr(0.1).schedule(LrSchedule.Kind.CONSTANT).warmupEpochs(0).seed(12).out(dir.resolve("b"))
                .checkpointEvery(3).limitTrain(256).limitTest(100).device(Device.CPU).build();
        JobHandle ha = Jobs.start(JobSpec.of(a), null);
        JobHandle hb = Jobs.start(JobSpec.of(b), null);
        JobResult ra = ha.awaitCompletion();
        JobResult rb = hb.awaitCompletion();
        assertEquals(JobState.COMPLETED, ra.state(), ra.message());
        assertEquals(JobState.COMPLETED, rb.state(), rb.message());
        JobResult aAlone = runToEnd(JobSpec.of(a.toBuilder().out(dir.resolve("a-alone")).build()));
        JobResult bAlone = runToEnd(JobSpec.of(b.toBuilder().out(dir.resolve("b-alone")).build()));
        assertEquals(JobTestSupport.weightsHash(aAlone.lastCheckpoint()), JobTestSupport.weightsHash(ra.lastCheckpoint()));
        assertEquals(JobTestSupport.weightsHash(bAlone.lastCheckpoint()), JobTestSupport.weightsHash(rb.lastCheckpoint()));
    }

    @Test
    void aNaNInTheDataFailsNamingLayerAndStepAndKeepsTheCheckpointBeforeIt(@TempDir Path dir) throws Exception {
        JobSpec spec = JobSpec.of(JobTestSupport.small(dir.resolve("nan"), 0.5, 32, 1, 320, 2, 3));
        Recorder rec = new Recorder();
        JobResult r = Jobs.start(spec, rec, (step, images) -> {
            if (step == 5) images[123] = Float.NaN;
        }).awaitCompletion();
        assertEquals(JobState.FAILED, r.state());
        assertEquals(ExitCode.NUMERICAL, r.exitCode());
        NumericalFailureException n = assertInstanceOf(NumericalFailureException.class, r.failure());
        assertEquals("conv1", n.layer());
        assertEquals(5, n.globalStep());
        assertTrue(r.message().contains("layer conv1") && r.message().contains("(global step 5)")
                && r.message().contains("input batch holds 1 non-finite"), r.message());
        JobEvent.Failed f = assertInstanceOf(JobEvent.Failed.class, rec.snapshot().getLast());
        assertEquals(ExitCode.NUMERICAL, f.exitCode());
        assertEquals("ckpt-e000-s00000004.json", f.checkpoint().getFileName().toString());
        assertEquals(f.checkpoint(), org.wrpn.train.Checkpoint.newestIn(spec.checkpoints()));
        JobTestSupport.assertFinite(f.checkpoint());
    }

    @Test
    void aNonFiniteWeightIsNamedByItsLayerAndNeverCheckpointed(@TempDir Path dir) {
        // fc1 at full precision: its NaN weight reaches the outputs. At 4 bits the quantizer would hide
        // it from the step, and the checkpoint guard must refuse it instead.
        assertEquals("fc1", poisonedRun(dir.resolve("fp32"), "fc1=32/4").layer());
        NumericalFailureException hidden = poisonedRun(dir.resolve("q"), "");
        assertEquals("fc1", hidden.layer());
        assertTrue(hidden.getMessage().contains("checkpoint was not written"), hidden.getMessage());
        assertTrue(!Files.exists(dir.resolve("q/checkpoints")) || org.wrpn.train.Checkpoint.newestIn(dir.resolve("q")) == null);
    }

    private static NumericalFailureException poisonedRun(Path out, String layerBits) {
        TrainConfig s = JobTestSupport.small(out, 0.5, 32, 1, 128, 0, 1);
        TrainConfig c = s.toBuilder().layerBits(layerBits).out(out).checkpointEvery(0).build();
        try (org.wrpn.backend.cpu.CpuBackend b = new org.wrpn.backend.cpu.CpuBackend();
                Trainer t = new Trainer(c, b, org.wrpn.data.DataSource.open(c.data())).quiet()) {
            org.wrpn.nn.Parameter w = t.network().parameters().stream().filter(p -> p.name().equals("fc1.weight")).findFirst().orElseThrow();
            float[] v = new float[(int) w.shape().elements()];
            b.download(w.value(), v);
            v[3] = Float.NaN;
            b.upload(v, w.value());
            return org.junit.jupiter.api.Assertions.assertThrows(NumericalFailureException.class, t::run);
        }
    }

    @Test
    void autoResumeRefusesTheCheckpointsOfAnotherRun(@TempDir Path dir) throws Exception {
        TrainConfig c = JobTestSupport.small(dir.resolve("run"), 0.5, 32, 1, 128, 0, 1);
        runToEnd(JobSpec.of(c));
        TrainConfig other = c.toBuilder().batch(64).build();
        JobResult r = Jobs.start(JobSpec.of(other), null).awaitCompletion();
        assertEquals(ExitCode.BAD_INPUT, r.exitCode());
        assertTrue(r.message().contains("belongs to another run (batch is 32 there and 64 here)"), r.message());
        JobResult never = Jobs.start(JobSpec.of(other).withResume(JobSpec.RESUME_NEVER), null).awaitCompletion();
        assertEquals(ExitCode.BAD_INPUT, never.exitCode(), "a fresh run never writes over another run");
        assertTrue(never.message().contains("--overwrite"), never.message());
        JobResult fresh = Jobs.start(JobSpec.of(other).withOverwrite(true), null).awaitCompletion();
        assertEquals(JobState.COMPLETED, fresh.state(), fresh.message());
        assertEquals(64, Checkpoint.load(Checkpoint.newestIn(c.out())).config().batch(), "the new run replaced the old one");
    }

    @Test
    void planAnswersForTheSpecAndABudget(@TempDir Path dir) {
        JobSpec spec = JobSpec.of(JobTestSupport.small(dir, 2, 64, 1, 0, 0, 1));
        JobPlan p = Jobs.plan(spec);
        assertTrue(p.memory().total() > 0 && p.budgetBytes().isEmpty() && p.largestBatch().isEmpty() && p.fits());
        assertEquals(64, p.memory().request().batch());
        long budget = 3 * p.memory().total();
        JobPlan withBudget = Jobs.plan(spec, budget);
        int largest = withBudget.largestBatch().orElseThrow();
        assertTrue(largest > 64, "three times the memory holds a larger batch: " + largest);
        assertTrue(MemoryPlanner.plan(p.memory().request().withBatch(largest)).total() <= budget);
        assertTrue(MemoryPlanner.plan(p.memory().request().withBatch(largest + 1)).total() > budget);
    }

    @Test
    void outOfMemoryExitsThreeWithThePlannersLargestBatch(@TempDir Path dir) {
        // lenet at width 16 keeps ~26 GB of activations at batch 32768: more than the test heap.
        JobSpecTest.Cli c = JobSpecTest.cli("train", "--width", "16", "--batch", "32768", "--device", "cpu", "--no-progress",
                "--out", dir.toString(), "--status-file", dir.resolve("status.jsonl").toString());
        assertEquals(ExitCode.OUT_OF_MEMORY, c.code(), c.err());
        String err = c.err().strip();
        assertTrue(err.startsWith("error: out of memory: batch 32768 needs ") && !err.contains("\n"), err);
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("the largest batch that fits is (\\d+) \\(--batch \\1\\)").matcher(err);
        assertTrue(m.find(), err);
        int suggested = Integer.parseInt(m.group(1));
        JobSpec spec = JobSpec.parse("{\"width\": 16, \"batch\": 32768, \"device\": \"cpu\"}", "oom");
        assertEquals(suggested, Jobs.plan(spec, Runtime.getRuntime().maxMemory()).largestBatch().orElseThrow());
        assertTrue(suggested > 0 && suggested < 32768);
        var failed = assertDoesNotThrowReading(dir.resolve("status.jsonl")).getLast();
        assertEquals("out_of_memory", failed.get("error_kind").asText());
        assertEquals(suggested, failed.get("suggested_batch").asInt());
        assertTrue(!Files.exists(dir.resolve("checkpoints")), "nothing was trained");
    }

    private static List<com.fasterxml.jackson.databind.JsonNode> assertDoesNotThrowReading(Path status) {
        try {
            return JobTestSupport.statusLines(status);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }

    @Test
    void awaitWithATimeoutReturnsEmptyWhileRunning(@TempDir Path dir) throws Exception {
        JobHandle h = Jobs.start(JobSpec.of(JobTestSupport.small(dir, 0.5, 32, 1, 256, 0, 1)), null);
        // Right after start the data is still loading: the job cannot be done in a millisecond.
        assertTrue(h.awaitCompletion(Duration.ofMillis(1)).isEmpty());
        h.cancel();
        JobResult r = h.awaitCompletion(Duration.ofSeconds(60)).orElseThrow();
        assertTrue(r.state() == JobState.STOPPED || r.state() == JobState.COMPLETED, r.state().toString());
        assertNotNull(r.lastCheckpoint());
    }

    /**
     * Jobs in one JVM share nothing mutable: no static field in the training path may change after
     * class initialization, except the documented process-wide caches below.
     */
    @Test
    void theTrainingPathHasNoSharedMutableStaticState() throws Exception {
        Map<String, String> allowed = Map.of(
                "org.wrpn.backend.BackendSelector.cached", "the CUDA probe result, computed once per process, immutable");
        Path classes = Path.of(Trainer.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        List<String> problems = new ArrayList<>();
        for (String pkg : List.of("train", "nn", "data", "plan", "job", "quant", "tensor", "backend/cpu")) {
            Path root = classes.resolve("org/wrpn/" + pkg);
            try (Stream<Path> files = Files.list(root)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".class")).toList()) {
                    String name = "org.wrpn." + pkg.replace('/', '.') + "." + f.getFileName().toString().replace(".class", "");
                    Class<?> cls = Class.forName(name, false, getClass().getClassLoader());
                    for (Field fld : cls.getDeclaredFields()) {
                        int mod = fld.getModifiers();
                        if (!Modifier.isStatic(mod) || fld.isSynthetic() || fld.isEnumConstant()) continue;
                        String id = name + "." + fld.getName();
                        if (allowed.containsKey(id)) continue;
                        if (!Modifier.isFinal(mod)) problems.add(id + " is static and not final");
                        else if (isMutableContainer(fld)) problems.add(id + " is a static mutable " + fld.getType().getSimpleName());
                    }
                }
            }
        }
        assertEquals(List.of(), problems);
    }

    private static boolean isMutableContainer(Field f) throws IllegalAccessException {
        Class<?> t = f.getType();
        if (t.getName().startsWith("java.util.concurrent.atomic.") || t == StringBuilder.class) return true;
        if (!java.util.Collection.class.isAssignableFrom(t) && !Map.class.isAssignableFrom(t)) return false;
        f.setAccessible(true);
        Object v = f.get(null);
        if (v == null) return false;
        String impl = v.getClass().getName();
        return !(impl.startsWith("java.util.ImmutableCollections") || impl.startsWith("java.util.Collections$Unmodifiable")
                || impl.startsWith("java.util.Collections$Empty") || impl.startsWith("java.util.Collections$Singleton"));
    }
}
