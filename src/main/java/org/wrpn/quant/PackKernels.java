package org.wrpn.quant;

import static org.wrpn.quant.PackLoops.copy;
import static org.wrpn.quant.PackLoops.flipTopBits;
import static org.wrpn.quant.PackLoops.gather1;
import static org.wrpn.quant.PackLoops.gather2;
import static org.wrpn.quant.PackLoops.gather4;
import static org.wrpn.quant.PackLoops.join;
import static org.wrpn.quant.PackLoops.moveLongs;
import static org.wrpn.quant.PackLoops.padLongs;
import static org.wrpn.quant.PackLoops.segment;
import static org.wrpn.quant.PackLoops.split;
import static org.wrpn.quant.PackLoops.spread1;
import static org.wrpn.quant.PackLoops.spread2;
import static org.wrpn.quant.PackLoops.spread4;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The quantize+pack and unpack loops behind {@link PackedActivations} where {@link VectorPack} does not run (a
 * JVM without jdk.incubator.vector, vectors of neither 8 nor 16 floats), and its code bytes for the integer
 * kernels everywhere: the same codes and words as {@link Quantizer} and {@link PackedLayout}, bit for bit
 * (VectorPackTest compares them with the test reference).
 *
 * <p>Plain Java loops that C2 vectorises, over chunks of pixels small enough to stay in L1: (1) one float
 * loop writes a code byte per element (for k &lt;= 4 with the mask bit in the same byte), branch-free and
 * without Math.max or a saturating conversion; (2) the {@link PackLoops} gather loop reads 8 code bytes as
 * one little-endian long and puts their codes side by side (SWAR), and for k &lt; 4 a block copy and one
 * join per level pair those fields up until they fill words. Ragged pixels (C not a multiple of 32/k) are
 * padded on the way, in zeroed scratch; a pixel that is a fraction of a word (C k = 8 or 16) is packed
 * as one dense stream and then split into its words. Unpacking runs the same steps backwards, then
 * converts bytes to values. Every loop has unit stride, no division, modulo or branch per element, and
 * narrows only long to int or float to byte (C2 does not vectorise int to short or byte stores, nor
 * Float.floatToRawIntBits, nor b &amp; 0xFF to float). The reinterpretation needs a little-endian
 * machine; elsewhere PackedActivations runs the scalar layout code.
 */
final class PackKernels {
    private PackKernels() {}

    /** Padded codes per chunk at most (a multiple of 32): a chunk's scratch (both streams) stays in L1 between the passes. */
    private static final int CHUNK = 2048;

    /** Whether byte arrays reinterpret as little-endian words here (the layout's order). */
    static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    private static int paddedChannels(int channels, int k) {
        return PackedLayout.wordsPerPixel(channels, k) * (32 / k);
    }

    /**
     * Whether a pixel is a fraction of a word that packs as part of one dense stream (C k = 8 or 16, C a
     * multiple of 8: 16 channels at 1 bit, 8 at 1 or 2 bits), for chunks of a multiple of 4 pixels.
     */
    static boolean dense(int channels, int k) {
        return paddedChannels(channels, k) != channels && channels % 8 == 0 && (channels * k == 8 || channels * k == 16);
    }

    /** Codes of scratch a pixel takes: its padded channels, or its channels where it packs densely. */
    private static int scratchChannels(int channels, int k) {
        return dense(channels, k) ? channels : paddedChannels(channels, k);
    }

    /** Pixels per chunk: CHUNK codes of scratch (of the codes and of the mask, whichever is wider), a multiple of 4 from 4 up. */
    private static int pixelsPerChunk(int channels, int k, boolean mask) {
        int most = Math.max(scratchChannels(channels, k), mask ? scratchChannels(channels, 1) : 0);
        int step = Math.max(1, CHUNK / most);
        return step < 4 ? step : step & ~3;
    }

    /**
     * The scratch of one stream (codes or mask) of one call, reused across its chunks: a chunk's code bytes,
     * the same as longs padded per pixel (padding lanes are never written, so they stay zero), and the
     * narrowing stages. Narrowing runs long -&gt; int (which C2 vectorises here; int -&gt; short or byte it does not).
     */
    private static final class Stream {
        final int channels, k, cpad;
        final byte[] codes, padded;
        final long[] src, lanes, half, quarter;
        final int[] ints, ints2;
        /** Their segments (made once: a segment a copy showed in profiles), and the words'. */
        final MemorySegment codesSeg, paddedSeg, srcSeg, lanesSeg, halfSeg, quarterSeg, intsSeg, ints2Seg, wordSeg;

        /** Where the stream's codes sit in each byte of a shared one (see codesAndMask): bits shift.. under keep. */
        int shift;
        long keep = -1L;

        Stream(int pixels, int channels, int k, int[] words) {
            this(pixels, channels, k, words, new byte[pixels * channels + 8]);
        }

        /** A stream reading its code bytes from `codes` (another stream's). */
        Stream(int pixels, int channels, int k, int[] words, byte[] codes) {
            this.channels = channels;
            this.k = k;
            cpad = paddedChannels(channels, k);
            int m = pixels * cpad / 8 + 1;
            this.codes = codes;
            boolean whole = channels % 8 == 0;
            padded = cpad == channels ? null : new byte[pixels * cpad];
            src = whole && cpad != channels ? new long[pixels * channels / 8] : null;
            lanes = new long[m];
            half = new long[m / 2 + 1];
            quarter = new long[m / 4 + 1];
            ints = new int[m];
            ints2 = new int[m / 2 + 1];
            codesSeg = segment(codes);
            paddedSeg = segment(padded);
            srcSeg = segment(src);
            lanesSeg = segment(lanes);
            halfSeg = segment(half);
            quarterSeg = segment(quarter);
            intsSeg = segment(ints);
            ints2Seg = segment(ints2);
            wordSeg = segment(words);
        }

        /** Lanes (n pixels of cpad codes) to codes[0, n*C). */
        void fromLanes(int n) {
            if (cpad == channels) {
                copy(lanesSeg, 0, codesSeg, 0, (long) n * cpad);
            } else if (src != null) {
                moveLongs(lanes, cpad / 8, src, channels / 8, n, channels / 8);
                copy(srcSeg, 0, codesSeg, 0, (long) n * channels);
            } else {
                copy(lanesSeg, 0, paddedSeg, 0, (long) n * cpad);
                for (int p = 0; p < n; p++) System.arraycopy(padded, p * cpad, codes, p * channels, channels);
            }
        }

        /** Packs n pixels of code bytes into words from wordOffset. */
        void pack(int n, int[] words, int wordOffset) {
            int bits = channels * k;
            if (dense(channels, k) && n * bits % 32 == 0) {
                // A pixel is a fraction of a word (C = 16 at k = 1, ...): pack the pixels as one dense stream,
                // then split each dense word into its pixels' words, which pads them with zeros.
                int dense = n * bits / 32;
                packStream(codes, n * channels / 8, ints2, 0);
                for (int j = 0; j < dense; j++) half[j] = split(ints2[j], 16);
                if (bits == 16) {
                    copy(halfSeg, 0, wordSeg, 4L * wordOffset, 8L * dense);
                } else {
                    copy(halfSeg, 0, intsSeg, 0, 8L * dense);
                    for (int j = 0; j < 2 * dense; j++) lanes[j] = split(ints[j], 8);
                    copy(lanesSeg, 0, wordSeg, 4L * wordOffset, 16L * dense);
                }
                return;
            }
            byte[] in = codes;
            if (cpad != channels) { // pad each pixel to whole words: padding bytes are never written, so stay zero
                in = padded;
                if (channels % 8 == 0) {
                    padLongs(codes, channels / 8, padded, cpad / 8, n, channels / 8);
                } else {
                    for (int p = 0; p < n; p++) System.arraycopy(codes, p * channels, padded, p * cpad, channels);
                }
            }
            if (k == 8) {
                copy(in == codes ? codesSeg : paddedSeg, 0, wordSeg, 4L * wordOffset, (long) n * cpad);
            } else {
                packStream(in, n * cpad / 8, words, wordOffset); // 32/k divides cpad
            }
        }

        /** Packs the m longs of 8 code bytes each in `in` (k &lt; 8; m a multiple of 4/k... whole words) into out from outOffset. */
        private void packStream(byte[] in, int m, int[] out, int outOffset) {
            switch (k) {
                case 4 -> gather4(in, shift, keep, m, out, outOffset);
                case 2 -> {
                    gather2(in, shift, keep, m, ints);
                    copy(intsSeg, 0, halfSeg, 0, 4L * m);
                    join(half, m / 2, 16, out, outOffset);
                }
                default -> {
                    gather1(in, shift, keep, m, ints);
                    copy(intsSeg, 0, halfSeg, 0, 4L * m);
                    join(half, m / 2, 8, ints2, 0);
                    copy(ints2Seg, 0, quarterSeg, 0, 2L * m);
                    join(quarter, m / 4, 16, out, outOffset);
                }
            }
        }

        /** Unpacks n pixels from words[wordOffset] into code bytes (for k = 8 with the top bit flipped: see values). */
        void unpack(int[] words, int wordOffset, int n) {
            int bits = channels * k;
            if (dense(channels, k) && n * bits % 32 == 0) {
                // The inverse of pack's dense stream: join the pixels' words into dense words, unpack those.
                int dense = n * bits / 32;
                if (bits == 16) {
                    copy(wordSeg, 4L * wordOffset, halfSeg, 0, 8L * dense);
                } else {
                    copy(wordSeg, 4L * wordOffset, lanesSeg, 0, 16L * dense);
                    join(lanes, 2 * dense, 8, ints, 0);
                    copy(intsSeg, 0, halfSeg, 0, 8L * dense);
                }
                join(half, dense, 16, ints2, 0);
                unpackStream(ints2, 0, n * channels / 8);
                copy(lanesSeg, 0, codesSeg, 0, (long) n * channels);
                return;
            }
            if (k == 8) {
                copy(wordSeg, 4L * wordOffset, lanesSeg, 0, (long) n * cpad);
                flipTopBits(lanes, (n * cpad + 7) / 8);
            } else {
                unpackStream(words, wordOffset, n * cpad / 8);
            }
            fromLanes(n);
        }

        /** The m longs of 8 code bytes each (k &lt; 8) from the words of src from srcOffset, into lanes. */
        private void unpackStream(int[] src, int srcOffset, int m) {
            switch (k) {
                case 4 -> spread4(src, srcOffset, m, lanes);
                case 2 -> {
                    split(src, srcOffset, m / 2, 16, half);
                    copy(halfSeg, 0, intsSeg, 0, 4L * m);
                    spread2(ints, 0, m, lanes);
                }
                default -> {
                    split(src, srcOffset, m / 4, 16, quarter);
                    copy(quarterSeg, 0, ints2Seg, 0, 2L * m);
                    split(ints2, 0, m / 2, 8, half);
                    copy(halfSeg, 0, intsSeg, 0, 4L * m);
                    spread1(ints, 0, m, lanes);
                }
            }
        }
    }

    /**
     * Quantizes and packs `pixels` pixels of C channels from x[xOffset] into words from pixel `firstPixel`
     * on, and (where maskWords is not null) their 1-bit STE mask likewise.
     */
    static void quantizePack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel,
            int[] maskWords) {
        int wpp = PackedLayout.wordsPerPixel(channels, k), mpp = PackedLayout.wordsPerPixel(channels, 1);
        int step = Math.min(pixels, pixelsPerChunk(channels, k, maskWords != null));
        Stream codes = new Stream(step, channels, k, words);
        boolean shared = maskWords != null && k < 8; // codes and mask in one byte (bits 0..3 and 6)
        Stream mask = maskWords == null ? null
                : shared ? new Stream(step, channels, 1, maskWords, codes.codes) : new Stream(step, channels, 1, maskWords);
        if (shared) {
            codes.keep = 0x0101010101010101L * ((1 << k) - 1);
            mask.shift = 6;
            mask.keep = 0x0101010101010101L;
        }
        float levels = Quantizer.activationLevels(k);
        for (int p0 = 0; p0 < pixels; p0 += step) {
            int n = Math.min(step, pixels - p0), e = n * channels, from = xOffset + p0 * channels;
            if (mask == null) {
                codes(x, from, e, levels, codes.codes);
            } else {
                if (shared) {
                    codesAndMask(x, from, e, levels, codes.codes);
                } else { // 8-bit codes leave no room for the mask bit: two loops, each with one output
                    codes(x, from, e, levels, codes.codes);
                    mask(x, from, e, mask.codes);
                }
            }
            codes.pack(n, words, (firstPixel + p0) * wpp);
            if (mask != null) mask.pack(n, maskWords, (firstPixel + p0) * mpp);
        }
    }

    /*
     * Clamping without Math.max: s = x + |x| is 2 max(0, x) exactly (+0 for x <= 0; NaN for NaN and -Inf;
     * +Inf from 2^127 up, which the codes and the mask treat like any value above 1). Java's float min/max
     * (NaN, -0 semantics) cost C2 a blend sequence per vector; abs and add are one instruction each.
     * min(2, s) * (levels / 2) is min(1, max(0, x)) * levels rounded the same way (scaling by 2 is exact).
     */

    /** Quantizer.activationCode of each element, as a byte (codes are at most 255). */
    private static void codes(float[] x, int from, int n, float levels, byte[] out) {
        float half = 0.5f * levels;
        for (int i = 0; i < n; i++) {
            float v = x[from + i];
            float s = v + Math.abs(v);
            out[i] = (byte) (int) Quantizer.roundHalfEven(Math.min(2f, s) * half);
        }
    }

    /**
     * The STE mask bit of each element: 0 &lt; s &lt; 2 (Quantizer.activationPassMask of x, NaN included),
     * in float so that the loop vectorises: g = signum(s (2 - s)) is 1 there (s (2 - s) is at least 2^-23
     * or s, never rounding to 0), 0 at s = 0 or 2, -1 above 2 (or for +Inf) and NaN for NaN; (g + |g|) / 2
     * is the bit. (Every value converted stays small: a float-to-int conversion that saturates takes C2 a
     * slow fix-up.)
     */
    private static void mask(float[] x, int from, int n, byte[] mask) {
        for (int i = 0; i < n; i++) {
            float v = x[from + i];
            float s = v + Math.abs(v);
            float g = Math.signum(s * (2f - s));
            mask[i] = (byte) (int) (0.5f * (g + Math.abs(g)));
        }
    }

    /**
     * {@link #codes} (k &lt;= 4) with the {@link #mask} bit as bit 6 of the same byte, in one pass: one
     * conversion and one store stream, not two. A NaN mask term (x NaN or -Inf) makes the byte 0, which is
     * right for both.
     */
    private static void codesAndMask(float[] x, int from, int n, float levels, byte[] out) {
        float half = 0.5f * levels;
        for (int i = 0; i < n; i++) {
            float v = x[from + i];
            float s = v + Math.abs(v);
            float g = Math.signum(s * (2f - s));
            out[i] = (byte) (int) (Quantizer.roundHalfEven(Math.min(2f, s) * half) + 32f * (g + Math.abs(g)));
        }
    }

    /** The values (Quantizer.activationValue) of `pixels` pixels from pixel `firstPixel` of words, into out from outOffset. */
    static void unpackValues(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, k);
        int step = Math.min(pixels, pixelsPerChunk(channels, k, false));
        Stream s = new Stream(step, channels, k, words);
        float levels = Quantizer.activationLevels(k);
        for (int p0 = 0; p0 < pixels; p0 += step) {
            int n = Math.min(step, pixels - p0);
            s.unpack(words, (firstPixel + p0) * wpp, n);
            values(s.codes, n * channels, k, levels, out, outOffset + p0 * channels);
        }
    }

    /** The codes of `pixels` pixels as unsigned bytes (8-bit codes are kept as u - 128 inside: flip the top bit back). */
    static void unpackCodeBytes(int[] words, int firstPixel, int pixels, int channels, int k, byte[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, k);
        int step = Math.min(pixels, pixelsPerChunk(channels, k, false));
        Stream s = new Stream(step, channels, k, words);
        for (int p0 = 0; p0 < pixels; p0 += step) {
            int n = Math.min(step, pixels - p0);
            s.unpack(words, (firstPixel + p0) * wpp, n);
            int m = n * channels, at = outOffset + p0 * channels;
            if (k == 8) {
                for (int i = 0; i < m; i++) out[at + i] = (byte) (s.codes[i] ^ 0x80);
            } else {
                System.arraycopy(s.codes, 0, out, at, m);
            }
        }
    }

    /**
     * u / (2^k - 1) of each code byte, as Quantizer.activationValue computes it. The bytes convert signed
     * (C2 vectorises that, not b &amp; 0xFF): codes below 2^7 as they are, 8-bit codes stored as u - 128.
     */
    private static void values(byte[] codes, int n, int k, float levels, float[] out, int outOffset) {
        if (k == 8) {
            for (int i = 0; i < n; i++) out[outOffset + i] = ((float) codes[i] + 128f) / levels;
        } else {
            for (int i = 0; i < n; i++) out[outOffset + i] = (float) codes[i] / levels;
        }
    }
}
