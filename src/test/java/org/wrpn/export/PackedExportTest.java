package org.wrpn.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.wrpn.BadInputException;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.data.Dataset;
import org.wrpn.export.ExportFixtures.Trained;
import org.wrpn.nn.Network;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.NamedArray;
import org.wrpn.train.Safetensors;

/** The packed export: its size at each bit width, and `wrpn eval` from it gives the checkpoint's figures. */
class PackedExportTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    static Path export(Trained t, String name) {
        Path out = ExportFixtures.root().resolve(name + ".packed.safetensors");
        Exporter.export(t.sidecar(), Exporter.Format.PACKED, out, null, "test-commit");
        return out;
    }

    /** Every quantized layer's codes and scale, and every other tensor, come back from the file as the checkpoint has them. */
    @ParameterizedTest
    @ValueSource(ints = {4, 2, 1})
    void lenetEvaluatesFromThePackedFileAsFromItsCheckpoint(int bits) {
        Trained t = ExportFixtures.lenet(bits);
        PackedModel packed = PackedModel.read(export(t, "lenet-w" + bits));
        Checkpoint.Loaded ckpt = Checkpoint.load(t.sidecar());
        Dataset slice = t.test().slice(0, 1000);
        assertEquals(ExportFixtures.evaluate(ckpt, null, slice), ExportFixtures.evaluate(packed.checkpoint(), packed, slice));
        TrainedModel m = TrainedModel.load(t.sidecar());
        try (CpuBackend b = new CpuBackend(); Network net = packed.checkpoint().network()) {
            net.initialize(b, ckpt.config().savePolicy(), 5);
            packed.apply(net);
            for (var p : net.parameters()) {
                float[] v = new float[(int) p.shape().elements()];
                b.download(p.value(), v);
                String layer = p.name().substring(0, p.name().lastIndexOf('.'));
                var precision = m.network().layerPrecisions().get(layer);
                int k = precision != null && p.name().endsWith(".weight") ? precision.weightBits() : Quantizer.FULL_PRECISION;
                float[] original = m.values(p.name(), p.shape().dims());
                if (k == Quantizer.FULL_PRECISION) {
                    assertArrayEquals(original, v, p.name());
                } else {
                    byte[] a = new byte[v.length], c = new byte[v.length];
                    assertEquals(Quantizer.weightCodes(original, k, a), Quantizer.weightCodes(v, k, c), p.name() + " scale");
                    assertArrayEquals(a, c, p.name() + " codes");
                }
            }
        }
    }

    @Test
    void resnet20EvaluatesFromThePackedFileAsFromItsCheckpoint() {
        Trained t = ExportFixtures.resnet20(4);
        PackedModel packed = PackedModel.read(export(t, "resnet20-w4"));
        assertEquals(ExportFixtures.evaluate(Checkpoint.load(t.sidecar()), null, t.test()),
                ExportFixtures.evaluate(packed.checkpoint(), packed, t.test()));
    }

    /**
     * The data is what the layout promises, byte for byte: fp32 tensors at 4 bytes a value, a quantized
     * layer at ceil(row / (32 / k)) words per row plus one fp32 scale. Against the same parameters in an
     * fp32 safetensors file, lenet width 1 shrinks about 32/k-fold in its quantized layers.
     */
    @ParameterizedTest
    @ValueSource(ints = {4, 2, 1})
    void lenetIsSmallerByTheExpectedFactor(int bits) throws IOException {
        Trained t = ExportFixtures.lenet(bits);
        Path packed = export(t, "lenet-size-w" + bits);
        TrainedModel m = TrainedModel.load(t.sidecar());
        List<NamedArray> fp32 = new ArrayList<>();
        TrainedModel.parameterShapes(m.layers()).forEach((name, shape) -> fp32.add(NamedArray.f32(name, shape, m.values(name, shape))));
        Path fp32File = ExportFixtures.root().resolve("lenet-fp32-w" + bits + ".safetensors");
        Safetensors.write(fp32File, fp32, Map.of());

        // lenet width 1: conv2 reads 16 channels, fc1 7x7x32, both at k bits; conv1, fc2 and the batch norms stay fp32
        long fp32Values = 0, quantizedBytes = 0;
        Map<String, long[]> quantized = new LinkedHashMap<>(); // layer -> rows, row length
        quantized.put("conv2", new long[] {32 * 5 * 5, 16});
        quantized.put("fc1", new long[] {128 * 7 * 7, 32});
        for (NamedArray a : fp32) {
            String layer = a.name().substring(0, a.name().lastIndexOf('.'));
            if (a.name().endsWith(".weight") && quantized.containsKey(layer)) {
                long[] q = quantized.get(layer);
                quantizedBytes += q[0] * ((q[1] + 32 / bits - 1) / (32 / bits)) * 4 + 4;
            } else {
                fp32Values += a.elementCount();
            }
        }
        long expectedData = fp32Values * 4 + quantizedBytes;
        long fp32Data = 4L * fp32.stream().mapToLong(NamedArray::elementCount).sum();
        long packedData = Files.size(packed) - 8 - headerLength(packed);
        assertEquals(expectedData, packedData, "data bytes of the packed file");
        assertEquals(fp32Data, Files.size(fp32File) - 8 - headerLength(fp32File));
        double factor = Files.size(fp32File) / (double) Files.size(packed);
        double expected = fp32Data / (double) expectedData;
        System.out.printf(Locale.ROOT, "lenet w%d: fp32 %d bytes, packed %d bytes (data %d, header %d): %.2fx, data alone %.2fx%n", bits,
                Files.size(fp32File), Files.size(packed), packedData, headerLength(packed), factor, expected);
        // 32/k, less the scales; at k = 1 conv2's 16-code rows fill half a word: 30.2 instead of 32
        double quantizedFactor = (4.0 * (32 * 25 * 16 + 128 * 49 * 32)) / quantizedBytes;
        assertTrue(quantizedFactor > 0.94 * 32 / bits && quantizedFactor <= 32.0 / bits, "quantized layers shrink " + quantizedFactor);
        assertTrue(factor > 0.8 * expected, "the description header costs under a fifth: " + factor + " vs " + expected);
    }

    private static long headerLength(Path file) throws IOException {
        byte[] b = new byte[8];
        try (var in = Files.newInputStream(file)) {
            assertEquals(8, in.readNBytes(b, 0, 8));
        }
        return ByteBuffer.wrap(b).order(ByteOrder.LITTLE_ENDIAN).getLong();
    }

    @Test
    void theDescriptionSaysHowEachLayerIsPacked() throws IOException {
        Path file = export(ExportFixtures.lenet(2), "lenet-describe-w2");
        Safetensors.Contents c = Safetensors.read(file);
        JsonNode d = JSON.readTree(c.metadata().get(PackedModel.DESCRIPTION));
        assertEquals(PackedFormat.FORMAT, d.get("format").asText());
        JsonNode fc1 = d.at("/weights/packed/1");
        assertEquals("fc1", fc1.get("layer").asText());
        assertEquals(JSON.readTree("[128,7,7,2]"), fc1.get("packed_shape")); // 32 channels of 2-bit codes: 2 words a pixel
        assertEquals(32, fc1.get("row_length").asInt());
        assertEquals(NamedArray.Dtype.I32, c.tensor("fc1.weight.packed").dtype());
        assertEquals(1f / 1f, c.floats("fc1.weight.scale")[0]); // ternary codes, step 1 / (2^1 - 1)
        assertEquals("fashion-mnist", d.at("/info/dataset").asText());
        assertTrue(c.tensors().containsKey("conv1.weight") && !c.tensors().containsKey("conv2.weight"));
    }

    @Test
    void aDamagedOrForeignPackedFileIsRefusedWithOneLine() throws IOException {
        Path good = export(ExportFixtures.lenet(4), "lenet-damaged-w4");
        byte[] bytes = Files.readAllBytes(good);
        Path damaged = ExportFixtures.root().resolve("damaged.safetensors");
        bytes[bytes.length - 100] ^= 0x10;
        Files.write(damaged, bytes);
        assertRefused(damaged, "is corrupt");

        Safetensors.Contents c = Safetensors.read(good);
        ObjectNode d = (ObjectNode) JSON.readTree(c.metadata().get(PackedModel.DESCRIPTION));
        d.put("version", 7);
        Path future = ExportFixtures.root().resolve("future.safetensors");
        Safetensors.write(future, new ArrayList<>(c.tensors().values()), Map.of("format", PackedFormat.FORMAT,
                PackedModel.DESCRIPTION, d.toString()));
        assertRefused(future, "has version 7");
        assertTrue(PackedModel.isPacked(future));
        assertTrue(!PackedModel.isPacked(Checkpoint.load(ExportFixtures.lenet(4).sidecar()).weights()), "a checkpoint is not a packed export");
    }

    private static void assertRefused(Path file, String fragment) {
        BadInputException e = assertThrows(BadInputException.class, () -> PackedModel.read(file));
        assertTrue(e.getMessage().contains(fragment) && !e.getMessage().contains("\n"), e.getMessage());
    }
}
