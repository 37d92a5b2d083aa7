package org.wrpn.quant;

/**
 * Packed k-bit layout of DESIGN.md: channels-last; the codes of one pixel are packed along C,
 * little-endian inside 32-bit words: element c sits in word c / (32/k), bits (c % (32/k)) * k upward.
 * Each pixel's channel vector is padded to whole words, padding codes are zero. {@link #pack} and
 * {@link #unpack(int[], int, int, int, int, float[], float[], int)} are the scalar reference writer and
 * reader; PackKernels, the fast path of PackedActivations, must agree with them bit for bit.
 */
public final class PackedLayout {
    private PackedLayout() {}

    public static void checkBits(int k) {
        if (k != 1 && k != 2 && k != 4 && k != 8) {
            throw new IllegalArgumentException("packed layout needs k in {1,2,4,8}, got " + k);
        }
    }

    public static int codesPerWord(int k) {
        checkBits(k);
        return 32 / k;
    }

    /** 32-bit words that hold one pixel's C channels. */
    public static int wordsPerPixel(int channels, int k) {
        int per = codesPerWord(k);
        return (channels + per - 1) / per;
    }

    /** Bytes of a packed tensor of the given pixel count and channel count. */
    public static long bytes(long pixels, int channels, int k) {
        return pixels * wordsPerPixel(channels, k) * 4L;
    }

    /** Packs pixels x C codes (row-major) into words; padding codes stay zero. */
    public static void pack(int[] codes, long pixels, int channels, int k, int[] words) {
        pack(codes, 0, Math.toIntExact(pixels), channels, k, words, 0);
    }

    /** Packs the codes of `pixels` pixels from codes[codesOffset] into words from wordsOffset. */
    public static void pack(int[] codes, int codesOffset, int pixels, int channels, int k, int[] words, int wordsOffset) {
        int wpp = wordsPerPixel(channels, k);
        int per = 32 / k;
        int mask = (1 << k) - 1;
        for (int p = 0; p < pixels; p++) {
            int src = codesOffset + p * channels;
            int dst = wordsOffset + p * wpp;
            for (int w = 0; w < wpp; w++) {
                int word = 0;
                int c0 = w * per;
                int c1 = Math.min(channels, c0 + per);
                for (int c = c0; c < c1; c++) word |= (codes[src + c] & mask) << ((c - c0) * k);
                words[dst + w] = word;
            }
        }
    }

    /**
     * Unpacks `pixels` pixels from words[wordsOffset] into out from outOffset, each code u as
     * table[u]: a table of the codes' values makes unpacking to values one pass.
     */
    public static void unpack(int[] words, int wordsOffset, int pixels, int channels, int k, float[] table, float[] out,
            int outOffset) {
        int wpp = wordsPerPixel(channels, k);
        int per = 32 / k;
        int mask = (1 << k) - 1;
        for (int p = 0; p < pixels; p++) {
            int src = wordsOffset + p * wpp;
            int dst = outOffset + p * channels;
            for (int w = 0, c = 0; w < wpp; w++) {
                int word = words[src + w];
                int end = Math.min(channels, c + per);
                for (; c < end; c++, word >>>= k) out[dst + c] = table[word & mask];
            }
        }
    }

    /** Unpacks words into pixels x C codes (row-major); for tests and tooling, so through a float copy. */
    public static void unpack(int[] words, long pixels, int channels, int k, int[] codes) {
        float[] identity = new float[1 << k];
        for (int u = 0; u < identity.length; u++) identity[u] = u;
        float[] values = new float[Math.multiplyExact(Math.toIntExact(pixels), channels)];
        unpack(words, 0, (int) pixels, channels, k, identity, values, 0);
        for (int i = 0; i < values.length; i++) codes[i] = (int) values[i];
    }
}
