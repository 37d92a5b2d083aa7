package org.wrpn.export;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.data.Normalization;
import org.wrpn.export.PackedFormat.PackedLayer;
import org.wrpn.nn.Architecture;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.NamedArray;
import org.wrpn.train.Safetensors;

/**
 * The packed export: a safetensors file whose quantized weights are k-bit codes in the packed layout
 * ({@link PackedCodes}) plus one fp32 scale per layer, every other parameter in fp32, and a JSON
 * description (metadata key {@value #DESCRIPTION}) with the architecture, the training config and the
 * layout of every packed tensor. `wrpn eval` runs from it: weights rebuilt as code * scale give the
 * checkpoint's codes and scales back exactly, so the same forward pass.
 */
public final class PackedModel {
    static final String DESCRIPTION = "description";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final Checkpoint.Loaded checkpoint;
    private final Map<String, float[]> values;

    private PackedModel(Checkpoint.Loaded checkpoint, Map<String, float[]> values) {
        this.checkpoint = checkpoint;
        this.values = values;
    }

    /** Atomically writes the packed export of a model. */
    static void write(TrainedModel m, ExportInfo info, Path out) throws IOException {
        Network net = m.network();
        Map<String, PackedLayer> quantized = new HashMap<>();
        for (PackedLayer p : PackedFormat.quantizedLayers(net)) quantized.put(p.name() + ".weight", p);
        List<NamedArray> tensors = new ArrayList<>();
        ArrayNode layers = JSON.createArrayNode();
        for (Map.Entry<String, int[]> e : TrainedModel.parameterShapes(m.layers()).entrySet()) {
            PackedLayer p = quantized.get(e.getKey());
            if (p == null) {
                tensors.add(NamedArray.f32(e.getKey(), e.getValue(), m.values(e.getKey(), e.getValue())));
                continue;
            }
            TrainedModel.WeightCodes wc = m.weightCodes(p.layer());
            tensors.add(NamedArray.i32(p.packedTensor(), p.packedShape(), PackedCodes.pack(wc.codes(), p.rowLength(), p.bits())));
            tensors.add(NamedArray.f32(p.scaleTensor(), new int[] {1}, new float[] {wc.scale()}));
            layers.add(describe(p, wc.scale()));
        }
        ObjectNode d = JSON.createObjectNode();
        d.put("format", PackedFormat.FORMAT);
        d.put("version", PackedFormat.VERSION);
        d.set("info", info.json());
        ObjectNode w = d.putObject("weights");
        w.put("encoding", PackedCodes.ENCODING);
        w.put("other_tensors", "every other parameter in fp32 under its checkpoint name (layout: architecture.layout)");
        w.set("packed", layers);
        d.set("config", Checkpoint.configJson(m.checkpoint().config()));
        Checkpoint.Progress pr = m.checkpoint().progress();
        ObjectNode progress = d.putObject("progress");
        progress.put("epoch", pr.epoch());
        progress.put("step_in_epoch", pr.stepInEpoch());
        progress.put("global_step", pr.globalStep());
        d.set("architecture", m.architecture());
        d.put("data_sha256", PackedFormat.dataSha256(tensors));
        Map<String, String> meta = new LinkedHashMap<>();
        meta.put("format", PackedFormat.FORMAT);
        meta.put(DESCRIPTION, JSON.writeValueAsString(d));
        Safetensors.write(out, tensors, meta);
    }

    private static ObjectNode describe(PackedLayer p, float scale) {
        ObjectNode o = JSON.createObjectNode();
        o.put("layer", p.name());
        o.put("bits", p.bits());
        o.put("tensor", p.packedTensor());
        o.put("scale_tensor", p.scaleTensor());
        o.put("scale", scale);
        Arrays.stream(p.shape()).forEach(o.putArray("shape")::add);
        Arrays.stream(p.packedShape()).forEach(o.putArray("packed_shape")::add);
        o.put("row_length", p.rowLength());
        o.put("codes_per_word", 32 / p.bits());
        return o;
    }

    /** Whether file is a safetensors file that says it is a packed export (only its header is read). */
    public static boolean isPacked(Path file) {
        if (!Files.isRegularFile(file)) return false;
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ)) {
            ByteBuffer len = ByteBuffer.allocate(8).order(ByteOrder.LITTLE_ENDIAN);
            if (ch.read(len, 0) != 8) return false;
            long n = len.flip().getLong();
            if (n <= 0 || n > Math.min(Safetensors.MAX_HEADER_BYTES, ch.size() - 8)) return false;
            ByteBuffer header = ByteBuffer.allocate((int) n);
            while (header.hasRemaining() && ch.read(header, 8 + header.position()) > 0) {
                // reads the whole header
            }
            JsonNode root = JSON.readTree(header.array());
            return PackedFormat.FORMAT.equals(root.path("__metadata__").path("format").asText());
        } catch (IOException | RuntimeException e) {
            return false; // not a packed export; the checkpoint path reports what it is
        }
    }

    /** Reads and checks a packed export (format, version, architecture, data digest, every tensor). */
    public static PackedModel read(Path file) {
        Safetensors.Contents c;
        try {
            c = Safetensors.read(file);
        } catch (IOException e) {
            throw new BadInputException("packed export " + file + " cannot be read: " + e.getMessage());
        }
        String what = "packed export " + file;
        if (!PackedFormat.FORMAT.equals(c.metadata().get("format"))) throw new BadInputException(what + " is not a wrpn packed export");
        JsonNode d;
        try {
            d = JSON.readTree(c.metadata().getOrDefault(DESCRIPTION, ""));
        } catch (IOException e) {
            throw new BadInputException(what + ": its description is not valid JSON");
        }
        if (d == null || d.path("version").asInt(-1) != PackedFormat.VERSION) {
            throw new BadInputException(what + " has version " + (d == null ? "none" : d.path("version")) + ", this wrpn reads "
                    + PackedFormat.VERSION);
        }
        if (!d.path("data_sha256").asText().equals(PackedFormat.dataSha256(c.tensors().values()))) {
            throw new BadInputException(what + " is corrupt (its data does not match the SHA-256 of its description)");
        }
        try {
            return decode(file, c, d);
        } catch (BadInputException e) {
            throw new BadInputException(what + ": " + e.getMessage());
        } catch (RuntimeException e) {
            throw new BadInputException(what + " has a malformed description: " + String.valueOf(e.getMessage()).replace('\n', ' '));
        }
    }

    private static PackedModel decode(Path file, Safetensors.Contents c, JsonNode d) {
        JsonNode arch = d.get("architecture");
        Map<String, float[]> values = new LinkedHashMap<>();
        try (Network net = Architecture.build(arch)) {
            Map<String, PackedLayer> quantized = new HashMap<>();
            for (PackedLayer p : PackedFormat.quantizedLayers(net)) quantized.put(p.name() + ".weight", p);
            int tensors = 0;
            for (Map.Entry<String, int[]> e : TrainedModel.parameterShapes(net.root().layers()).entrySet()) {
                PackedLayer p = quantized.get(e.getKey());
                values.put(e.getKey(), p == null ? c.expect(e.getKey(), NamedArray.Dtype.F32, e.getValue()).floats() : weights(c, p));
                tensors += p == null ? 1 : 2;
            }
            if (c.tensors().size() != tensors) {
                throw new BadInputException("holds " + c.tensors().size() + " tensors, its architecture needs " + tensors);
            }
            JsonNode pr = d.get("progress");
            Checkpoint.Loaded loaded = new Checkpoint.Loaded(file, file, Checkpoint.configFrom(d.get("config")),
                    new Checkpoint.Progress(pr.get("epoch").asInt(), pr.get("step_in_epoch").asInt(), pr.get("global_step").asLong()),
                    new Normalization(Architecture.inputStatistic(arch, "mean"), Architecture.inputStatistic(arch, "std")),
                    net.inputHeight(), net.inputWidth(), net.inputChannels(), net.classes(), List.of(), Map.of(), c, arch,
                    pr.path("ranks").asInt(1));
            return new PackedModel(loaded, values);
        }
    }

    /** A quantized layer's master weights rebuilt as code * step: the backends derive the same codes and scale from them. */
    private static float[] weights(Safetensors.Contents c, PackedLayer p) {
        int[] words = c.expect(p.packedTensor(), NamedArray.Dtype.I32, p.packedShape()).ints();
        float scale = c.expect(p.scaleTensor(), NamedArray.Dtype.F32, 1).floats()[0];
        int k = p.bits();
        if (k == 1 ? !(scale >= 0 && Float.isFinite(scale)) : scale != Quantizer.weightStep(k)) {
            throw new BadInputException("tensor " + p.scaleTensor() + " is " + scale + ", not a " + k + "-bit weight scale");
        }
        byte[] codes = PackedCodes.unpack(words, p.rows(), p.rowLength(), k, "tensor " + p.packedTensor());
        float[] w = new float[codes.length];
        for (int i = 0; i < w.length; i++) w[i] = k == 1 ? codes[i] * scale : Quantizer.weightValue(codes[i], k);
        return w;
    }

    /** The export as a checkpoint without optimizer state: config, progress, normalization, input and architecture. */
    public Checkpoint.Loaded checkpoint() {
        return checkpoint;
    }

    /** Uploads every parameter into an initialized network built from {@link #checkpoint()}. */
    public void apply(Network net) {
        List<Parameter> params = net.parameters();
        if (params.size() != values.size()) {
            throw new BadInputException(checkpoint.weights() + " holds " + values.size() + " parameters, the network has " + params.size());
        }
        for (Parameter p : params) {
            float[] v = values.get(p.name());
            if (v == null || v.length != p.shape().elements()) {
                throw new BadInputException(checkpoint.weights() + " has no parameter " + p.name() + " of shape " + p.shape());
            }
        }
        for (Parameter p : params) net.backend().upload(values.get(p.name()), p.value());
    }
}
