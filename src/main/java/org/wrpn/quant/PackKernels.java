package org.wrpn.quant;

import java.lang.foreign.MemorySegment;
import java.nio.ByteOrder;

/**
 * The fast quantize+pack and unpack loops behind {@link PackedActivations}: the same codes and words as
 * {@link Quantizer} and {@link PackedLayout}, bit for bit (PackKernelsTest compares them).
 *
 * <p>Plain Java loops that C2 vectorises, one chunk of pixels at a time in cache: (1) a float loop writes
 * one code byte per element; (2) ragged pixels (C not a multiple of 32/k) are spread to whole words with
 * one arraycopy each, their padding bytes staying zero; (3) a block copy reinterprets 8 code bytes as one
 * little-endian long, and a few shifts, ORs and ANDs per long gather its 8 codes into 8k contiguous bits
 * (SWAR); (4) a block copy moves those bits into the words. Unpacking runs the same steps backwards.
 * Every loop has unit stride and no per-element division, modulo or branch, which is what C2 needs to
 * vectorise; the byte reinterpretation needs a little-endian machine, elsewhere the scalar layout code runs.
 */
final class PackKernels {
    private PackKernels() {}

    /** Padded codes per chunk at most (a multiple of 32): a chunk's scratch stays in L1/L2 between the passes. */
    private static final int CHUNK = 8192;

    /** Whether byte arrays reinterpret as little-endian words here (the layout's order). */
    static final boolean LITTLE_ENDIAN = ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;

    /** 8 one-bit codes, one per byte of v, into bits 0..7. */
    static long gather1(long v) {
        long t = v | v >>> 7;
        t |= t >>> 14;
        return t | t >>> 28;
    }

    /** 8 two-bit codes, one per byte of v, into bits 0..15. */
    static long gather2(long v) {
        long t = (v | v >>> 6) & 0x000F000F000F000FL;
        t = (t | t >>> 12) & 0x000000FF000000FFL;
        return t | t >>> 24;
    }

    /** 8 four-bit codes, one per byte of v, into bits 0..31. */
    static long gather4(long v) {
        long t = (v | v >>> 4) & 0x00FF00FF00FF00FFL;
        t = (t | t >>> 8) & 0x0000FFFF0000FFFFL;
        return t | t >>> 16;
    }

    /** Inverse of gather1: bits 0..7 of b (no others set) to one per byte. */
    static long spread1(long b) {
        long t = (b | b << 28) & 0x0000000F0000000FL;
        t = (t | t << 14) & 0x0003000300030003L;
        return (t | t << 7) & 0x0101010101010101L;
    }

    /** Inverse of gather2: bits 0..15 of b (no others set) to one code per byte. */
    static long spread2(long b) {
        long t = (b | b << 24) & 0x000000FF000000FFL;
        t = (t | t << 12) & 0x000F000F000F000FL;
        return (t | t << 6) & 0x0303030303030303L;
    }

    /** Inverse of gather4: bits 0..31 of b (no others set) to one code per byte. */
    static long spread4(long b) {
        long t = (b | b << 16) & 0x0000FFFF0000FFFFL;
        t = (t | t << 8) & 0x00FF00FF00FF00FFL;
        return (t | t << 4) & 0x0F0F0F0F0F0F0F0FL;
    }

    private static int paddedChannels(int channels, int k) {
        return PackedLayout.wordsPerPixel(channels, k) * (32 / k);
    }

    /** Scratch of one call, reused across its chunks. Padding bytes of the padded buffers are never written. */
    private static final class Scratch {
        final byte[] codes, padded, maskCodes, maskPadded, bytes;
        final long[] lanes;
        final short[] halves;

        Scratch(int pixels, int channels, int k, boolean mask) {
            int cpad = paddedChannels(channels, k), mpad = paddedChannels(channels, 1);
            codes = new byte[pixels * channels];
            padded = cpad == channels ? codes : new byte[pixels * cpad];
            maskCodes = mask ? new byte[pixels * channels] : null;
            maskPadded = !mask ? null : mpad == channels ? maskCodes : new byte[pixels * mpad];
            int most = Math.max(cpad, mask ? mpad : 0);
            lanes = new long[pixels * most / 8];
            halves = new short[pixels * most / 8];
            bytes = new byte[pixels * most / 8];
        }
    }

    /** Pixels per chunk: CHUNK padded codes (of the codes and of the mask, whichever is wider), at least one pixel. */
    private static int pixelsPerChunk(int channels, int k, boolean mask) {
        int most = Math.max(paddedChannels(channels, k), mask ? paddedChannels(channels, 1) : 0);
        return Math.max(1, CHUNK / most);
    }

    /**
     * Quantizes and packs `pixels` pixels of C channels from x[xOffset] into words from pixel `firstPixel`
     * on, and (where maskWords is not null) their 1-bit STE mask likewise.
     */
    static void quantizePack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel,
            int[] maskWords) {
        int wpp = PackedLayout.wordsPerPixel(channels, k), mpp = PackedLayout.wordsPerPixel(channels, 1);
        int step = Math.min(pixels, pixelsPerChunk(channels, k, maskWords != null));
        Scratch s = new Scratch(step, channels, k, maskWords != null);
        float levels = Quantizer.activationLevels(k);
        for (int p0 = 0; p0 < pixels; p0 += step) {
            int n = Math.min(step, pixels - p0), e = n * channels, from = xOffset + p0 * channels;
            if (maskWords == null) {
                codes(x, from, e, levels, s.codes);
            } else {
                codesAndMask(x, from, e, levels, s.codes, s.maskCodes);
            }
            pack(s, s.codes, s.padded, n, channels, k, words, (firstPixel + p0) * wpp);
            if (maskWords != null) pack(s, s.maskCodes, s.maskPadded, n, channels, 1, maskWords, (firstPixel + p0) * mpp);
        }
    }

    /** Quantizer.activationCode of each element, as a byte (codes are at most 255). */
    private static void codes(float[] x, int from, int n, float levels, byte[] out) {
        for (int i = 0; i < n; i++) {
            float c = Math.min(1f, Math.max(0f, x[from + i]));
            out[i] = (byte) (int) Quantizer.roundHalfEven(c * levels);
        }
    }

    /** {@link #codes} and the STE mask bit (Quantizer.activationPassMask) of each element in one pass. */
    private static void codesAndMask(float[] x, int from, int n, float levels, byte[] out, byte[] mask) {
        for (int i = 0; i < n; i++) {
            float v = x[from + i];
            float c = Math.min(1f, Math.max(0f, v));
            out[i] = (byte) (int) Quantizer.roundHalfEven(c * levels);
            mask[i] = (byte) -Quantizer.activationPassMask(v);
        }
    }

    /** Packs n pixels of C code bytes into words from wordOffset (padding codes zero). */
    private static void pack(Scratch s, byte[] codes, byte[] padded, int n, int channels, int k, int[] words, int wordOffset) {
        int cpad = paddedChannels(channels, k);
        if (padded != codes) {
            for (int p = 0; p < n; p++) System.arraycopy(codes, p * channels, padded, p * cpad, channels);
        }
        int count = n * cpad;
        MemorySegment out = MemorySegment.ofArray(words);
        long outByte = 4L * wordOffset;
        if (k == 8) {
            MemorySegment.copy(MemorySegment.ofArray(padded), 0, out, outByte, count);
            return;
        }
        int m = count / 8; // 32/k divides cpad, and 32/k >= 8
        long[] lanes = s.lanes;
        MemorySegment.copy(MemorySegment.ofArray(padded), 0, MemorySegment.ofArray(lanes), 0, count);
        if (k == 4) {
            for (int j = 0; j < m; j++) words[wordOffset + j] = (int) gather4(lanes[j]);
        } else if (k == 2) {
            short[] h = s.halves;
            for (int j = 0; j < m; j++) h[j] = (short) gather2(lanes[j]);
            MemorySegment.copy(MemorySegment.ofArray(h), 0, out, outByte, 2L * m);
        } else {
            byte[] b = s.bytes;
            for (int j = 0; j < m; j++) b[j] = (byte) gather1(lanes[j]);
            MemorySegment.copy(MemorySegment.ofArray(b), 0, out, outByte, m);
        }
    }

    /** The values (Quantizer.activationValue) of `pixels` pixels from pixel `firstPixel` of words, into out from outOffset. */
    static void unpackValues(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, k);
        int step = Math.min(pixels, pixelsPerChunk(channels, k, false));
        Scratch s = new Scratch(step, channels, k, false);
        float levels = Quantizer.activationLevels(k);
        for (int p0 = 0; p0 < pixels; p0 += step) {
            int n = Math.min(step, pixels - p0);
            unpack(s, words, (firstPixel + p0) * wpp, n, channels, k);
            values(s.codes, n * channels, levels, out, outOffset + p0 * channels);
        }
    }

    /** u / (2^k - 1) of each code byte, as Quantizer.activationValue computes it. */
    private static void values(byte[] codes, int n, float levels, float[] out, int outOffset) {
        for (int i = 0; i < n; i++) out[outOffset + i] = (float) (codes[i] & 0xFF) / levels;
    }

    /** Unpacks n pixels from words[wordOffset] into s.codes (C bytes a pixel). */
    private static void unpack(Scratch s, int[] words, int wordOffset, int n, int channels, int k) {
        int cpad = paddedChannels(channels, k), count = n * cpad, m = count / 8;
        MemorySegment in = MemorySegment.ofArray(words);
        long inByte = 4L * wordOffset;
        byte[] padded = s.padded;
        if (k == 8) {
            MemorySegment.copy(in, inByte, MemorySegment.ofArray(padded), 0, count);
        } else {
            long[] lanes = s.lanes;
            if (k == 4) {
                for (int j = 0; j < m; j++) lanes[j] = spread4(words[wordOffset + j] & 0xFFFFFFFFL);
            } else if (k == 2) {
                short[] h = s.halves;
                MemorySegment.copy(in, inByte, MemorySegment.ofArray(h), 0, 2L * m);
                for (int j = 0; j < m; j++) lanes[j] = spread2(h[j] & 0xFFFFL);
            } else {
                byte[] b = s.bytes;
                MemorySegment.copy(in, inByte, MemorySegment.ofArray(b), 0, m);
                for (int j = 0; j < m; j++) lanes[j] = spread1(b[j] & 0xFFL);
            }
            MemorySegment.copy(MemorySegment.ofArray(lanes), 0, MemorySegment.ofArray(padded), 0, count);
        }
        if (padded != s.codes) {
            for (int p = 0; p < n; p++) System.arraycopy(padded, p * cpad, s.codes, p * channels, channels);
        }
    }
}
