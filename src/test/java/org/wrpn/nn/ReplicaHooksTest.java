package org.wrpn.nn;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.backend.Backend;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * What a network tells the other replicas of a data-parallel step: when each parameter's gradient
 * is final (every trainable one, in about reverse order), and synchronised batch norm's sums. A
 * twin replica (sums double every value) must leave the statistics and every input gradient as
 * one replica's and double the gradients of gamma and beta.
 */
class ReplicaHooksTest {
    /** Records gradient readiness; sum() doubles (an identical twin) or keeps (one replica) the values. */
    static final class Recorder implements Replicas {
        final int count;
        final boolean sync;
        final List<Parameter> order = new ArrayList<>();
        final Map<Parameter, Integer> reports = new IdentityHashMap<>();
        int sums;

        Recorder(int count, boolean sync) {
            this.count = count;
            this.sync = sync;
        }

        @Override
        public int count() {
            return count;
        }

        @Override
        public boolean synchronizesBatchNorm() {
            return sync;
        }

        @Override
        public void sum(double[] values) {
            sums++;
            for (int i = 0; i < values.length; i++) values[i] *= count;
        }

        @Override
        public void gradientsReady(List<Parameter> parameters) {
            for (Parameter p : parameters) {
                if (reports.merge(p, 1, Integer::sum) == 1) order.add(p);
            }
        }
    }

    /** One training step of model under r (null: alone); the trainable gradients and the input gradient's stand-in, conv1's. */
    static Map<String, float[]> step(String model, String save, boolean sliced, Recorder r) {
        int batch = 6;
        Map<String, float[]> out = new java.util.LinkedHashMap<>();
        try (Backend backend = new CpuBackend();
                Network net = Models.build(model, 1, PrecisionPolicy.uniform(4, 4), model.equals("lenet") ? 28 : 32,
                        model.equals("lenet") ? 28 : 32, model.equals("lenet") ? 1 : 3, 10)) {
            net.initialize(backend, SavePolicy.valueOf(save), 3);
            net.context().sliceResidualBackward(sliced);
            net.context().replicas(r);
            net.prepare(batch);
            SplittableRandom rnd = new SplittableRandom(5);
            float[] images = new float[(int) net.inputShape(batch).elements()];
            for (int i = 0; i < images.length; i++) images[i] = (float) (rnd.nextDouble() * 4 - 1);
            int[] labels = new int[batch];
            for (int i = 0; i < batch; i++) labels[i] = rnd.nextInt(10);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            backend.upload(images, x);
            backend.upload(labels, y);
            net.forwardBackward(x, y, 1f / batch);
            for (Parameter p : net.parameters()) {
                float[] v = new float[(int) p.shape().elements()];
                backend.download(p.isTrainable() ? p.grad() : p.value(), v);
                out.put(p.name(), v);
            }
            if (r != null) {
                List<Parameter> trainable = net.trainableParameters();
                assertEquals(trainable.size(), r.order.size(), "every trainable parameter reported");
                for (Parameter p : trainable) assertTrue(r.reports.containsKey(p), p.name() + " reported");
                assertTrue(trainable.indexOf(r.order.get(0)) >= trainable.size() - 2, "the last layer's gradients are final first");
                assertTrue(r.order.indexOf(trainable.get(0)) >= r.order.size() - 3, "conv1's among the last");
            }
            net.ledger().free(x);
            net.ledger().free(y);
        }
        return out;
    }

    @ParameterizedTest(name = "{0} {1} sliced={2}")
    @CsvSource({"lenet, PACKED, false", "lenet, FP32, false", "resnet20, PACKED, false", "resnet20, PACKED, true", "resnet20, FP32, true"})
    void aTwinReplicaKeepsStatisticsAndInputGradientsAndDoublesGammaBetaGradients(String model, String save, boolean sliced) {
        Map<String, float[]> alone = step(model, save, sliced, null);
        Recorder unsynced = new Recorder(2, false);
        Map<String, float[]> perReplica = step(model, save, sliced, unsynced);
        assertEquals(0, unsynced.sums, "per-replica batch norm sums nothing");
        for (String k : alone.keySet()) assertEquals(0, maxRel(alone.get(k), perReplica.get(k)), k + ": reporting changes nothing");

        Recorder twin = new Recorder(2, true);
        Map<String, float[]> synced = step(model, save, sliced, twin);
        assertTrue(twin.sums > 0, "synchronised batch norm sums over the replicas");
        for (String k : alone.keySet()) {
            boolean affine = k.contains("bn") && (k.endsWith(".weight") || k.endsWith(".bias")); // every batch norm is named bn...
            float[] expected = alone.get(k).clone();
            if (affine) for (int i = 0; i < expected.length; i++) expected[i] *= 2;
            // running variance: unbiased over the global batch, rows/(rows-1) with twice the rows (at most 1/5 apart here)
            double tolerance = k.endsWith("running_var") ? 1e-2 : 1e-4;
            assertTrue(maxRel(expected, synced.get(k)) < tolerance, k + ": " + maxRel(expected, synced.get(k)));
        }
    }

    /** max |a - b| / max |a|. */
    static double maxRel(float[] a, float[] b) {
        double d = 0, s = 0;
        for (int i = 0; i < a.length; i++) {
            d = Math.max(d, Math.abs(a[i] - b[i]));
            s = Math.max(s, Math.abs(a[i]));
        }
        return s == 0 ? d : d / s;
    }
}
