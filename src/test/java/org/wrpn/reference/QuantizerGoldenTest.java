package org.wrpn.reference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.api.Test;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;

/**
 * Pinned golden values for the WRPN quantizers and the packed layout, checked against both
 * Quantizer/PackedLayout (main code) and the independent Reference. Several cases are chosen so
 * that computing the product in double, or rounding half up, gives a different code.
 */
class QuantizerGoldenTest {
    private static final int[] ACT_BITS = {1, 2, 4, 8};
    private static final int[] WEIGHT_BITS = {2, 4, 8};

    private static void activation(float x, int k, int code) {
        assertEquals(code, Quantizer.activationCode(x, k), "Quantizer.activationCode(" + x + ", " + k + ")");
        assertEquals(code, Reference.activationCode(x, k), "Reference.activationCode(" + x + ", " + k + ")");
        float value = (float) code / (float) ((1 << k) - 1);
        assertEquals(value, Quantizer.quantizeActivation(x, k), "Quantizer.quantizeActivation(" + x + ", " + k + ")");
        assertEquals(value, Reference.activationValue(code, k), "Reference.activationValue");
    }

    private static void weight(float w, int k, int code) {
        assertEquals(code, Quantizer.weightCode(w, k), "Quantizer.weightCode(" + w + ", " + k + ")");
        assertEquals(code, Reference.weightCode(w, k), "Reference.weightCode(" + w + ", " + k + ")");
        float value = (float) code / (float) ((1 << (k - 1)) - 1);
        assertEquals(value, Quantizer.weightValue(code, k), "Quantizer.weightValue");
        assertEquals(value, Reference.weightValue(code, k), "Reference.weightValue");
    }

    @Test
    void activationTiesRoundHalfToEven() {
        activation(0.5f, 2, 2); // 1.5 -> 2
        activation(0.5f, 4, 8); // 7.5 -> 8
        activation(0.5f, 8, 128); // 127.5 -> 128
        activation(0.5f, 1, 0); // 0.5 -> 0 (half up would give 1)
        activation(0.1f, 4, 2); // 1.5 -> 2
        activation(0.7f, 4, 10); // 10.5 -> 10 (half up would give 11)
        activation(0.7f, 8, 178); // 178.5 -> 178
        activation(0.1f, 8, 26); // 25.5 -> 26
        activation(5f / 6f, 2, 2); // 2.5 -> 2
        activation(3f / 510f, 8, 2); // 1.5 -> 2
    }

    @Test
    void activationProductIsFloat() {
        // float(1/6) * 3 rounds to exactly 0.5 in float -> 0; in double it is 0.50000001 -> 1.
        activation(1f / 6f, 2, 0);
        activation(1f / 6f, 4, 2); // 2.5 in float, 2.50000007 in double
        activation(1f / 6f, 8, 42);
        activation(1f / 30f, 4, 0);
        activation(1f / 30f, 8, 8);
        activation(1f / 510f, 8, 0);
    }

    @Test
    void activationClampAndNonFinite() {
        for (int k : ACT_BITS) {
            int max = (1 << k) - 1;
            activation(Float.NaN, k, 0);
            activation(Float.POSITIVE_INFINITY, k, max);
            activation(Float.NEGATIVE_INFINITY, k, 0);
            activation(-0.0f, k, 0);
            activation(-3f, k, 0);
            activation(0f, k, 0);
            activation(1f, k, max);
            activation(1.0000001f, k, max);
            activation(7e30f, k, max);
            activation(Float.MIN_VALUE, k, 0);
        }
        activation(0.51f, 1, 1);
        activation(0.49f, 1, 0);
    }

    @Test
    void steMask() {
        for (float x : new float[] {Float.MIN_VALUE, 0.5f, 0.99999994f}) {
            assertTrue(Quantizer.activationPassesGradient(x));
            assertTrue(Reference.activationMask(x));
        }
        for (float x : new float[] {0f, -0.0f, 1f, -1f, 2f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            assertFalse(Quantizer.activationPassesGradient(x), "mask(" + x + ")");
            assertFalse(Reference.activationMask(x), "mask(" + x + ")");
        }
    }

    /** The branch-free mask equals the comparison for every sign, exponent and the mantissa ends around them. */
    @Test
    void steMaskWithoutBranchEqualsTheComparison() {
        for (int sign = 0; sign < 2; sign++) {
            for (int exp = 0; exp < 256; exp++) {
                for (int mant : new int[] {0, 1, 2, 0x3FFFFF, 0x400000, 0x7FFFFE, 0x7FFFFF}) {
                    float x = Float.intBitsToFloat(sign << 31 | exp << 23 | mant);
                    assertEquals(Quantizer.activationPassesGradient(x) ? -1 : 0, Quantizer.activationPassMask(x), "mask(" + x + ")");
                }
            }
        }
    }

    @Test
    void weightTiesClampAndNonFinite() {
        weight(0.5f, 2, 0); // 0.5 -> 0
        weight(-0.5f, 2, 0); // -0.5 -> -0 -> 0
        weight(0.50001f, 2, 1);
        weight(-0.50001f, 2, -1);
        weight(1.5f, 2, 1);
        weight(-1.5f, 2, -1);
        weight(0.5f, 4, 4); // 3.5 -> 4
        weight(-0.5f, 4, -4);
        weight(1.5f / 7f, 4, 2); // 1.5 -> 2
        weight(2.5f / 7f, 4, 2); // 2.5 in float -> 2; double gives 2.50000006 -> 3
        weight(0.5f / 7f, 4, 0); // 0.5 in float -> 0; double gives 1
        weight(-0.5f / 7f, 4, 0);
        weight(0.5f, 8, 64); // 63.5 -> 64
        weight(-0.5f, 8, -64);
        weight(1.5f / 127f, 8, 2); // 1.5 in float -> 2; double gives 1.4999999 -> 1
        weight(0.5f / 127f, 8, 0);
        for (int k : WEIGHT_BITS) {
            int max = (1 << (k - 1)) - 1;
            weight(Float.NaN, k, 0);
            weight(Float.POSITIVE_INFINITY, k, max);
            weight(Float.NEGATIVE_INFINITY, k, -max);
            weight(1f, k, max);
            weight(-1f, k, -max);
            weight(-0.0f, k, 0);
            weight(3f, k, max);
            weight(-3f, k, -max);
        }
    }

    @Test
    void binaryWeights() {
        assertEquals(1, Quantizer.binaryCode(0f));
        assertEquals(1, Quantizer.binaryCode(-0.0f)); // -0 == 0, so sign is +1
        assertEquals(-1, Quantizer.binaryCode(-1e-30f));
        assertEquals(1, Quantizer.binaryCode(2f));
        assertEquals(1, Reference.binaryCode(0f));
        assertEquals(1, Reference.binaryCode(-0.0f));
        assertEquals(-1, Reference.binaryCode(-1e-30f));

        float[] w = {0.5f, -1.5f, 0f, 2f}; // mean |w| = 1
        float[] expected = {1f, -1f, 1f, 1f};
        float[] out = new float[4];
        Quantizer.quantizeWeights(w, 0, 4, 1, out, 0);
        assertArrayEquals(expected, out);
        assertArrayEquals(expected, Reference.quantizeWeights(w, 1));
        assertEquals(1f, Quantizer.binaryScale(w, 0, 4));
        assertEquals(1f, Reference.binaryScale(w));

        float[] w2 = {-0.25f, 0.125f, -0.125f}; // mean |w| = 1/6 (rounded once to float)
        float s = (float) (0.5 / 3);
        assertArrayEquals(new float[] {-s, s, -s}, Reference.quantizeWeights(w2, 1));
        Quantizer.quantizeWeights(w2, 0, 3, 1, out, 0);
        assertArrayEquals(new float[] {-s, s, -s}, java.util.Arrays.copyOf(out, 3));
    }

    @Test
    void fullPrecisionWeightsCopy() {
        float[] w = {0.3f, -7f, Float.MIN_VALUE};
        float[] out = new float[3];
        Quantizer.quantizeWeights(w, 0, 3, 32, out, 0);
        assertArrayEquals(w, out);
        assertArrayEquals(w, Reference.quantizeWeights(w, 32));
    }

    /** Quantizer.java and the reference agree on every float near a code boundary, and on random floats. */
    @Test
    void quantizerMatchesReferenceAroundEveryBoundary() {
        for (int k : ACT_BITS) {
            int levels = (1 << k) - 1;
            for (int u = 0; u <= levels; u++) {
                for (double t : new double[] {u, u + 0.5}) {
                    float center = (float) (t / levels);
                    float x = center;
                    for (int i = 0; i < 4; i++) x = Math.nextDown(x);
                    for (int i = 0; i < 9; i++, x = Math.nextUp(x)) {
                        assertEquals(Quantizer.activationCode(x, k), Reference.activationCode(x, k), "x=" + x + " k=" + k);
                    }
                }
            }
        }
        for (int k : WEIGHT_BITS) {
            int levels = (1 << (k - 1)) - 1;
            for (int s = -levels; s <= levels; s++) {
                for (double t : new double[] {s, s + 0.5, s - 0.5}) {
                    float center = (float) (t / levels);
                    float w = center;
                    for (int i = 0; i < 4; i++) w = Math.nextDown(w);
                    for (int i = 0; i < 9; i++, w = Math.nextUp(w)) {
                        assertEquals(Quantizer.weightCode(w, k), Reference.weightCode(w, k), "w=" + w + " k=" + k);
                    }
                }
            }
        }
        Random rnd = new Random(21);
        for (int i = 0; i < 200_000; i++) {
            float x = (float) (rnd.nextDouble() * 3 - 1);
            for (int k : ACT_BITS) assertEquals(Quantizer.activationCode(x, k), Reference.activationCode(x, k));
            for (int k : WEIGHT_BITS) assertEquals(Quantizer.weightCode(x, k), Reference.weightCode(x, k));
        }
    }

    // ---- packed layout -------------------------------------------------------------------------

    private static void golden(int k, int channels, int pixels, int[] codes, int... words) {
        long[] lc = new long[codes.length];
        for (int i = 0; i < codes.length; i++) lc[i] = codes[i];
        assertArrayEquals(words, Reference.pack(lc, pixels, channels, k), "Reference.pack k=" + k + " C=" + channels);
        int[] packed = new int[words.length];
        PackedLayout.pack(codes, pixels, channels, k, packed);
        assertArrayEquals(words, packed, "PackedLayout.pack k=" + k + " C=" + channels);
        assertEquals(words.length, pixels * PackedLayout.wordsPerPixel(channels, k));
        assertEquals(4L * words.length, PackedLayout.bytes(pixels, channels, k));
        int[] back = new int[codes.length];
        PackedLayout.unpack(words, pixels, channels, k, back);
        assertArrayEquals(codes, back);
        assertArrayEquals(lc, Reference.unpack(words, pixels, channels, k));
    }

    private static int[] repeat(int pixels, int... perPixel) {
        int[] a = new int[pixels * perPixel.length];
        for (int p = 0; p < pixels; p++) System.arraycopy(perPixel, 0, a, p * perPixel.length, perPixel.length);
        return a;
    }

    private static int[] constant(int n, int v) {
        int[] a = new int[n];
        java.util.Arrays.fill(a, v);
        return a;
    }

    @Test
    void goldenWords() {
        golden(4, 8, 1, new int[] {1, 2, 3, 4, 5, 6, 7, 8}, 0x87654321);
        golden(2, 16, 1, repeat(4, 0, 1, 2, 3), 0xE4E4E4E4);
        golden(1, 32, 1, repeat(16, 1, 0), 0x55555555);
        golden(1, 33, 1, constant(33, 1), 0xFFFFFFFF, 0x00000001);
        golden(8, 5, 1, new int[] {0x11, 0x22, 0x33, 0x44, 0xFF}, 0x44332211, 0x000000FF);
        int[] seq = new int[17];
        for (int c = 0; c < 17; c++) seq[c] = c + 1;
        golden(8, 17, 1, seq, 0x04030201, 0x08070605, 0x0C0B0A09, 0x100F0E0D, 0x00000011);
    }

    @Test
    void goldenRaggedChannelsPadWithZeros() {
        golden(8, 1, 2, new int[] {0xAB, 0x01}, 0x000000AB, 0x00000001);
        golden(4, 1, 3, new int[] {0xF, 0x0, 0x9}, 0x0000000F, 0x00000000, 0x00000009);
        golden(4, 3, 2, repeat(2, 15, 1, 2), 0x0000021F, 0x0000021F);
        golden(2, 3, 2, new int[] {3, 0, 1, 1, 2, 3}, 0x00000013, 0x00000039);
        golden(1, 3, 2, new int[] {1, 0, 1, 0, 1, 1}, 0x00000005, 0x00000006);
        golden(4, 15, 1, constant(15, 15), 0xFFFFFFFF, 0x0FFFFFFF);
        golden(2, 15, 1, constant(15, 3), 0x3FFFFFFF);
        golden(2, 17, 1, constant(17, 3), 0xFFFFFFFF, 0x00000003);
        golden(1, 17, 2, constant(34, 1), 0x0001FFFF, 0x0001FFFF);
        golden(4, 17, 1, constant(17, 15), 0xFFFFFFFF, 0xFFFFFFFF, 0x0000000F);
        golden(8, 33, 1, constant(33, 0x80), 0x80808080, 0x80808080, 0x80808080, 0x80808080, 0x80808080, 0x80808080,
                0x80808080, 0x80808080, 0x00000080);
        golden(1, 100, 1, constant(100, 1), 0xFFFFFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0x0000000F);
        golden(2, 100, 1, constant(100, 2), 0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA, 0xAAAAAAAA,
                0x000000AA);
    }

    /** Every code value at every position inside a word lands exactly at its bits. */
    @Test
    void everyCodeAtEveryPosition() {
        for (int k : ACT_BITS) {
            int per = 32 / k;
            for (int pos = 0; pos < 2 * per + 1; pos++) {
                int channels = pos + 1;
                for (int code = 0; code < (1 << k); code++) {
                    int[] codes = new int[channels];
                    codes[pos] = code;
                    int[] expected = new int[PackedLayout.wordsPerPixel(channels, k)];
                    expected[pos / per] = code << ((pos % per) * k);
                    golden(k, channels, 1, codes, expected);
                }
            }
        }
    }

    @Test
    void exhaustiveRoundTrips() {
        Random rnd = new Random(22);
        for (int k : ACT_BITS) {
            for (int channels : new int[] {1, 3, 15, 17, 33, 100}) {
                int levels = 1 << k;
                int pixels = Math.max(3, (levels + channels - 1) / channels * 2);
                int n = pixels * channels;
                // Every code appears at least once (ascending, then shuffled) in each configuration.
                long[] lc = new long[n];
                for (int i = 0; i < n; i++) lc[i] = i % levels;
                for (int i = n - 1; i > n / 2; i--) {
                    int j = n / 2 + rnd.nextInt(i - n / 2 + 1);
                    long t = lc[i];
                    lc[i] = lc[j];
                    lc[j] = t;
                }
                int[] codes = new int[n];
                for (int i = 0; i < n; i++) codes[i] = (int) lc[i];
                int[] words = Reference.pack(lc, pixels, channels, k);
                int[] mainWords = new int[words.length];
                PackedLayout.pack(codes, pixels, channels, k, mainWords);
                assertArrayEquals(words, mainWords, "k=" + k + " C=" + channels);
                assertArrayEquals(lc, Reference.unpack(words, pixels, channels, k));
                int[] back = new int[n];
                PackedLayout.unpack(words, pixels, channels, k, back);
                assertArrayEquals(codes, back);
                // Padding bits past the last channel of each pixel are zero.
                int wpp = PackedLayout.wordsPerPixel(channels, k);
                int usedBits = channels * k - (wpp - 1) * 32;
                if (usedBits < 32) {
                    for (int p = 0; p < pixels; p++) {
                        assertEquals(0, words[p * wpp + wpp - 1] >>> usedBits, "padding k=" + k + " C=" + channels);
                    }
                }
            }
        }
    }
}
