package org.wrpn.export;

import static org.wrpn.export.OnnxGraph.integer;
import static org.wrpn.export.OnnxGraph.ints;

import ai.onnx.proto.OnnxMl.ModelProto;
import ai.onnx.proto.OnnxMl.OperatorSetIdProto;
import ai.onnx.proto.OnnxMl.StringStringEntryProto;
import com.fasterxml.jackson.databind.JsonNode;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.backend.BatchNormFold;
import org.wrpn.data.Normalization;
import org.wrpn.nn.Activation;
import org.wrpn.nn.BatchNorm2d;
import org.wrpn.nn.Conv2d;
import org.wrpn.nn.GlobalAvgPool;
import org.wrpn.nn.Layer;
import org.wrpn.nn.Linear;
import org.wrpn.nn.MaxPool2d;
import org.wrpn.nn.Network;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.Shape;

/**
 * A trained network as an ONNX graph (opset {@value #OPSET}, NCHW): input normalisation, convs and
 * linears on dequantized int8 weight codes, quantized activations as Clip then a QuantizeLinear /
 * DequantizeLinear pair, batch norm as wrpn's own per-channel scale and shift. The mapping is
 * {@link #QUANTIZATION}; docs/DESIGN.md, "Export", says where it differs from wrpn's arithmetic.
 */
final class OnnxExporter {
    static final int OPSET = 13;
    /** The IR version that goes with opset 13. */
    static final int IR_VERSION = 7;
    static final String INPUT = "image";
    static final String OUTPUT = "logits";
    static final String QUANTIZATION = "activations at k < 32 bits: Clip(x, 0, 1), QuantizeLinear and DequantizeLinear with"
            + " scale float(1 / (2^k - 1)) and uint8 zero point 0 (codes 0 .. 2^k - 1); a quantized layer reads its input"
            + " straight from a DequantizeLinear (re-quantizing after MaxPool and Flatten is exact); weights at k = 2..8:"
            + " int8 codes rint(clamp(w, -1, 1) * (2^(k-1) - 1)) through DequantizeLinear with scale float(1 / (2^(k-1) - 1)),"
            + " zero point 0; k = 1: codes sign(w) = +-1 (sign(0) = +1) with scale mean|w| over the layer; batch norm:"
            + " Mul(scale) then Add(shift) per channel, scale = gamma / sqrt(var + eps), shift = beta - scale * mean,"
            + " folded in double and rounded to float as wrpn does; 32 bits: plain ops, ReLU for the activation";

    /** A tensor of the graph: its name, wrpn's shape of it (batch 1, NHWC), and whether it holds k-bit grid values. */
    private record Value(String name, Shape shape, int bits, boolean dequantized) {}

    private final TrainedModel model;
    private final OnnxGraph g;
    private final Map<Integer, String[]> activationParams = new HashMap<>();
    private String zero;
    private String one;

    private OnnxExporter(TrainedModel model, OnnxGraph g) {
        this.model = model;
        this.g = g;
    }

    static ModelProto export(TrainedModel m, ExportInfo info) {
        Network net = m.network();
        OnnxGraph g = new OnnxGraph(net.model(), "wrpn " + net.model() + " width " + net.widthMultiplier()
                + ": image (N, C, H, W) pixel values 0..255 in, logits (N, classes) out");
        g.input(OnnxGraph.floatValue(INPUT, "N", net.inputChannels(), net.inputHeight(), net.inputWidth()));
        OnnxExporter e = new OnnxExporter(m, g);
        Value x = e.normalize(new Value(INPUT, net.inputShape(1), Quantizer.FULL_PRECISION, false), m.normalization());
        Value y = e.sequence(m.layers(), x);
        g.namedNode("Identity", OUTPUT, y.name());
        g.output(OnnxGraph.floatValue(OUTPUT, "N", net.classes()));
        ModelProto.Builder p = ModelProto.newBuilder().setIrVersion(IR_VERSION).setProducerName("wrpn").setProducerVersion(info.commit())
                .setDomain("org.wrpn").setModelVersion(1).setDocString(QUANTIZATION).setGraph(g.build())
                .addOpsetImport(OperatorSetIdProto.newBuilder().setDomain("").setVersion(OPSET));
        metadata(info, m).forEach((k, v) -> p.addMetadataProps(StringStringEntryProto.newBuilder().setKey(k).setValue(v)));
        return p.build();
    }

    /** Metadata props: every field of the export info (JSON text where it is not a string), the input and the mapping. */
    static Map<String, String> metadata(ExportInfo info, TrainedModel m) {
        Map<String, String> props = new java.util.LinkedHashMap<>();
        info.json().properties().forEach(e -> props.put("wrpn." + e.getKey(), text(e.getValue())));
        Normalization n = m.normalization();
        props.put("wrpn.input", INPUT + ": float32 (N, C, H, W), pixel values 0..255; normalised inside the graph as"
                + " (x / 255 - mean[c]) / std[c], mean " + java.util.Arrays.toString(n.mean()) + ", std "
                + java.util.Arrays.toString(n.std()));
        props.put("wrpn.output", OUTPUT + ": float32 (N, classes), logits in the order of wrpn.class_names");
        props.put("wrpn.opset", Integer.toString(OPSET));
        props.put("wrpn.quantization", QUANTIZATION);
        return props;
    }

    private static String text(JsonNode v) {
        return v.isTextual() ? v.asText() : v.toString();
    }

    private Value sequence(List<Layer> layers, Value x) {
        Value v = x;
        for (Layer l : layers) v = layer(l, v);
        return v;
    }

    private Value layer(Layer l, Value x) {
        return switch (l) {
            case Conv2d c -> conv(c, x);
            case Linear f -> linear(f, x);
            case BatchNorm2d bn -> batchNorm(bn, x);
            case Activation a -> a.isQuantized() ? quantize(a.name(), a.bits(), x)
                    : new Value(g.node("Relu", a.name(), new String[] {x.name()}), x.shape(), Quantizer.FULL_PRECISION, false);
            case MaxPool2d p -> new Value(g.node("MaxPool", p.name(), new String[] {x.name()}, ints("kernel_shape", p.window(), p.window()),
                    ints("strides", p.stride(), p.stride()), ints("pads", p.padding(), p.padding(), p.padding(), p.padding())),
                    p.outputShape(x.shape()), x.bits(), false); // the max of grid values is a grid value
            case GlobalAvgPool a -> {
                String pooled = g.node("GlobalAveragePool", a.name() + ".pool", new String[] {x.name()});
                yield new Value(g.node("Flatten", a.name(), new String[] {pooled}, integer("axis", 1)), a.outputShape(x.shape()),
                        Quantizer.FULL_PRECISION, false);
            }
            case ResidualBlock r -> {
                Value b = sequence(r.branch().layers(), x);
                Value s = r.shortcut() == null ? x : sequence(r.shortcut().layers(), x);
                Value sum = new Value(g.node("Add", r.name() + ".sum", new String[] {b.name(), s.name()}), b.shape(),
                        Quantizer.FULL_PRECISION, false);
                yield layer(r.activation(), sum);
            }
            default -> throw new BadInputException("the ONNX export cannot render layer " + l.name() + " (" + l.getClass().getSimpleName() + ")");
        };
    }

    /** (x / 255 - mean[c]) / std[c] on the NCHW image. */
    private Value normalize(Value x, Normalization n) {
        int c = n.channels();
        String scaled = g.node("Div", "input.scaled", new String[] {x.name(), g.floats("input.pixel_scale", new float[] {255f})});
        String centred = g.node("Sub", "input.centred", new String[] {scaled, g.floats("input.mean", n.mean(), 1, c, 1, 1)});
        return new Value(g.node("Div", "input.normalized", new String[] {centred, g.floats("input.std", n.std(), 1, c, 1, 1)}),
                x.shape(), Quantizer.FULL_PRECISION, false);
    }

    private Value conv(Conv2d c, Value x) {
        Value in = codesIn(c.inputBits(), x, c.name());
        int k = c.kernel(), p = c.padding(), s = c.stride();
        String y = g.node("Conv", c.name(), new String[] {in.name(), weights(c, true)}, ints("kernel_shape", k, k),
                ints("strides", s, s), ints("pads", p, p, p, p));
        return new Value(y, c.outputShape(x.shape()), Quantizer.FULL_PRECISION, false);
    }

    private Value linear(Linear f, Value x) {
        Value flat = x;
        if (x.shape().rank() == 4) { // wrpn flattens (h, w, c): back to NHWC first
            String t = g.node("Transpose", f.name() + ".nhwc", new String[] {x.name()}, ints("perm", 0, 2, 3, 1));
            flat = new Value(g.node("Flatten", f.name() + ".flat", new String[] {t}, integer("axis", 1)),
                    Shape.of(1, (int) (x.shape().elements())), x.bits(), false);
        }
        Value in = codesIn(f.inputBits(), flat, f.name());
        String w = weights(f, false);
        String[] inputs = f.hasBias() ? new String[] {in.name(), w, g.floats(f.name() + ".bias",
                model.values(f.name() + ".bias", f.outFeatures()), f.outFeatures())} : new String[] {in.name(), w};
        return new Value(g.node("Gemm", f.name(), inputs, integer("transB", 1)), f.outputShape(flat.shape()),
                Quantizer.FULL_PRECISION, false);
    }

    /** The weights input of a conv (as OIHW) or linear (O, I): a float initializer, or int8 codes through DequantizeLinear. */
    private String weights(Layer l, boolean conv) {
        int[] shape = TrainedModel.weightShape(l);
        int[] dims = conv ? new int[] {shape[0], shape[3], shape[1], shape[2]} : shape;
        if (TrainedModel.weightBits(l) == Quantizer.FULL_PRECISION) {
            float[] w = model.weights(l);
            return g.floats(l.name() + ".weight", conv ? Layouts.ohwiToOihw(w, shape) : w, dims);
        }
        TrainedModel.WeightCodes wc = model.weightCodes(l);
        String codes = g.int8(l.name() + ".weight_codes", conv ? Layouts.ohwiToOihw(wc.codes(), shape) : wc.codes(), dims);
        String scale = g.floats(l.name() + ".weight_scale", new float[] {wc.scale()});
        String zp = g.int8(l.name() + ".weight_zero_point", new byte[] {0});
        return g.node("DequantizeLinear", l.name() + ".weight", new String[] {codes, scale, zp});
    }

    private Value batchNorm(BatchNorm2d bn, Value x) {
        BatchNormFold f = model.fold(bn);
        int c = bn.channels();
        int[] dims = x.shape().rank() == 4 ? new int[] {1, c, 1, 1} : new int[] {c};
        String scaled = g.node("Mul", bn.name() + ".scaled", new String[] {x.name(), g.floats(bn.name() + ".scale", f.scale(), dims)});
        return new Value(g.node("Add", bn.name(), new String[] {scaled, g.floats(bn.name() + ".shift", f.shift(), dims)}), x.shape(),
                Quantizer.FULL_PRECISION, false);
    }

    /** The input of a layer that reads k-bit codes: straight from a DequantizeLinear of that width. */
    private Value codesIn(int bits, Value x, String owner) {
        if (bits == Quantizer.FULL_PRECISION || x.bits() == bits && x.dequantized()) return x;
        return quantize(owner + ".input", bits, x);
    }

    /** WRPN's activation quantizer: Clip to [0, 1], then QuantizeLinear and DequantizeLinear with step 1 / (2^k - 1). */
    private Value quantize(String name, int bits, Value x) {
        if (zero == null) {
            zero = g.floats("zero", new float[] {0f});
            one = g.floats("one", new float[] {1f});
        }
        String[] params = activationParams.computeIfAbsent(bits, k -> new String[] {
            g.floats("a" + k + ".scale", new float[] {Quantizer.activationStep(k)}), g.uint8("a" + k + ".zero_point", new byte[] {0})});
        String clipped = x.bits() == bits ? x.name() : g.node("Clip", name + ".clip", new String[] {x.name(), zero, one});
        String q = g.node("QuantizeLinear", name + ".codes", new String[] {clipped, params[0], params[1]});
        return new Value(g.node("DequantizeLinear", name, new String[] {q, params[0], params[1]}), x.shape(), bits, true);
    }
}
