package org.wrpn.nn;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;

/**
 * A network as data: every layer in order with its kind, shape, stride, padding, resolved bits and
 * epsilon, plus the input transform and the quantizer formulas, so a checkpoint can be re-run without
 * this code (docs/DESIGN.md, "Checkpoints"). {@link #build} makes the same network from that data alone.
 */
public final class Architecture {
    /** Bumped whenever a field changes meaning. */
    public static final int VERSION = 1;
    private static final ObjectMapper JSON = new ObjectMapper();
    static final String ACTIVATION_QUANTIZER = "bits 32: relu(x) = max(x, 0); bits k < 32: rint(clamp(x, 0, 1) * (2^k - 1))"
            + " / (2^k - 1), rint rounding half to even, NaN -> 0";
    static final String WEIGHT_QUANTIZER = "bits 32: w; bits k in 2..8: rint(clamp(w, -1, 1) * (2^(k-1) - 1)) / (2^(k-1) - 1),"
            + " rint rounding half to even; bits 1: sign(w) * mean(|w|) over the layer, sign(0) = +1";

    private Architecture() {}

    /** The network's architecture; mean and std are the per-channel input normalization. */
    public static ObjectNode describe(Network net, float[] mean, float[] std) {
        ObjectNode o = JSON.createObjectNode();
        o.put("version", VERSION);
        o.put("model", net.model());
        o.put("width", net.widthMultiplier());
        o.put("layout", "NHWC: activations (batch, height, width, channels); conv weights (out, kh, kw, in);"
                + " linear weights (out, in), their input flattened in (h, w, c) order");
        ObjectNode in = o.putObject("input");
        in.put("height", net.inputHeight());
        in.put("width", net.inputWidth());
        in.put("channels", net.inputChannels());
        in.put("classes", net.classes());
        in.put("transform", "x = (pixel / scale - mean[c]) / std[c], pixel an unsigned byte 0..255");
        in.put("scale", 255.0);
        ArrayNode m = in.putArray("mean");
        for (float f : mean) m.add(f);
        ArrayNode s = in.putArray("std");
        for (float f : std) s.add(f);
        ObjectNode q = o.putObject("quantizers");
        q.put("activation", ACTIVATION_QUANTIZER);
        q.put("weight", WEIGHT_QUANTIZER);
        q.put("note", "a conv or linear layer's input_bits are the bits of the activation layer before it");
        o.set("layers", layers(net.root().layers(), net.layerPrecisions()));
        o.put("output", "logits (batch, classes); loss softmax cross-entropy");
        return o;
    }

    private static ArrayNode layers(List<Layer> layers, Map<String, LayerPrecision> bits) {
        ArrayNode a = JSON.createArrayNode();
        for (Layer l : layers) a.add(layer(l, bits));
        return a;
    }

    private static ObjectNode layer(Layer l, Map<String, LayerPrecision> bits) {
        ObjectNode o = JSON.createObjectNode();
        o.put("name", l.name());
        switch (l) {
            case Conv2d c -> {
                o.put("kind", "conv2d");
                o.put("in_channels", c.inChannels());
                o.put("out_channels", c.outChannels());
                o.put("kernel", c.kernel());
                o.put("stride", c.stride());
                o.put("padding", c.padding());
                o.put("bias", false);
                putBits(o, c.name(), c.weightBits(), bits);
            }
            case Linear f -> {
                o.put("kind", "linear");
                o.put("in_features", f.inFeatures());
                o.put("out_features", f.outFeatures());
                o.put("bias", f.hasBias());
                putBits(o, f.name(), f.weightBits(), bits);
            }
            case BatchNorm2d b -> {
                o.put("kind", "batchnorm");
                o.put("channels", b.channels());
                o.put("epsilon", b.eps());
                o.put("formula", "(x - running_mean) / sqrt(running_var + epsilon) * weight + bias, per channel (last dim)");
            }
            case Activation act -> {
                o.put("kind", "activation");
                o.put("bits", act.bits());
            }
            case MaxPool2d p -> {
                o.put("kind", "maxpool");
                o.put("window", p.window());
                o.put("stride", p.stride());
                o.put("padding", p.padding());
            }
            case GlobalAvgPool g -> o.put("kind", "global_avg_pool");
            case ResidualBlock r -> {
                o.put("kind", "residual");
                o.put("formula", "activation(branch(x) + shortcut(x)); an empty shortcut and a null activation are the identity");
                o.set("branch", layers(r.branch().layers(), bits));
                o.set("shortcut", r.shortcut() == null ? JSON.createArrayNode() : layers(r.shortcut().layers(), bits));
                o.set("activation", r.activation() == null ? JSON.nullNode() : layer(r.activation(), bits));
            }
            default -> throw new IllegalStateException("no architecture entry for layer " + l.name() + " (" + l.getClass() + ")");
        }
        return o;
    }

    private static void putBits(ObjectNode o, String name, int weightBits, Map<String, LayerPrecision> bits) {
        o.put("weight_bits", weightBits);
        o.put("input_bits", bits.get(name).inputBits());
    }

    /** Builds the network an architecture describes (parameters not yet initialized). */
    public static Network build(JsonNode arch) {
        if (arch == null || !arch.isObject()) throw bad("is missing");
        int version = arch.path("version").asInt(-1);
        if (version != VERSION) throw bad("has version " + arch.path("version") + ", this wrpn reads " + VERSION);
        JsonNode in = arch.path("input");
        Map<String, LayerPrecision> bits = new LinkedHashMap<>();
        List<Layer> layers = parseLayers(arch.path("layers"), "layers", bits);
        if (layers.isEmpty()) throw bad("has no layers");
        String model = text(arch, "model", "");
        Network net = new Network(model, number(arch, "width", ""), new PrecisionPolicy(32, 32, bits), new Sequential(model, layers),
                integer(in, "height", "input"), integer(in, "width", "input"), integer(in, "channels", "input"),
                integer(in, "classes", "input"), bits);
        org.wrpn.tensor.Shape out;
        try {
            out = net.root().outputShape(net.inputShape(1));
        } catch (RuntimeException e) { // a shape that does not chain, or a zero stride
            throw bad("does not fit together: " + e.getMessage());
        }
        if (!out.equals(org.wrpn.tensor.Shape.of(1, net.classes()))) {
            throw bad("ends in " + out + ", not one logit per class (" + net.classes() + ")");
        }
        return net;
    }

    /** Refuses an architecture that {@link #build} cannot make. */
    public static void validate(JsonNode arch) {
        build(arch).close();
    }

    /** The input transform's per-channel mean (key "mean") or std (key "std"). */
    public static float[] inputStatistic(JsonNode arch, String key) {
        JsonNode a = arch.path("input").path(key);
        if (!a.isArray() || a.isEmpty()) throw bad("lacks input." + key);
        float[] f = new float[a.size()];
        for (int i = 0; i < f.length; i++) f[i] = (float) a.get(i).asDouble();
        return f;
    }

    private static List<Layer> parseLayers(JsonNode array, String where, Map<String, LayerPrecision> bits) {
        if (!array.isArray()) throw bad("lacks the list " + where);
        List<Layer> out = new ArrayList<>();
        for (int i = 0; i < array.size(); i++) out.add(parseLayer(array.get(i), where + "[" + i + "]", bits));
        return out;
    }

    private static Layer parseLayer(JsonNode o, String where, Map<String, LayerPrecision> bits) {
        String name = text(o, "name", where);
        String kind = text(o, "kind", where);
        return switch (kind) {
            case "conv2d" -> {
                LayerPrecision p = resolveBits(o, name, where, bits);
                yield new Conv2d(name, integer(o, "in_channels", where), integer(o, "out_channels", where),
                        integer(o, "kernel", where), integer(o, "stride", where), integer(o, "padding", where), p.weightBits(),
                        p.inputBits());
            }
            case "linear" -> {
                LayerPrecision p = resolveBits(o, name, where, bits);
                yield new Linear(name, integer(o, "in_features", where), integer(o, "out_features", where), p.weightBits(),
                        p.inputBits(), o.path("bias").asBoolean(false));
            }
            case "batchnorm" -> new BatchNorm2d(name, integer(o, "channels", where), (float) number(o, "epsilon", where));
            case "activation" -> new Activation(name, checkedBits(integer(o, "bits", where), where));
            case "maxpool" -> new MaxPool2d(name, integer(o, "window", where), integer(o, "stride", where),
                    integer(o, "padding", where));
            case "global_avg_pool" -> new GlobalAvgPool(name);
            case "residual" -> {
                List<Layer> branch = parseLayers(o.path("branch"), where + ".branch", bits);
                List<Layer> shortcut = parseLayers(o.path("shortcut"), where + ".shortcut", bits);
                JsonNode actNode = o.path("activation");
                Layer act = actNode.isNull() ? null : parseLayer(actNode, where + ".activation", bits);
                if (act != null && !(act instanceof Activation)) throw bad(where + ".activation is not an activation");
                yield new ResidualBlock(name, new Sequential(name + ".branch", branch),
                        shortcut.isEmpty() ? null : new Sequential(name + ".shortcut", shortcut), (Activation) act);
            }
            default -> throw bad(where + " has unknown kind '" + kind + "'");
        };
    }

    private static LayerPrecision resolveBits(JsonNode o, String name, String where, Map<String, LayerPrecision> bits) {
        int w = integer(o, "weight_bits", where);
        int a = checkedBits(integer(o, "input_bits", where), where);
        if (!org.wrpn.quant.Quantizer.isValidWeightBits(w)) throw bad(where + ".weight_bits must be one of 1, 2, 4, 8, 32; got " + w);
        LayerPrecision p = new LayerPrecision(w, a);
        bits.put(name, p);
        return p;
    }

    private static int checkedBits(int bits, String where) {
        if (!org.wrpn.quant.Quantizer.isValidActivationBits(bits)) throw bad(where + ": bits must be one of 1, 2, 4, 8, 32; got " + bits);
        return bits;
    }

    private static String text(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null || !v.isTextual()) throw bad("lacks text field " + path(where, key));
        return v.asText();
    }

    private static int integer(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null || !v.canConvertToInt() || !v.isIntegralNumber() || v.asInt() < 0) {
            throw bad("lacks a non-negative integer " + path(where, key));
        }
        return v.asInt();
    }

    private static double number(JsonNode o, String key, String where) {
        JsonNode v = o.get(key);
        if (v == null || !v.isNumber()) throw bad("lacks numeric field " + path(where, key));
        return v.asDouble();
    }

    private static String path(String where, String key) {
        return where.isEmpty() ? key : where + "." + key;
    }

    private static BadInputException bad(String what) {
        return new BadInputException("architecture " + what);
    }
}
