package org.wrpn.train;

import org.wrpn.quant.Quantizer;

/**
 * How SGD treats the fp32 masters of one quantized layer's weights: their weight decay, whether they are
 * clamped to [-1, 1] after each update, and what multiplies their learning rate.
 *
 * <p>The default depends on the weight bits. At k = 2 the paper's quantizer is a fixed ternary grid
 * {-1, 0, 1} with no scale: a master changes its code only by crossing ±0.5, which the baseline's
 * learning rate rarely makes it do (most masters stay in the zero bin, and width cannot help). So at
 * k = 2 the masters are clamped to the grid's range, take no decay and learn 64 times faster
 * (docs/RESULTS.md, "2-bit weights"). Other bit widths keep the baseline's recipe: their grids are
 * fine (k ≥ 4) or scaled by the weights themselves (k = 1, sign·mean|w|).
 *
 * @param weightDecay decay on the masters
 * @param clip clamp the masters to [-1, 1] after every update
 * @param lrScale multiplies the learning rate
 * @param lrFanIn also multiplies it by the square root of the layer's fan-in
 */
public record QuantizedWeightRecipe(double weightDecay, boolean clip, double lrScale, boolean lrFanIn) {

    /** How flags, job specs and sidecars write a setting left to this per-bit-width default. */
    public static final String AUTO = "auto";

    /** The learning-rate multiplier of the default recipe at k = 2. */
    public static final double TERNARY_LR_SCALE = 64;

    /** The default for weights of the given bits; fullPrecisionDecay is the run's --weight-decay. */
    public static QuantizedWeightRecipe defaultFor(int weightBits, double fullPrecisionDecay) {
        if (weightBits == 2) return new QuantizedWeightRecipe(0, true, TERNARY_LR_SCALE, false);
        if (weightBits >= Quantizer.FULL_PRECISION) throw new IllegalArgumentException("not a quantized weight: " + weightBits + " bits");
        return new QuantizedWeightRecipe(fullPrecisionDecay, false, 1, false);
    }

    /** The learning rate of a layer with this fan-in when the schedule is at lr. */
    public double learningRate(double lr, long fanIn) {
        return lr * lrScale * (lrFanIn ? Math.sqrt(fanIn) : 1);
    }

    /** One line for the log, e.g. "lr x64, clamped to [-1, 1], no weight decay". */
    public String describe() {
        String lr = lrScale == 1 && !lrFanIn ? "lr x1" : "lr x" + fmt(lrScale) + (lrFanIn ? " x sqrt(fan-in)" : "");
        return lr + (clip ? ", clamped to [-1, 1]" : "") + (weightDecay == 0 ? ", no weight decay" : ", weight decay " + fmt(weightDecay));
    }

    private static String fmt(double v) {
        return v == Math.rint(v) && Math.abs(v) < 1e9 ? Long.toString((long) v) : Double.toString(v);
    }
}
