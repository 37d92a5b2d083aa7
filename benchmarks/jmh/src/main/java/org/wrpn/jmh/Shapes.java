package org.wrpn.jmh;

import java.util.SplittableRandom;

/** The tensor every benchmark here works on: one activation of 2^20 elements, channels-last. */
final class Shapes {
    /** 64 channels: a whole number of 32-bit words at every k, so bytes per element are exact. */
    static final int CHANNELS = 64;
    static final int PIXELS = 16384;
    static final int ELEMENTS = CHANNELS * PIXELS;

    private Shapes() {}

    /** Values in [-0.25, 1.25): both clamps, every code and the STE mask see use. */
    static float[] activations() {
        SplittableRandom r = new SplittableRandom(42);
        float[] a = new float[ELEMENTS];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 1.5 - 0.25);
        return a;
    }

    /** Weights in [-1.2, 1.2). */
    static float[] weights() {
        SplittableRandom r = new SplittableRandom(7);
        float[] a = new float[ELEMENTS];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2.4 - 1.2);
        return a;
    }
}
