package org.wrpn.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.SplittableRandom;
import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import org.wrpn.backend.Backend;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.nn.models.Models;
import org.wrpn.reference.ReferenceBackend;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * One training step under the packed policy (codes + masks kept, the rest recomputed) gives the same
 * loss, gradients and BN statistics as under the fp32 policy. Recomputation repeats the exact same
 * float operations on the exact same inputs, so the match is bit for bit, not just within rounding.
 */
class SavePolicyGradientTest {
    static Stream<Arguments> configs() {
        Stream.Builder<Arguments> b = Stream.builder();
        for (String model : List.of("lenet", "resnet20")) {
            for (int[] bits : new int[][] {{4, 4}, {2, 2}, {4, 2}, {1, 1}}) {
                for (double width : new double[] {1, 2}) b.add(Arguments.of(model, bits[0], bits[1], width));
            }
        }
        // pre-activation blocks: batch norms that read the fp32 residual stream, no activation after the sum
        b.add(Arguments.of("resnet34", 4, 4, 0.25));
        b.add(Arguments.of("resnet34", 2, 4, 0.25));
        return b.build();
    }

    record Step(LossResult loss, List<float[]> values, long savedBytes, long peak) {}

    static Step step(String model, int wbits, int abits, double width, SavePolicy policy) {
        return step(model, wbits, abits, width, policy, new CpuBackend(), false);
    }

    static Step step(String model, int wbits, int abits, double width, SavePolicy policy, Backend be, boolean sliced) {
        int batch = 5;
        try (Backend backend = be;
                Network net = Models.build(model, width, PrecisionPolicy.uniform(wbits, abits), 28, 28, 1, 10)) {
            net.initialize(backend, policy, 42);
            net.context().sliceResidualBackward(sliced);
            net.prepare(batch);
            SplittableRandom r = new SplittableRandom(9);
            float[] images = new float[batch * 28 * 28];
            for (int i = 0; i < images.length; i++) images[i] = (float) (r.nextDouble() * 4 - 1);
            int[] labels = new int[batch];
            for (int i = 0; i < batch; i++) labels[i] = r.nextInt(10);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            backend.upload(images, x);
            backend.upload(labels, y);
            LossResult loss = net.forwardBackward(x, y, 1f / batch);
            List<float[]> values = new java.util.ArrayList<>();
            for (Parameter p : net.parameters()) {
                float[] v = new float[(int) p.shape().elements()];
                backend.download(p.isTrainable() ? p.grad() : p.value(), v); // gradients; running stats for BN state
                values.add(v);
            }
            net.ledger().free(x);
            net.ledger().free(y);
            assertEquals(0, net.ledger().live(Category.ACTIVATIONS), "every activation freed after the step");
            assertEquals(0, net.ledger().live(Category.LAYER_STATE), "every saved mask/statistic freed after the step");
            return new Step(loss, values, net.lastSavedBytes(), net.ledger().peakTotal());
        }
    }

    @ParameterizedTest(name = "{0} w{1}/a{2} width {3}")
    @MethodSource("configs")
    void packedStepEqualsFp32Step(String model, int wbits, int abits, double width) {
        assertSameStep(step(model, wbits, abits, width, SavePolicy.FP32), step(model, wbits, abits, width, SavePolicy.PACKED));
    }

    /** The same on the executable specification, so the policies' equality is the layers' doing, not a backend's. */
    @ParameterizedTest(name = "reference: {0} w{1}/a{2}")
    @MethodSource("referenceConfigs")
    void packedStepEqualsFp32StepOnTheReference(String model, int wbits, int abits) {
        assertSameStep(step(model, wbits, abits, 1, SavePolicy.FP32, new ReferenceBackend(), false),
                step(model, wbits, abits, 1, SavePolicy.PACKED, new ReferenceBackend(), false));
    }

    /**
     * With residual branches worked through in image slices (the GPU's way), the policies still agree
     * bit for bit, and the step stays within rounding of the unsliced one (slices sum batch norm's
     * statistics in another order).
     */
    @ParameterizedTest(name = "sliced: {0} w{1}/a{2} width {3}")
    @MethodSource("slicedConfigs")
    void slicedResidualBackwardKeepsThePoliciesEqual(String model, int wbits, int abits, double width) {
        Step fp32 = step(model, wbits, abits, width, SavePolicy.FP32, new CpuBackend(), true);
        assertSameStep(fp32, step(model, wbits, abits, width, SavePolicy.PACKED, new CpuBackend(), true));
        Step whole = step(model, wbits, abits, width, SavePolicy.FP32, new CpuBackend(), false);
        for (int i = 0; i < whole.values().size(); i++) {
            float[] a = whole.values().get(i), b = fp32.values().get(i);
            double scale = 0;
            for (float v : a) scale = Math.max(scale, Math.abs(v));
            for (int k = 0; k < a.length; k++) {
                assertEquals(a[k], b[k], 1e-3 * scale + 1e-6, "tensor " + i + " element " + k + ", sliced against whole");
            }
        }
        assertTrue(fp32.peak() < whole.peak(), "sliced peak " + fp32.peak() + " below the whole one's " + whole.peak());
    }

    static Stream<Arguments> slicedConfigs() {
        return Stream.of(Arguments.of("resnet20", 2, 2, 1.0), Arguments.of("resnet20", 4, 4, 2.0), Arguments.of("resnet20", 8, 8, 1.0),
                Arguments.of("resnet34", 2, 4, 0.25));
    }

    static Stream<Arguments> referenceConfigs() {
        return Stream.of(Arguments.of("lenet", 4, 4), Arguments.of("lenet", 2, 2), Arguments.of("resnet20", 2, 2),
                Arguments.of("resnet20", 1, 8));
    }

    private static void assertSameStep(Step fp32, Step packed) {
        assertEquals(fp32.loss().lossSum(), packed.loss().lossSum(), 0.0, "loss");
        assertEquals(fp32.values().size(), packed.values().size());
        for (int i = 0; i < fp32.values().size(); i++) {
            float[] a = fp32.values().get(i), b = packed.values().get(i);
            for (int k = 0; k < a.length; k++) {
                assertTrue(Float.isFinite(a[k]), "finite gradient");
                assertEquals(Float.floatToIntBits(a[k]), Float.floatToIntBits(b[k]),
                        "tensor " + i + " element " + k + ": " + a[k] + " vs " + b[k]);
            }
        }
        assertTrue(packed.savedBytes() * 4 < fp32.savedBytes(),
                "packed keeps far less: " + packed.savedBytes() + " vs " + fp32.savedBytes());
    }
}
