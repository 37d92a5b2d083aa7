package org.wrpn.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_BYTE;
import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static java.lang.foreign.ValueLayout.JAVA_INT;

import java.lang.foreign.MemorySegment;
import java.util.function.IntFunction;
import org.wrpn.backend.cpu.ExactSplit.Digit;
import org.wrpn.quant.PackedActivations;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;

/**
 * The operands of quantized convolutions and linears written as floats straight into the f32
 * kernels' off-heap staging (oneDNN's input buffers, the GEMM's matrices), and their results read
 * back through the epilogue. Packed activation codes go through {@link PackedLayout#unpack} a
 * cache-sized block of pixels at a time (a table maps each code, or one digit of it, to its float),
 * so no fp32 copy of the activation exists; int8 weight codes likewise. Every loop splits over
 * elements or pixels: the results do not depend on the thread count.
 */
final class CodeStaging {
    private CodeStaging() {}

    /** Floats per block: the block stays in L1 between unpacking and the copy out. */
    private static final int BLOCK = 4096;

    /** Writes an input operand's floats into the kernel's staging (from float 0, row-major in the kernel's user layout). */
    interface Fill {
        void write(MemorySegment staging);
    }

    /** Reads a result's floats from the kernel's staging. */
    interface Drain {
        void read(MemorySegment staging);
    }

    /** Copies a Java array into staging, split over the CPU threads. */
    static Fill from(float[] a) {
        return staging -> CpuThreads.forRange(a.length, CpuElementwise.GRAIN * 2,
                (from, to) -> MemorySegment.copy(a, from, staging, JAVA_FLOAT, 4L * from, to - from));
    }

    /** Copies staging into a Java array, split over the CPU threads. */
    static Drain into(float[] a) {
        return staging -> CpuThreads.forRange(a.length, CpuElementwise.GRAIN * 2,
                (from, to) -> MemorySegment.copy(staging, JAVA_FLOAT, 4L * from, a, from, to - from));
    }

    /** Writes operand t (PACKED codes, I8 codes or F32 values) as floats into dst; the digit applies to codes, F32 needs WHOLE. */
    static Fill operand(CpuTensor t, Digit digit) {
        return switch (t.dtype()) {
            case PACKED -> dst -> packed(t, digit, dst);
            case I8 -> dst -> int8(t.b, digit, dst);
            case F32 -> {
                if (digit != ExactSplit.WHOLE) throw new IllegalArgumentException("float operands have no digits");
                yield from(t.f);
            }
            default -> throw new IllegalArgumentException("a quantized op reads PACKED, I8 or F32, not " + t);
        };
    }

    /** One digit of packed activation codes as floats, pixels x channels row-major (the words' padding skipped). */
    static void packed(CpuTensor codes, Digit digit, MemorySegment dst) {
        int k = codes.bits();
        Shape s = codes.shape();
        int c = s.channels();
        int pixels = Math.toIntExact(s.pixels());
        float[] table = new float[1 << k];
        for (int u = 0; u < table.length; u++) table[u] = digit.of(u);
        int wpp = PackedLayout.wordsPerPixel(c, k);
        int step = Math.max(1, BLOCK / c);
        CpuThreads.forRange(pixels, Math.max(1, CpuElementwise.GRAIN / c), (from, to) -> {
            float[] block = new float[step * c];
            for (int p0 = from; p0 < to; p0 += step) {
                int n = Math.min(step, to - p0);
                if (digit == ExactSplit.WHOLE) {
                    PackedActivations.unpackCodeFloatsBlock(codes.i, p0, n, c, k, block, 0);
                } else {
                    PackedLayout.unpack(codes.i, p0 * wpp, n, c, k, table, block, 0);
                }
                MemorySegment.copy(block, 0, dst, JAVA_FLOAT, 4L * p0 * c, n * c);
            }
        });
    }

    /** One digit of int8 weight codes as floats. */
    static void int8(byte[] w, Digit digit, MemorySegment dst) {
        CpuThreads.forRange(w.length, CpuElementwise.GRAIN, (from, to) -> {
            float[] block = new float[BLOCK];
            for (int i0 = from; i0 < to; i0 += BLOCK) {
                int n = Math.min(BLOCK, to - i0);
                for (int i = 0; i < n; i++) block[i] = digit.of(w[i0 + i]);
                MemorySegment.copy(block, 0, dst, JAVA_FLOAT, 4L * i0, n);
            }
        });
    }

    /** Packed activation codes as unsigned bytes (oneDNN's u8 source), pixels x channels row-major. */
    static Fill codeBytes(CpuTensor codes) {
        int k = codes.bits();
        int c = codes.shape().channels();
        int pixels = Math.toIntExact(codes.shape().pixels());
        int step = Math.max(1, BLOCK * 4 / c);
        return dst -> CpuThreads.forRange(pixels, Math.max(1, CpuElementwise.GRAIN / c), (from, to) -> {
            byte[] block = new byte[Math.min(step, to - from) * c];
            for (int p0 = from; p0 < to; p0 += step) {
                int n = Math.min(step, to - p0);
                PackedActivations.unpackCodeBytesBlock(codes.i, p0, n, c, k, block, 0);
                MemorySegment.copy(block, 0, dst, JAVA_BYTE, (long) p0 * c, n * c);
            }
        });
    }

    /** int8 weight codes as they are (oneDNN's s8 weights). */
    static Fill bytes(byte[] w) {
        return dst -> MemorySegment.copy(w, 0, dst, JAVA_BYTE, 0, w.length);
    }

    /** y = (float) acc · scale from oneDNN's s32 sums: the contract's integer epilogue. */
    static Drain integerSums(float[] y, float scale) {
        return src -> CpuThreads.forRange(y.length, CpuElementwise.GRAIN, (from, to) -> {
            int[] block = new int[Math.min(BLOCK, to - from)];
            for (int i0 = from; i0 < to; i0 += block.length) {
                int n = Math.min(block.length, to - i0);
                MemorySegment.copy(src, JAVA_INT, 4L * i0, block, 0, n);
                for (int i = 0; i < n; i++) y[i0 + i] = (float) block[i] * scale;
            }
        });
    }

    /** The largest |code| of int8 weight codes (the exact-sum bound uses what the layer holds). */
    static int maxAbs(byte[] w) {
        int max = 0;
        for (byte b : w) max = Math.max(max, Math.abs(b));
        return max;
    }

    /** True where a quantized op runs on integer codes on both sides: the sum is exact. */
    static boolean integer(CpuTensor x, CpuTensor w) {
        return x.dtype() == DType.PACKED && w.dtype() == DType.I8;
    }

    /** y = staged · scale: the float epilogue. */
    static Drain scaled(float[] y, float scale) {
        return src -> CpuThreads.forRange(y.length, CpuElementwise.GRAIN, (from, to) -> {
            MemorySegment.copy(src, JAVA_FLOAT, 4L * from, y, from, to - from);
            for (int i = from; i < to; i++) y[i] *= scale;
        });
    }

    /**
     * One digit pair's exact partial sums, times 2^shift, added to the int32 accumulators (the first
     * pair also adds the correction of offset activations, see {@link ExactSplit}). Between pairs the
     * accumulators live in y's own storage as raw int bits, copied in and out through an int view of
     * the array and never read as float values, so no bit pattern can change: the split needs no
     * memory beyond the workspace rule. The last pair writes y = (float) acc · scale; going through
     * int also turns a sum of -0.0 products into +0, as an int32 sum gives.
     */
    static Drain accumulate(float[] y, int shift, boolean first, boolean last, int[] correction, float scale) {
        if (first && last && correction == null && shift == 0) return exact(y, scale);
        MemorySegment acc = MemorySegment.ofArray(y);
        return src -> CpuThreads.forRange(y.length, CpuElementwise.GRAIN, (from, to) -> {
            float[] part = new float[BLOCK];
            int[] sum = new int[BLOCK];
            for (int i0 = from; i0 < to; i0 += BLOCK) {
                int n = Math.min(BLOCK, to - i0);
                MemorySegment.copy(src, JAVA_FLOAT, 4L * i0, part, 0, n);
                if (first) {
                    for (int i = 0; i < n; i++) sum[i] = (int) part[i] << shift;
                    if (correction != null) addPeriodic(sum, n, i0, correction);
                } else {
                    MemorySegment.copy(acc, JAVA_INT, 4L * i0, sum, 0, n);
                    for (int i = 0; i < n; i++) sum[i] += (int) part[i] << shift;
                }
                if (last) {
                    for (int i = 0; i < n; i++) y[i0 + i] = (float) sum[i] * scale;
                } else {
                    MemorySegment.copy(sum, 0, acc, JAVA_INT, 4L * i0, n);
                }
            }
        });
    }

    /**
     * One exact sum without a correction, in float (it vectorises): the staged value is the exact
     * integer itself, and + 0f turns a -0.0 sum into +0 as (float) (int) would, so y has the bits
     * of (float) acc · scale.
     */
    private static Drain exact(float[] y, float scale) {
        return src -> CpuThreads.forRange(y.length, CpuElementwise.GRAIN, (from, to) -> {
            MemorySegment.copy(src, JAVA_FLOAT, 4L * from, y, from, to - from);
            for (int i = from; i < to; i++) y[i] = (y[i] + 0f) * scale;
        });
    }

    /** sum[i] += c[(i0 + i) % c.length]: a correction that repeats along the output (per pixel of an image and channel, or per column). */
    private static void addPeriodic(int[] sum, int n, int i0, int[] c) {
        for (int i = 0, j = i0 % c.length; i < n; j = 0) { // runs of contiguous c: the inner loop vectorises
            int len = Math.min(n - i, c.length - j);
            for (int t = 0; t < len; t++) sum[i + t] += c[j + t];
            i += len;
        }
    }


    /** Runs the sums of an exact split: `sum` runs one digit pair (a null fill keeps the staged activation digit). */
    interface DigitSum {
        void run(Fill activations, Fill weights, Drain out);
    }

    /**
     * acc = Σ over the plan's digit pairs of their exact sums · 2^(shiftA + shiftW), plus
     * correction(offset) where the activations are staged offset (their code minus offset), then
     * y = (float) acc · scale.
     */
    static void exactSums(ExactSplit.Plan plan, CpuTensor x, CpuTensor w, float[] y, float scale, IntFunction<int[]> correction,
            DigitSum sum) {
        int offset = plan.a()[0].offset();
        int[] c = offset == 0 ? null : correction.apply(offset);
        int done = 0;
        for (Digit da : plan.a()) {
            for (int j = 0; j < plan.w().length; j++) {
                Digit dw = plan.w()[j];
                // the activation digit is staged once for all weight digits; weights are restaged when they split
                Fill fa = j == 0 ? operand(x, da) : null;
                Fill fw = plan.w().length > 1 || da == plan.a()[0] ? operand(w, dw) : null;
                sum.run(fa, fw, accumulate(y, da.shift() + dw.shift(), done == 0, done == plan.sums() - 1, c, scale));
                done++;
            }
        }
    }
}
