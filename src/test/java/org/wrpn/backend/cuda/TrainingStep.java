package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.reference.Reference;
import org.wrpn.reference.ReferenceBackend;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * One whole training step (forward, loss, backward through Network.forwardBackward, then an SGD
 * update) of a model on any backend, from a seed: the same weights, images and labels on every
 * backend. Used to hold a backend's step to the reference backend's (GPU: CudaTrainingStepGpuTest;
 * CPU: BackendStepAgreementTest).
 */
public final class TrainingStep {
    private TrainingStep() {}

    /** A model at a precision, width and batch, on h x w x c images with 10 classes. */
    public record Config(String model, int weightBits, int activationBits, double width, int batch, int height, int width2,
            int channels) {
        @Override
        public String toString() {
            return model + " w" + weightBits + "/a" + activationBits + " width " + width + " batch " + batch + " " + height + "x"
                    + width2 + "x" + channels;
        }
    }

    /**
     * What a step produced: the loss, then per parameter (in Network.parameters() order) its gradient
     * (trainable) or new value (BN running statistics), then the parameters after one SGD update.
     */
    public record Result(LossResult loss, List<String> names, List<float[]> grads, List<float[]> updated, long savedBytes) {}

    /**
     * The steps the whole-step tests take, on the GPU (CudaTrainingStepGpuTest) and on the CPU
     * (BackendStepAgreementTest): lenet and resnet20 at (4,4) and (2,2) bits, batch 1, 4 and 7, widths
     * 1 and 2, and a full-precision lenet.
     */
    public static final List<Config> CONFIGS = List.of(
            new Config("lenet", 4, 4, 1, 7, 28, 28, 1),
            new Config("lenet", 2, 2, 1, 7, 28, 28, 1),
            new Config("lenet", 4, 4, 2, 1, 28, 28, 1),
            new Config("lenet", 32, 32, 1, 7, 28, 28, 1),
            new Config("resnet20", 4, 4, 1, 4, 32, 32, 3),
            new Config("resnet20", 2, 2, 1, 4, 32, 32, 3),
            new Config("resnet20", 2, 2, 2, 1, 16, 16, 3));

    public static Result run(Backend be, Config c, SavePolicy policy, long seed) {
        try (Network net = Models.build(c.model(), c.width(), PrecisionPolicy.uniform(c.weightBits(), c.activationBits()),
                c.height(), c.width2(), c.channels(), 10)) {
            net.initialize(be, policy, seed);
            net.prepare(c.batch());
            SplittableRandom r = new SplittableRandom(seed * 31 + 7);
            float[] images = new float[c.batch() * c.height() * c.width2() * c.channels()];
            for (int i = 0; i < images.length; i++) images[i] = (float) (r.nextDouble() * 3 - 1);
            int[] labels = new int[c.batch()];
            for (int i = 0; i < labels.length; i++) labels[i] = r.nextInt(10);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(c.batch()));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(c.batch()));
            be.upload(images, x);
            be.upload(labels, y);
            LossResult loss = net.forwardBackward(x, y, 1f / c.batch());
            List<String> names = new ArrayList<>();
            List<float[]> grads = new ArrayList<>(), updated = new ArrayList<>();
            for (Parameter p : net.parameters()) {
                names.add(p.name());
                grads.add(download(be, p.isTrainable() ? p.grad() : p.value()));
            }
            for (Parameter p : net.trainableParameters()) {
                be.sgdStep(p.value(), p.grad(), p.velocity(), 0.05f, 0.9f, p.hasWeightDecay() ? 5e-4f : 0f);
            }
            for (Parameter p : net.parameters()) updated.add(download(be, p.value()));
            net.ledger().free(x);
            net.ledger().free(y);
            assertEquals(0, net.ledger().live(Category.ACTIVATIONS), "every activation freed after the step");
            assertEquals(0, net.ledger().live(Category.LAYER_STATE), "every saved mask and statistic freed after the step");
            return new Result(loss, names, grads, updated, net.lastSavedBytes());
        }
    }

    private static float[] download(Backend be, Tensor t) {
        float[] v = new float[(int) t.shape().elements()];
        be.download(t, v);
        return v;
    }

    /**
     * The step's discrete decisions, in call order: the activation codes (and STE mask bits) of every
     * quantizeActivations and quantizePack call, forward and recomputed in backward alike, and the
     * signs of every full-precision ReLU (its backward mask).
     */
    public record Decision(String op, int bits, long[] codes, long[] mask) {}

    /**
     * Wraps a backend so that it records its decisions (forcing == null), or so that it follows
     * recorded ones: after each quantizer call, every code (or mask bit) that differs from the
     * recording is checked to be a rounding-boundary case on this backend's own input (x * (2^k - 1)
     * within 1e-3 of a half-integer; a mask bit: x within 1e-4 of 0 or 1) and then replaced by the
     * recorded one; a ReLU whose sign differs must have |x| within 1e-4 of 0. Two correct float backends differ in their last bits (summation orders); that
     * moves a few pre-activations across a quantizer boundary, and one changed code changes the
     * gradients it feeds by a code step. Forcing those few boundary cases makes both steps take the
     * same discrete path, so that their gradients can be held to DESIGN.md's fp32 tolerance; any
     * difference away from a boundary is a real error and fails.
     */
    public static final class Decisions {
        public final List<Decision> recorded = new ArrayList<>();
        private final List<Decision> forcing;
        private int next;
        public int forcedCodes;
        public int forcedMaskBits;
        public long decisions;

        private Decisions(List<Decision> forcing) {
            this.forcing = forcing;
        }

        public static Decisions record() {
            return new Decisions(null);
        }

        public static Decisions follow(Decisions other) {
            return new Decisions(other.recorded);
        }

        public Backend wrap(Backend be) {
            return (Backend) java.lang.reflect.Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                    (proxy, m, args) -> {
                        Object r;
                        try {
                            r = m.invoke(be, args);
                        } catch (java.lang.reflect.InvocationTargetException e) {
                            throw e.getCause();
                        }
                        switch (m.getName()) {
                            case "quantizeActivations" -> seen(be, "quantizeActivations", (Tensor) args[0], (Integer) args[1],
                                    (Tensor) args[2], null);
                            case "quantizePack" -> seen(be, "quantizePack", (Tensor) args[0], (Integer) args[1], (Tensor) args[2],
                                    (Tensor) args[3]);
                            case "relu" -> seen(be, "relu", (Tensor) args[0], 1, (Tensor) args[1], null);
                            default -> { }
                        }
                        return r;
                    });
        }

        private void seen(Backend be, String op, Tensor x, int bits, Tensor out, Tensor maskT) {
            Shape s = out.shape();
            int pixels = (int) s.pixels(), channels = s.channels();
            long[] codes = switch (op) {
                case "quantizePack" -> unpackWords(be, out, pixels, channels, bits);
                case "relu" -> positive(be, out);
                default -> valuesToCodes(be, out, bits);
            };
            long[] mask = maskT == null ? null : unpackWords(be, maskT, pixels, channels, 1);
            decisions += codes.length;
            if (forcing == null) {
                recorded.add(new Decision(op, bits, codes, mask));
                return;
            }
            assertTrue(next < forcing.size(), "more quantizer calls than the recorded step made");
            Decision want = forcing.get(next++);
            assertEquals(want.op() + "/" + want.bits() + "/" + want.codes().length, op + "/" + bits + "/" + codes.length,
                    "quantizer call " + (next - 1));
            float[] xv = download(be, x);
            double levels = (1 << bits) - 1;
            boolean changed = false;
            float[] yv = op.equals("relu") ? download(be, out) : null;
            for (int i = 0; i < codes.length; i++) {
                if (codes[i] == want.codes()[i]) continue;
                if (yv != null) {
                    // ReLU: the sign of x decides the backward mask; at x ~ 0 follow the recording's sign
                    if (Math.abs(xv[i]) > 1e-4) {
                        fail("relu call " + (next - 1) + " element " + i + " decides differently at input " + xv[i]);
                    }
                    yv[i] = want.codes()[i] == 1 ? Math.max(Math.abs(xv[i]), Float.MIN_NORMAL) : 0f;
                    forcedCodes++;
                    changed = true;
                    continue;
                }
                double v = Math.min(1, Math.max(0, xv[i])) * levels;
                double half = Math.floor(v) + 0.5;
                if (Math.abs(codes[i] - want.codes()[i]) != 1 || Math.abs(v - half) > 1e-3) {
                    fail(op + " call " + (next - 1) + " element " + i + ": code " + codes[i] + " where the recorded step has "
                            + want.codes()[i] + ", and the input " + xv[i] + " is not at a rounding boundary");
                }
                codes[i] = want.codes()[i];
                forcedCodes++;
                changed = true;
            }
            boolean maskChanged = false;
            if (mask != null) {
                for (int i = 0; i < mask.length; i++) {
                    if (mask[i] == want.mask()[i]) continue;
                    if (Math.abs(xv[i]) > 1e-4 && Math.abs(xv[i] - 1) > 1e-4) {
                        fail(op + " call " + (next - 1) + " mask element " + i + " differs at input " + xv[i] + ", not at 0 or 1");
                    }
                    mask[i] = want.mask()[i];
                    forcedMaskBits++;
                    maskChanged = true;
                }
            }
            if (changed) {
                if (yv != null) {
                    be.upload(yv, out);
                } else if (op.equals("quantizePack")) {
                    be.upload(Reference.pack(codes, pixels, channels, bits), out);
                } else {
                    float[] values = new float[codes.length];
                    for (int i = 0; i < codes.length; i++) values[i] = Reference.activationValue(codes[i], bits);
                    be.upload(values, out);
                }
            }
            if (maskChanged) be.upload(Reference.pack(mask, pixels, channels, 1), maskT);
        }

        /** Every recorded call was followed. */
        public void assertComplete() {
            assertEquals(forcing.size(), next, "quantizer calls of the two steps");
        }

        private static long[] unpackWords(Backend be, Tensor packed, int pixels, int channels, int bits) {
            int[] words = new int[pixels * Reference.wordsPerPixel(channels, bits)];
            be.download(packed, words);
            return Reference.unpack(words, pixels, channels, bits);
        }

        private static long[] positive(Backend be, Tensor y) {
            float[] v = download(be, y);
            long[] c = new long[v.length];
            for (int i = 0; i < v.length; i++) c[i] = v[i] > 0 ? 1 : 0;
            return c;
        }

        private static long[] valuesToCodes(Backend be, Tensor values, int bits) {
            float[] v = download(be, values);
            long[] c = new long[v.length];
            for (int i = 0; i < v.length; i++) c[i] = Math.round(v[i] * (double) ((1 << bits) - 1));
            return c;
        }
    }

    /**
     * One step of c on the backend under test, then the same step on the reference backend following
     * its decisions, held to {@link #assertAgree}; at most maxForced boundary cases may be forced.
     * Returns a one-line summary.
     */
    public static String againstReference(Backend be, Config c, int maxForced) {
        Decisions decisions = Decisions.record();
        Result got = run(decisions.wrap(be), c, SavePolicy.PACKED, 42);
        Decisions forced = Decisions.follow(decisions);
        Result ref;
        try (ReferenceBackend r = new ReferenceBackend()) {
            ref = run(forced.wrap(r), c, SavePolicy.PACKED, 42);
        }
        forced.assertComplete();
        String summary = String.format(java.util.Locale.ROOT,
                "%s on %s: loss %.8f vs reference %.8f; %d of %d decisions and %d mask bits forced; worst error %.3f of the tolerance",
                c, be.name(), got.loss().lossSum(), ref.loss().lossSum(), forced.forcedCodes, forced.decisions,
                forced.forcedMaskBits, worstRatio(ref, got, c));
        System.out.println(summary);
        assertTrue(forced.forcedCodes + forced.forcedMaskBits <= maxForced, "boundary cases are rare: " + summary);
        assertAgree(ref, got, c, c + " on " + be.describe());
        return summary;
    }

    /**
     * Holds a step to the reference step that followed its decisions: the loss within 1e-4 relative,
     * and every gradient, BN statistic and SGD-updated parameter within DESIGN.md's fp32 tolerance
     * |a - b| &lt;= atol + 1e-4 |ref|, where atol is DESIGN's 1e-5 with two scalings that its O(1)
     * per-op values did not need: by sqrt(K / 64) as in the per-op tests, for the largest reduction
     * of the step, K = batch * H * W (a first-layer weight gradient sums that many products, and every
     * gradient carries the rounding of the whole backward chain above it); and by the tensor's RMS
     * when that exceeds 1, since an element that cancels to 0.05 inside a gradient of size 10 carries
     * the rounding of the size-10 terms it was summed from.
     */
    public static void assertAgree(Result ref, Result got, Config c, String what) {
        double lr = ref.loss().lossSum(), lg = got.loss().lossSum();
        assertTrue(Double.isFinite(lg), what + ": loss " + lg);
        assertTrue(Math.abs(lg - lr) <= 1e-4 * Math.abs(lr), what + ": loss " + lg + " vs reference " + lr);
        assertEquals(ref.names(), got.names(), what + ": parameters");
        for (int i = 0; i < ref.names().size(); i++) {
            compare(ref.grads().get(i), got.grads().get(i), c, what + " gradient/statistic " + ref.names().get(i));
            compare(ref.updated().get(i), got.updated().get(i), c, what + " after SGD " + ref.names().get(i));
        }
    }

    static double atol(Config c, float[] ref) {
        double ss = 0;
        for (float v : ref) ss += (double) v * v;
        double rms = ref.length == 0 ? 0 : Math.sqrt(ss / ref.length);
        return 1e-5 * Math.max(1, Math.sqrt((double) c.batch() * c.height() * c.width2() / 64)) * Math.max(1, rms);
    }

    /** The largest |a - b| / (atol + 1e-4 |ref|): at most 1 passes. */
    public static double worstRatio(float[] ref, float[] got, Config c) {
        double worst = 0, atol = atol(c, ref);
        for (int k = 0; k < ref.length; k++) {
            double r = Math.abs((double) got[k] - ref[k]) / (atol + 1e-4 * Math.abs(ref[k]));
            if (!(r <= worst)) worst = Double.isNaN(r) ? Double.POSITIVE_INFINITY : r;
        }
        return worst;
    }

    /** The worst ratio over every gradient and statistic of the step. */
    public static double worstRatio(Result ref, Result got, Config c) {
        double worst = 0;
        for (int i = 0; i < ref.names().size(); i++) worst = Math.max(worst, worstRatio(ref.grads().get(i), got.grads().get(i), c));
        return worst;
    }

    private static void compare(float[] ref, float[] got, Config c, String what) {
        assertEquals(ref.length, got.length, what + ": length");
        double atol = atol(c, ref);
        for (int k = 0; k < ref.length; k++) {
            double r = ref[k], g = got[k];
            if (!(Math.abs(g - r) <= atol + 1e-4 * Math.abs(r))) {
                fail(what + "[" + k + "]: " + g + " vs reference " + r + " (atol " + atol + ")");
            }
        }
    }
}
