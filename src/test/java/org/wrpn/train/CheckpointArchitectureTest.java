package org.wrpn.train;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.data.Dataset;
import org.wrpn.data.ImageSet;
import org.wrpn.data.Normalization;
import org.wrpn.nn.Architecture;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.SavePolicy;

/** A checkpoint's sidecar describes its network well enough to rebuild it and get the same evaluation. */
class CheckpointArchitectureTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Trains briefly and returns the sidecar of the last checkpoint. */
    private static Path train(Path out, String model, double width, String layerBits, DataSplit data) {
        TrainConfig c = TrainConfig.builder().model(model).widthMultiplier(width).weightBits(2).activationBits(4).layerBits(layerBits)
                .epochs(1).batch(32).seed(3).out(out).limitTrain(256).limitTest(200).device(Device.CPU).build();
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, data).quiet()) {
            return t.run().lastCheckpoint();
        }
    }

    /** Evaluation the way `wrpn eval` did before architectures: the model rebuilt from the config. */
    private static Evaluator.Result evalFromConfig(Path sidecar, ImageSet test) {
        Checkpoint.Loaded l = Checkpoint.load(sidecar);
        TrainConfig c = l.config();
        try (CpuBackend b = new CpuBackend();
                Network net = org.wrpn.nn.models.Models.build(c.model(), c.widthMultiplier(), c.precisionPolicy(), l.height(),
                        l.imageWidth(), l.channels(), l.classes())) {
            net.initialize(b, c.savePolicy(), 0);
            Checkpoint.apply(l, net, false);
            return Evaluator.evaluate(net, test, l.normalization(), 100);
        }
    }

    /** Evaluation from the sidecar's architecture and the weights file alone: no config, no model zoo. */
    private static Evaluator.Result evalFromSidecarAlone(Path sidecar, ImageSet test) throws IOException {
        JsonNode root = JSON.readTree(sidecar.toFile());
        JsonNode arch = root.get("architecture");
        Safetensors.Contents weights = Safetensors.read(sidecar.resolveSibling(root.get("weights_file").asText()));
        Normalization norm = new Normalization(Architecture.inputStatistic(arch, "mean"), Architecture.inputStatistic(arch, "std"));
        try (CpuBackend b = new CpuBackend(); Network net = Architecture.build(arch)) {
            net.initialize(b, SavePolicy.FP32, 12345); // a different seed: every value must come from the file
            for (Parameter p : net.parameters()) b.upload(weights.floats(p.name()), p.value());
            return Evaluator.evaluate(net, test, norm, 100);
        }
    }

    @Test
    void lenetRebuiltFromTheSidecarAloneEvaluatesTheSame(@TempDir Path dir) throws IOException {
        DataSplit fashion = DataSource.open(DataSource.DEFAULT_DIR);
        Path sidecar = train(dir, "lenet", 2, "conv2=8/4", fashion);
        ImageSet test = fashion.test().first(300);
        assertEquals(evalFromConfig(sidecar, test), evalFromSidecarAlone(sidecar, test));

        JsonNode arch = JSON.readTree(sidecar.toFile()).get("architecture");
        assertEquals(Architecture.VERSION, arch.get("version").asInt());
        assertEquals(255.0, arch.at("/input/scale").asDouble());
        JsonNode layers = arch.get("layers");
        assertEquals("conv1", layers.get(0).get("name").asText());
        assertEquals(2, layers.get(0).get("padding").asInt());
        assertEquals(32, layers.get(0).get("out_channels").asInt()); // 16 at width 2
        assertEquals(32, layers.get(0).get("weight_bits").asInt()); // the first layer stays at full precision
        assertEquals(1e-5, layers.get(1).get("epsilon").asDouble(), 1e-12);
        assertEquals(8, layers.get(4).get("weight_bits").asInt()); // conv2's override, resolved
        assertEquals(4, layers.get(4).get("input_bits").asInt());
        assertEquals(32, layers.get(10).get("bits").asInt()); // the activation before the full-precision fc2
        assertEquals(32, layers.get(11).get("input_bits").asInt());
        String inWeights = JSON.readTree(sidecar.toFile()).get("weights_file").asText();
        String meta = Safetensors.read(sidecar.resolveSibling(inWeights)).metadata().get("architecture");
        assertEquals(arch, JSON.readTree(meta));
    }

    @Test
    void resnetRebuiltFromTheSidecarAloneEvaluatesTheSame(@TempDir Path dir) throws IOException {
        DataSplit tiny = new DataSplit(random(256, 1), random(100, 2), DataSplit.FORMAT_IDX);
        Path sidecar = train(dir, "resnet20", 0.5, "", tiny);
        assertEquals(evalFromConfig(sidecar, tiny.test()), evalFromSidecarAlone(sidecar, tiny.test()));
        JsonNode block = JSON.readTree(sidecar.toFile()).at("/architecture/layers/6"); // layer2.0: strided, projected
        assertEquals("residual", block.get("kind").asText());
        assertEquals(2, block.at("/branch/0/stride").asInt());
        assertEquals(2, block.at("/shortcut/0/stride").asInt());
        assertEquals(0, JSON.readTree(sidecar.toFile()).at("/architecture/layers/3/shortcut").size()); // identity
    }

    @Test
    void aSidecarWithoutArchitectureStillLoadsAndEvaluates(@TempDir Path dir) throws IOException {
        DataSplit tiny = new DataSplit(random(128, 3), random(50, 4), DataSplit.FORMAT_IDX);
        Path sidecar = train(dir, "lenet", 1, "", tiny);
        Evaluator.Result withArchitecture = evalFromLoaded(sidecar, tiny.test());
        ObjectNode root = (ObjectNode) JSON.readTree(sidecar.toFile());
        root.remove("architecture");
        Files.writeString(sidecar, root.toString());
        assertNull(Checkpoint.load(sidecar).architecture());
        assertEquals(withArchitecture, evalFromLoaded(sidecar, tiny.test()));
    }

    @Test
    void aBrokenArchitectureIsRefusedWithOneLine(@TempDir Path dir) throws IOException {
        DataSplit tiny = new DataSplit(random(128, 5), random(50, 6), DataSplit.FORMAT_IDX);
        Path sidecar = train(dir, "lenet", 1, "", tiny);
        ObjectNode root = (ObjectNode) JSON.readTree(sidecar.toFile());
        ((ObjectNode) root.at("/architecture/layers/4")).put("in_channels", 7);
        Files.writeString(sidecar, root.toString());
        BadInputException e = assertThrows(BadInputException.class, () -> Checkpoint.load(sidecar));
        assertTrue(e.getMessage().contains("architecture does not fit together") && !e.getMessage().contains("\n"), e.getMessage());
        ((ObjectNode) root.get("architecture")).put("version", 99);
        Files.writeString(sidecar, root.toString());
        e = assertThrows(BadInputException.class, () -> Checkpoint.load(sidecar));
        assertTrue(e.getMessage().contains("architecture has version 99"), e.getMessage());
    }

    /** What `wrpn eval` does: the network from the loaded checkpoint. */
    private static Evaluator.Result evalFromLoaded(Path sidecar, ImageSet test) {
        Checkpoint.Loaded l = Checkpoint.load(sidecar);
        try (CpuBackend b = new CpuBackend(); Network net = l.network()) {
            net.initialize(b, l.config().savePolicy(), 0);
            Checkpoint.apply(l, net, false);
            return Evaluator.evaluate(net, test, l.normalization(), 100);
        }
    }

    private static Dataset random(int n, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        byte[] px = new byte[n * 8 * 8 * 3];
        byte[] labels = new byte[n];
        for (int i = 0; i < px.length; i++) px[i] = (byte) r.nextInt(256);
        for (int i = 0; i < n; i++) labels[i] = (byte) r.nextInt(10);
        return new Dataset(n, 8, 8, 3, 10, px, labels);
    }
}
