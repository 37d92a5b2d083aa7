package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendFixture;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.Tensor;

/**
 * The layer ops of any Backend against src/test/.../reference on fresh random inputs at ragged
 * shapes: stride 1 and 2, padding 0 and 1, channel counts that are no multiple of 32 (or of a 64-wide
 * tile), batch 1 and 7, and shapes large enough for the CUDA weight gradient to split its sum.
 * Outputs are poisoned first. fp32 results within |a - b| &lt;= atol + rtol |ref| (atol 1e-5 growing
 * like sqrt(K / 64) for sums of K terms, rtol 1e-4); exact where the contract is exact (ReLU, max
 * pool, codes, and the batch-norm recomputation, which must repeat the training output bit for bit).
 *
 * <p>Subclasses: CudaLayersGpuTest (on a GPU) and ReferenceBackendContractTest (in CI, which keeps
 * these checks themselves honest where no GPU is).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class LayerOpsContract {
    static final double ATOL = 1e-5;
    static final double RTOL = 1e-4;

    protected Backend be;
    protected BackendFixture fx;
    /** Fresh inputs every run; the seed is printed so that a failure can be replayed. */
    protected final long seed = System.nanoTime();
    protected final Random rnd = new Random(seed);

    /** The backend under test (may abort the class, e.g. without a GPU). */
    protected abstract Backend open();

    @BeforeAll
    void start() {
        System.out.println(getClass().getSimpleName() + ": inputs from seed " + seed);
        be = open();
        fx = new BackendFixture(be);
    }

    @AfterAll
    void stop() {
        if (be != null) be.close();
    }

    @AfterEach
    void release() {
        if (fx != null) fx.closeAll();
    }

    // ---- helpers -------------------------------------------------------------------------------

    protected float[] uniform(int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return a;
    }

    protected static double[] d(float[] a) {
        return Reference.toDouble(a);
    }

    protected static double atolFor(long k) {
        return ATOL * Math.max(1.0, Math.sqrt(k / 64.0));
    }

    protected static void assertClose(String what, double[] ref, float[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            double r = ref[i], g = got[i];
            if (!(Math.abs(g - r) <= atol + rtol * Math.abs(r))) {
                fail(what + "[" + i + "]: got " + g + ", reference " + r + " (tolerance " + (atol + rtol * Math.abs(r)) + ")");
            }
        }
    }

    protected static void assertBits(String what, float[] ref, float[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (Float.floatToRawIntBits(ref[i]) != Float.floatToRawIntBits(got[i])) {
                fail(what + "[" + i + "]: got " + got[i] + ", expected bit for bit " + ref[i]);
            }
        }
    }

    private static long[] toLong(int[] a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) l[i] = a[i];
        return l;
    }

    // ---- ReLU ----------------------------------------------------------------------------------

    @Test
    void reluAndItsBackward() {
        for (int n : new int[] {1, 3, 4, 1029}) {
            float[] x = uniform(n, -1, 1);
            if (n > 3) {
                x[0] = Float.NaN;
                x[1] = -0.0f;
                x[2] = Float.POSITIVE_INFINITY;
            }
            Tensor y = fx.outF32(n);
            be.relu(fx.f32(x, n), y);
            float[] yv = fx.floats(y);
            assertBits("relu n=" + n, Reference.toFloat(Reference.relu(d(x))), yv);
            float[] dy = uniform(n, -1, 1);
            Tensor dx = fx.outF32(n);
            be.reluBackward(y, fx.f32(dy, n), dx);
            assertBits("relu backward n=" + n, Reference.toFloat(Reference.reluBackward(d(yv), d(dy))), fx.floats(dx));
        }
    }

    // ---- convolution ---------------------------------------------------------------------------

    /** n, h, w, cin, cout, kh, kw, stride, pad. */
    static final ConvGeometry[] CONVS = {
        new ConvGeometry(1, 7, 5, 3, 33, 3, 3, 1, 1),
        new ConvGeometry(7, 6, 6, 5, 4, 3, 3, 2, 1),
        new ConvGeometry(2, 5, 5, 33, 7, 1, 1, 2, 0),
        new ConvGeometry(1, 9, 9, 1, 6, 5, 5, 1, 2),   // the first layer of lenet: one input channel
        new ConvGeometry(7, 4, 4, 17, 65, 3, 3, 1, 0), // two tiles of output channels
        new ConvGeometry(2, 7, 7, 6, 5, 3, 3, 2, 0),   // stride 2 without padding: dgrad skips pixels
        new ConvGeometry(1, 3, 3, 70, 3, 3, 3, 1, 1),
        new ConvGeometry(1, 1, 1, 3, 5, 1, 1, 1, 0),
        new ConvGeometry(2, 7, 9, 4, 6, 3, 1, 1, 1),   // non-square kernel
        new ConvGeometry(1, 4, 3, 3, 5, 1, 1, 1, 1),   // 1x1 with padding: the border outputs are zero
        new ConvGeometry(2, 8, 8, 16, 32, 3, 3, 2, 1), // a resnet downsampling conv
        new ConvGeometry(7, 32, 32, 3, 5, 3, 3, 1, 1), // 7168 output pixels: the weight gradient splits (CUDA)
        new ConvGeometry(1, 80, 80, 2, 3, 3, 3, 2, 1), // 1600 pixels, batch 1
    };

    @Test
    void convolutionForwardAndBothGradients() {
        for (ConvGeometry g : CONVS) checkConv(g);
    }

    protected void checkConv(ConvGeometry g) {
        int[] xs = {g.n(), g.h(), g.w(), g.cin()};
        int[] ws = {g.cout(), g.kh(), g.kw(), g.cin()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.cout()};
        float[] x = uniform(g.n() * g.h() * g.w() * g.cin(), -1, 1);
        float[] w = uniform(g.cout() * g.patch(), -1, 1);
        float[] dy = uniform(g.n() * g.outH() * g.outW() * g.cout(), -1, 1);
        Tensor tx = fx.f32(x, xs), tw = fx.f32(w, ws), tdy = fx.f32(dy, ys);

        Tensor y = fx.outF32(ys);
        be.conv2dForward(tx, tw, y, g);
        assertClose("conv fwd " + g, Reference.conv2dForward(d(x), d(w), g), fx.floats(y), atolFor(g.patch()), RTOL);
        Tensor dx = fx.outF32(xs);
        be.conv2dBackwardData(tdy, tw, dx, g);
        assertClose("conv dgrad " + g, Reference.conv2dBackwardData(d(dy), d(w), g), fx.floats(dx),
                atolFor((long) g.kh() * g.kw() * g.cout()), RTOL);
        Tensor dw = fx.outF32(ws);
        be.conv2dBackwardFilter(tx, tdy, dw, g);
        assertClose("conv wgrad " + g, Reference.conv2dBackwardFilter(d(x), d(dy), g), fx.floats(dw),
                atolFor((long) g.n() * g.outH() * g.outW()), RTOL);
        assertBits("conv leaves x", x, fx.floats(tx));
        assertBits("conv leaves w", w, fx.floats(tw));
    }

    // ---- batch norm ----------------------------------------------------------------------------

    /** n, h, w, c: rows from 1 to 7*16*16, channels 1 to 100. */
    static final int[][] BN_SHAPES = {{7, 5, 3, 17}, {1, 4, 6, 3}, {2, 3, 3, 33}, {1, 1, 2, 5}, {7, 1, 1, 100}, {7, 16, 16, 9},
        {1, 1, 1, 4}};

    /** Per-channel offsets and scales, as conv outputs have. */
    protected float[] bnInput(int pixels, int c) {
        float[] off = uniform(c, -2, 2), sc = uniform(c, 0.3, 2);
        float[] x = new float[pixels * c];
        for (int i = 0; i < x.length; i++) x[i] = off[i % c] + sc[i % c] * (float) rnd.nextGaussian();
        return x;
    }

    @Test
    void batchNormTrainRunningStatsAndExactRecomputation() {
        float eps = 1e-5f, momentum = 0.1f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(pixels, c);
            float[] gamma = uniform(c, 0.5, 1.5), beta = uniform(c, -1, 1);
            float[] rm = uniform(c, -1, 1), rv = uniform(c, 0.5, 2);
            Tensor tx = fx.f32(x, s), tg = fx.f32(gamma, c), tb = fx.f32(beta, c);
            Tensor y = fx.outF32(s), mean = fx.outF32(c), inv = fx.outF32(c);
            Tensor trm = fx.f32(rm, c), trv = fx.f32(rv, c);
            be.batchNormTrain(tx, tg, tb, y, mean, inv, trm, trv, momentum, eps);
            Reference.BnTrain ref = Reference.batchNormTrain(d(x), d(gamma), d(beta), eps);
            String what = "bn train " + Arrays.toString(s);
            float[] yv = fx.floats(y);
            if (pixels > 1) assertClose(what + " y", ref.y(), yv, ATOL, RTOL); // one row: y = beta up to rounding
            assertClose(what + " mean", ref.stats().mean(), fx.floats(mean), ATOL, RTOL);
            assertClose(what + " invstd", ref.stats().invStd(), fx.floats(inv), ATOL, RTOL);
            assertClose(what + " running mean", Reference.runningUpdate(d(rm), ref.stats().mean(), momentum), fx.floats(trm),
                    ATOL, RTOL);
            assertClose(what + " running var", Reference.runningUpdate(d(rv), ref.stats().unbiasedVar(), momentum),
                    fx.floats(trv), ATOL, RTOL);
            // The packed policy recomputes BN outputs in backward from the saved statistics: bit for bit.
            Tensor again = fx.outF32(s);
            be.batchNormApply(tx, tg, tb, mean, inv, again);
            assertBits(what + " recomputed", yv, fx.floats(again));
        }
    }

    @Test
    void batchNormInference() {
        float eps = 1e-5f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(pixels, c);
            float[] gamma = uniform(c, 0.5, 1.5), beta = uniform(c, -1, 1);
            float[] rm = uniform(c, -2, 2), rv = uniform(c, 0.1, 4);
            Tensor y = fx.outF32(s);
            be.batchNormInference(fx.f32(x, s), fx.f32(gamma, c), fx.f32(beta, c), fx.f32(rm, c), fx.f32(rv, c), eps, y);
            assertClose("bn inference " + Arrays.toString(s),
                    Reference.batchNormInference(d(x), d(gamma), d(beta), d(rm), d(rv), eps), fx.floats(y), ATOL, RTOL);
        }
    }

    @Test
    void batchNormBackward() {
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            if (pixels == 1) continue; // one row: dx is 0 up to the rounding of a cancellation
            checkBatchNormBackward("bn backward " + Arrays.toString(s), s, bnInput(pixels, c));
        }
    }

    /**
     * A channel whose values sit close together (spread 1e-3 around offsets up to 2) has a huge
     * 1/std: a backward that folds the mean into a per-channel constant (dx = a dy - b x + c) then
     * cancels |b x| ~ 1e3 |dx| and loses three digits; dx must stay within tolerance.
     */
    @Test
    void batchNormBackwardOnClusteredValues() {
        for (int[] s : new int[][] {{1, 1, 2, 5}, {2, 3, 3, 7}, {7, 4, 4, 33}}) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] off = uniform(c, -2, 2);
            float[] x = new float[pixels * c];
            for (int i = 0; i < x.length; i++) x[i] = off[i % c] + 1e-3f * (float) rnd.nextGaussian();
            checkBatchNormBackward("bn backward, clustered " + Arrays.toString(s), s, x);
        }
    }

    private void checkBatchNormBackward(String what, int[] s, float[] x) {
        float eps = 1e-5f;
        int c = s[3], pixels = s[0] * s[1] * s[2];
        float[] gamma = uniform(c, 0.5, 1.5);
        float[] dy = uniform(pixels * c, -1, 1);
        Reference.BnStats st = Reference.batchNormStats(d(x), c, eps);
        float[] mean = Reference.toFloat(st.mean()), inv = Reference.toFloat(st.invStd());
        Tensor dx = fx.outF32(s), dgamma = fx.outF32(c), dbeta = fx.outF32(c);
        be.batchNormBackward(fx.f32(x, s), fx.f32(dy, s), fx.f32(gamma, c), fx.f32(mean, c), fx.f32(inv, c), dx, dgamma, dbeta);
        Reference.BnGrads ref = Reference.batchNormBackward(d(x), d(dy), d(gamma), d(mean), d(inv));
        assertClose(what + " dgamma", ref.dgamma(), fx.floats(dgamma), atolFor(pixels), RTOL);
        assertClose(what + " dbeta", ref.dbeta(), fx.floats(dbeta), atolFor(pixels), RTOL);
        assertClose(what + " dx", ref.dx(), fx.floats(dx), ATOL, RTOL);
    }

    // ---- pooling -------------------------------------------------------------------------------

    static final PoolGeometry[] POOLS = {
        new PoolGeometry(1, 7, 5, 3, 2, 2, 0),  // lenet's pool; drops the last row and column
        new PoolGeometry(7, 6, 9, 17, 3, 2, 1), // resnet18's stem pool: overlapping windows, padding
        new PoolGeometry(2, 5, 5, 33, 3, 1, 1),
        new PoolGeometry(1, 3, 3, 5, 3, 3, 2),  // corner windows hold a single real cell
        new PoolGeometry(2, 2, 3, 100, 1, 1, 0),
    };

    private void checkMaxPool(String what, float[] x, PoolGeometry g) {
        int[] xs = {g.n(), g.h(), g.w(), g.c()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.c()};
        int outLen = g.n() * g.outH() * g.outW() * g.c();
        Tensor y = fx.outF32(ys), arg = fx.outI32(ys);
        be.maxPoolForward(fx.f32(x, xs), y, arg, g);
        Reference.MaxPool ref = Reference.maxPoolForward(d(x), g);
        assertClose(what + " y " + g, ref.y(), fx.floats(y), 0, 0);
        assertArrayEquals(ref.argmax(), toLong(fx.ints(arg, outLen)), what + " argmax " + g);
        float[] dy = uniform(outLen, -1, 1);
        Tensor dx = fx.outF32(xs);
        be.maxPoolBackward(fx.f32(dy, ys), arg, dx, g);
        assertClose(what + " dx " + g, Reference.maxPoolBackward(d(dy), ref.argmax(), x.length), fx.floats(dx), ATOL, RTOL);
    }

    @Test
    void maxPoolRandomTiesAndNegativeInputs() {
        float[] levels = {-1f, -0.5f, 0f, 0.5f};
        for (PoolGeometry g : POOLS) {
            int n = g.n() * g.h() * g.w() * g.c();
            checkMaxPool("random", uniform(n, -1, 1), g);
            float[] ties = new float[n];
            for (int i = 0; i < n; i++) ties[i] = levels[rnd.nextInt(levels.length)];
            checkMaxPool("ties", ties, g); // the first maximum in window order wins
            checkMaxPool("negative", uniform(n, -3, -1), g); // padding never wins
        }
    }

    @Test
    void globalAveragePool() {
        int[][] shapes = {{1, 1, 1, 3}, {7, 5, 3, 17}, {2, 7, 9, 33}, {3, 8, 8, 100}};
        for (int[] s : shapes) {
            int n = s[0], hw = s[1] * s[2], c = s[3];
            float[] x = uniform(n * hw * c, -1, 2), dy = uniform(n * c, -1, 1);
            Tensor y = fx.outF32(n, c);
            be.globalAvgPoolForward(fx.f32(x, s), y);
            assertClose("avgpool fwd " + Arrays.toString(s), Reference.globalAvgPoolForward(d(x), n, hw, c), fx.floats(y), ATOL,
                    RTOL);
            Tensor dx = fx.outF32(s);
            be.globalAvgPoolBackward(fx.f32(dy, n, c), dx);
            assertClose("avgpool bwd " + Arrays.toString(s), Reference.globalAvgPoolBackward(d(dy), n, hw, c), fx.floats(dx),
                    ATOL, RTOL);
        }
    }

    // ---- linear, loss, optimizer ---------------------------------------------------------------

    @Test
    void linearForwardAndBackward() {
        int[][] dims = {{1, 3, 10}, {7, 100, 33}, {5, 17, 1}, {7, 640, 10}, {70, 65, 130}};
        for (int[] dm : dims) {
            int n = dm[0], in = dm[1], out = dm[2];
            float[] x = uniform(n * in, -1, 1), w = uniform(out * in, -1, 1), b = uniform(out, -1, 1);
            float[] dy = uniform(n * out, -1, 1);
            Tensor tx = fx.f32(x, n, in), tw = fx.f32(w, out, in), tb = fx.f32(b, out), tdy = fx.f32(dy, n, out);
            String what = "linear " + Arrays.toString(dm);
            Tensor y = fx.outF32(n, out);
            be.linearForward(tx, tw, tb, y);
            assertClose(what + " y", Reference.linearForward(d(x), d(w), d(b), n, in, out), fx.floats(y), atolFor(in), RTOL);
            Tensor y0 = fx.outF32(n, out);
            be.linearForward(tx, tw, null, y0);
            assertClose(what + " y (no bias)", Reference.linearForward(d(x), d(w), null, n, in, out), fx.floats(y0),
                    atolFor(in), RTOL);
            Reference.LinearGrads ref = Reference.linearBackward(d(x), d(w), d(dy), n, in, out);
            Tensor dx = fx.outF32(n, in), dw = fx.outF32(out, in), db = fx.outF32(out);
            be.linearBackward(tx, tw, tdy, dx, dw, db);
            assertClose(what + " dx", ref.dx(), fx.floats(dx), atolFor(out), RTOL);
            assertClose(what + " dw", ref.dw(), fx.floats(dw), atolFor(n), RTOL);
            assertClose(what + " db", ref.db(), fx.floats(db), atolFor(n), RTOL);
            Tensor dw2 = fx.outF32(out, in);
            be.linearBackward(tx, tw, tdy, null, dw2, null);
            assertClose(what + " dw (no dx, db)", ref.dw(), fx.floats(dw2), atolFor(n), RTOL);
        }
    }

    @Test
    void softmaxCrossEntropyWithTiesAndLargeLogits() {
        int[][] dims = {{1, 10}, {7, 3}, {33, 17}, {7, 1000}, {300, 10}};
        for (int[] dm : dims) {
            int n = dm[0], classes = dm[1];
            float[] z = uniform(n * classes, -4, 4);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = rnd.nextInt(classes);
            if (n > 4 && classes > 2) {
                z[0] = 60f;
                z[classes + 1] = -80f;
                z[2 * classes] = 5f; // tie in row 2: class 0 is the prediction, the label is 1
                z[2 * classes + 1] = 5f;
                labels[2] = 1;
                z[3 * classes] = 5f; // tie in row 3: the first maximum is the label
                z[3 * classes + 2] = 5f;
                labels[3] = 0;
            }
            float scale = 1f / n;
            Tensor dz = fx.outF32(n, classes);
            LossResult r = be.softmaxCrossEntropy(fx.f32(z, n, classes), fx.i32(labels, n), dz, scale);
            Reference.Loss ref = Reference.softmaxCrossEntropy(d(z), labels, n, classes, scale);
            String what = "softmax-ce " + Arrays.toString(dm);
            assertEquals(ref.lossSum(), r.lossSum(), ATOL * n + RTOL * Math.abs(ref.lossSum()), what + " loss");
            assertEquals(ref.correct(), r.correct(), what + " correct");
            assertEquals(n, r.count(), what + " count");
            assertClose(what + " dlogits", ref.dlogits(), fx.floats(dz), ATOL, RTOL);
        }
    }

    @Test
    void aLabelOutsideTheClassesIsRefused() {
        int n = 9, classes = 4;
        int[] labels = new int[n];
        labels[5] = classes;
        Tensor z = fx.f32(uniform(n * classes, -1, 1), n, classes), dz = fx.outF32(n, classes);
        Tensor lab = fx.i32(labels, n);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.softmaxCrossEntropy(z, lab, dz, 1f));
        assertTrue(e.getMessage().contains("label " + classes), e.getMessage());
    }

    @Test
    void sgdWithMomentumAndWeightDecay() {
        int n = 17 * 3 * 3 * 5;
        float[] p = uniform(n, -1, 1), g = uniform(n, -1, 1), v = uniform(n, -0.5, 0.5);
        float lr = 0.05f, momentum = 0.9f, wd = 5e-4f;
        Tensor tp = fx.f32(p, 17, 3, 3, 5), tg = fx.f32(g, 17, 3, 3, 5), tv = fx.f32(v, 17, 3, 3, 5);
        double[] rp = d(p), rv = d(v);
        for (int step = 0; step < 3; step++) {
            be.sgdStep(tp, tg, tv, lr, momentum, wd);
            Reference.Sgd ref = Reference.sgdStep(rp, d(g), rv, lr, momentum, wd);
            rp = ref.param();
            rv = ref.velocity();
            assertClose("sgd param step " + step, rp, fx.floats(tp), ATOL, RTOL);
            assertClose("sgd velocity step " + step, rv, fx.floats(tv), ATOL, RTOL);
        }
        assertBits("sgd leaves grad", g, fx.floats(tg));
    }
}
