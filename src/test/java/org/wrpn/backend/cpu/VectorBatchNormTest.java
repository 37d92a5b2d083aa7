package org.wrpn.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Arrays;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.wrpn.quant.PackedActivations;

/**
 * The Vector API loops of batch norm ({@link VectorBatchNorm}) against the scalar loops they replace, bit for bit:
 * statistics, running statistics, outputs, gradients and the two-pass backward's apply, for channel counts of one
 * and several vectors, pixel counts around the statistics' block, values far from zero (where the order of sums
 * shows), and outputs over their inputs. The scalar loops are checked against the reference by the contract tests.
 */
class VectorBatchNormTest {
    private static final int[] PIXELS = {1, 5, 2047, 2048, 2049, 4500};

    @Test
    void theVectorLoopsServeHere() {
        if (!PackedActivations.vectorApi()) return; // a JVM without the module: nothing to compare
        assertTrue(VectorBatchNorm.serves(VectorBatchNorm.L) && VectorBatchNorm.serves(4 * VectorBatchNorm.L));
        assertTrue(!VectorBatchNorm.serves(VectorBatchNorm.L + 8) && !VectorBatchNorm.serves(VectorBatchNorm.L / 2));
        assertEquals(VectorBatchNorm.serves(64), CpuBatchNorm.vectorFor(64));
    }

    @Test
    void trainMatchesTheScalarLoops() {
        for (int c : channelCounts()) {
            for (int m : PIXELS) {
                float[] x = values(m * c, 3.5f, 11L * c + m);
                float[] gamma = values(c, 1f, 5), beta = values(c, 0f, 6);
                Stats v = new Stats(c, m), s = new Stats(c, m);
                CpuBatchNorm.train(x, gamma, beta, v.y, v.mean, v.invStd, v.runMean, v.runVar, 0.1f, 1e-5f, true);
                CpuBatchNorm.train(x, gamma, beta, s.y, s.mean, s.invStd, s.runMean, s.runVar, 0.1f, 1e-5f, false);
                String at = "c=" + c + " m=" + m;
                assertBits(s.mean, v.mean, at + " mean");
                assertBits(s.invStd, v.invStd, at + " invStd");
                assertBits(s.runMean, v.runMean, at + " running mean");
                assertBits(s.runVar, v.runVar, at + " running var");
                assertBits(s.y, v.y, at + " y");
                float[] statsOnly = new float[c];
                CpuBatchNorm.train(x, gamma, beta, null, statsOnly, new float[c], new float[c], new float[c], 0.1f, 1e-5f, true);
                assertBits(s.mean, statsOnly, at + " statistics without an output");
            }
        }
    }

    @Test
    void backwardMatchesTheScalarLoopsAlsoInPlace() {
        for (int c : channelCounts()) {
            for (int m : PIXELS) {
                float[] x = values(m * c, -2f, 13L * c + m), dy = values(m * c, 0.25f, 17L * c + m);
                float[] gamma = values(c, 1f, 7), mean = values(c, -2f, 8), invStd = new float[c];
                for (int ch = 0; ch < c; ch++) invStd[ch] = 0.5f + ch * 0.01f;
                float[] dxS = new float[x.length], dgS = new float[c], dbS = new float[c];
                CpuBatchNorm.backward(x, dy, gamma, mean, invStd, dxS, dgS, dbS, false);
                String at = "c=" + c + " m=" + m;
                float[] dxV = new float[x.length], dgV = new float[c], dbV = new float[c];
                CpuBatchNorm.backward(x, dy, gamma, mean, invStd, dxV, dgV, dbV, true);
                assertBits(dxS, dxV, at + " dx");
                assertBits(dgS, dgV, at + " dgamma");
                assertBits(dbS, dbV, at + " dbeta");
                float[] overDy = dy.clone(), overX = x.clone();
                CpuBatchNorm.backward(x, overDy, gamma, mean, invStd, overDy, new float[c], new float[c], true);
                assertBits(dxS, overDy, at + " dx over dy");
                CpuBatchNorm.backward(overX, dy, gamma, mean, invStd, overX, new float[c], new float[c], true);
                assertBits(dxS, overX, at + " dx over x");
                // the two-pass form's apply (its sums from dgamma and dbeta)
                float[] appliedS = new float[x.length], appliedV = new float[x.length];
                CpuBatchNorm.backwardApply(x, dy, gamma, mean, invStd, dgS, dbS, m, appliedS, false);
                CpuBatchNorm.backwardApply(x, dy, gamma, mean, invStd, dgS, dbS, m, appliedV, true);
                assertBits(appliedS, appliedV, at + " backwardApply");
            }
        }
    }

    /** One vector of channels, several, and one that is not a whole number of vectors (the scalar loops both ways: a fallback). */
    private static int[] channelCounts() {
        int l = PackedActivations.vectorApi() ? VectorBatchNorm.L : 16;
        return new int[] {l, 2 * l, 3 * l, 8 * l, l + 8};
    }

    private static float[] values(int n, float offset, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = offset + (float) r.nextGaussian();
        return a;
    }

    private static void assertBits(float[] expected, float[] actual, String what) {
        if (Arrays.equals(expected, actual)) return; // Arrays.equals compares floats by their bits
        assertArrayEquals(expected, actual, 0f, what);
        throw new AssertionError(what + ": equal values, different bits (a signed zero or NaN)");
    }

    private static final class Stats {
        final float[] y, mean, invStd, runMean, runVar;

        Stats(int c, int m) {
            y = new float[m * c];
            mean = new float[c];
            invStd = new float[c];
            runMean = new float[c];
            runVar = new float[c];
            Arrays.fill(runVar, 1f);
        }
    }
}
