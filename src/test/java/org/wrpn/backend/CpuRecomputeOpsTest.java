package org.wrpn.backend;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.Random;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** The ops the packed save policy adds: BN with saved statistics, and the STE backward from a packed mask. */
class CpuRecomputeOpsTest {

    @ParameterizedTest
    @CsvSource({"1, 3, 5, 3", "7, 4, 2, 17", "2, 5, 5, 33", "3, 1, 1, 100"})
    void batchNormApplyMatchesReferenceAndRecomputesTrainingOutputExactly(int n, int h, int w, int c) {
        Random rnd = new Random(n * 1000 + c);
        Shape s = Shape.nhwc(n, h, w, c);
        float[] x = new float[(int) s.elements()];
        for (int i = 0; i < x.length; i++) x[i] = (float) (rnd.nextGaussian() * 2 + 0.5);
        float[] gamma = new float[c], beta = new float[c];
        for (int i = 0; i < c; i++) {
            gamma[i] = (float) (0.5 + rnd.nextDouble());
            beta[i] = (float) rnd.nextGaussian();
        }
        try (CpuBackend b = new CpuBackend()) {
            Tensor xt = b.allocate(DType.F32, s), yTrain = b.allocate(DType.F32, s), yApply = b.allocate(DType.F32, s);
            Tensor g = b.allocate(DType.F32, Shape.of(c)), be = b.allocate(DType.F32, Shape.of(c));
            Tensor mean = b.allocate(DType.F32, Shape.of(c)), inv = b.allocate(DType.F32, Shape.of(c));
            Tensor rm = b.allocate(DType.F32, Shape.of(c)), rv = b.allocate(DType.F32, Shape.of(c));
            b.upload(x, xt);
            b.upload(gamma, g);
            b.upload(beta, be);
            b.batchNormTrain(xt, g, be, yTrain, mean, inv, rm, rv, 0.1f, 1e-5f);
            b.fill(yApply, Float.NaN);
            b.batchNormApply(xt, g, be, mean, inv, yApply);
            float[] a = new float[x.length], t = new float[x.length], m = new float[c], is = new float[c];
            b.download(yApply, a);
            b.download(yTrain, t);
            b.download(mean, m);
            b.download(inv, is);
            for (int i = 0; i < a.length; i++) {
                assertEquals(Float.floatToIntBits(t[i]), Float.floatToIntBits(a[i]), "recomputed BN output is bit-exact at " + i);
            }
            double[] ref = Reference.batchNormApply(Reference.toDouble(x), Reference.toDouble(gamma), Reference.toDouble(beta),
                    Reference.toDouble(m), Reference.toDouble(is));
            for (int i = 0; i < a.length; i++) {
                assertTrue(Math.abs(a[i] - ref[i]) <= 1e-5 + 1e-4 * Math.abs(ref[i]), "element " + i + ": " + a[i] + " vs " + ref[i]);
            }
        }
    }

    @ParameterizedTest
    @CsvSource({"1, 1", "3, 3", "2, 31", "5, 33", "4, 100"})
    void maskGradientMatchesReference(int pixels, int channels) {
        Random rnd = new Random(pixels * 77 + channels);
        Shape s = Shape.of(pixels, channels);
        float[] x = new float[pixels * channels], dy = new float[x.length];
        for (int i = 0; i < x.length; i++) {
            x[i] = (float) (rnd.nextDouble() * 1.6 - 0.3);
            if (i % 7 == 0) x[i] = 0f; // the mask edges: 0 and 1 do not pass
            if (i % 11 == 0) x[i] = 1f;
            dy[i] = (float) rnd.nextGaussian();
        }
        try (CpuBackend b = new CpuBackend()) {
            Tensor xt = b.allocate(DType.F32, s), dyt = b.allocate(DType.F32, s), dx = b.allocate(DType.F32, s);
            Tensor codes = b.allocatePacked(s, 4), mask = b.allocatePacked(s, 1);
            b.upload(x, xt);
            b.upload(dy, dyt);
            b.quantizePack(xt, 4, codes, mask);
            b.fill(dx, Float.NaN);
            b.maskGradient(mask, dyt, dx);
            float[] got = new float[x.length];
            b.download(dx, got);
            float[] ref = Reference.maskGradient(Reference.maskCodes(x), dy);
            for (int i = 0; i < got.length; i++) {
                assertEquals(Float.floatToIntBits(ref[i]), Float.floatToIntBits(got[i]), "element " + i);
            }
        }
    }
}
