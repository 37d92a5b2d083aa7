package org.wrpn.nn.models;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.backend.Device;
import org.wrpn.nn.Architecture;
import org.wrpn.nn.Layer;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.Network;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.nn.SavePolicy;
import org.wrpn.plan.MemoryPlan;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;

/** AlexNet and the pre-activation ResNet-34 at ImageNet shapes: structure, the first/last-layer rule, the plan. */
class ImagenetModelsTest {
    static Network build(String model, double width) {
        return Models.build(model, width, PrecisionPolicy.uniform(2, 4), 224, 224, 3, 1000);
    }

    @ParameterizedTest
    @CsvSource({"alexnet, conv1, fc8, 8", "resnet34, conv1, fc, 37"})
    void firstAndLastLayersStayFullPrecision(String model, String first, String last, int layers) {
        try (Network n = build(model, 2)) {
            var bits = n.layerPrecisions();
            assertEquals(layers, bits.size(), bits.keySet().toString());
            assertEquals(new LayerPrecision(32, 32), bits.get(first));
            assertEquals(new LayerPrecision(32, 32), bits.get(last));
            bits.forEach((name, p) -> {
                if (!name.equals(first) && !name.equals(last)) assertEquals(new LayerPrecision(2, 4), p, name);
            });
            assertEquals(List.of(model), List.of(n.model()));
            assertEquals(1000, n.classes());
        }
    }

    /** Trainable parameters, from the plan's gradient bytes (one fp32 gradient each). */
    static double parameters(String model, double width) {
        return MemoryPlanner.plan(new PlanRequest(model, width, PrecisionPolicy.uniform(32, 32), SavePolicy.FP32, 1, 3, 224, 224,
                1000, Device.CPU)).gradients() / 4.0;
    }

    @Test
    void parameterCountsMatchThePublishedNetworks() {
        // torchvision: alexnet 61.1 M (biases where we have batch norm), resnet34 21.8 M
        assertEquals(61.1e6, parameters("alexnet", 1), 0.2e6);
        assertEquals(21.8e6, parameters("resnet34", 1), 0.1e6);
        assertEquals(4, parameters("resnet34", 2) / parameters("resnet34", 1), 0.05); // width 2: 4x the weights
    }

    @Test
    void preActivationBlocksHaveNoActivationAfterTheSum() {
        try (Network n = build("resnet34", 1)) {
            List<Layer> top = n.root().layers();
            long blocks = top.stream().filter(l -> l instanceof ResidualBlock).count();
            assertEquals(16, blocks);
            for (Layer l : top) if (l instanceof ResidualBlock b) assertNull(b.activation(), b.name());
            // a block that changes shape: its BN and activation come first, shared by branch and projection
            int i = top.indexOf(top.stream().filter(l -> l.name().equals("layer2.0")).findFirst().orElseThrow());
            assertEquals("layer2.0.bn1", top.get(i - 2).name());
            assertEquals("layer2.0.act1", top.get(i - 1).name());
            assertEquals("bn_final", top.get(top.size() - 4).name());
            JsonNode arch = Architecture.describe(n, new float[3], new float[] {1, 1, 1});
            try (Network again = Architecture.build(arch)) {
                assertEquals(arch, Architecture.describe(again, new float[3], new float[] {1, 1, 1}));
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"alexnet", "resnet34"})
    void thePlannerAnswersAtImagenetShapes(String model) {
        assertEquals(List.of(3, 224, 224), List.of(Models.naturalInput(model)[0], Models.naturalInput(model)[1], Models.naturalInput(model)[2]));
        assertEquals(1000, Models.naturalClasses(model));
        PlanRequest req = new PlanRequest(model, 2, PrecisionPolicy.uniform(2, 4), SavePolicy.PACKED, 32, 3, 224, 224, 1000, Device.CUDA);
        MemoryPlan p = MemoryPlanner.plan(req);
        assertTrue(p.savedActivations() > 0 && p.total() > p.masterWeights(), p.toString());
        assertTrue(MemoryPlanner.largestBatch(req, 80L << 30) >= 32);
    }
}
