package org.wrpn.quant;

import static jdk.incubator.vector.VectorOperators.GE;
import static jdk.incubator.vector.VectorOperators.GT;
import static jdk.incubator.vector.VectorOperators.I2B;
import static jdk.incubator.vector.VectorOperators.I2F;
import static jdk.incubator.vector.VectorOperators.L2B;
import static jdk.incubator.vector.VectorOperators.L2I;
import static jdk.incubator.vector.VectorOperators.LSHR;
import static jdk.incubator.vector.VectorOperators.ZERO_EXTEND_B2I;

import java.nio.ByteOrder;
import jdk.incubator.vector.ByteVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.IntVector;
import jdk.incubator.vector.LongVector;
import jdk.incubator.vector.VectorMask;
import jdk.incubator.vector.VectorShape;
import jdk.incubator.vector.VectorSpecies;

/**
 * Quantize+pack and unpack with the JDK's Vector API (jdk.incubator.vector), the fast path of
 * {@link PackedActivations} where the module is present: the same codes, mask and words as {@link Quantizer}
 * and {@link PackedLayout}, bit for bit (VectorPackTest compares them with the test reference).
 *
 * <p>One pass over the floats, a group of L channels (a vector: 8 or 16 floats) at a time, each pixel's groups in
 * order, the last one ragged where L does not divide C (a masked load: its missing lanes read as 0, which gives
 * code 0 and mask 0, the padding). Codes as Quantizer computes them, without a conversion (see the loops);
 * 8-bit codes narrow to L bytes, stored as L/4 words; k &lt; 8 codes become L k bits (1 bit: one compare, x &gt;
 * 1/2; 2 and 4 bits: the int lanes read as long lanes, so that a shift and an OR join two neighbours' codes,
 * narrowed and joined again down to bytes), stored as whole words where a group fills them, else by
 * {@link #put}. The STE mask is two compares, 0 &lt; x &lt; 1, as L bits. Unpacking broadcasts each group's bits
 * to the lanes and shifts each lane's code down (8-bit codes: L bytes widened), then divides by 2^k - 1 as
 * Quantizer.activationValue does. Where no stream has padding (C a multiple of L and of 32/k, and of 32 with the
 * mask) a range of pixels is one long pixel.
 *
 * <p>No allocation and no branch per element. No vector crosses a method boundary (each loop loads and stores
 * its own), and each k has a loop of its own: C2 boxes a vector that crosses a call it did not inline, which
 * costs a hundred times the work, and whether it inlines depends on profiles that a shared loop shares between
 * bit widths.
 */
final class VectorPack {
    private VectorPack() {}

    static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    /** Lanes of a vector: channels per group. */
    static final int L = F.length();
    static final VectorSpecies<Integer> I = F.withLanes(int.class);
    /** L bytes: a group's 8-bit codes, and L/4 ints: their words. */
    static final VectorSpecies<Byte> B = VectorSpecies.of(byte.class, VectorShape.forBitSize(Math.max(64, 8 * L)));
    static final VectorSpecies<Integer> WORDS8 = B.withLanes(int.class);
    /** L/2 ints: the 2-bit codes' second join. */
    static final VectorSpecies<Integer> HALF = VectorSpecies.of(int.class, VectorShape.forBitSize(16 * L));
    /** Up to 16 bytes, read back as a long (C2 has no vector of one long), and 8 bytes, stored as 2 ints. */
    static final VectorSpecies<Byte> B128 = ByteVector.SPECIES_128, B64 = ByteVector.SPECIES_64;
    /** 2^23: (v + 2^23) - 2^23 rounds v in [0, 2^22] half to even, as Quantizer.roundHalfEven. */
    private static final float ROUNDER = 8388608f;
    /** Per lane j, the shift of its code in its word (k = 2: 2j; k = 4: 4j mod 32). */
    static final IntVector SHIFT2 = IntVector.fromArray(I, shifts(2), 0), SHIFT4 = IntVector.fromArray(I, shifts(4), 0);
    /** Lanes whose 4-bit codes sit in a group's second word (L = 16). */
    static final VectorMask<Integer> SECOND_WORD = VectorMask.fromLong(I, -1L << 8);

    private static int[] shifts(int k) {
        int[] s = new int[L];
        for (int j = 0; j < L; j++) s[j] = j * k % 32;
        return s;
    }

    /** Whether this machine's vectors fit the groups above (8 or 16 floats: AVX2, AVX-512) and byte order. */
    static boolean usable() {
        return (L == 8 || L == 16) && ByteOrder.nativeOrder() == ByteOrder.LITTLE_ENDIAN;
    }

    /** Whether `pixels` pixels are one stream: no padding in the words (nor in the mask's). */
    private static boolean flat(int channels, int k, boolean mask) {
        return channels % L == 0 && channels * k % 32 == 0 && (!mask || channels % 32 == 0);
    }

    /**
     * Quantizes and packs `pixels` pixels of C channels from x[xOffset] into words from pixel `firstPixel` on,
     * and (where maskWords is not null) their 1-bit STE mask likewise.
     */
    static void quantizePack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int firstPixel,
            int[] maskWords) {
        int wpp = PackedLayout.wordsPerPixel(channels, k), mpp = PackedLayout.wordsPerPixel(channels, 1);
        int w = firstPixel * wpp, m = firstPixel * mpp;
        if (pixels > 1 && flat(channels, k, maskWords != null)) {
            pack(x, xOffset, 1, pixels * channels, k, words, w, maskWords, m);
        } else {
            pack(x, xOffset, pixels, channels, k, words, w, maskWords, m);
        }
    }

    private static void pack(float[] x, int xOffset, int pixels, int channels, int k, int[] words, int wordOffset,
            int[] maskWords, int maskOffset) {
        switch (k) { // a loop each: C2 compiles each alone, with the profile of that k only
            case 8 -> pack8(x, xOffset, pixels, channels, words, wordOffset, maskWords, maskOffset);
            case 4 -> pack4(x, xOffset, pixels, channels, words, wordOffset, maskWords, maskOffset);
            case 2 -> pack2(x, xOffset, pixels, channels, words, wordOffset, maskWords, maskOffset);
            default -> pack1(x, xOffset, pixels, channels, words, wordOffset, maskWords, maskOffset);
        }
    }

    /*
     * The loops walk the groups in order, a group (n = min(L, C - c) channels from channel c of the pixel whose
     * floats start at x[xp] and words at words[wi]) an iteration, then on to the next pixel when c passes C. A
     * group loads n floats (n < L: a masked load, missing lanes 0). Codes as Quantizer.activationCode: clamp with
     * two compares (v > 0 keeps v, else 0, so NaN gives 0; v >= 1 gives 1), scale, and add 2^23, which rounds half
     * to even and leaves the code in the low bits of the float: those bits ANDed with 2^k - 1 are the code, no
     * conversion needed. The STE mask is v > 0 and not v >= 1.
     */

    private static void pack8(float[] x, int xOffset, int pixels, int channels, int[] words, int wordOffset, int[] maskWords,
            int maskOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 8), mpp = PackedLayout.wordsPerPixel(channels, 1);
        FloatVector zero = FloatVector.zero(F);
        for (int p = 0, c = 0, xp = xOffset, wi = wordOffset, mi = maskOffset; p < pixels;) {
            int n = Math.min(L, channels - c), at = wi + c / 4;
            FloatVector v = n == L ? FloatVector.fromArray(F, x, xp + c) : FloatVector.fromArray(F, x, xp + c, F.indexInRange(0, n));
            VectorMask<Float> above0 = v.compare(GT, 0f), atLeast1 = v.compare(GE, 1f);
            FloatVector r = zero.blend(v, above0).blend(1f, atLeast1).mul(255f).add(ROUNDER);
            IntVector w = ((ByteVector) r.reinterpretAsInts().convertShape(I2B, B, 0)).reinterpretAsInts(); // L bytes: L/4 words
            if (n == L) {
                w.intoArray(words, at);
            } else {
                w.intoArray(words, at, WORDS8.indexInRange(at, wi + wpp));
            }
            if (maskWords != null) put(maskWords, mi, c, 1, above0.andNot(atLeast1).toLong(), 0);
            if ((c += L) >= channels) {
                c = 0;
                p++;
                xp += channels;
                wi += wpp;
                mi += mpp;
            }
        }
    }

    /** The int lanes read as long lanes (lanes 2i and 2i+1 at bits 0 and 32 of long i): two codes joined per long lane. */
    private static void pack4(float[] x, int xOffset, int pixels, int channels, int[] words, int wordOffset, int[] maskWords,
            int maskOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 4), mpp = PackedLayout.wordsPerPixel(channels, 1);
        FloatVector zero = FloatVector.zero(F);
        for (int p = 0, c = 0, xp = xOffset, wi = wordOffset, mi = maskOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            FloatVector v = n == L ? FloatVector.fromArray(F, x, xp + c) : FloatVector.fromArray(F, x, xp + c, F.indexInRange(0, n));
            VectorMask<Float> above0 = v.compare(GT, 0f), atLeast1 = v.compare(GE, 1f);
            FloatVector r = zero.blend(v, above0).blend(1f, atLeast1).mul(15f).add(ROUNDER);
            LongVector pairs = (LongVector) r.reinterpretAsInts().and(15).reinterpretAsLongs();
            LongVector bytes = pairs.or(pairs.lanewise(LSHR, 28)).and(0xFFL);
            if (n < L) {
                put(words, wi, c, 4, ((ByteVector) bytes.convertShape(L2B, B128, 0)).reinterpretAsLongs().lane(0), wi + wpp);
            } else if (L == 16) { // a whole group is whole words: stored as a vector, or a lane (L = 8), not through put
                ((ByteVector) bytes.convertShape(L2B, B64, 0)).reinterpretAsInts().intoArray(words, wi + c / 8);
            } else {
                words[wi + c / 8] = ((ByteVector) bytes.convertShape(L2B, B128, 0)).reinterpretAsInts().lane(0);
            }
            if (maskWords != null) put(maskWords, mi, c, 1, above0.andNot(atLeast1).toLong(), 0);
            if ((c += L) >= channels) {
                c = 0;
                p++;
                xp += channels;
                wi += wpp;
                mi += mpp;
            }
        }
    }

    /** pack4's join twice: 2 codes to 4 bits, then 2 of those to a byte. */
    private static void pack2(float[] x, int xOffset, int pixels, int channels, int[] words, int wordOffset, int[] maskWords,
            int maskOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 2), mpp = PackedLayout.wordsPerPixel(channels, 1);
        FloatVector zero = FloatVector.zero(F);
        for (int p = 0, c = 0, xp = xOffset, wi = wordOffset, mi = maskOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            FloatVector v = n == L ? FloatVector.fromArray(F, x, xp + c) : FloatVector.fromArray(F, x, xp + c, F.indexInRange(0, n));
            VectorMask<Float> above0 = v.compare(GT, 0f), atLeast1 = v.compare(GE, 1f);
            FloatVector r = zero.blend(v, above0).blend(1f, atLeast1).mul(3f).add(ROUNDER);
            LongVector pairs = (LongVector) r.reinterpretAsInts().and(3).reinterpretAsLongs();
            LongVector nibbles = pairs.or(pairs.lanewise(LSHR, 30)).and(0xFL);
            LongVector quads = (LongVector) nibbles.convertShape(L2I, HALF, 0).reinterpretAsLongs();
            LongVector bytes = quads.or(quads.lanewise(LSHR, 28)).and(0xFFL);
            // L = 16: 4 bytes, narrowed; L = 8: 2, read as lanes (C2 has no vector of 2 bytes)
            int group = L == 16 ? ((ByteVector) bytes.convertShape(L2B, B128, 0)).reinterpretAsInts().lane(0)
                    : (int) (bytes.lane(0) | bytes.lane(1) << 8);
            if (L == 16 && n == L) { // a whole group is a word
                words[wi + c / 16] = group;
            } else {
                put(words, wi, c, 2, group & 0xFFFFFFFFL, wi + wpp);
            }
            if (maskWords != null) put(maskWords, mi, c, 1, above0.andNot(atLeast1).toLong(), 0);
            if ((c += L) >= channels) {
                c = 0;
                p++;
                xp += channels;
                wi += wpp;
                mi += mpp;
            }
        }
    }

    /** rint(clamp(x, 0, 1)) is 1 exactly above 1/2 (the tie rounds to 0; NaN fails the compare). */
    private static void pack1(float[] x, int xOffset, int pixels, int channels, int[] words, int wordOffset, int[] maskWords,
            int maskOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 1);
        for (int p = 0, c = 0, xp = xOffset, wi = wordOffset, mi = maskOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            FloatVector v = n == L ? FloatVector.fromArray(F, x, xp + c) : FloatVector.fromArray(F, x, xp + c, F.indexInRange(0, n));
            put(words, wi, c, 1, v.compare(GT, 0.5f).toLong(), 0);
            if (maskWords != null) put(maskWords, mi, c, 1, v.compare(GT, 0f).andNot(v.compare(GE, 1f)).toLong(), 0);
            if ((c += L) >= channels) {
                c = 0;
                p++;
                xp += channels;
                wi += wpp;
                mi += wpp;
            }
        }
    }

    /**
     * Stores the L k bits of the group at channel c (k &lt; 8; 8, 16, 32 or 64 bits) in a pixel's words, from
     * words[w] up to before words[end] (in words, not bits: no overflow at 2^29 elements). Groups fill a pixel's
     * bits in order and either divides the other with 32, so every word starts a group: that group writes it
     * whole, the next ones OR into it.
     */
    static void put(int[] words, int w, int c, int k, long bits, int end) {
        int per = 32 / k, at = w + c / per, shift = c % per * k;
        if (shift == 0) {
            words[at] = (int) bits;
        } else {
            words[at] |= (int) bits << shift;
        }
        if (L * k == 64 && at + 1 < end) words[at + 1] = (int) (bits >>> 32);
    }

    /**
     * The values (Quantizer.activationValue) of `pixels` pixels from pixel `firstPixel` of words, into out
     * from outOffset.
     */
    static void unpackValues(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
        unpack(words, firstPixel, pixels, channels, k, (1 << k) - 1, out, outOffset);
    }

    /** The codes themselves as floats (u, not its value): what the CPU's quantized kernels stage. */
    static void unpackCodeFloats(int[] words, int firstPixel, int pixels, int channels, int k, float[] out, int outOffset) {
        unpack(words, firstPixel, pixels, channels, k, 1, out, outOffset);
    }

    /** Each code u as u / divisor (a division, as Quantizer.activationValue; by 1 it is exact). */
    private static void unpack(int[] words, int firstPixel, int pixels, int channels, int k, int divisor, float[] out,
            int outOffset) {
        int w = firstPixel * PackedLayout.wordsPerPixel(channels, k);
        if (pixels > 1 && flat(channels, k, false)) { // one long pixel
            channels *= pixels;
            pixels = 1;
        }
        float d = divisor;
        switch (k) {
            case 8 -> unpack8(words, w, pixels, channels, d, out, outOffset);
            case 4 -> unpack4(words, w, pixels, channels, d, out, outOffset);
            case 2 -> unpack2(words, w, pixels, channels, d, out, outOffset);
            default -> unpack1(words, w, pixels, channels, out, outOffset); // 0 or 1: the same for every divisor
        }
    }

    /*
     * The loops walk the groups as pack's do, each group into n floats from out[op + c] (n < L: a masked store).
     * Values as Quantizer.activationValue: (float) u / (2^k - 1).
     */

    /** L bytes, from the group's L/4 words, widened to ints. */
    private static void unpack8(int[] words, int wordOffset, int pixels, int channels, float divisor, float[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 8);
        for (int p = 0, c = 0, op = outOffset, wi = wordOffset; p < pixels;) {
            int n = Math.min(L, channels - c), at = wi + c / 4;
            IntVector w = n == L ? IntVector.fromArray(WORDS8, words, at) : IntVector.fromArray(WORDS8, words, at, WORDS8.indexInRange(at, wi + wpp));
            IntVector u = (IntVector) w.reinterpretAsBytes().convertShape(ZERO_EXTEND_B2I, I, 0);
            FloatVector y = ((FloatVector) u.convert(I2F, 0)).div(divisor);
            if (n == L) {
                y.intoArray(out, op + c);
            } else {
                y.intoArray(out, op + c, F.indexInRange(0, n));
            }
            if ((c += L) >= channels) {
                c = 0;
                p++;
                op += channels;
                wi += wpp;
            }
        }
    }

    /** The group's 64 bits (32 for L = 8) in each lane (the second word in lanes 8 up), each lane's code shifted down. */
    private static void unpack4(int[] words, int wordOffset, int pixels, int channels, float divisor, float[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 4);
        for (int p = 0, c = 0, op = outOffset, wi = wordOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            long bits = get(words, wi, c, 4, wi + wpp);
            IntVector u = IntVector.broadcast(I, (int) bits);
            if (L == 16) u = u.blend((int) (bits >>> 32), SECOND_WORD);
            FloatVector y = ((FloatVector) u.lanewise(LSHR, SHIFT4).and(15).convert(I2F, 0)).div(divisor);
            if (n == L) {
                y.intoArray(out, op + c);
            } else {
                y.intoArray(out, op + c, F.indexInRange(0, n));
            }
            if ((c += L) >= channels) {
                c = 0;
                p++;
                op += channels;
                wi += wpp;
            }
        }
    }

    private static void unpack2(int[] words, int wordOffset, int pixels, int channels, float divisor, float[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 2);
        for (int p = 0, c = 0, op = outOffset, wi = wordOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            IntVector u = IntVector.broadcast(I, (int) get(words, wi, c, 2, wi + wpp)).lanewise(LSHR, SHIFT2).and(3);
            FloatVector y = ((FloatVector) u.convert(I2F, 0)).div(divisor);
            if (n == L) {
                y.intoArray(out, op + c);
            } else {
                y.intoArray(out, op + c, F.indexInRange(0, n));
            }
            if ((c += L) >= channels) {
                c = 0;
                p++;
                op += channels;
                wi += wpp;
            }
        }
    }

    /** The group's bits as a mask: 1 / 1 where set, 0 / 1 elsewhere. */
    private static void unpack1(int[] words, int wordOffset, int pixels, int channels, float[] out, int outOffset) {
        int wpp = PackedLayout.wordsPerPixel(channels, 1);
        FloatVector zero = FloatVector.zero(F);
        for (int p = 0, c = 0, op = outOffset, wi = wordOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            FloatVector y = zero.blend(1f, VectorMask.fromLong(F, get(words, wi, c, 1, wi + wpp)));
            if (n == L) {
                y.intoArray(out, op + c);
            } else {
                y.intoArray(out, op + c, F.indexInRange(0, n));
            }
            if ((c += L) >= channels) {
                c = 0;
                p++;
                op += channels;
                wi += wpp;
            }
        }
    }

    /**
     * The STE backward of pixels [firstPixel, firstPixel + pixels): dx = dy where the 1-bit mask is set (dy's
     * bits, -0 and NaN included), else +0; dx may be dy.
     */
    static void maskGradient(int[] maskWords, int firstPixel, int pixels, int channels, float[] dy, float[] dx) {
        int wpp = PackedLayout.wordsPerPixel(channels, 1);
        int wordOffset = firstPixel * wpp, base = firstPixel * channels;
        if (pixels > 1 && flat(channels, 1, false)) { // one long pixel
            channels *= pixels;
            pixels = 1;
            wpp = PackedLayout.wordsPerPixel(channels, 1);
        }
        FloatVector zero = FloatVector.zero(F);
        for (int p = 0, c = 0, op = base, wi = wordOffset; p < pixels;) {
            int n = Math.min(L, channels - c);
            VectorMask<Float> set = VectorMask.fromLong(F, get(maskWords, wi, c, 1, wi + wpp));
            if (n == L) {
                zero.blend(FloatVector.fromArray(F, dy, op + c), set).intoArray(dx, op + c);
            } else {
                VectorMask<Float> in = F.indexInRange(0, n);
                zero.blend(FloatVector.fromArray(F, dy, op + c, in), set).intoArray(dx, op + c, in);
            }
            if ((c += L) >= channels) {
                c = 0;
                p++;
                op += channels;
                wi += wpp;
            }
        }
    }

    /** The bits of the group at channel c, as put stores them (above the group's L k bits, anything). */
    static long get(int[] words, int w, int c, int k, int end) {
        int per = 32 / k, at = w + c / per;
        long bits = (words[at] & 0xFFFFFFFFL) >>> (c % per * k);
        return L * k == 64 && at + 1 < end ? bits | (long) words[at + 1] << 32 : bits;
    }
}
