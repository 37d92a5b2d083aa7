package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.expectLength;
import static org.wrpn.backend.cpu.ArrayChecks.sameLength;

import org.wrpn.quant.PackedActivations;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;

/** The quantization ops on CPU tensors: argument checks here, every formula and the layout in quant/. */
final class CpuQuantization {
    private CpuQuantization() {}

    static void quantizeActivations(float[] x, int bits, float[] y) {
        sameLength(x, y, "quantizeActivations");
        if (bits == Quantizer.FULL_PRECISION) throw new IllegalArgumentException("32-bit activations are a ReLU, not a quantizer");
        PackedLayout.checkBits(bits);
        CpuThreads.forRange(x.length, CpuElementwise.GRAIN, (from, to) -> Quantizer.quantizeActivations(x, from, to - from, bits, y, from));
    }

    static void quantizeActivationsBackward(float[] x, float[] dy, float[] dx) {
        sameLength(x, dy, "quantizeActivationsBackward");
        sameLength(x, dx, "quantizeActivationsBackward");
        CpuThreads.forRange(x.length, CpuElementwise.GRAIN, (from, to) -> {
            for (int k = from; k < to; k++) {
                dx[k] = Float.intBitsToFloat(Float.floatToRawIntBits(dy[k]) & Quantizer.activationPassMask(x[k]));
            }
        });
    }

    static void maskGradient(CpuTensor mask, float[] dy, float[] dx) {
        sameLength(dy, dx, "maskGradient");
        if (mask.bits() != 1 || mask.shape().elements() != dy.length) {
            throw new IllegalArgumentException("maskGradient: mask " + mask + " for " + dy.length + " values");
        }
        int c = mask.shape().channels();
        CpuThreads.forRange(pixels(mask.shape()), grain(c), (from, to) -> PackedActivations.maskGradient(mask.i, from, to, c, dy, dx));
    }

    static void quantizeWeights(float[] w, int bits, float[] wq) {
        sameLength(w, wq, "quantizeWeights");
        if (!Quantizer.isValidWeightBits(bits)) throw new IllegalArgumentException("weight bits " + bits);
        Quantizer.quantizeWeights(w, 0, w.length, bits, wq, 0);
    }

    static float weightCodes(float[] w, int bits, CpuTensor codes) {
        if (codes.dtype() != DType.I8 || codes.b.length != w.length) throw new IllegalArgumentException("weightCodes into " + codes);
        return Quantizer.weightCodes(w, bits, codes.b);
    }

    static void quantizePack(float[] x, Shape xShape, int bits, CpuTensor codes, CpuTensor mask) {
        if (codes.bits() != bits || !codes.shape().equals(xShape)) throw new IllegalArgumentException("quantizePack: " + xShape + " into " + codes);
        if (mask != null && (mask.bits() != 1 || !mask.shape().equals(codes.shape()))) {
            throw new IllegalArgumentException("mask must be 1-bit " + codes.shape());
        }
        Shape s = codes.shape();
        int c = s.channels();
        int[] m = mask == null ? null : mask.i;
        CpuThreads.forRange(pixels(s), packGrain(c), (from, to) -> PackedActivations.quantizePack(x, from, to, c, bits, codes.i, m));
    }

    static void unpackValues(CpuTensor codes, float[] y) {
        Shape s = codes.shape();
        expectLength(y, s.elements(), "unpackValues");
        int c = s.channels();
        CpuThreads.forRange(pixels(s), packGrain(c), (from, to) -> PackedActivations.unpackValues(codes.i, from, to, c, codes.bits(), y));
    }

    /**
     * out = a + value(code) (the residual add of packed activation codes), bit for bit unpackValues
     * then add: the values come from the same unpacking, a block of pixels at a time into a small buffer,
     * so out may be a.
     */
    static void addValues(float[] a, CpuTensor codes, float[] out) {
        Shape s = codes.shape();
        expectLength(a, s.elements(), "add");
        sameLength(a, out, "add");
        int c = s.channels(), k = codes.bits();
        int step = Math.max(1, BLOCK / c);
        CpuThreads.forRange(pixels(s), grain(c), (from, to) -> {
            float[] v = new float[step * c];
            for (int p0 = from; p0 < to; p0 += step) {
                int n = Math.min(step, to - p0);
                PackedActivations.unpackValuesBlock(codes.i, p0, n, c, k, v, 0);
                for (int i = 0, e = p0 * c; i < n * c; i++, e++) out[e] = a[e] + v[i];
            }
        });
    }

    /** Values per block of addValues: the block stays in L1. */
    private static final int BLOCK = 4096;

    static void unpackCodes(CpuTensor codes, int[] out) {
        Shape s = codes.shape();
        if (out.length != s.elements()) throw new IllegalArgumentException("unpackCodes: wrong output size");
        PackedLayout.unpack(codes.i, s.pixels(), s.channels(), codes.bits(), out);
    }

    /**
     * Pixels per parallel part at least of quantizePack and unpackValues: 2^18 elements (1 MiB of floats), 8
     * times the elementwise grain. These stream at close to memory speed on one core (the Vector API loops of
     * quant/VectorPack), so a part must outweigh handing it to a parked worker, which costs tens of
     * microseconds on a 2-core VM: with the elementwise grain, tensors of 200K-400K elements ran at 40% of a
     * copy's bandwidth on two threads and 60-80% on one.
     */
    private static int packGrain(int channels) {
        return Math.max(1, (1 << 18) / channels);
    }

    /** Pixels per parallel part at least. */
    private static int grain(int channels) {
        return Math.max(1, CpuElementwise.GRAIN / channels);
    }

    private static int pixels(Shape s) {
        return Math.toIntExact(s.pixels());
    }
}
