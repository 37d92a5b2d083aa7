package org.wrpn.backend.cpu;

import static jdk.incubator.vector.VectorOperators.F2D;

import jdk.incubator.vector.DoubleVector;
import jdk.incubator.vector.FloatVector;
import jdk.incubator.vector.VectorSpecies;

/**
 * The loops of {@link CpuBatchNorm} on the JDK's Vector API, for channel counts that are a multiple of
 * a vector (L floats): each lane is a channel, so every channel's sum takes its pixels in the same order
 * and through the same double operations as the scalar loops, and every output is the same float
 * expression (no fused multiply-add): the results are the scalar loops' bit for bit
 * (VectorBatchNormTest). A group of L channels is walked over the block's pixels with its sums in
 * registers.
 *
 * <p>Loaded only where the jdk.incubator.vector module is present ({@link CpuBatchNorm#VECTOR}). No
 * vector crosses a method call (C2 would box it where it does not inline the call).
 */
final class VectorBatchNorm {
    private VectorBatchNorm() {}

    private static final VectorSpecies<Float> F = FloatVector.SPECIES_PREFERRED;
    static final int L = F.length();
    /** L/2 doubles: a float vector's lanes widen into two of these (parts 0 and 1). */
    private static final VectorSpecies<Double> D = DoubleVector.SPECIES_PREFERRED.length() == L / 2
            ? DoubleVector.SPECIES_PREFERRED : DoubleVector.SPECIES_256;

    /** Whether the loops here serve `channels` channels on this machine. */
    static boolean serves(int channels) {
        return (L == 8 || L == 16) && D.length() == L / 2 && channels % L == 0;
    }

    /** s[ch] += x over pixels [p0, p1), in pixel order per channel. */
    static void sum(float[] x, int c, int p0, int p1, double[] s) {
        for (int g = 0; g < c; g += L) {
            DoubleVector a0 = DoubleVector.fromArray(D, s, g), a1 = DoubleVector.fromArray(D, s, g + L / 2);
            for (int k = p0 * c + g, end = p1 * c; k < end; k += c) {
                FloatVector v = FloatVector.fromArray(F, x, k);
                a0 = a0.add((DoubleVector) v.convertShape(F2D, D, 0));
                a1 = a1.add((DoubleVector) v.convertShape(F2D, D, 1));
            }
            a0.intoArray(s, g);
            a1.intoArray(s, g + L / 2);
        }
    }

    /** s[ch] += (x - mean[ch])² in double over pixels [p0, p1). */
    static void sumSquares(float[] x, double[] mean, int c, int p0, int p1, double[] s) {
        for (int g = 0; g < c; g += L) {
            DoubleVector a0 = DoubleVector.fromArray(D, s, g), a1 = DoubleVector.fromArray(D, s, g + L / 2);
            DoubleVector m0 = DoubleVector.fromArray(D, mean, g), m1 = DoubleVector.fromArray(D, mean, g + L / 2);
            for (int k = p0 * c + g, end = p1 * c; k < end; k += c) {
                FloatVector v = FloatVector.fromArray(F, x, k);
                DoubleVector d0 = ((DoubleVector) v.convertShape(F2D, D, 0)).sub(m0);
                DoubleVector d1 = ((DoubleVector) v.convertShape(F2D, D, 1)).sub(m1);
                a0 = a0.add(d0.mul(d0));
                a1 = a1.add(d1.mul(d1));
            }
            a0.intoArray(s, g);
            a1.intoArray(s, g + L / 2);
        }
    }

    /** y[i - yShift] = (x[i] - mean) * scale + beta in float, i over pixels [p0, p1). */
    static void normalize(float[] x, float[] mean, float[] scale, float[] beta, int c, int p0, int p1, float[] y, int yShift) {
        for (int g = 0; g < c; g += L) {
            FloatVector m = FloatVector.fromArray(F, mean, g), sc = FloatVector.fromArray(F, scale, g), b = FloatVector.fromArray(F, beta, g);
            for (int k = p0 * c + g, end = p1 * c; k < end; k += c) {
                FloatVector.fromArray(F, x, k).sub(m).mul(sc).add(b).intoArray(y, k - yShift);
            }
        }
    }

    /** s1[ch] += dy, s2[ch] += dy * xhat with xhat = (x - mean) * (double) invStd, over pixels [p0, p1). */
    static void backwardSums(float[] x, float[] dy, float[] mean, float[] invStd, int c, int p0, int p1, double[] s1, double[] s2) {
        for (int g = 0; g < c; g += L) {
            DoubleVector a0 = DoubleVector.fromArray(D, s1, g), a1 = DoubleVector.fromArray(D, s1, g + L / 2);
            DoubleVector b0 = DoubleVector.fromArray(D, s2, g), b1 = DoubleVector.fromArray(D, s2, g + L / 2);
            FloatVector m = FloatVector.fromArray(F, mean, g), inv = FloatVector.fromArray(F, invStd, g);
            DoubleVector i0 = (DoubleVector) inv.convertShape(F2D, D, 0), i1 = (DoubleVector) inv.convertShape(F2D, D, 1);
            for (int k = p0 * c + g, end = p1 * c; k < end; k += c) {
                FloatVector diff = FloatVector.fromArray(F, x, k).sub(m);
                FloatVector d = FloatVector.fromArray(F, dy, k);
                DoubleVector d0 = (DoubleVector) d.convertShape(F2D, D, 0), d1 = (DoubleVector) d.convertShape(F2D, D, 1);
                DoubleVector h0 = ((DoubleVector) diff.convertShape(F2D, D, 0)).mul(i0);
                DoubleVector h1 = ((DoubleVector) diff.convertShape(F2D, D, 1)).mul(i1);
                a0 = a0.add(d0);
                a1 = a1.add(d1);
                b0 = b0.add(d0.mul(h0));
                b1 = b1.add(d1.mul(h1));
            }
            a0.intoArray(s1, g);
            a1.intoArray(s1, g + L / 2);
            b0.intoArray(s2, g);
            b1.intoArray(s2, g + L / 2);
        }
    }

    /** dx = k0 * (dy - meanDy - xhat * meanDyXhat), xhat = (x - mean) * invStd, in float over pixels [p0, p1). */
    static void backwardApply(float[] x, float[] dy, float[] mean, float[] invStd, float[] k0, float[] meanDy, float[] meanDyXhat,
            int c, int p0, int p1, float[] dx) {
        for (int g = 0; g < c; g += L) {
            FloatVector m = FloatVector.fromArray(F, mean, g), inv = FloatVector.fromArray(F, invStd, g);
            FloatVector k = FloatVector.fromArray(F, k0, g), md = FloatVector.fromArray(F, meanDy, g);
            FloatVector mh = FloatVector.fromArray(F, meanDyXhat, g);
            for (int i = p0 * c + g, end = p1 * c; i < end; i += c) {
                FloatVector xhat = FloatVector.fromArray(F, x, i).sub(m).mul(inv);
                k.mul(FloatVector.fromArray(F, dy, i).sub(md).sub(xhat.mul(mh))).intoArray(dx, i);
            }
        }
    }
}
