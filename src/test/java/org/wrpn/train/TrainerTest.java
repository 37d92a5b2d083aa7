package org.wrpn.train;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;

class TrainerTest {
    static DataSplit fashion;

    @BeforeAll
    static void load() {
        fashion = DataSource.open(DataSource.DEFAULT_DIR);
    }

    static TrainConfig config(Path out, int wbits, int abits, double width, int epochs, int limitTrain, int checkpointEvery) {
        return TrainConfig.builder().widthMultiplier(width).weightBits(wbits).activationBits(abits).epochs(epochs).seed(7).out(out)
                .checkpointEvery(checkpointEvery).limitTrain(limitTrain).limitTest(500).device(Device.CPU).build();
    }

    static List<float[]> weights(Network net) {
        List<float[]> ws = new ArrayList<>();
        for (Parameter p : net.parameters()) {
            float[] v = new float[(int) p.shape().elements()];
            net.backend().download(p.value(), v);
            ws.add(v);
        }
        return ws;
    }

    static void assertSameWeights(List<float[]> a, List<float[]> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            // bit-for-bit: compare raw bits so that even -0.0/NaN differences count
            int[] x = new int[a.get(i).length], y = new int[b.get(i).length];
            for (int k = 0; k < x.length; k++) {
                x[k] = Float.floatToRawIntBits(a.get(i)[k]);
                y[k] = Float.floatToRawIntBits(b.get(i)[k]);
            }
            assertArrayEquals(x, y, "parameter " + i + " differs");
        }
    }

    @Test
    void lossFallsOnARealFashionMnistSlice(@TempDir Path dir) {
        TrainConfig c = config(dir, 4, 4, 1, 2, 3072, 0);
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, fashion).quiet()) {
            var test = fashion.test().first(500);
            Evaluator.Result before = Evaluator.evaluate(t.network(), test, t.normalization(), 250);
            Trainer.Result r = t.run();
            Evaluator.Result after = Evaluator.evaluate(t.network(), test, t.normalization(), 250);
            assertTrue(after.loss() < 0.6 * before.loss(), "loss " + before.loss() + " -> " + after.loss());
            assertTrue(after.accuracy() > 0.6, "accuracy " + after.accuracy());
            assertTrue(r.epochs().get(1).trainLoss() < r.epochs().get(0).trainLoss(), "train loss fell between epochs");
            assertNotNull(r.lastCheckpoint());
        }
    }

    /**
     * At a learning rate that drives masters well past 1, --clip-weights keeps every quantized layer's
     * masters in [-1, 1] (some exactly on a bound) and leaves the full-precision layers alone.
     */
    @Test
    void clipWeightsConstrainsOnlyQuantizedMasters(@TempDir Path dir) {
        TrainConfig c = config(dir, 2, 2, 1, 1, 320, 0).toBuilder().lr(2.0).warmupEpochs(0).clipWeights(true).build();
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, fashion).quiet()) {
            t.run();
            boolean onBound = false, fullPrecisionBeyond = false;
            for (Parameter p : t.network().parameters()) {
                if (!p.isTrainable()) continue;
                float[] v = new float[(int) p.shape().elements()];
                b.download(p.value(), v);
                for (float x : v) {
                    if (p.isQuantizedWeight()) {
                        assertTrue(x >= -1f && x <= 1f, p.name() + " holds " + x);
                        onBound |= Math.abs(x) == 1f;
                    } else {
                        fullPrecisionBeyond |= Math.abs(x) > 1f;
                    }
                }
            }
            assertTrue(onBound, "some quantized master reached a bound");
            assertTrue(fullPrecisionBeyond, "full-precision parameters are not clipped");
        }
    }

    record OneRun(List<float[]> before, List<float[]> after, List<Parameter> params) {}

    /** Trains c on the CPU; the weights before and after, and the parameters (closed: for their names and kinds). */
    static OneRun trainOnce(TrainConfig c) {
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, fashion).quiet()) {
            List<float[]> before = weights(t.network());
            t.run();
            return new OneRun(before, weights(t.network()), t.network().parameters());
        }
    }

    /**
     * Weight decay on quantized layers is its own setting. One step (the gradients are those of the same
     * initial weights in both runs): quantized-only decay changes the quantized masters and leaves the
     * full-precision weights bit for bit as without any decay.
     */
    @Test
    void quantizedWeightDecayTouchesOnlyQuantizedWeights(@TempDir Path dir) {
        TrainConfig none = config(dir.resolve("a"), 2, 2, 1, 1, 64, 0).toBuilder().weightDecay(0).quantizedWeightDecay(0.0).build();
        TrainConfig quantizedOnly = none.toBuilder().out(dir.resolve("b")).quantizedWeightDecay(0.05).build();
        OneRun runA = trainOnce(none), runQ = trainOnce(quantizedOnly);
        List<float[]> a = runA.after(), q = runQ.after();
        List<Parameter> params = runA.params();
        int quantized = 0, decayed = 0;
        for (int i = 0; i < a.size(); i++) {
            Parameter p = params.get(i);
            if (p.isQuantizedWeight()) {
                quantized++;
                assertFalse(java.util.Arrays.equals(a.get(i), q.get(i)), "decay changed " + p.name());
            } else if (p.hasWeightDecay()) {
                decayed++;
                assertSameWeights(List.of(a.get(i)), List.of(q.get(i)));
            }
        }
        assertTrue(quantized > 0 && decayed > 0, quantized + " quantized, " + decayed + " full-precision weights");
    }

    /** One step (same gradients in both runs): the quantized masters move 4 times as far, the rest exactly as before. */
    @Test
    void quantizedLrScaleMultipliesOnlyTheQuantizedSteps(@TempDir Path dir) {
        TrainConfig plain = config(dir.resolve("a"), 2, 2, 1, 1, 64, 0).toBuilder().warmupEpochs(0).schedule(LrSchedule.Kind.CONSTANT)
                .weightDecay(0).quantizedWeightDecay(0.0).quantizedLrScale(1.0).clipWeights(false).build();
        TrainConfig scaled = plain.toBuilder().out(dir.resolve("b")).quantizedLrScale(4.0).build();
        OneRun runA = trainOnce(plain);
        List<float[]> before = runA.before(), a = runA.after(), q = trainOnce(scaled).after();
        List<Parameter> params = runA.params();
        for (int i = 0; i < a.size(); i++) {
            if (!params.get(i).isTrainable()) continue;
            if (!params.get(i).isQuantizedWeight()) {
                assertSameWeights(List.of(a.get(i)), List.of(q.get(i)));
                continue;
            }
            for (int k = 0; k < a.get(i).length; k++) {
                double step = a.get(i)[k] - before.get(i)[k], scaledStep = q.get(i)[k] - before.get(i)[k];
                assertEquals(4 * step, scaledStep, 1e-6 + 1e-3 * Math.abs(scaledStep), params.get(i).name() + "[" + k + "]");
            }
        }
    }

    @Test
    void theFanInRuleScalesEachQuantizedLayerByTheRootOfItsFanIn() {
        TrainConfig c = TrainConfig.builder().quantizedLrScale(0.5).quantizedLrFanIn(true).build();
        assertEquals(0.1 * 0.5 * 30, c.quantizedWeightRecipe(4).learningRate(0.1, 900), 1e-12);
        assertEquals(0.1 * 0.5, c.toBuilder().quantizedLrFanIn(false).build().quantizedWeightRecipe(4).learningRate(0.1, 900), 1e-12);
    }

    /** Left at auto, 2-bit weights take the ternary recipe and every other bit width the baseline's; a given value wins. */
    @Test
    void theDefaultRecipeDependsOnTheWeightBits() {
        TrainConfig d = TrainConfig.builder().weightDecay(3e-4).build();
        assertEquals(new QuantizedWeightRecipe(0, true, QuantizedWeightRecipe.TERNARY_LR_SCALE, false), d.quantizedWeightRecipe(2));
        for (int bits : new int[] {1, 4, 8}) {
            assertEquals(new QuantizedWeightRecipe(3e-4, false, 1, false), d.quantizedWeightRecipe(bits), bits + " bits");
        }
        TrainConfig given = d.toBuilder().quantizedLrScale(2.0).clipWeights(false).quantizedWeightDecay(1e-5).build();
        assertEquals(new QuantizedWeightRecipe(1e-5, false, 2, false), given.quantizedWeightRecipe(2));
        assertEquals(new QuantizedWeightRecipe(1e-5, false, 2, false), given.quantizedWeightRecipe(4));
        assertThrows(IllegalArgumentException.class, () -> d.quantizedWeightRecipe(32));
    }

    /**
     * The default applies per layer. One step (same gradients in both runs) with 2-bit weights only in conv2
     * (--layer-bits): against the baseline recipe given explicitly, only conv2's masters move differently.
     */
    @Test
    void theDefaultRecipeFollowsEachLayersBits(@TempDir Path dir) {
        TrainConfig auto = config(dir.resolve("a"), 4, 4, 1, 1, 64, 0).toBuilder().layerBits("conv2=2/4").build();
        TrainConfig baseline = auto.toBuilder().out(dir.resolve("b")).quantizedWeightDecay(auto.weightDecay()).clipWeights(false)
                .quantizedLrScale(1.0).build();
        OneRun runA = trainOnce(auto);
        List<float[]> a = runA.after(), b = trainOnce(baseline).after();
        List<Parameter> params = runA.params();
        int ternary = 0, others = 0;
        for (int i = 0; i < a.size(); i++) {
            Parameter p = params.get(i);
            if (p.weightBits() == 2) {
                ternary++;
                assertFalse(java.util.Arrays.equals(a.get(i), b.get(i)), p.name() + " took the ternary recipe");
            } else {
                others++;
                assertSameWeights(List.of(a.get(i)), List.of(b.get(i)));
            }
        }
        assertEquals(1, ternary);
        assertTrue(others > 1);
    }

    @Test
    void sameSeedGivesBitIdenticalWeights(@TempDir Path dir) {
        List<float[]> first, second;
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(config(dir.resolve("a"), 2, 2, 1, 1, 640, 0), b, fashion).quiet()) {
            t.run();
            first = weights(t.network());
        }
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(config(dir.resolve("b"), 2, 2, 1, 1, 640, 0), b, fashion).quiet()) {
            t.run();
            second = weights(t.network());
        }
        assertSameWeights(first, second);
    }

    @Test
    void resumingMidEpochEndsWithTheSameWeights(@TempDir Path dir) throws IOException {
        // 10 steps per epoch, 2 epochs, a checkpoint every 3 steps: global step 12 is mid-way through epoch 2.
        TrainConfig full = config(dir.resolve("full"), 4, 4, 1, 2, 640, 3).toBuilder().keepCheckpoints(0).build(); // keep all
        List<float[]> uninterrupted;
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(full, b, fashion).quiet()) {
            t.run();
            uninterrupted = weights(t.network());
        }
        Path mid = checkpointAtStep(dir.resolve("full/checkpoints"), 12);
        Checkpoint.Loaded loaded = Checkpoint.load(mid);
        assertEquals(1, loaded.progress().epoch());
        assertEquals(2, loaded.progress().stepInEpoch());
        TrainConfig resumed = loaded.config().toBuilder().out(dir.resolve("resumed")).build();
        try (CpuBackend b = new CpuBackend();
                Trainer t = new Trainer(resumed, b, fashion, loaded.normalization()).quiet()) {
            t.run(loaded);
            assertSameWeights(uninterrupted, weights(t.network()));
        }
    }

    @Test
    void stopRequestWritesACheckpointThatResumesToTheSameResult(@TempDir Path dir) {
        TrainConfig c = config(dir.resolve("a"), 4, 4, 1, 1, 640, 0);
        List<float[]> uninterrupted;
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, fashion).quiet()) {
            t.run();
            uninterrupted = weights(t.network());
        }
        Path stopped;
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c.toBuilder().out(dir.resolve("b")).build(), b, fashion).quiet()) {
            t.requestStop(); // stops after the first step, with a checkpoint
            stopped = t.run().lastCheckpoint();
        }
        Checkpoint.Loaded l = Checkpoint.load(stopped);
        assertEquals(1, l.progress().globalStep());
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(l.config().toBuilder().out(dir.resolve("b")).build(), b, fashion,
                l.normalization()).quiet()) {
            t.run(l);
            assertSameWeights(uninterrupted, weights(t.network()));
        }
    }

    @Test
    void aCheckpointOfAnotherWidthIsRefusedBeforeAnythingChanges(@TempDir Path dir) {
        Path ckpt;
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(config(dir.resolve("w1"), 4, 4, 1, 1, 128, 0), b, fashion).quiet()) {
            ckpt = t.run().lastCheckpoint();
        }
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(config(dir.resolve("w2"), 4, 4, 2, 1, 128, 0), b, fashion).quiet()) {
            List<float[]> before = weights(t.network());
            BadInputException e = assertThrows(BadInputException.class, () -> Checkpoint.apply(Checkpoint.load(ckpt), t.network(), true));
            assertTrue(e.getMessage().contains("shape"), e.getMessage());
            assertSameWeights(before, weights(t.network()));
        }
    }

    @Test
    void corruptWeightsAreRefusedAndAnOlderCheckpointIsUsedForResume(@TempDir Path dir) throws IOException {
        Path out = dir.resolve("run");
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(config(out, 4, 4, 1, 1, 640, 4), b, fashion).quiet()) {
            t.run();
        }
        Path newest = Checkpoint.newestIn(out);
        assertEquals(10, Checkpoint.load(newest).progress().globalStep());
        Path weights = Checkpoint.load(newest).weights();
        byte[] bytes = Files.readAllBytes(weights);
        bytes[bytes.length - 3] ^= 0x40;
        Files.write(weights, bytes);
        BadInputException e = assertThrows(BadInputException.class, () -> Checkpoint.load(newest));
        assertTrue(e.getMessage().contains("corrupt"), e.getMessage());
        assertEquals(8, Checkpoint.load(Checkpoint.newestIn(out)).progress().globalStep(), "falls back to the previous good one");
    }

    static Path checkpointAtStep(Path dir, long step) throws IOException {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(String.format("-s%08d.json", step))).findFirst()
                    .orElseThrow(() -> new AssertionError("no checkpoint at step " + step + " in " + dir));
        }
    }
}
