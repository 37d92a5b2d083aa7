package org.wrpn.nn;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.quant.Quantizer;

/** Collects the precision of every conv/linear layer while a model is assembled. */
public final class NetworkBuilder {
    private final String model;
    private final double widthMultiplier;
    private final PrecisionPolicy policy;
    private final int height;
    private final int imageWidth;
    private final int channels;
    private final int classes;
    private final Map<String, LayerPrecision> precisions = new LinkedHashMap<>();
    private final Map<String, Boolean> firstOrLast = new LinkedHashMap<>();

    public NetworkBuilder(String model, double widthMultiplier, PrecisionPolicy policy, int height, int imageWidth, int channels,
            int classes) {
        this.model = model;
        this.widthMultiplier = widthMultiplier;
        this.policy = policy;
        this.height = height;
        this.imageWidth = imageWidth;
        this.channels = channels;
        this.classes = classes;
    }

    public String model() {
        return model;
    }

    public double widthMultiplier() {
        return widthMultiplier;
    }

    public int height() {
        return height;
    }

    public int imageWidth() {
        return imageWidth;
    }

    public int channels() {
        return channels;
    }

    public int classes() {
        return classes;
    }

    /** The first layer: reads the image, so its input cannot be quantized. */
    public LayerPrecision first(String name) {
        LayerPrecision p = register(name, true);
        if (p.inputBits() != Quantizer.FULL_PRECISION) {
            throw new BadInputException("--layer-bits " + name + ": the first layer reads the image, its input bits must be 32");
        }
        return p;
    }

    public LayerPrecision hidden(String name) {
        return register(name, false);
    }

    public LayerPrecision last(String name) {
        return register(name, true);
    }

    public int hiddenInputBits(String name) {
        return policy.forLayer(name, false).inputBits();
    }

    public int lastInputBits(String name) {
        return policy.forLayer(name, true).inputBits();
    }

    private LayerPrecision register(String name, boolean edge) {
        LayerPrecision p = policy.forLayer(name, edge);
        precisions.put(name, p);
        firstOrLast.put(name, edge);
        return p;
    }

    public Network finish(List<Layer> layers) {
        policy.checkOverrides(precisions.keySet(), model);
        return new Network(model, widthMultiplier, policy, new Sequential(model, layers), height, imageWidth, channels, classes,
                precisions);
    }
}
