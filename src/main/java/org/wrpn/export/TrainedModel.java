package org.wrpn.export;

import com.fasterxml.jackson.databind.JsonNode;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.backend.BatchNormFold;
import org.wrpn.data.Normalization;
import org.wrpn.nn.Architecture;
import org.wrpn.nn.BatchNorm2d;
import org.wrpn.nn.Conv2d;
import org.wrpn.nn.Layer;
import org.wrpn.nn.Linear;
import org.wrpn.nn.Network;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.NamedArray;

/**
 * A checkpoint as the exporters read it: the network's layers (never initialized on a backend), the
 * fp32 value of every parameter, checked against the layer that owns it, and the input transform.
 */
final class TrainedModel {
    /** A quantized layer's weights as the backends hold them: int8 codes in the master's layout and the value of one code. */
    record WeightCodes(int bits, int[] shape, byte[] codes, float scale) {}

    /** A batch norm's tensors, after its name and a dot: gamma, beta and the running statistics. */
    static final List<String> BATCH_NORM_TENSORS = List.of("weight", "bias", "running_mean", "running_var");

    private final Checkpoint.Loaded checkpoint;
    private final Network network;
    private final JsonNode architecture;

    private TrainedModel(Checkpoint.Loaded checkpoint) {
        this.checkpoint = checkpoint;
        this.network = checkpoint.network();
        Normalization n = checkpoint.normalization();
        this.architecture = checkpoint.architecture() != null ? checkpoint.architecture()
                : Architecture.describe(network, n.mean(), n.std());
    }

    /** Loads and validates a checkpoint (sidecar, weights file or run directory); BadInputException on any fault. */
    static TrainedModel load(Path checkpointOrDir) {
        TrainedModel m = new TrainedModel(Checkpoint.load(Checkpoint.resolve(checkpointOrDir)));
        // every tensor the exporters read, checked before anything is written
        parameterShapes(m.layers()).forEach(m::values);
        return m;
    }

    Checkpoint.Loaded checkpoint() {
        return checkpoint;
    }

    Network network() {
        return network;
    }

    List<Layer> layers() {
        return network.root().layers();
    }

    JsonNode architecture() {
        return architecture;
    }

    Normalization normalization() {
        return checkpoint.normalization();
    }

    /** The parameter's fp32 values, which must have this shape. */
    float[] values(String name, int... shape) {
        NamedArray a = checkpoint.contents().tensors().get(name);
        if (a == null) throw new BadInputException("checkpoint " + checkpoint.weights() + " lacks tensor " + name);
        if (a.dtype() != NamedArray.Dtype.F32 || !Arrays.equals(a.shape(), shape)) {
            throw new BadInputException("checkpoint tensor " + name + " is " + a.dtype() + Arrays.toString(a.shape())
                    + ", the architecture needs F32" + Arrays.toString(shape));
        }
        return a.floats();
    }

    /** The master weights' shape of a conv (out, kh, kw, in) or linear (out, in) layer. */
    static int[] weightShape(Layer l) {
        return switch (l) {
            case Conv2d c -> new int[] {c.outChannels(), c.kernel(), c.kernel(), c.inChannels()};
            case Linear f -> new int[] {f.outFeatures(), f.inFeatures()};
            default -> throw new IllegalArgumentException(l.name() + " has no weights");
        };
    }

    static int weightBits(Layer l) {
        return switch (l) {
            case Conv2d c -> c.weightBits();
            case Linear f -> f.weightBits();
            default -> throw new IllegalArgumentException(l.name() + " has no weights");
        };
    }

    float[] weights(Layer l) {
        return values(l.name() + ".weight", weightShape(l));
    }

    /** The codes and scale the quantized ops read (Quantizer.weightCodes of the master weights). */
    WeightCodes weightCodes(Layer l) {
        int bits = weightBits(l);
        if (bits == Quantizer.FULL_PRECISION) throw new IllegalArgumentException(l.name() + " has full-precision weights");
        float[] w = weights(l);
        byte[] codes = new byte[w.length];
        float scale = Quantizer.weightCodes(w, bits, codes);
        return new WeightCodes(bits, weightShape(l), codes, scale);
    }

    /** Batch norm with the running statistics, as the backends apply it in inference. */
    BatchNormFold fold(BatchNorm2d bn) {
        int c = bn.channels();
        String n = bn.name();
        float[][] t = new float[BATCH_NORM_TENSORS.size()][];
        for (int i = 0; i < t.length; i++) t[i] = values(n + "." + BATCH_NORM_TENSORS.get(i), c);
        return BatchNormFold.of(t[0], t[1], t[2], t[3], bn.eps());
    }

    /** Every parameter of the layers (weights, biases, batch-norm tensors) and its shape, in the network's order. */
    static Map<String, int[]> parameterShapes(List<Layer> layers) {
        Map<String, int[]> out = new LinkedHashMap<>();
        addParameters(layers, out);
        return out;
    }

    private static void addParameters(List<Layer> layers, Map<String, int[]> out) {
        for (Layer l : layers) {
            switch (l) {
                case Conv2d c -> out.put(c.name() + ".weight", weightShape(c));
                case Linear f -> {
                    out.put(f.name() + ".weight", weightShape(f));
                    if (f.hasBias()) out.put(f.name() + ".bias", new int[] {f.outFeatures()});
                }
                case BatchNorm2d bn -> {
                    for (String t : BATCH_NORM_TENSORS) out.put(bn.name() + "." + t, new int[] {bn.channels()});
                }
                case ResidualBlock r -> {
                    addParameters(r.branch().layers(), out);
                    if (r.shortcut() != null) addParameters(r.shortcut().layers(), out);
                }
                default -> { } // no parameters
            }
        }
    }
}
