package org.wrpn.reference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Random;
import java.util.function.Function;
import org.junit.jupiter.api.Test;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.PoolGeometry;

/**
 * Finite-difference checks of the reference backward passes, in double. Each layer is turned into a
 * scalar L = sum(y * r) for a fixed random r, so the analytic input gradient is backward(dy = r);
 * central differences of L must agree to a relative error under 1e-6.
 */
class ReferenceGradientCheckTest {
    private static final double H = 1e-6;
    private static final double TOL = 1e-6;

    private static double[] random(Random rnd, int n, double lo, double hi) {
        double[] a = new double[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rnd.nextDouble();
        return a;
    }

    private static double dot(double[] a, double[] b) {
        double s = 0;
        for (int i = 0; i < a.length; i++) s += a[i] * b[i];
        return s;
    }

    /** Central-difference gradient of f at p (p is restored afterwards). */
    private static double[] numeric(Function<double[], Double> f, double[] p) {
        double[] g = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            double keep = p[i];
            p[i] = keep + H;
            double plus = f.apply(p);
            p[i] = keep - H;
            double minus = f.apply(p);
            p[i] = keep;
            g[i] = (plus - minus) / (2 * H);
        }
        return g;
    }

    /**
     * Relative error |a - n| / max(|a|, |n|) per element. Elements whose true gradient is tiny are
     * held to an absolute bound instead, since a relative error of a near-zero value is just noise.
     */
    private static void check(String what, double[] analytic, double[] num) {
        assertEquals(num.length, analytic.length, what + ": length");
        double scale = 0;
        for (double v : num) scale = Math.max(scale, Math.abs(v));
        assertTrue(scale > 0, what + ": the numeric gradient is identically zero, the check would be vacuous");
        for (int i = 0; i < num.length; i++) {
            double a = analytic[i], n = num[i];
            assertTrue(Double.isFinite(a) && Double.isFinite(n), what + "[" + i + "] not finite");
            double mag = Math.max(Math.abs(a), Math.abs(n));
            double err = Math.abs(a - n);
            if (mag > 1e-4 * scale) {
                if (err / mag >= TOL) fail(what + "[" + i + "]: analytic " + a + " numeric " + n + " rel " + err / mag);
            } else if (err >= TOL * 1e-4 * scale) {
                fail(what + "[" + i + "]: analytic " + a + " numeric " + n + " abs " + err);
            }
        }
    }

    @Test
    void conv2d() {
        ConvGeometry[] geoms = {
            new ConvGeometry(2, 5, 4, 3, 5, 3, 3, 1, 1),
            new ConvGeometry(1, 7, 6, 2, 3, 3, 3, 2, 1), // stride 2 with padding, odd sizes
            new ConvGeometry(2, 6, 5, 3, 2, 1, 1, 2, 0), // 1x1 stride 2 skips pixels
            new ConvGeometry(1, 6, 7, 2, 3, 5, 3, 2, 2), // non-square kernel
        };
        Random rnd = new Random(11);
        for (ConvGeometry g : geoms) {
            double[] x = random(rnd, g.n() * g.h() * g.w() * g.cin(), -1, 1);
            double[] w = random(rnd, g.cout() * g.patch(), -1, 1);
            double[] r = random(rnd, g.n() * g.outH() * g.outW() * g.cout(), -1, 1);
            check("conv dx " + g, Reference.conv2dBackwardData(r, w, g),
                    numeric(xx -> dot(Reference.conv2dForward(xx, w, g), r), x));
            check("conv dw " + g, Reference.conv2dBackwardFilter(x, r, g),
                    numeric(ww -> dot(Reference.conv2dForward(x, ww, g), r), w));
        }
    }

    @Test
    void batchNormTrainMode() {
        Random rnd = new Random(12);
        int pixels = 2 * 3 * 5, c = 3;
        double eps = 1e-5;
        double[] x = random(rnd, pixels * c, -2, 3);
        double[] gamma = random(rnd, c, 0.5, 1.5);
        double[] beta = random(rnd, c, -1, 1);
        double[] r = random(rnd, pixels * c, -1, 1);
        Reference.BnTrain fwd = Reference.batchNormTrain(x, gamma, beta, eps);
        Reference.BnGrads g = Reference.batchNormBackward(x, r, gamma, fwd.stats().mean(), fwd.stats().invStd());
        // Train mode: the batch statistics depend on x, so the numeric gradient goes through them too.
        check("bn dx", g.dx(), numeric(xx -> dot(Reference.batchNormTrain(xx, gamma, beta, eps).y(), r), x));
        check("bn dgamma", g.dgamma(), numeric(gg -> dot(Reference.batchNormTrain(x, gg, beta, eps).y(), r), gamma));
        check("bn dbeta", g.dbeta(), numeric(bb -> dot(Reference.batchNormTrain(x, gamma, bb, eps).y(), r), beta));
    }

    @Test
    void linear() {
        Random rnd = new Random(13);
        int n = 3, in = 7, out = 5;
        double[] x = random(rnd, n * in, -1, 1);
        double[] w = random(rnd, out * in, -1, 1);
        double[] b = random(rnd, out, -1, 1);
        double[] r = random(rnd, n * out, -1, 1);
        Reference.LinearGrads g = Reference.linearBackward(x, w, r, n, in, out);
        check("linear dx", g.dx(), numeric(xx -> dot(Reference.linearForward(xx, w, b, n, in, out), r), x));
        check("linear dw", g.dw(), numeric(ww -> dot(Reference.linearForward(x, ww, b, n, in, out), r), w));
        check("linear db", g.db(), numeric(bb -> dot(Reference.linearForward(x, w, bb, n, in, out), r), b));
    }

    @Test
    void maxPool() {
        PoolGeometry[] geoms = {
            new PoolGeometry(2, 5, 6, 3, 2, 2, 0),
            new PoolGeometry(1, 7, 5, 2, 3, 2, 1), // overlapping windows accumulate; padding
            new PoolGeometry(1, 4, 4, 3, 3, 1, 1),
        };
        Random rnd = new Random(14);
        for (PoolGeometry g : geoms) {
            int len = g.n() * g.h() * g.w() * g.c();
            // A shuffled grid with spacing 1e-2 >> H: no ties, and no perturbation changes a winner.
            double[] x = new double[len];
            for (int i = 0; i < len; i++) x[i] = -1 + 1e-2 * i;
            for (int i = len - 1; i > 0; i--) {
                int j = rnd.nextInt(i + 1);
                double t = x[i];
                x[i] = x[j];
                x[j] = t;
            }
            double[] r = random(rnd, g.n() * g.outH() * g.outW() * g.c(), -1, 1);
            Reference.MaxPool fwd = Reference.maxPoolForward(x, g);
            check("maxpool dx " + g, Reference.maxPoolBackward(r, fwd.argmax(), len),
                    numeric(xx -> dot(Reference.maxPoolForward(xx, g).y(), r), x));
        }
    }

    @Test
    void globalAvgPool() {
        Random rnd = new Random(15);
        int n = 3, hw = 5 * 3, c = 4;
        double[] x = random(rnd, n * hw * c, -1, 1);
        double[] r = random(rnd, n * c, -1, 1);
        check("avgpool dx", Reference.globalAvgPoolBackward(r, n, hw, c),
                numeric(xx -> dot(Reference.globalAvgPoolForward(xx, n, hw, c), r), x));
    }

    @Test
    void softmaxCrossEntropy() {
        Random rnd = new Random(16);
        int n = 4, classes = 7;
        double scale = 0.25; // 1 / batch, as the trainer uses it
        double[] logits = random(rnd, n * classes, -3, 3);
        int[] labels = {0, 6, 3, 3};
        Reference.Loss loss = Reference.softmaxCrossEntropy(logits, labels, n, classes, scale);
        check("softmax-ce dlogits", loss.dlogits(),
                numeric(z -> scale * Reference.softmaxCrossEntropy(z, labels, n, classes, scale).lossSum(), logits));
    }

    @Test
    void reluAndResidualAdd() {
        Random rnd = new Random(17);
        int len = 23;
        // Keep |x| >= 0.05 so no perturbation crosses the kink at 0.
        double[] a = random(rnd, len, 0.05, 1);
        for (int i = 0; i < len; i += 2) a[i] = -a[i];
        double[] b = random(rnd, len, -1, 1);
        double[] r = random(rnd, len, -1, 1);
        double[] y = Reference.relu(a);
        check("relu dx", Reference.reluBackward(y, r), numeric(xx -> dot(Reference.relu(xx), r), a));
        // out = a + b: both inputs receive dy unchanged.
        check("add da", r, numeric(aa -> dot(Reference.add(aa, b), r), a));
        check("add db", r, numeric(bb -> dot(Reference.add(a, bb), r), b));
    }
}
