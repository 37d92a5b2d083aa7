package org.wrpn.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;

/**
 * {@link PackedActivations} (whichever implementation this JVM runs: VectorPack under the test JVM's
 * --add-modules; VectorPackTest checks it and PackKernels each directly) against the scalar contract
 * (Quantizer's codes and mask, PackedLayout's words), bit for bit: every k, aligned and ragged channel
 * counts, chunk boundaries, blocks at an offset, the inputs where rounding and the mask are delicate, and
 * PackKernels' SWAR steps.
 */
class PackKernelsTest {
    private static final int[] BITS = {1, 2, 4, 8};
    private static final int[] CHANNELS = {1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 24, 31, 32, 33, 48, 63, 64, 65, 96, 100, 128, 200, 513};

    /** Random activations around [0, 1], with the special values and code-boundary ties mixed in. */
    static float[] activations(int n, int k, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float levels = (1 << k) - 1;
        float[] special = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0f, 0f, 1f, Float.MIN_VALUE,
            Math.nextDown(1f), Math.nextUp(1f), -Float.MIN_VALUE, 0.5f, Float.MAX_VALUE, -1f};
        float[] x = new float[n];
        for (int i = 0; i < n; i++) {
            int kind = r.nextInt(8);
            if (kind == 0) {
                x[i] = special[r.nextInt(special.length)];
            } else if (kind == 1) { // a tie between two codes, and its neighbours
                float tie = (r.nextInt((int) levels) + 0.5f) / levels;
                x[i] = switch (r.nextInt(3)) {
                    case 0 -> tie;
                    case 1 -> Math.nextUp(tie);
                    default -> Math.nextDown(tie);
                };
            } else {
                x[i] = (float) (r.nextDouble() * 1.5 - 0.25);
            }
        }
        return x;
    }

    private static int[] referenceWords(float[] x, int xOffset, int pixels, int channels, int k, boolean mask) {
        int[] codes = new int[pixels * channels];
        if (mask) {
            Quantizer.gradientMaskCodes(x, xOffset, codes.length, codes);
        } else {
            Quantizer.activationCodes(x, xOffset, codes.length, k, codes);
        }
        int[] words = new int[pixels * PackedLayout.wordsPerPixel(channels, mask ? 1 : k)];
        PackedLayout.pack(codes, 0, pixels, channels, mask ? 1 : k, words, 0);
        return words;
    }

    private static void checkPack(int pixels, int channels, int k, long seed) {
        float[] x = activations(pixels * channels, k, seed);
        int[] expected = referenceWords(x, 0, pixels, channels, k, false);
        int[] expectedMask = referenceWords(x, 0, pixels, channels, k, true);
        int[] words = new int[expected.length];
        int[] mask = new int[expectedMask.length];
        java.util.Arrays.fill(words, 0xA5A5A5A5); // padding must come out zero whatever was there
        java.util.Arrays.fill(mask, -1);
        PackedActivations.quantizePack(x, pixels, channels, k, words, mask);
        String what = pixels + "x" + channels + " k=" + k;
        assertArrayEquals(expected, words, "codes " + what);
        assertArrayEquals(expectedMask, mask, "mask " + what);
        int[] noMask = new int[expected.length];
        PackedActivations.quantizePack(x, pixels, channels, k, noMask, null);
        assertArrayEquals(expected, noMask, "codes without mask " + what);

        float[] values = new float[x.length];
        PackedActivations.unpackValues(words, pixels, channels, k, values);
        for (int i = 0; i < x.length; i++) {
            assertEquals(Float.floatToRawIntBits(Quantizer.quantizeActivation(x[i], k)), Float.floatToRawIntBits(values[i]),
                    "value " + i + " of " + what);
        }
    }

    @Test
    void everyBitWidthAndChannelCount() {
        for (int k : BITS) {
            for (int c : CHANNELS) checkPack(37, c, k, 31L * k + c);
        }
    }

    @Test
    void acrossChunkBoundaries() {
        for (int k : BITS) {
            for (int c : new int[] {1, 3, 16, 48, 64, 8192, 8200}) checkPack(Math.max(2, 3 * 8192 / c + 5), c, k, 7L * k + c);
        }
    }

    @Test
    void compiledLoopsAgree() { // enough repetitions for C2 to compile (and vectorise) the loops under test
        for (int rep = 0; rep < 400; rep++) {
            int k = BITS[rep % 4];
            checkPack(64, new int[] {48, 64, 16, 8}[rep % 4 == k % 4 ? 3 : rep % 3], k, rep);
        }
    }

    @Test
    void blocksAtAnOffsetTouchOnlyTheirPixels() {
        int channels = 20, pixels = 50, first = 7, n = 30;
        for (int k : BITS) {
            float[] x = activations(pixels * channels, k, k);
            int[] expected = referenceWords(x, 0, pixels, channels, k, false);
            int[] expectedMask = referenceWords(x, 0, pixels, channels, k, true);
            int wpp = PackedLayout.wordsPerPixel(channels, k), mpp = PackedLayout.wordsPerPixel(channels, 1);
            int[] words = new int[expected.length];
            int[] mask = new int[expectedMask.length];
            java.util.Arrays.fill(words, 0x5A5A5A5A);
            java.util.Arrays.fill(mask, 0x5A5A5A5A);
            float[] block = java.util.Arrays.copyOfRange(x, first * channels, (first + n) * channels);
            PackedActivations.quantizePackBlock(block, 0, n, channels, k, words, first, mask);
            for (int w = 0; w < words.length; w++) {
                boolean in = w >= first * wpp && w < (first + n) * wpp;
                assertEquals(in ? expected[w] : 0x5A5A5A5A, words[w], "word " + w + " k=" + k);
            }
            for (int w = 0; w < mask.length; w++) {
                boolean in = w >= first * mpp && w < (first + n) * mpp;
                assertEquals(in ? expectedMask[w] : 0x5A5A5A5A, mask[w], "mask word " + w + " k=" + k);
            }
            float[] out = new float[n * channels + 3];
            PackedActivations.unpackValuesBlock(expected, first, n, channels, k, out, 3);
            for (int i = 0; i < n * channels; i++) {
                assertEquals(Quantizer.quantizeActivation(x[first * channels + i], k), out[3 + i], "value " + i + " k=" + k);
            }
        }
    }

    @Test
    void gatherAndSpreadAreInverse() {
        SplittableRandom r = new SplittableRandom(1);
        for (int i = 0; i < 10_000; i++) {
            long b = r.nextLong();
            assertEquals(b & 0xFFL, PackLoops.gather1(PackLoops.spread1(b & 0xFFL)) & 0xFFL);
            assertEquals(b & 0xFFFFL, PackLoops.gather2(PackLoops.spread2(b & 0xFFFFL)) & 0xFFFFL);
            assertEquals(b & 0xFFFFFFFFL, PackLoops.gather4(PackLoops.spread4(b & 0xFFFFFFFFL)) & 0xFFFFFFFFL);
        }
    }
}
