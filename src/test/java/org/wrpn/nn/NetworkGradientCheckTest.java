package org.wrpn.nn;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Finite differences through whole full-precision networks on the CPU backend: checks the layer
 * wiring (residual sums, pooling, flattening, BN in training mode) that per-op tests cannot see.
 * fp32 forward passes limit the precision, so the tolerance is loose (5%) and only the largest
 * gradient of each parameter tensor is checked. Sizes are chosen so that the loss is smooth at the
 * scale of the step: resnet20 at width 0.25 on 8x8 images has so many pre-activations near ReLU
 * kinks that its loss changes slope every 1e-4 (measured: one-sided slopes 0.78 and 0.95 around a
 * point whose analytic gradient is 0.998), where no finite difference can check anything.
 */
class NetworkGradientCheckTest {

    @ParameterizedTest(name = "{0} width {1}, residual backward sliced: {3}")
    @CsvSource({"lenet, 0.5, 12, false", "resnet20, 0.25, 16, false", "resnet20, 0.5, 8, false", "resnet18, 0.125, 8, false",
        "resnet20, 0.25, 16, true", "resnet18, 0.125, 8, true"})
    void gradientsMatchFiniteDifferences(String model, double width, int side, boolean sliced) {
        check(Models.build(model, width, PrecisionPolicy.uniform(32, 32), side, side, 1, 10), side, sliced);
    }

    /**
     * Pre-activation blocks as resnet34 has them (no activation after the sum, batch norm reading the
     * residual stream, a projection sharing its block's batch norm and activation), small enough that
     * the loss is smooth: resnet34 itself, as deep as it is, hits the kinks described above.
     */
    @org.junit.jupiter.api.Test
    void preActivationBlocks() throws Exception {
        String conv = "{\"name\":\"%s\",\"kind\":\"conv2d\",\"in_channels\":%d,\"out_channels\":%d,\"kernel\":%d,\"stride\":%d,"
                + "\"padding\":%d,\"weight_bits\":32,\"input_bits\":32}";
        String bn = "{\"name\":\"%s\",\"kind\":\"batchnorm\",\"channels\":%d,\"epsilon\":1e-5}";
        String relu = "{\"name\":\"%s\",\"kind\":\"activation\",\"bits\":32}";
        String layers = String.join(",",
                conv.formatted("conv1", 1, 8, 3, 1, 1),
                "{\"name\":\"b1\",\"kind\":\"residual\",\"shortcut\":[],\"activation\":null,\"branch\":["
                        + String.join(",", bn.formatted("b1.bn1", 8), relu.formatted("b1.act1"), conv.formatted("b1.conv1", 8, 8, 3, 1, 1),
                                bn.formatted("b1.bn2", 8), relu.formatted("b1.act2"), conv.formatted("b1.conv2", 8, 8, 3, 1, 1)) + "]}",
                bn.formatted("b2.bn1", 8), relu.formatted("b2.act1"),
                "{\"name\":\"b2\",\"kind\":\"residual\",\"activation\":null,\"shortcut\":[" + conv.formatted("b2.shortcut", 8, 12, 1, 2, 0)
                        + "],\"branch\":[" + String.join(",", conv.formatted("b2.conv1", 8, 12, 3, 2, 1), bn.formatted("b2.bn2", 12),
                                relu.formatted("b2.act2"), conv.formatted("b2.conv2", 12, 12, 3, 1, 1)) + "]}",
                bn.formatted("bn_final", 12), relu.formatted("act_final"), "{\"name\":\"avgpool\",\"kind\":\"global_avg_pool\"}",
                "{\"name\":\"fc\",\"kind\":\"linear\",\"in_features\":12,\"out_features\":10,\"bias\":true,\"weight_bits\":32,\"input_bits\":32}");
        String arch = "{\"version\":1,\"model\":\"preact\",\"width\":1,\"input\":{\"height\":12,\"width\":12,\"channels\":1,"
                + "\"classes\":10},\"layers\":[" + layers + "]}";
        check(Architecture.build(new com.fasterxml.jackson.databind.ObjectMapper().readTree(arch)), 12);
    }

    private static void check(Network network, int side) {
        check(network, side, false);
    }

    private static void check(Network network, int side, boolean sliced) {
        int batch = 4;
        try (CpuBackend backend = new CpuBackend(); Network net = network) {
            net.initialize(backend, SavePolicy.FP32, 11);
            net.context().sliceResidualBackward(sliced);
            net.prepare(batch);
            SplittableRandom r = new SplittableRandom(3);
            float[] images = new float[batch * side * side];
            for (int i = 0; i < images.length; i++) images[i] = (float) r.nextGaussian();
            int[] labels = {1, 7, 3, 3};
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            backend.upload(images, x);
            backend.upload(labels, y);
            net.forwardBackward(x, y, 1f / batch);

            List<Parameter> params = net.trainableParameters();
            List<float[]> grads = new ArrayList<>();
            for (Parameter p : params) {
                float[] g = new float[(int) p.shape().elements()];
                backend.download(p.grad(), g);
                grads.add(g);
            }
            int checked = 0;
            List<String> failures = new ArrayList<>();
            for (int pi = 0; pi < params.size(); pi++) {
                Parameter p = params.get(pi);
                float[] g = grads.get(pi);
                float[] v = new float[g.length];
                backend.download(p.value(), v);
                // the largest-gradient element of each parameter tensor
                int k = 0;
                for (int i = 1; i < g.length; i++) if (Math.abs(g[i]) > Math.abs(g[k])) k = i;
                if (Math.abs(g[k]) < 1e-3) continue;
                double eps = 1e-3;
                float original = v[k];
                v[k] = (float) (original + eps);
                backend.upload(v, p.value());
                double plus = net.forwardBackward(x, y, 1f / batch).lossSum() / batch;
                v[k] = (float) (original - eps);
                backend.upload(v, p.value());
                double minus = net.forwardBackward(x, y, 1f / batch).lossSum() / batch;
                v[k] = original;
                backend.upload(v, p.value());
                double numeric = (plus - minus) / (2 * eps);
                double err = Math.abs(numeric - g[k]) / Math.max(Math.abs(numeric), Math.abs(g[k]));
                if (err >= 0.05) failures.add(p.name() + "[" + k + "]: analytic " + g[k] + " numeric " + numeric);
                checked++;
            }
            assertTrue(failures.isEmpty(), failures.size() + " of " + checked + " checks failed: " + String.join("; ", failures));
            assertTrue(checked >= params.size() / 2, "checked " + checked + " of " + params.size() + " parameters");
            net.ledger().free(x);
            net.ledger().free(y);
        }
    }
}
