package org.wrpn.backend.cpu;

/**
 * How the CPU gets the exact int32 sum of code products out of f32 kernels (oneDNN's direct
 * convolutions, OpenBLAS's GEMM). Every product of two integer codes is an integer, and a float
 * sum of integers is exact in any order as long as every partial sum stays below 2^24: that holds
 * when K · max|a| · max|w| &lt; 2^24 (K terms). Past that bound the codes are split into digits,
 * v = Σ digit · 2^shift; each pair of an activation digit and a weight digit is summed exactly on
 * its own, and the pairs are combined in int32: acc = Σ partial · 2^(shiftA + shiftW). Integer
 * arithmetic is exact (and wraps like an int32 accumulator), so the combined sum has the bits of
 * a direct int32 sum whatever the split. 8-bit activations with 8-bit weights at K = 630 take two
 * sums (the weights' high and low nibble: the small operand is the one restaged); at K = 9000, four.
 */
final class ExactSplit {
    private ExactSplit() {}

    /** Floats hold every integer up to 2^24 exactly. */
    static final long FLOAT_EXACT = 1L << 24;

    /**
     * Bits [shift, shift + width) of a code; the top digit keeps the sign (arithmetic shift), so
     * v = Σ digit · 2^shift. An offset digit is the whole code minus offset.
     */
    record Digit(int shift, int width, boolean top, int offset) {
        int of(int v) {
            return (top ? v >> shift : (v >> shift) & ((1 << width) - 1)) - offset;
        }
    }

    /** The whole code as one digit. */
    static final Digit WHOLE = new Digit(0, 32, true, 0);

    /** The digits to sum: every activation digit against every weight digit. */
    record Plan(Digit[] a, Digit[] w) {
        int sums() {
            return a.length * w.length;
        }
    }

    /** Weight codes are int8 (two's complement): 8 bits, whatever the layer's weight bits. */
    private static final int WEIGHT_CODE_BITS = 8;

    /**
     * The split with the fewest sums (and of those, the fewest activation digits: restaging the
     * input costs most) that keeps each sum of `terms` products below 2^24, for activation codes of
     * activationBits and weight codes within ±maxWeightCode (the largest one the weights hold).
     * Activations may also be staged centred, u - 2^(k-1), which halves their largest magnitude:
     * Σ u·w = Σ (u - o)·w + o · Σ w, and the second sum (the weights of the taps inside the image,
     * per output pixel and channel) is an integer the epilogue adds. Zero padding stays zero in the
     * staged input, which is why the correction counts only the taps inside. 8-bit codes at
     * K = 576 (3x3x64) thus take one sum instead of two.
     */
    static Plan plan(long terms, int activationBits, int maxWeightCode) {
        int maxA = (1 << activationBits) - 1;
        java.util.List<Digit[]> as = new java.util.ArrayList<>();
        as.add(new Digit[] {WHOLE});
        if (activationBits > 1) as.add(new Digit[] {new Digit(0, 32, true, 1 << (activationBits - 1))});
        for (int wa = activationBits / 2; wa >= 1; wa /= 2) as.add(digits(activationBits, wa));
        Plan best = null;
        for (Digit[] a : as) {
            long ma = maxDigit(a, 0, maxA);
            for (int ww = WEIGHT_CODE_BITS; ww >= 1; ww /= 2) {
                Digit[] w = ww == WEIGHT_CODE_BITS ? new Digit[] {WHOLE} : digits(WEIGHT_CODE_BITS, ww);
                if (terms * ma * maxDigit(w, -maxWeightCode, maxWeightCode) >= FLOAT_EXACT) continue;
                Plan p = new Plan(a, w);
                if (best == null || p.sums() < best.sums() || (p.sums() == best.sums() && a.length < best.a.length)) best = p;
            }
        }
        if (best == null) throw new IllegalArgumentException("a sum of " + terms + " code products cannot be split to stay exact in float");
        return best;
    }

    /** Digits of `width` bits of a `bits`-wide code, low first; the last is the top. */
    static Digit[] digits(int bits, int width) {
        int n = bits / width;
        Digit[] d = new Digit[n];
        for (int i = 0; i < n; i++) d[i] = new Digit(i * width, width, i == n - 1, 0);
        return d;
    }

    /** The largest |digit| over the codes lo..hi (at most 511 of them: counted, not derived). */
    static long maxDigit(Digit[] digits, int lo, int hi) {
        long max = 0;
        for (Digit d : digits) {
            for (int v = lo; v <= hi; v++) max = Math.max(max, Math.abs(d.of(v)));
        }
        return max;
    }
}
