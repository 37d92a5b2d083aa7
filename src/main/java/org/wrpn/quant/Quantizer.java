package org.wrpn.quant;

/**
 * The WRPN quantizer contract of DESIGN.md, scalar and exact. Every backend must produce the same
 * codes as these methods, bit for bit. Arithmetic is float (as on the GPU), rounding is half to even.
 *
 * <p>Non-finite inputs: NaN maps to code 0; +Inf and -Inf clamp like any out-of-range value.
 */
public final class Quantizer {
    private Quantizer() {}

    /** Full precision: no quantizer. */
    public static final int FULL_PRECISION = 32;

    public static boolean isValidActivationBits(int k) {
        return k == 1 || k == 2 || k == 4 || k == 8 || k == FULL_PRECISION;
    }

    public static boolean isValidWeightBits(int k) {
        return k == 1 || k == 2 || k == 4 || k == 8 || k == FULL_PRECISION;
    }

    /** Largest activation code, 2^k - 1. */
    public static int activationLevels(int k) {
        return (1 << k) - 1;
    }

    /** Largest weight code magnitude, 2^(k-1) - 1 (k >= 2). */
    public static int weightLevels(int k) {
        return (1 << (k - 1)) - 1;
    }

    /**
     * Activation code u = rint(clamp(x, 0, 1) * (2^k - 1)). The clamp is min/max, which loops
     * vectorise; NaN stays NaN through it and (int) NaN is 0, so NaN maps to code 0.
     */
    public static int activationCode(float x, int k) {
        float c = Math.min(1f, Math.max(0f, x));
        return (int) roundHalfEven(c * (float) activationLevels(k));
    }

    /** 2^23: adding it to a float in [0, 2^22] leaves no fraction bits, so the sum is rounded half to even. */
    private static final float ROUNDER = 8388608f;

    /**
     * Math.rint for v in [0, 255] (and NaN, which stays NaN), in float: (v + 2^23) - 2^23 rounds to
     * the nearest integer with ties to even, exactly like rint, and vectorises (rint goes through double).
     */
    static float roundHalfEven(float v) {
        return (v + ROUNDER) - ROUNDER;
    }

    /** Value of an activation code: u / (2^k - 1). */
    public static float activationValue(int code, int k) {
        return (float) code / (float) activationLevels(k);
    }

    /** The value of one activation code step, 1 / (2^k - 1): the activation side of a quantized layer's scale. */
    public static float activationStep(int k) {
        return 1f / (float) activationLevels(k);
    }

    /** Largest |weight code|: 1 for binary weights, 2^(k-1) - 1 otherwise. */
    public static int maxWeightCode(int k) {
        return k == 1 ? 1 : weightLevels(k);
    }

    /**
     * The most products of a k_a-bit activation code and a k_w-bit weight code an int32 sum holds
     * without overflow: (2^31 - 1) / ((2^k_a - 1) * max|code|). a8/w8: 66,311 terms; a4/w4: 20,452,225.
     */
    public static long maxExactIntegerTerms(int activationBits, int weightBits) {
        return Integer.MAX_VALUE / ((long) activationLevels(activationBits) * maxWeightCode(weightBits));
    }

    /** Quantized activation value in one step. */
    public static float quantizeActivation(float x, int k) {
        return activationValue(activationCode(x, k), k);
    }

    /** Straight-through mask of the activation quantizer: gradient passes where 0 &lt; x &lt; 1. */
    public static boolean activationPassesGradient(float x) {
        return x > 0f && x < 1f;
    }

    private static final int BELOW_ONE = Float.floatToRawIntBits(1f) - 1;

    /**
     * {@link #activationPassesGradient} as -1 (passes) or 0, without a branch: 0 &lt; x &lt; 1 exactly
     * when x's bits lie in [1, bits(1f) - 1], i.e. t = bits - 1 satisfies t &gt;= 0 and t - (bits(1f) - 1) &lt; 0
     * (negative floats, NaN and everything from 1 up fall outside). Loops over a random mask vectorise
     * instead of mispredicting.
     */
    public static int activationPassMask(float x) {
        int t = Float.floatToRawIntBits(x) - 1;
        return ((t - BELOW_ONE) & ~t) >> 31;
    }

    /** Quantized activation values of x[offset, offset + length) into out from outOffset. */
    public static void quantizeActivations(float[] x, int offset, int length, int k, float[] out, int outOffset) {
        for (int i = 0; i < length; i++) out[outOffset + i] = quantizeActivation(x[offset + i], k);
    }

    /** Activation codes of x[offset, offset + length) into codes[0, length). */
    public static void activationCodes(float[] x, int offset, int length, int k, int[] codes) {
        for (int i = 0; i < length; i++) codes[i] = activationCode(x[offset + i], k);
    }

    /** The straight-through mask as 1-bit codes (1 where the gradient passes) of x[offset, offset + length). */
    public static void gradientMaskCodes(float[] x, int offset, int length, int[] codes) {
        for (int i = 0; i < length; i++) codes[i] = activationPassMask(x[offset + i]) & 1;
    }

    /** Weight code s = rint(clamp(w, -1, 1) * (2^(k-1) - 1)) for k in {2, 4, 8}. */
    public static int weightCode(float w, int k) {
        if (k < 2 || k > 8) throw new IllegalArgumentException("weightCode needs k in {2,4,8}, got " + k);
        if (Float.isNaN(w)) return 0;
        float c = w < -1f ? -1f : (w > 1f ? 1f : w);
        return (int) Math.rint(c * (float) weightLevels(k));
    }

    /** Value of a weight code: s / (2^(k-1) - 1). */
    public static float weightValue(int code, int k) {
        return (float) code / (float) weightLevels(k);
    }

    /** The value of one weight code step for k in {2, 4, 8}: 1 / (2^(k-1) - 1). */
    public static float weightStep(int k) {
        return 1f / weightLevels(k);
    }

    /** Binary weight code: sign(w) with sign(0) = +1 (and NaN = +1). */
    public static int binaryCode(float w) {
        return w < 0f ? -1 : 1;
    }

    /**
     * Scale of binary weights: mean |w| over the layer, accumulated in double then rounded to float
     * so that the summation order does not change the result beyond the final rounding.
     */
    public static float binaryScale(float[] w, int offset, int length) {
        double s = 0;
        for (int i = 0; i < length; i++) {
            float v = w[offset + i];
            if (!Float.isNaN(v)) s += Math.abs(v);
        }
        return length == 0 ? 0f : (float) (s / length);
    }

    /**
     * int8 weight codes of a whole tensor: sign codes (+-1) for k = 1, else weightCode. Returns the
     * value of one code step: mean|w| for k = 1, else 1 / (2^(k-1) - 1).
     */
    public static float weightCodes(float[] w, int k, byte[] codes) {
        if (k == 1) {
            for (int i = 0; i < w.length; i++) codes[i] = (byte) binaryCode(w[i]);
            return binaryScale(w, 0, w.length);
        }
        if (k < 2 || k > 8 || !isValidWeightBits(k)) throw new IllegalArgumentException("weight code bits " + k);
        for (int i = 0; i < w.length; i++) codes[i] = (byte) weightCode(w[i], k);
        return weightStep(k);
    }

    /** Quantizes a whole weight tensor (values, not codes) for any k, into out. */
    public static void quantizeWeights(float[] w, int offset, int length, int k, float[] out, int outOffset) {
        if (k == FULL_PRECISION) {
            System.arraycopy(w, offset, out, outOffset, length);
        } else if (k == 1) {
            float scale = binaryScale(w, offset, length);
            for (int i = 0; i < length; i++) out[outOffset + i] = binaryCode(w[offset + i]) * scale;
        } else {
            for (int i = 0; i < length; i++) out[outOffset + i] = weightValue(weightCode(w[offset + i], k), k);
        }
    }
}
