package org.wrpn.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;

import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.wrpn.quant.Quantizer;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The ops of quantized layers that read codes (Backend: conv2d*Quantized, linear*Quantized, the fused
 * batch-norm quantize-pack, the residual add of codes) and the ops that may work in place, on top of
 * the rest of the layer-op contract. Integer forward results are compared bit for bit with the
 * reference, so every backend that passes gives the same bits as every other.
 */
public abstract class QuantizedOpsContract extends LayerOpsContract {
    static final int[] BITS = {1, 2, 4, 8};

    /** Ragged channel counts, stride 1 and 2, 1x1 and 3x3, and a patch of 630 terms (8/8 sums beyond 2^24). */
    static final ConvGeometry[] QCONVS = {
        new ConvGeometry(2, 5, 7, 17, 9, 3, 3, 1, 1),
        new ConvGeometry(1, 8, 8, 33, 5, 3, 3, 2, 1),
        new ConvGeometry(3, 6, 9, 5, 7, 1, 1, 2, 0),
        new ConvGeometry(1, 4, 4, 70, 3, 3, 3, 1, 1),
        new ConvGeometry(2, 3, 3, 3, 40, 3, 3, 1, 0),
        new ConvGeometry(2, 5, 6, 96, 20, 3, 3, 1, 1),  // cin % 32 == 0 (CUDA: int8 tensor cores), 864 terms
    };

    /** Activation codes: random, or near the top of the range (so that large patches sum past 2^24). */
    long[] activationCodes(int n, int k, boolean high) {
        int levels = Quantizer.activationLevels(k);
        long[] u = new long[n];
        for (int i = 0; i < n; i++) u[i] = high ? Math.max(0, levels - rnd.nextInt(3)) : rnd.nextInt(levels + 1);
        return u;
    }

    Tensor packedCodes(long[] codes, Shape s, int k) {
        return fx.packed(Reference.pack(codes, (int) s.pixels(), s.channels(), k), s, k);
    }

    /** Weights that quantize to random codes (mostly the largest ones when high); binary weights get random magnitudes. */
    float[] weightsForCodes(int n, int k, boolean high) {
        float[] w = new float[n];
        int levels = Quantizer.maxWeightCode(k);
        for (int i = 0; i < n; i++) {
            if (k == 1) {
                w[i] = (float) ((high || rnd.nextBoolean() ? 1 : -1) * (0.05 + rnd.nextDouble()));
            } else {
                int s = high ? levels - rnd.nextInt(2) : rnd.nextInt(2 * levels + 1) - levels;
                w[i] = (float) s / levels;
            }
        }
        return w;
    }

    record Codes(Tensor tensor, double[] values, float scale) {}

    Codes weightCodes(float[] w, int k, int... dims) {
        Tensor codes = fx.outI8(dims);
        float scale = be.weightCodes(fx.f32(w, dims), k, codes);
        long[] ref = Reference.weightCodes(w, k);
        double[] v = new double[ref.length];
        for (int i = 0; i < v.length; i++) v[i] = ref[i];
        return new Codes(codes, v, scale);
    }

    static double[] times(double[] a, double s) {
        double[] o = a.clone();
        for (int i = 0; i < o.length; i++) o[i] *= s;
        return o;
    }

    /** The contract's integer epilogue: (float) exact sum · scale. */
    static float[] integerEpilogue(double[] sums, float scale) {
        float[] y = new float[sums.length];
        for (int i = 0; i < y.length; i++) y[i] = (float) (long) sums[i] * scale;
        return y;
    }

    static double[] codesAsDoubles(long[] u) {
        double[] d = new double[u.length];
        for (int i = 0; i < d.length; i++) d[i] = u[i];
        return d;
    }

    @Test
    void quantizedConvolutionOnCodesAtEveryBitWidth() {
        for (int ka : BITS) {
            for (int kw : BITS) {
                for (ConvGeometry g : QCONVS) checkQuantizedConv(ka, kw, g, g.patch() > 600);
            }
        }
    }

    void checkQuantizedConv(int ka, int kw, ConvGeometry g, boolean high) {
        String what = "conv a" + ka + "/w" + kw + " " + g;
        Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.cin());
        int[] ws = {g.cout(), g.kh(), g.kw(), g.cin()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.cout()};
        long[] u = activationCodes((int) xs.elements(), ka, high);
        Tensor tx = packedCodes(u, xs, ka);
        Codes w = weightCodes(weightsForCodes(g.cout() * g.patch(), kw, high), kw, ws);
        float astep = Quantizer.activationStep(ka);
        float scale = astep * w.scale();

        Tensor y = fx.outF32(ys);
        be.conv2dForwardQuantized(tx, w.tensor(), scale, y, g);
        assertBits(what + " forward", integerEpilogue(Reference.conv2dForward(codesAsDoubles(u), w.values(), g), scale),
                fx.floats(y));

        float[] dy = uniform(ys[0] * ys[1] * ys[2] * ys[3], -1, 1);
        Tensor tdy = fx.f32(dy, ys);
        Tensor dx = fx.outF32(xs.dims());
        be.conv2dBackwardDataQuantized(tdy, w.tensor(), w.scale(), dx, g);
        assertClose(what + " dgrad", times(Reference.conv2dBackwardData(d(dy), w.values(), g), w.scale()), fx.floats(dx),
                atolFor((long) g.kh() * g.kw() * g.cout()), RTOL);
        Tensor dw = fx.outF32(ws);
        be.conv2dBackwardFilterQuantized(tx, astep, tdy, dw, g);
        assertClose(what + " wgrad", times(Reference.conv2dBackwardFilter(codesAsDoubles(u), d(dy), g), astep), fx.floats(dw),
                atolFor((long) g.n() * g.outH() * g.outW()), RTOL);

        if (ka == 4) { // the mixed operands: fp32 input with weight codes, codes with fp32 weights (sums in float)
            float[] xf = uniform((int) xs.elements(), -1, 1);
            Tensor yf = fx.outF32(ys);
            be.conv2dForwardQuantized(fx.f32(xf, xs.dims()), w.tensor(), w.scale(), yf, g);
            assertClose(what + " forward, fp32 input", times(Reference.conv2dForward(d(xf), w.values(), g), w.scale()),
                    fx.floats(yf), atolFor(g.patch()), RTOL);
            float[] wf = uniform(g.cout() * g.patch(), -1, 1);
            Tensor ym = fx.outF32(ys);
            be.conv2dForwardQuantized(tx, fx.f32(wf, ws), astep, ym, g);
            assertClose(what + " forward, fp32 weights", times(Reference.conv2dForward(codesAsDoubles(u), d(wf), g), astep),
                    fx.floats(ym), atolFor(g.patch()), RTOL);
            Tensor dwf = fx.outF32(ws);
            be.conv2dBackwardFilterQuantized(fx.f32(xf, xs.dims()), 1f, tdy, dwf, g);
            assertClose(what + " wgrad, fp32 input", Reference.conv2dBackwardFilter(d(xf), d(dy), g), fx.floats(dwf),
                    atolFor((long) g.n() * g.outH() * g.outW()), RTOL);
        }
        assertArrayEquals(Reference.pack(u, (int) xs.pixels(), xs.channels(), ka),
                fx.ints(tx, BackendFixture.packedWords(xs, ka)), what + " leaves x");
        assertBits(what + " leaves dy", dy, fx.floats(tdy));
    }

    /**
     * Pooling codes as codes: the words and the argmax of maxPoolPacked equal unpacking, pooling the
     * values and packing them again, on this backend and on the reference, at every bit width (random
     * codes, and the highest codes only, so ties abound).
     */
    @Test
    void maxPoolOfPackedCodesEqualsPoolingTheirValues() {
        for (int k : BITS) {
            for (PoolGeometry g : POOLS) {
                for (boolean high : new boolean[] {false, true}) {
                    Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.c()), ys = Shape.nhwc(g.n(), g.outH(), g.outW(), g.c());
                    long[] u = activationCodes((int) xs.elements(), k, high);
                    Tensor x = packedCodes(u, xs, k);
                    Tensor y = fx.outPacked(ys, k), arg = fx.outI32(ys.dims());
                    be.maxPoolPacked(x, y, arg, g);
                    Tensor values = fx.outF32(xs.dims()), pooled = fx.outF32(ys.dims()), arg2 = fx.outI32(ys.dims()), y2 = fx.outPacked(ys, k);
                    be.unpackValues(x, values);
                    be.maxPoolForward(values, pooled, arg2, g);
                    be.quantizePack(pooled, k, y2, null);
                    String what = "maxPoolPacked k=" + k + (high ? " high" : "") + " " + g;
                    int words = BackendFixture.packedWords(ys, k), outs = (int) ys.elements();
                    assertArrayEquals(fx.ints(y2, words), fx.ints(y, words), what + " codes");
                    assertArrayEquals(fx.ints(arg2, outs), fx.ints(arg, outs), what + " argmax");
                    double[] v = new double[u.length];
                    for (int i = 0; i < u.length; i++) v[i] = Reference.activationValue(u[i], k);
                    Reference.MaxPool ref = Reference.maxPoolForward(v, g);
                    long[] refCodes = new long[ref.y().length];
                    for (int i = 0; i < refCodes.length; i++) refCodes[i] = Math.round(ref.y()[i] * Quantizer.activationLevels(k));
                    assertArrayEquals(Reference.pack(refCodes, (int) ys.pixels(), ys.channels(), k), fx.ints(y, words), what + " reference codes");
                    assertArrayEquals(ref.argmax(), toLong(fx.ints(arg, outs)), what + " reference argmax");
                }
            }
        }
    }

    @Test
    void quantizedLinearOnCodesAtEveryBitWidth() {
        int[][] dims = {{3, 1, 1, 17, 10}, {5, 2, 3, 7, 33}, {2, 1, 1, 100, 1}, {7, 3, 3, 9, 20}, {3, 2, 1, 32, 12}};
        for (int ka : BITS) {
            for (int kw : BITS) {
                for (int[] dm : dims) {
                    int n = dm[0], out = dm[4];
                    Shape xs = Shape.nhwc(n, dm[1], dm[2], dm[3]);
                    int in = (int) (xs.elements() / n);
                    String what = "linear a" + ka + "/w" + kw + " " + xs + " -> " + out;
                    long[] u = activationCodes((int) xs.elements(), ka, false);
                    Tensor tx = packedCodes(u, xs, ka);
                    Codes w = weightCodes(weightsForCodes(out * in, kw, false), kw, out, in);
                    float astep = Quantizer.activationStep(ka);
                    float scale = astep * w.scale();
                    float[] b = uniform(out, -1, 1);
                    Tensor y = fx.outF32(n, out);
                    be.linearForwardQuantized(tx, w.tensor(), scale, fx.f32(b, out), y);
                    float[] ref = integerEpilogue(Reference.linearForward(codesAsDoubles(u), w.values(), null, n, in, out), scale);
                    for (int i = 0; i < ref.length; i++) ref[i] += b[i % out];
                    assertBits(what + " forward", ref, fx.floats(y));

                    float[] dy = uniform(n * out, -1, 1);
                    Reference.LinearGrads r = Reference.linearBackward(codesAsDoubles(u), w.values(), d(dy), n, in, out);
                    Tensor dx = fx.outF32(n, in), dw = fx.outF32(out, in), db = fx.outF32(out);
                    be.linearBackwardQuantized(tx, astep, w.tensor(), w.scale(), fx.f32(dy, n, out), dx, dw, db);
                    assertClose(what + " dx", times(r.dx(), w.scale()), fx.floats(dx), atolFor(out), RTOL);
                    assertClose(what + " dw", times(r.dw(), astep), fx.floats(dw), atolFor(n), RTOL);
                    assertClose(what + " db", r.db(), fx.floats(db), atolFor(n), RTOL);
                    Tensor dw2 = fx.outF32(out, in);
                    be.linearBackwardQuantized(tx, astep, w.tensor(), w.scale(), fx.f32(dy, n, out), null, dw2, null);
                    assertClose(what + " dw (no dx, db)", times(r.dw(), astep), fx.floats(dw2), atolFor(n), RTOL);
                }
            }
        }
    }

    @Test
    void batchNormQuantizePackEqualsApplyThenPack() {
        for (int k : BITS) {
            for (int[] s : BN_SHAPES) {
                int c = s[3], pixels = s[0] * s[1] * s[2];
                Shape shape = Shape.of(s);
                float[] x = bnInput(pixels, c);
                float[] gamma = uniform(c, 0.5, 1.5), beta = uniform(c, -1, 1);
                float[] mean = uniform(c, -0.5, 0.5), inv = uniform(c, 0.3, 2);
                Tensor tx = fx.f32(x, s), tg = fx.f32(gamma, c), tb = fx.f32(beta, c), tm = fx.f32(mean, c), ti = fx.f32(inv, c);
                Tensor codes = fx.outPacked(shape, k), mask = fx.outPacked(shape, 1);
                be.batchNormQuantizePack(tx, tg, tb, tm, ti, k, codes, mask);
                float[] y = new float[x.length];
                for (int i = 0; i < y.length; i++) y[i] = (x[i] - mean[i % c]) * (inv[i % c] * gamma[i % c]) + beta[i % c];
                String what = "bn quantize pack k=" + k + " " + Arrays.toString(s);
                assertArrayEquals(Reference.pack(Reference.activationCodes(y, k), pixels, c, k),
                        fx.ints(codes, BackendFixture.packedWords(shape, k)), what + " codes");
                assertArrayEquals(Reference.pack(Reference.maskCodes(y), pixels, c, 1),
                        fx.ints(mask, BackendFixture.packedWords(shape, 1)), what + " mask");
                Tensor noMask = fx.outPacked(shape, k);
                be.batchNormQuantizePack(tx, tg, tb, tm, ti, k, noMask, null);
                assertArrayEquals(fx.ints(codes, BackendFixture.packedWords(shape, k)),
                        fx.ints(noMask, BackendFixture.packedWords(shape, k)), what + " codes without a mask");
            }
        }
    }

    @Test
    void batchNormTrainWithoutAnOutputKeepsTheStatistics() {
        int[] s = {7, 5, 3, 17};
        int c = s[3];
        float[] x = bnInput(7 * 5 * 3, c);
        float[] gamma = uniform(c, 0.5, 1.5), beta = uniform(c, -1, 1), rm = uniform(c, -1, 1), rv = uniform(c, 0.5, 2);
        Tensor tx = fx.f32(x, s), tg = fx.f32(gamma, c), tb = fx.f32(beta, c);
        Tensor m1 = fx.outF32(c), i1 = fx.outF32(c), rm1 = fx.f32(rm, c), rv1 = fx.f32(rv, c);
        be.batchNormTrain(tx, tg, tb, fx.outF32(s), m1, i1, rm1, rv1, 0.1f, 1e-5f);
        Tensor m2 = fx.outF32(c), i2 = fx.outF32(c), rm2 = fx.f32(rm, c), rv2 = fx.f32(rv, c);
        be.batchNormTrain(tx, tg, tb, null, m2, i2, rm2, rv2, 0.1f, 1e-5f);
        assertBits("mean", fx.floats(m1), fx.floats(m2));
        assertBits("invstd", fx.floats(i1), fx.floats(i2));
        assertBits("running mean", fx.floats(rm1), fx.floats(rm2));
        assertBits("running var", fx.floats(rv1), fx.floats(rv2));
    }

    @Test
    void residualAddReadsCodesAsTheirValues() {
        for (int k : BITS) {
            for (int c : new int[] {1, 17, 33}) {
                Shape s = Shape.nhwc(3, 2, 5, c);
                int n = (int) s.elements();
                long[] u = activationCodes(n, k, false);
                float[] a = uniform(n, -2, 2);
                float[] ref = new float[n];
                for (int i = 0; i < n; i++) ref[i] = a[i] + Reference.activationValue(u[i], k);
                Tensor codes = packedCodes(u, s, k);
                Tensor out = fx.outF32(s.dims());
                be.add(fx.f32(a, s.dims()), codes, out);
                assertBits("add codes k=" + k + " C=" + c, ref, fx.floats(out));
                Tensor ta = fx.f32(a, s.dims());
                be.add(ta, codes, ta);
                assertBits("add codes in place k=" + k + " C=" + c, ref, fx.floats(ta));
            }
        }
    }

    @Test
    void theOpsThatMayWorkInPlace() {
        int[] s = {7, 4, 3, 17};
        Shape shape = Shape.of(s);
        int n = (int) shape.elements(), c = s[3];
        float[] x = activationInputs(n, 4), dy = uniform(n, -1, 1);
        Tensor mask = fx.outPacked(shape, 1);
        be.quantizePack(fx.f32(x, s), 4, fx.outPacked(shape, 4), mask);
        Tensor apart = fx.outF32(s), same = fx.f32(dy, s);
        be.maskGradient(mask, fx.f32(dy, s), apart);
        be.maskGradient(mask, same, same);
        assertBits("mask gradient in place", fx.floats(apart), fx.floats(same));

        float[] y = uniform(n, -1, 1);
        Tensor rApart = fx.outF32(s), rSame = fx.f32(dy, s);
        be.reluBackward(fx.f32(y, s), fx.f32(dy, s), rApart);
        be.reluBackward(fx.f32(y, s), rSame, rSame);
        assertBits("relu backward in place", fx.floats(rApart), fx.floats(rSame));

        float[] bx = bnInput(n / c, c), gamma = uniform(c, 0.5, 1.5), mean = uniform(c, -0.5, 0.5), inv = uniform(c, 0.3, 2);
        Tensor tg = fx.f32(gamma, c), tm = fx.f32(mean, c), ti = fx.f32(inv, c);
        Tensor dx = fx.outF32(s), dg = fx.outF32(c), db = fx.outF32(c);
        be.batchNormBackward(fx.f32(bx, s), fx.f32(dy, s), tg, tm, ti, dx, dg, db);
        Tensor overDy = fx.f32(dy, s), dg2 = fx.outF32(c), db2 = fx.outF32(c);
        be.batchNormBackward(fx.f32(bx, s), overDy, tg, tm, ti, overDy, dg2, db2);
        assertBits("bn backward over dy", fx.floats(dx), fx.floats(overDy));
        assertBits("bn backward over dy: dgamma", fx.floats(dg), fx.floats(dg2));
        assertBits("bn backward over dy: dbeta", fx.floats(db), fx.floats(db2));
        Tensor overX = fx.f32(bx, s), dg3 = fx.outF32(c), db3 = fx.outF32(c);
        be.batchNormBackward(overX, fx.f32(dy, s), tg, tm, ti, overX, dg3, db3);
        assertBits("bn backward over x", fx.floats(dx), fx.floats(overX));
        assertBits("bn backward over x: dgamma", fx.floats(dg), fx.floats(dg3));
    }
}
