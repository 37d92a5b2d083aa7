package org.wrpn.quant;

import java.lang.foreign.MemorySegment;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteOrder;

/**
 * The SWAR steps of {@link PackKernels} and the loops that apply them, one loop a method (C2 compiles and
 * vectorises small methods sooner and more reliably). A lane is 8 code bytes read as a little-endian long;
 * gather puts its 8 k-bit codes side by side, join pairs two b-bit fields (at bits 0 and 32 of a long) into
 * 2b bits; spread and split undo them.
 */
final class PackLoops {
    private PackLoops() {}

    /** 8 code bytes as one long (C2 vectorises loops that read through it, with no copy first). */
    private static final VarHandle LONG = MethodHandles.byteArrayViewVarHandle(long[].class, ByteOrder.LITTLE_ENDIAN);

    /** 8 one-bit codes, one per byte of v, into bits 0..7 (no other bits set). */
    static long gather1(long v) {
        long t = v | v >>> 7;
        t |= t >>> 14;
        return (t | t >>> 28) & 0xFF;
    }

    /** 8 two-bit codes, one per byte of v, into bits 0..15 (the low 32 bits hold no others). */
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

    /** Two b-bit fields, at bit 0 and bit 32 of v, into bits 0..2b-1 (b <= 16). */
    static int join(long v, int b) {
        return (int) (v | v >>> (32 - b));
    }

    /** Inverse of join: bits 0..2b-1 of w to two b-bit fields at bit 0 and bit 32. */
    static long split(int w, int b) {
        long v = w & 0xFFFFFFFFL;
        long field = (1L << b) - 1;
        return (v | v << (32 - b)) & (field | field << 32);
    }

    /** Raw bytes from one primitive array to another (the reinterpretation: little-endian here). */
    static void copy(MemorySegment src, long srcByte, MemorySegment dst, long dstByte, long bytes) {
        MemorySegment.copy(src, srcByte, dst, dstByte, bytes);
    }

    /** The segment of an array, or null for none. */
    static MemorySegment segment(Object array) {
        return switch (array) {
            case null -> null;
            case byte[] a -> MemorySegment.ofArray(a);
            case int[] a -> MemorySegment.ofArray(a);
            case long[] a -> MemorySegment.ofArray(a);
            default -> throw new IllegalArgumentException(array.getClass().getName());
        };
    }

    /** n pixels of `count` longs from stride a in src to stride b in dst; the usual one or two longs unrolled. */
    static void moveLongs(long[] src, int a, long[] dst, int b, int n, int count) {
        if (count == 1) {
            for (int p = 0; p < n; p++) dst[p * b] = src[p * a];
        } else if (count == 2) {
            for (int p = 0; p < n; p++) {
                dst[p * b] = src[p * a];
                dst[p * b + 1] = src[p * a + 1];
            }
        } else {
            for (int p = 0; p < n; p++) System.arraycopy(src, p * a, dst, p * b, count);
        }
    }

    /** The codes of 8 bytes of in at bits shift.. under keep (see codesAndMask), as one long. */
    static long lane(byte[] in, int j, int shift, long keep) {
        return ((long) LONG.get(in, 8 * j) >>> shift) & keep;
    }

    static void gather4(byte[] in, int shift, long keep, int m, int[] out, int outOffset) {
        for (int j = 0; j < m; j++) out[outOffset + j] = (int) gather4(lane(in, j, shift, keep));
    }

    static void gather2(byte[] in, int shift, long keep, int m, int[] out) {
        for (int j = 0; j < m; j++) out[j] = (int) gather2(lane(in, j, shift, keep));
    }

    static void gather1(byte[] in, int shift, long keep, int m, int[] out) {
        for (int j = 0; j < m; j++) out[j] = (int) gather1(lane(in, j, shift, keep));
    }

    /** moveLongs on byte arrays read as longs: n pixels of `count` longs from stride a in src to stride b in dst. */
    static void padLongs(byte[] src, int a, byte[] dst, int b, int n, int count) {
        if (count == 1) {
            for (int p = 0; p < n; p++) LONG.set(dst, 8 * p * b, (long) LONG.get(src, 8 * p * a));
        } else if (count == 2) {
            for (int p = 0; p < n; p++) {
                LONG.set(dst, 8 * p * b, (long) LONG.get(src, 8 * p * a));
                LONG.set(dst, 8 * p * b + 8, (long) LONG.get(src, 8 * p * a + 8));
            }
        } else {
            for (int p = 0; p < n; p++) System.arraycopy(src, 8 * p * a, dst, 8 * p * b, 8 * count);
        }
    }

    static void join(long[] in, int m, int b, int[] out, int outOffset) {
        for (int j = 0; j < m; j++) out[outOffset + j] = join(in[j], b);
    }

    static void split(int[] in, int inOffset, int m, int b, long[] out) {
        for (int j = 0; j < m; j++) out[j] = split(in[inOffset + j], b);
    }

    static void spread4(int[] in, int inOffset, int m, long[] out) {
        for (int j = 0; j < m; j++) out[j] = spread4(in[inOffset + j] & 0xFFFFFFFFL);
    }

    static void spread2(int[] in, int inOffset, int m, long[] out) {
        for (int j = 0; j < m; j++) out[j] = spread2(in[inOffset + j] & 0xFFFFFFFFL);
    }

    static void spread1(int[] in, int inOffset, int m, long[] out) {
        for (int j = 0; j < m; j++) out[j] = spread1(in[inOffset + j] & 0xFFFFFFFFL);
    }

    static void flipTopBits(long[] lanes, int m) {
        for (int j = 0; j < m; j++) lanes[j] ^= 0x8080808080808080L;
    }
}
