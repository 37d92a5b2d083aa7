package org.wrpn.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.NodeProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import ai.onnx.proto.OnnxMl.TensorProto;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;
import org.wrpn.data.Dataset;
import org.wrpn.export.ExportFixtures.Predictions;
import org.wrpn.export.ExportFixtures.Trained;
import org.wrpn.train.Checkpoint;

/**
 * An exported model runs in ONNX Runtime (CPU, default options) and predicts what `wrpn eval` does:
 * lenet at w4a4, w2a2 and w1a1 on the whole Fashion-MNIST test set, resnet20 on a generated set.
 */
class OnnxExportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    private static Path export(Trained t, String name) {
        Path out = ExportFixtures.root().resolve(name + ".onnx");
        Exporter.export(t.sidecar(), Exporter.Format.ONNX, out, null, "test-commit");
        return out;
    }

    /** At least 99.5% of the images get the same class, and the accuracies are within 0.1 point. */
    private static void assertAgrees(Trained t, Path onnx, String what) {
        Predictions wrpn = ExportFixtures.wrpn(t.sidecar(), t.test());
        Predictions ort = ExportFixtures.onnx(onnx, t.test());
        double agreement = ort.agreement(wrpn);
        System.out.printf(Locale.ROOT, "%s: %d images, agreement %.4f, accuracy wrpn %.4f onnx %.4f%n", what,
                t.test().count(), agreement, wrpn.accuracy(), ort.accuracy());
        assertTrue(agreement >= 0.995, what + ": ONNX Runtime agrees with wrpn on " + agreement + " of the images");
        assertEquals(wrpn.accuracy(), ort.accuracy(), 0.001, what + ": accuracy");
    }

    @ParameterizedTest
    @ValueSource(ints = {4, 2, 1})
    void lenetRunsInOnnxRuntimeAsInWrpn(int bits) {
        Trained t = ExportFixtures.lenet(bits);
        assertAgrees(t, export(t, "lenet-w" + bits), "lenet w" + bits + "a" + bits);
    }

    /** The predictions above are wrpn eval's: their accuracy is Evaluator's, to the image. */
    @Test
    void wrpnPredictionsAreWhatEvalCounts() {
        Trained t = ExportFixtures.lenet(4);
        Dataset slice = t.test().slice(0, 1000);
        assertEquals(ExportFixtures.evaluate(Checkpoint.load(t.sidecar()), null, slice).accuracy(),
                ExportFixtures.wrpn(t.sidecar(), slice).accuracy());
    }

    @Test
    void resnet20RunsInOnnxRuntimeAsInWrpn() {
        Trained t = ExportFixtures.resnet20(4);
        assertAgrees(t, export(t, "resnet20-w4"), "resnet20 w4a4");
    }

    @Test
    void theGraphIsStandardQdqWithItsMetadata() throws IOException {
        ModelProto m = ModelProto.parseFrom(Files.readAllBytes(export(ExportFixtures.lenet(2), "lenet-w2-graph")));
        assertEquals(OnnxExporter.OPSET, m.getOpsetImport(0).getVersion());
        assertEquals("", m.getOpsetImport(0).getDomain());
        Map<String, Long> ops = m.getGraph().getNodeList().stream().collect(Collectors.groupingBy(NodeProto::getOpType, Collectors.counting()));
        // act1 and act2 quantize (act3 feeds the full-precision fc2: a ReLU); conv2 after pool1 and fc1 after pool2
        // and the flatten re-quantize, exactly; conv2's and fc1's weights dequantize; conv1 and fc2 stay plain.
        assertEquals(4L, ops.get("QuantizeLinear"), ops.toString());
        assertEquals(6L, ops.get("DequantizeLinear"), ops.toString());
        assertEquals(1L, ops.get("Relu"), ops.toString());
        assertEquals(2L, ops.get("Conv"));
        assertEquals(2L, ops.get("Gemm"));
        Map<String, TensorProto> init = new HashMap<>();
        m.getGraph().getInitializerList().forEach(t -> init.put(t.getName(), t));
        assertEquals(TensorProto.DataType.INT8.getNumber(), init.get("conv2.weight_codes").getDataType());
        assertEquals(List.of(32L, 16L, 5L, 5L), init.get("conv2.weight_codes").getDimsList()); // OIHW
        assertEquals(TensorProto.DataType.FLOAT.getNumber(), init.get("conv1.weight").getDataType());
        for (byte code : init.get("fc1.weight_codes").getRawData().toByteArray()) assertTrue(code >= -1 && code <= 1, "ternary: " + code);

        Map<String, String> meta = m.getMetadataPropsList().stream()
                .collect(Collectors.toMap(StringStringEntryProto::getKey, StringStringEntryProto::getValue));
        assertEquals("lenet", meta.get("wrpn.model"));
        assertEquals("1.0", meta.get("wrpn.width"));
        assertEquals("fashion-mnist", meta.get("wrpn.dataset"));
        assertEquals("test-commit", meta.get("wrpn.commit"));
        assertEquals(ExportInfo.FASHION_MNIST, List.of(JSON.readValue(meta.get("wrpn.class_names"), String[].class)));
        JsonNode bits = JSON.readTree(meta.get("wrpn.bits"));
        assertEquals(32, bits.at("/conv1/weight_bits").asInt());
        assertEquals(2, bits.at("/fc1/weight_bits").asInt());
        assertEquals(2, bits.at("/fc1/input_bits").asInt());
        assertEquals(32, JSON.readTree(meta.get("wrpn.activation_bits")).get("act3").asInt());
        assertTrue(meta.get("wrpn.input").contains("pixel values 0..255"), meta.get("wrpn.input"));
        assertEquals("13", meta.get("wrpn.opset"));
    }
}
