package org.wrpn.nn;

import java.util.SplittableRandom;

/** Weight initialisation. */
final class Init {
    private Init() {}

    /** He (Kaiming) normal: std = gain * sqrt(2 / fanIn), from a seeded source. */
    static float[] heNormal(int count, int fanIn, float gain, SplittableRandom random) {
        float[] w = new float[count];
        double std = gain * Math.sqrt(2.0 / fanIn);
        for (int i = 0; i < count; i++) w[i] = (float) (gaussian(random) * std);
        return w;
    }

    /**
     * Initial scale for a layer whose weights are quantized to k bits: the quantizer clamps to
     * [-1, 1] with a step of 1/(2^(k-1)-1), so He-scaled weights (std ~0.05) would almost all round to
     * zero. Batch norm follows every quantized layer, which makes the layer's output independent of
     * the weight scale, so the weights are scaled up until the quantization grid resolves them.
     */
    static float quantizedGain(int bits, int fanIn) {
        if (bits >= 32) return 1f;
        double he = Math.sqrt(2.0 / fanIn);
        double target = bits == 1 ? he : Double.parseDouble(System.getProperty("wrpn.initTarget", "0.5")); // binary weights use a mean|w| scale: any scale works
        return (float) Math.max(1.0, target / he);
    }

    static double gaussian(SplittableRandom r) {
        // Box-Muller: reproducible across JVMs (java.util.Random#nextGaussian is too, but needs a Random).
        double u1 = r.nextDouble();
        double u2 = r.nextDouble();
        if (u1 < 1e-300) u1 = 1e-300;
        return Math.sqrt(-2.0 * Math.log(u1)) * Math.cos(2.0 * Math.PI * u2);
    }
}
