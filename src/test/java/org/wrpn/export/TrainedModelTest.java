package org.wrpn.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;

/** The exporters' list of parameters, read off the layers, is the one a network allocates: names, shapes and order. */
class TrainedModelTest {
    @ParameterizedTest
    @CsvSource({"lenet,28,1", "resnet20,32,3", "resnet18,16,3"})
    void parameterShapesAreTheNetworksParameters(String model, int side, int channels) {
        try (CpuBackend b = new CpuBackend(); Network net = Models.build(model, 1, PrecisionPolicy.uniform(2, 2), side, side, channels, 10)) {
            Map<String, int[]> shapes = TrainedModel.parameterShapes(net.root().layers());
            net.initialize(b, SavePolicy.PACKED, 1);
            List<String> names = new ArrayList<>();
            for (Parameter p : net.parameters()) {
                names.add(p.name());
                assertArrayEquals(p.shape().dims(), shapes.get(p.name()), p.name());
            }
            assertEquals(names, List.copyOf(shapes.keySet()));
        }
    }
}
