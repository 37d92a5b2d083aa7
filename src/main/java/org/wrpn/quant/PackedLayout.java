package org.wrpn.quant;

/**
 * Packed k-bit layout of DESIGN.md: channels-last; the codes of one pixel are packed along C,
 * little-endian inside 32-bit words: element c sits in word c / (32/k), bits (c % (32/k)) * k upward.
 * Each pixel's channel vector is padded to whole words, padding codes are zero.
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

    public static int wordIndex(int c, int k) {
        return c / codesPerWord(k);
    }

    public static int bitOffset(int c, int k) {
        return (c % codesPerWord(k)) * k;
    }

    /** Packs pixels x C codes (row-major) into words; padding codes stay zero. */
    public static void pack(int[] codes, long pixels, int channels, int k, int[] words) {
        int wpp = wordsPerPixel(channels, k);
        int per = 32 / k;
        int mask = k == 32 ? -1 : (1 << k) - 1;
        for (long p = 0; p < pixels; p++) {
            int src = (int) (p * channels);
            int dst = (int) (p * wpp);
            for (int w = 0; w < wpp; w++) {
                int word = 0;
                int c0 = w * per;
                int c1 = Math.min(channels, c0 + per);
                for (int c = c0; c < c1; c++) word |= (codes[src + c] & mask) << ((c - c0) * k);
                words[dst + w] = word;
            }
        }
    }

    /** Unpacks words into pixels x C codes (row-major). */
    public static void unpack(int[] words, long pixels, int channels, int k, int[] codes) {
        int wpp = wordsPerPixel(channels, k);
        int per = 32 / k;
        int mask = (1 << k) - 1;
        for (long p = 0; p < pixels; p++) {
            int src = (int) (p * wpp);
            int dst = (int) (p * channels);
            for (int c = 0; c < channels; c++) {
                codes[dst + c] = (words[src + c / per] >>> ((c % per) * k)) & mask;
            }
        }
    }
}
