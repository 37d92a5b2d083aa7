package org.wrpn.quant;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.reference.Reference;

/**
 * Bit-for-bit checks of a quantize+pack and unpack implementation against the test reference
 * ({@link Reference}: its codes, mask and packing, written independently of Quantizer and PackedLayout).
 * Shared by VectorPackTest and by VectorPackCheck, which runs them in a JVM with narrower vectors.
 */
final class PackChecks {
    private PackChecks() {}

    static final int[] BITS = {1, 2, 4, 8};
    /** Ragged (C not a multiple of 32/k, nor of 8 or 16 lanes) and aligned channel counts. */
    static final int[] CHANNELS = {1, 2, 3, 4, 5, 7, 8, 9, 12, 15, 16, 17, 24, 31, 32, 33, 40, 47, 48, 63, 64, 65, 96, 100, 130};
    /** What sentinel words and floats hold: any write outside the range under test changes them. */
    static final int SENTINEL = 0x5A5A5A5A;

    /** The two implementations behind PackedActivations, called directly. */
    enum Impl {
        VECTOR {
            @Override
            void pack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel, int[] mask) {
                VectorPack.quantizePack(x, xOffset, pixels, channels, k, words, firstPixel, mask);
            }

            @Override
            void unpack(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
                VectorPack.unpackValues(words, firstPixel, pixels, channels, k, out, outOffset);
            }
        },
        LOOPS {
            @Override
            void pack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel, int[] mask) {
                PackKernels.quantizePack(x, xOffset, pixels, channels, k, words, firstPixel, mask);
            }

            @Override
            void unpack(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
                PackKernels.unpackValues(words, firstPixel, pixels, channels, k, out, outOffset);
            }
        };

        abstract void pack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel, int[] mask);

        abstract void unpack(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset);
    }

    /** The reference's words of x's codes (or, for mask, of its STE mask) at k bits. */
    static int[] referenceWords(float[] x, int pixels, int channels, int k, boolean mask) {
        return mask ? Reference.pack(Reference.maskCodes(x), pixels, channels, 1)
                : Reference.pack(Reference.activationCodes(x, k), pixels, channels, k);
    }

    /**
     * Packs x (pixels x channels) with impl into pixels [1, 1 + pixels) of sentinel-filled arrays read from
     * x at an offset of 3, with and without the mask, and unpacks the reference words back into a
     * sentinel-filled array at an offset: every word and value against the reference, and every sentinel
     * outside the range untouched.
     */
    static void check(Impl impl, float[] x, int pixels, int channels, int k, String what) {
        String at = impl + " " + what + ", " + pixels + "x" + channels + " k=" + k;
        int wpp = PackedLayout.wordsPerPixel(channels, k), mpp = PackedLayout.wordsPerPixel(channels, 1);
        int[] expected = referenceWords(x, pixels, channels, k, false), expectedMask = referenceWords(x, pixels, channels, k, true);
        float[] shifted = new float[x.length + 3];
        System.arraycopy(x, 0, shifted, 3, x.length);
        for (boolean withMask : new boolean[] {true, false}) {
            int[] words = sentinels((pixels + 2) * wpp), mask = withMask ? sentinels((pixels + 2) * mpp) : null;
            impl.pack(shifted, 3, pixels, channels, k, words, 1, mask);
            assertWords(expected, words, wpp, at + (withMask ? " codes" : " codes without the mask"));
            if (withMask) assertWords(expectedMask, mask, mpp, at + " mask");
        }
        float[] out = new float[x.length + 10];
        Arrays.fill(out, Float.intBitsToFloat(SENTINEL));
        int[] words = new int[(pixels + 2) * wpp];
        System.arraycopy(expected, 0, words, wpp, expected.length);
        impl.unpack(words, 1, pixels, channels, k, out, 5);
        for (int i = 0; i < out.length; i++) {
            int bits = i < 5 || i >= 5 + x.length ? SENTINEL
                    : Float.floatToRawIntBits(Reference.activationValue(Reference.activationCode(x[i - 5], k), k));
            int got = Float.floatToRawIntBits(out[i]);
            if (bits != got) {
                assertEquals(Float.intBitsToFloat(bits) + " (" + Integer.toHexString(bits) + ")", out[i] + " (" + Integer.toHexString(got) + ")",
                        at + " value " + (i - 5) + (i < 5 || i >= 5 + x.length ? " (outside the range)" : " of x = " + x[i - 5]));
            }
        }
    }

    private static int[] sentinels(int n) {
        int[] a = new int[n];
        Arrays.fill(a, SENTINEL);
        return a;
    }

    /** words holds expected from its second pixel (of wpp words) on, and sentinels in the pixels either side. */
    private static void assertWords(int[] expected, int[] words, int wpp, String what) {
        for (int i = 0; i < words.length; i++) {
            int e = i < wpp || i >= wpp + expected.length ? SENTINEL : expected[i - wpp];
            if (e != words[i]) assertEquals(Integer.toHexString(e), Integer.toHexString(words[i]), what + ", word " + (i - wpp));
        }
    }

    /** Random activations around [0, 1] with the delicate values of {@link #delicate} mixed in. */
    static float[] activations(int n, int k, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] special = delicate(k);
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = r.nextInt(3) == 0 ? special[r.nextInt(special.length)] : (float) (r.nextDouble() * 1.5 - 0.25);
        return x;
    }

    /**
     * The inputs where codes and the mask are delicate at k bits: every bin boundary (u + 1/2) / (2^k - 1) and
     * every code's own value u / (2^k - 1), each with its neighbours 4 ulps either way (which include the floats
     * whose product with 2^k - 1 is exactly the tie), 0 and 1 and theirs, signed zeros, the smallest and largest
     * floats of both signs, infinities, and NaNs of both signs, quiet and signalling, with payloads.
     */
    static float[] delicate(int k) {
        List<Float> v = new ArrayList<>();
        float levels = (1 << k) - 1;
        for (int u = 0; u <= levels; u++) {
            for (float centre : new float[] {(u + 0.5f) / levels, u / levels}) {
                float f = centre;
                for (int i = 0; i < 4; i++) f = Math.nextDown(f);
                for (int i = 0; i <= 8; i++, f = Math.nextUp(f)) v.add(f);
            }
        }
        for (float f : new float[] {0f, -0f, 1f, -1f, 0.5f, Float.MIN_VALUE, -Float.MIN_VALUE, Float.MIN_NORMAL, Math.nextDown(1f),
            Math.nextUp(1f), 2f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, 8388608f, 4194304.5f}) {
            v.add(f);
        }
        for (int nan : new int[] {0x7FC00000, 0xFFC00000, 0x7F800001, 0xFF800001, 0x7FC000FF, 0x7FFFFFFF, 0xFFFFFFFF, 0x7F80000F}) {
            v.add(Float.intBitsToFloat(nan));
        }
        float[] a = new float[v.size()];
        for (int i = 0; i < a.length; i++) a[i] = v.get(i);
        return a;
    }

    /** delicate(k) repeated and rotated to fill n values, so that each one meets every lane position. */
    static float[] delicateFill(int n, int k) {
        float[] d = delicate(k), x = new float[n];
        for (int i = 0; i < n; i++) x[i] = d[(i * 7 + i / d.length) % d.length];
        return x;
    }

    /** Every bit width, channel count and input kind: what VectorPackTest checks in-process, for VectorPackCheck. */
    static void checkAll(Impl impl) {
        for (int k : BITS) {
            for (int c : CHANNELS) {
                int pixels = Math.max(3, 700 / c);
                check(impl, activations(pixels * c, k, 31L * k + c), pixels, c, k, "random");
                check(impl, delicateFill(pixels * c, k), pixels, c, k, "delicate");
            }
        }
    }
}
