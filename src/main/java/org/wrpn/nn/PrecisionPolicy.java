package org.wrpn.nn;

import java.util.Collection;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.TreeSet;
import org.wrpn.BadInputException;
import org.wrpn.quant.Quantizer;

/**
 * Which bit widths each conv/linear layer uses. Defaults: every layer at (weightBits, activationBits),
 * except the first conv and the last linear, which stay at full precision (weights and inputs), as in
 * the WRPN paper. Overrides name a layer and set both widths.
 */
public final class PrecisionPolicy {
    private final int weightBits;
    private final int activationBits;
    private final Map<String, LayerPrecision> overrides;

    public PrecisionPolicy(int weightBits, int activationBits, Map<String, LayerPrecision> overrides) {
        if (!Quantizer.isValidWeightBits(weightBits)) throw new BadInputException("--wbits must be one of 1, 2, 4, 8, 32; got " + weightBits);
        if (!Quantizer.isValidActivationBits(activationBits)) throw new BadInputException("--abits must be one of 1, 2, 4, 8, 32; got " + activationBits);
        for (var e : overrides.entrySet()) {
            LayerPrecision p = e.getValue();
            if (!Quantizer.isValidWeightBits(p.weightBits()) || !Quantizer.isValidActivationBits(p.inputBits())) {
                throw new BadInputException("layer override " + e.getKey() + "=" + p.weightBits() + "/" + p.inputBits()
                        + ": bits must be one of 1, 2, 4, 8, 32");
            }
        }
        this.weightBits = weightBits;
        this.activationBits = activationBits;
        this.overrides = Map.copyOf(overrides);
    }

    public static PrecisionPolicy uniform(int weightBits, int activationBits) {
        return new PrecisionPolicy(weightBits, activationBits, Map.of());
    }

    /** Parses "conv2=8/4,fc1=4/4" (layer=weightBits/inputBits). */
    public static Map<String, LayerPrecision> parseOverrides(String spec) {
        Map<String, LayerPrecision> m = new LinkedHashMap<>();
        if (spec == null || spec.isBlank()) return m;
        for (String part : spec.split(",")) {
            String p = part.trim();
            int eq = p.indexOf('=');
            int slash = p.indexOf('/');
            if (eq <= 0 || slash < eq) throw new BadInputException("--layer-bits entry '" + p + "' is not LAYER=WBITS/ABITS (e.g. conv2=8/4)");
            try {
                int w = Integer.parseInt(p.substring(eq + 1, slash).trim());
                int a = Integer.parseInt(p.substring(slash + 1).trim());
                m.put(p.substring(0, eq).trim(), new LayerPrecision(w, a));
            } catch (NumberFormatException e) {
                throw new BadInputException("--layer-bits entry '" + p + "' has a non-integer bit width");
            }
        }
        return m;
    }

    public int weightBits() {
        return weightBits;
    }

    public int activationBits() {
        return activationBits;
    }

    public Map<String, LayerPrecision> overrides() {
        return overrides;
    }

    /** Precision of a named layer; first/last layers default to full precision. */
    public LayerPrecision forLayer(String name, boolean firstOrLast) {
        LayerPrecision o = overrides.get(name);
        if (o != null) return o;
        if (firstOrLast) return new LayerPrecision(Quantizer.FULL_PRECISION, Quantizer.FULL_PRECISION);
        return new LayerPrecision(weightBits, activationBits);
    }

    /** Rejects overrides naming layers the model does not have. */
    public void checkOverrides(Collection<String> layerNames, String modelName) {
        for (String n : overrides.keySet()) {
            if (!layerNames.contains(n)) {
                throw new BadInputException("--layer-bits names unknown layer '" + n + "' for model " + modelName
                        + "; layers: " + String.join(", ", new TreeSet<>(layerNames)));
            }
        }
    }
}
