package org.wrpn.quant;

import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.I2B;
import static jdk.incubator.vector.VectorOperators.L2B;
import static jdk.incubator.vector.VectorOperators.L2I;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.NE;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;
import static org.wrpn.quant.VectorPack.B;
import static org.wrpn.quant.VectorPack.B128;
import static org.wrpn.quant.VectorPack.B64;
import static org.wrpn.quant.VectorPack.HALF;
import static org.wrpn.quant.VectorPack.I;
import static org.wrpn.quant.VectorPack.L;
import static org.wrpn.quant.VectorPack.SECOND_WORD;
import static org.wrpn.quant.VectorPack.SHIFT2;
import static org.wrpn.quant.VectorPack.SHIFT4;
import static org.wrpn.quant.VectorPack.WORDS8;
import static org.wrpn.quant.VectorPack.get;
import static org.wrpn.quant.VectorPack.put;

import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;

/**
 * Max pooling on packed k-bit codes with the Vector API (codes compare as their values do): a group of
 * L channels of an output pixel at a time, each window pixel's codes unpacked into int lanes as
 * {@link VectorPack}'s unpack loops do, the maximum and its input index kept per lane (a later equal code does
 * not replace it: the first maximum wins), and the maxima packed as VectorPack's pack loops pack codes.
 * Lanes past a ragged group's channels are zeroed before packing: the words' padding stays 0. The same words
 * and indices as the scalar loop of the CPU backend (VectorPackTest compares them). One loop per k, for
 * VectorPack's reasons.
 */
final class VectorPool {
    private VectorPool() {}

    private static final IntVector LANE = IntVector.zero(I).addIndex(1);

    /** Window and image geometry: images of h x w pixels and c channels, square windows. */
    record Geometry(int h, int w, int c, int window, int stride, int pad, int outH, int outW) {}

    static void maxPool(int[] x, int[] y, int[] arg, Geometry g, int k, int n0, int n1) {
        switch (k) {
            case 8 -> pool8(x, y, arg, g, n0, n1);
            case 4 -> pool4(x, y, arg, g, n0, n1);
            case 2 -> pool2(x, y, arg, g, n0, n1);
            default -> pool1(x, y, arg, g, n0, n1);
        }
    }

    /**
     * The input pixels of output pixel op's window that lie inside the image, in row order, into pixels; their
     * count. Each loop below walks them for every group of L channels (n lanes in use).
     */
    private static int windowPixels(Geometry g, int op, int[] pixels) {
        int img = op / (g.outH() * g.outW()), oy = op / g.outW() % g.outH(), ox = op % g.outW(), count = 0;
        for (int ky = 0; ky < g.window(); ky++) {
            int iy = oy * g.stride() - g.pad() + ky;
            if (iy < 0 || iy >= g.h()) continue;
            for (int kx = 0; kx < g.window(); kx++) {
                int ix = ox * g.stride() - g.pad() + kx;
                if (ix >= 0 && ix < g.w()) pixels[count++] = (img * g.h() + iy) * g.w() + ix;
            }
        }
        return count;
    }

    private static void pool8(int[] x, int[] y, int[] arg, Geometry g, int n0, int n1) {
        int c = g.c(), wpp = PackedLayout.wordsPerPixel(c, 8);
        int[] window = new int[g.window() * g.window()];
        for (int op = n0 * g.outH() * g.outW(), end = n1 * g.outH() * g.outW(); op < end; op++) {
            int pixels = windowPixels(g, op, window);
            for (int ch = 0; ch < c; ch += L) {
                int n = Math.min(L, c - ch);
                IntVector best = IntVector.zero(I), at = best;
                for (int j = 0; j < pixels; j++) {
                    int pixel = window[j], xi = pixel * wpp + ch / 4;
                    IntVector words = n == L ? IntVector.fromArray(WORDS8, x, xi)
                            : IntVector.fromArray(WORDS8, x, xi, WORDS8.indexInRange(xi, pixel * wpp + wpp));
                    IntVector v = (IntVector) words.reinterpretAsBytes().convertShape(ZERO_EXTEND_B2I, I, 0);
                    IntVector index = LANE.add(pixel * c + ch);
                    if (j == 0) {
                        best = v;
                        at = index;
                    } else {
                        VectorMask<Integer> higher = v.compare(GT, best);
                        best = best.blend(v, higher);
                        at = at.blend(index, higher);
                    }
                }
                VectorMask<Integer> in = I.indexInRange(0, n);
                at.intoArray(arg, op * c + ch, in);
                IntVector codes = ((ByteVector) IntVector.zero(I).blend(best, in).convertShape(I2B, B, 0)).reinterpretAsInts();
                int yi = op * wpp + ch / 4;
                if (n == L) {
                    codes.intoArray(y, yi);
                } else {
                    codes.intoArray(y, yi, WORDS8.indexInRange(yi, op * wpp + wpp));
                }
            }
        }
    }

    private static void pool4(int[] x, int[] y, int[] arg, Geometry g, int n0, int n1) {
        int c = g.c(), wpp = PackedLayout.wordsPerPixel(c, 4);
        int[] window = new int[g.window() * g.window()];
        for (int op = n0 * g.outH() * g.outW(), end = n1 * g.outH() * g.outW(); op < end; op++) {
            int pixels = windowPixels(g, op, window);
            for (int ch = 0; ch < c; ch += L) {
                int n = Math.min(L, c - ch);
                IntVector best = IntVector.zero(I), at = best;
                for (int j = 0; j < pixels; j++) {
                    int pixel = window[j];
                    long bits = get(x, pixel * wpp, ch, 4, pixel * wpp + wpp);
                    IntVector u = IntVector.broadcast(I, (int) bits);
                    if (L == 16) u = u.blend((int) (bits >>> 32), SECOND_WORD);
                    IntVector v = u.lanewise(LSHR, SHIFT4).and(15);
                    IntVector index = LANE.add(pixel * c + ch);
                    if (j == 0) {
                        best = v;
                        at = index;
                    } else {
                        VectorMask<Integer> higher = v.compare(GT, best);
                        best = best.blend(v, higher);
                        at = at.blend(index, higher);
                    }
                }
                VectorMask<Integer> in = I.indexInRange(0, n);
                at.intoArray(arg, op * c + ch, in);
                LongVector pairs = (LongVector) IntVector.zero(I).blend(best, in).reinterpretAsLongs();
                LongVector bytes = pairs.or(pairs.lanewise(LSHR, 28)).and(0xFFL);
                int yw = op * wpp;
                if (n < L) {
                    put(y, yw, ch, 4, ((ByteVector) bytes.convertShape(L2B, B128, 0)).reinterpretAsLongs().lane(0), yw + wpp);
                } else if (L == 16) {
                    ((ByteVector) bytes.convertShape(L2B, B64, 0)).reinterpretAsInts().intoArray(y, yw + ch / 8);
                } else {
                    y[yw + ch / 8] = ((ByteVector) bytes.convertShape(L2B, B128, 0)).reinterpretAsInts().lane(0);
                }
            }
        }
    }

    private static void pool2(int[] x, int[] y, int[] arg, Geometry g, int n0, int n1) {
        int c = g.c(), wpp = PackedLayout.wordsPerPixel(c, 2);
        int[] window = new int[g.window() * g.window()];
        for (int op = n0 * g.outH() * g.outW(), end = n1 * g.outH() * g.outW(); op < end; op++) {
            int pixels = windowPixels(g, op, window);
            for (int ch = 0; ch < c; ch += L) {
                int n = Math.min(L, c - ch);
                IntVector best = IntVector.zero(I), at = best;
                for (int j = 0; j < pixels; j++) {
                    int pixel = window[j];
                    IntVector v = IntVector.broadcast(I, (int) get(x, pixel * wpp, ch, 2, pixel * wpp + wpp)).lanewise(LSHR, SHIFT2).and(3);
                    IntVector index = LANE.add(pixel * c + ch);
                    if (j == 0) {
                        best = v;
                        at = index;
                    } else {
                        VectorMask<Integer> higher = v.compare(GT, best);
                        best = best.blend(v, higher);
                        at = at.blend(index, higher);
                    }
                }
                VectorMask<Integer> in = I.indexInRange(0, n);
                at.intoArray(arg, op * c + ch, in);
                LongVector pairs = (LongVector) IntVector.zero(I).blend(best, in).reinterpretAsLongs();
                LongVector nibbles = pairs.or(pairs.lanewise(LSHR, 30)).and(0xFL);
                LongVector quads = (LongVector) nibbles.convertShape(L2I, HALF, 0).reinterpretAsLongs();
                LongVector bytes = quads.or(quads.lanewise(LSHR, 28)).and(0xFFL);
                int group = L == 16 ? ((ByteVector) bytes.convertShape(L2B, B128, 0)).reinterpretAsInts().lane(0)
                        : (int) (bytes.lane(0) | bytes.lane(1) << 8);
                int yw = op * wpp;
                if (L == 16 && n == L) {
                    y[yw + ch / 16] = group;
                } else {
                    put(y, yw, ch, 2, group & 0xFFFFFFFFL, yw + wpp);
                }
            }
        }
    }

    private static void pool1(int[] x, int[] y, int[] arg, Geometry g, int n0, int n1) {
        int c = g.c(), wpp = PackedLayout.wordsPerPixel(c, 1);
        IntVector one = IntVector.broadcast(I, 1);
        int[] window = new int[g.window() * g.window()];
        for (int op = n0 * g.outH() * g.outW(), end = n1 * g.outH() * g.outW(); op < end; op++) {
            int pixels = windowPixels(g, op, window);
            for (int ch = 0; ch < c; ch += L) {
                int n = Math.min(L, c - ch);
                IntVector best = IntVector.zero(I), at = best;
                for (int j = 0; j < pixels; j++) {
                    int pixel = window[j];
                    IntVector v = IntVector.zero(I).blend(one, VectorMask.fromLong(I, get(x, pixel * wpp, ch, 1, pixel * wpp + wpp)));
                    IntVector index = LANE.add(pixel * c + ch);
                    if (j == 0) {
                        best = v;
                        at = index;
                    } else {
                        VectorMask<Integer> higher = v.compare(GT, best);
                        best = best.blend(v, higher);
                        at = at.blend(index, higher);
                    }
                }
                VectorMask<Integer> in = I.indexInRange(0, n);
                at.intoArray(arg, op * c + ch, in);
                put(y, op * wpp, ch, 1, best.compare(NE, 0).and(in).toLong(), 0);
            }
        }
    }
}
