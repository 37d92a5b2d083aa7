package org.wrpn.reference;

import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.PoolGeometry;

/**
 * The executable specification of every op (DESIGN.md, "Tests"): naive loops in double, long for
 * integer code paths. Deliberately simple and independent of main code (it uses only the geometry
 * records for their sizes): quantizers and the packed layout are re-derived here from DESIGN.md.
 *
 * <p>Layouts: activations channels-last (n, h, w, c) row-major; conv weights (cout, kh, kw, cin).
 */
public final class Reference {
    private Reference() {}

    // ---- conversions ---------------------------------------------------------------------------

    public static double[] toDouble(float[] a) {
        double[] d = new double[a.length];
        for (int i = 0; i < a.length; i++) d[i] = a[i];
        return d;
    }

    public static float[] toFloat(double[] a) {
        float[] f = new float[a.length];
        for (int i = 0; i < a.length; i++) f[i] = (float) a[i];
        return f;
    }

    // ---- elementwise ---------------------------------------------------------------------------

    public static double[] add(double[] a, double[] b) {
        double[] y = new double[a.length];
        for (int i = 0; i < a.length; i++) y[i] = a[i] + b[i];
        return y;
    }

    public static double[] relu(double[] x) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] > 0 ? x[i] : 0;
        return y;
    }

    /** dx = dy where y &gt; 0. */
    public static double[] reluBackward(double[] y, double[] dy) {
        double[] dx = new double[y.length];
        for (int i = 0; i < y.length; i++) dx[i] = y[i] > 0 ? dy[i] : 0;
        return dx;
    }

    /** Sum of squares; NaN when any element is not finite. */
    public static double sumSquares(double[] x) {
        double s = 0;
        for (double v : x) {
            if (!Double.isFinite(v)) return Double.NaN;
            s += v * v;
        }
        return s;
    }

    // ---- convolution ---------------------------------------------------------------------------

    private static int xIndex(ConvGeometry g, int n, int y, int x, int c) {
        return ((n * g.h() + y) * g.w() + x) * g.cin() + c;
    }

    private static int yIndex(ConvGeometry g, int n, int oy, int ox, int co) {
        return ((n * g.outH() + oy) * g.outW() + ox) * g.cout() + co;
    }

    private static int wIndex(ConvGeometry g, int co, int ky, int kx, int ci) {
        return ((co * g.kh() + ky) * g.kw() + kx) * g.cin() + ci;
    }

    public static double[] conv2dForward(double[] x, double[] w, ConvGeometry g) {
        double[] y = new double[g.n() * g.outH() * g.outW() * g.cout()];
        for (int n = 0; n < g.n(); n++)
            for (int oy = 0; oy < g.outH(); oy++)
                for (int ox = 0; ox < g.outW(); ox++)
                    for (int co = 0; co < g.cout(); co++) {
                        double s = 0;
                        for (int ky = 0; ky < g.kh(); ky++)
                            for (int kx = 0; kx < g.kw(); kx++) {
                                int iy = oy * g.stride() - g.pad() + ky;
                                int ix = ox * g.stride() - g.pad() + kx;
                                if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue; // zero padding
                                for (int ci = 0; ci < g.cin(); ci++) {
                                    s += x[xIndex(g, n, iy, ix, ci)] * w[wIndex(g, co, ky, kx, ci)];
                                }
                            }
                        y[yIndex(g, n, oy, ox, co)] = s;
                    }
        return y;
    }

    /** The adjoint of conv2dForward in x: scatters every output gradient back through the window. */
    public static double[] conv2dBackwardData(double[] dy, double[] w, ConvGeometry g) {
        double[] dx = new double[g.n() * g.h() * g.w() * g.cin()];
        for (int n = 0; n < g.n(); n++)
            for (int oy = 0; oy < g.outH(); oy++)
                for (int ox = 0; ox < g.outW(); ox++)
                    for (int co = 0; co < g.cout(); co++) {
                        double d = dy[yIndex(g, n, oy, ox, co)];
                        for (int ky = 0; ky < g.kh(); ky++)
                            for (int kx = 0; kx < g.kw(); kx++) {
                                int iy = oy * g.stride() - g.pad() + ky;
                                int ix = ox * g.stride() - g.pad() + kx;
                                if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                                for (int ci = 0; ci < g.cin(); ci++) {
                                    dx[xIndex(g, n, iy, ix, ci)] += d * w[wIndex(g, co, ky, kx, ci)];
                                }
                            }
                    }
        return dx;
    }

    /** The adjoint of conv2dForward in w. */
    public static double[] conv2dBackwardFilter(double[] x, double[] dy, ConvGeometry g) {
        double[] dw = new double[g.cout() * g.kh() * g.kw() * g.cin()];
        for (int n = 0; n < g.n(); n++)
            for (int oy = 0; oy < g.outH(); oy++)
                for (int ox = 0; ox < g.outW(); ox++)
                    for (int co = 0; co < g.cout(); co++) {
                        double d = dy[yIndex(g, n, oy, ox, co)];
                        for (int ky = 0; ky < g.kh(); ky++)
                            for (int kx = 0; kx < g.kw(); kx++) {
                                int iy = oy * g.stride() - g.pad() + ky;
                                int ix = ox * g.stride() - g.pad() + kx;
                                if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                                for (int ci = 0; ci < g.cin(); ci++) {
                                    dw[wIndex(g, co, ky, kx, ci)] += d * x[xIndex(g, n, iy, ix, ci)];
                                }
                            }
                    }
        return dw;
    }

    // ---- batch norm ----------------------------------------------------------------------------

    /** Batch statistics per channel: mean, biased variance (for normalizing), unbiased variance (running stats). */
    public record BnStats(double[] mean, double[] var, double[] unbiasedVar, double[] invStd) {}

    public record BnTrain(double[] y, BnStats stats) {}

    public record BnGrads(double[] dx, double[] dgamma, double[] dbeta) {}

    public static BnStats batchNormStats(double[] x, int channels, double eps) {
        int m = x.length / channels;
        double[] mean = new double[channels];
        double[] var = new double[channels];
        double[] unbiased = new double[channels];
        double[] invStd = new double[channels];
        for (int c = 0; c < channels; c++) {
            double s = 0;
            for (int p = 0; p < m; p++) s += x[p * channels + c];
            mean[c] = s / m;
            double q = 0;
            for (int p = 0; p < m; p++) {
                double d = x[p * channels + c] - mean[c];
                q += d * d;
            }
            var[c] = q / m;
            unbiased[c] = m > 1 ? q / (m - 1) : q / m; // one sample has no unbiased estimate; keep the biased one
            invStd[c] = 1.0 / Math.sqrt(var[c] + eps);
        }
        return new BnStats(mean, var, unbiased, invStd);
    }

    public static BnTrain batchNormTrain(double[] x, double[] gamma, double[] beta, double eps) {
        int channels = gamma.length;
        BnStats st = batchNormStats(x, channels, eps);
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int c = i % channels;
            y[i] = gamma[c] * (x[i] - st.mean[c]) * st.invStd[c] + beta[c];
        }
        return new BnTrain(y, st);
    }

    /** BN with given batch statistics: y = gamma * (x - mean) * invStd + beta. */
    public static double[] batchNormApply(double[] x, double[] gamma, double[] beta, double[] mean, double[] invStd) {
        int channels = gamma.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int c = i % channels;
            y[i] = gamma[c] * (x[i] - mean[c]) * invStd[c] + beta[c];
        }
        return y;
    }

    /** run = (1 - momentum) * run + momentum * batch. */
    public static double[] runningUpdate(double[] run, double[] batch, double momentum) {
        double[] r = new double[run.length];
        for (int c = 0; c < run.length; c++) r[c] = (1 - momentum) * run[c] + momentum * batch[c];
        return r;
    }

    public static double[] batchNormInference(double[] x, double[] gamma, double[] beta, double[] runMean,
            double[] runVar, double eps) {
        int channels = gamma.length;
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int c = i % channels;
            y[i] = gamma[c] * (x[i] - runMean[c]) / Math.sqrt(runVar[c] + eps) + beta[c];
        }
        return y;
    }

    public static BnGrads batchNormBackward(double[] x, double[] dy, double[] gamma, double[] mean, double[] invStd) {
        int channels = gamma.length;
        int m = x.length / channels;
        double[] dgamma = new double[channels];
        double[] dbeta = new double[channels];
        for (int i = 0; i < x.length; i++) {
            int c = i % channels;
            double xhat = (x[i] - mean[c]) * invStd[c];
            dgamma[c] += dy[i] * xhat;
            dbeta[c] += dy[i];
        }
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int c = i % channels;
            double xhat = (x[i] - mean[c]) * invStd[c];
            dx[i] = gamma[c] * invStd[c] / m * (m * dy[i] - dbeta[c] - xhat * dgamma[c]);
        }
        return new BnGrads(dx, dgamma, dbeta);
    }

    /** batchNormBackward's dx for a slice of the batch, from the whole batch's sums over `rows` pixels. */
    public static double[] batchNormBackwardApply(double[] x, double[] dy, double[] gamma, double[] mean, double[] invStd,
            double[] dgamma, double[] dbeta, long rows) {
        int channels = gamma.length;
        double[] dx = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            int c = i % channels;
            double xhat = (x[i] - mean[c]) * invStd[c];
            dx[i] = gamma[c] * invStd[c] / rows * (rows * dy[i] - dbeta[c] - xhat * dgamma[c]);
        }
        return dx;
    }

    // ---- pooling -------------------------------------------------------------------------------

    public record MaxPool(double[] y, long[] argmax) {}

    /** Padding cells never win; ties go to the first maximum in row-major window order. */
    public static MaxPool maxPoolForward(double[] x, PoolGeometry g) {
        int oh = g.outH(), ow = g.outW();
        double[] y = new double[g.n() * oh * ow * g.c()];
        long[] arg = new long[y.length];
        for (int n = 0; n < g.n(); n++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++)
                    for (int c = 0; c < g.c(); c++) {
                        double best = 0;
                        long bestIdx = -1;
                        for (int ky = 0; ky < g.window(); ky++)
                            for (int kx = 0; kx < g.window(); kx++) {
                                int iy = oy * g.stride() - g.pad() + ky;
                                int ix = ox * g.stride() - g.pad() + kx;
                                if (iy < 0 || iy >= g.h() || ix < 0 || ix >= g.w()) continue;
                                long idx = (((long) n * g.h() + iy) * g.w() + ix) * g.c() + c;
                                if (bestIdx < 0 || x[(int) idx] > best) { // strict: the first maximum stays
                                    best = x[(int) idx];
                                    bestIdx = idx;
                                }
                            }
                        int o = ((n * oh + oy) * ow + ox) * g.c() + c;
                        y[o] = best;
                        arg[o] = bestIdx;
                    }
        return new MaxPool(y, arg);
    }

    public static double[] maxPoolBackward(double[] dy, long[] argmax, int xLength) {
        double[] dx = new double[xLength];
        for (int o = 0; o < dy.length; o++) dx[(int) argmax[o]] += dy[o];
        return dx;
    }

    /** (n, h, w, c) to (n, c): the mean over the h*w pixels of each image. */
    public static double[] globalAvgPoolForward(double[] x, int n, int hw, int c) {
        double[] y = new double[n * c];
        for (int b = 0; b < n; b++)
            for (int p = 0; p < hw; p++)
                for (int ch = 0; ch < c; ch++) y[b * c + ch] += x[(b * hw + p) * c + ch];
        for (int i = 0; i < y.length; i++) y[i] /= hw;
        return y;
    }

    public static double[] globalAvgPoolBackward(double[] dy, int n, int hw, int c) {
        double[] dx = new double[n * hw * c];
        for (int b = 0; b < n; b++)
            for (int p = 0; p < hw; p++)
                for (int ch = 0; ch < c; ch++) dx[(b * hw + p) * c + ch] = dy[b * c + ch] / hw;
        return dx;
    }

    // ---- linear --------------------------------------------------------------------------------

    public record LinearGrads(double[] dx, double[] dw, double[] db) {}

    /** y = x w^T + b; x (n, in), w (out, in), b (out) or null. */
    public static double[] linearForward(double[] x, double[] w, double[] b, int n, int in, int out) {
        double[] y = new double[n * out];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) {
                double s = b == null ? 0 : b[o];
                for (int k = 0; k < in; k++) s += x[i * in + k] * w[o * in + k];
                y[i * out + o] = s;
            }
        return y;
    }

    public static LinearGrads linearBackward(double[] x, double[] w, double[] dy, int n, int in, int out) {
        double[] dx = new double[n * in];
        double[] dw = new double[out * in];
        double[] db = new double[out];
        for (int i = 0; i < n; i++)
            for (int o = 0; o < out; o++) {
                double d = dy[i * out + o];
                db[o] += d;
                for (int k = 0; k < in; k++) {
                    dx[i * in + k] += d * w[o * in + k];
                    dw[o * in + k] += d * x[i * in + k];
                }
            }
        return new LinearGrads(dx, dw, db);
    }

    // ---- loss and optimizer --------------------------------------------------------------------

    public record Loss(double lossSum, int correct, double[] dlogits) {}

    /** Sum over the batch of -log softmax(label); dlogits = (softmax - onehot) * gradScale. */
    public static Loss softmaxCrossEntropy(double[] logits, int[] labels, int n, int classes, double gradScale) {
        double sum = 0;
        int correct = 0;
        double[] d = new double[n * classes];
        for (int i = 0; i < n; i++) {
            int off = i * classes;
            double max = Double.NEGATIVE_INFINITY;
            int arg = -1;
            for (int k = 0; k < classes; k++) {
                if (logits[off + k] > max) { // strict: the first maximum wins
                    max = logits[off + k];
                    arg = k;
                }
            }
            if (arg == labels[i]) correct++;
            double z = 0;
            for (int k = 0; k < classes; k++) z += Math.exp(logits[off + k] - max);
            double logZ = max + Math.log(z);
            sum += logZ - logits[off + labels[i]];
            for (int k = 0; k < classes; k++) {
                double p = Math.exp(logits[off + k] - logZ);
                d[off + k] = (p - (k == labels[i] ? 1 : 0)) * gradScale;
            }
        }
        return new Loss(sum, correct, d);
    }

    public record Sgd(double[] param, double[] velocity) {}

    /** clamp(x, lo, hi) element-wise; NaN stays NaN. */
    public static double[] clamp(double[] x, double lo, double hi) {
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) y[i] = x[i] < lo ? lo : x[i] > hi ? hi : x[i];
        return y;
    }

    /** PyTorch SGD: g = grad + wd * p; v = momentum * v + g; p -= lr * v. */
    public static Sgd sgdStep(double[] p, double[] grad, double[] v, double lr, double momentum, double wd) {
        double[] np = new double[p.length];
        double[] nv = new double[p.length];
        for (int i = 0; i < p.length; i++) {
            double g = grad[i] + wd * p[i];
            nv[i] = momentum * v[i] + g;
            np[i] = p[i] - lr * nv[i];
        }
        return new Sgd(np, nv);
    }

    // ---- quantizers (DESIGN.md "WRPN quantization") --------------------------------------------
    // Codes are computed in float exactly as the contract says (the product clamp(x) * levels is a
    // float multiply), then rounded half to even; everything after the code is exact integer math.

    /** 2^k - 1. */
    public static long activationLevels(int k) {
        return (1L << k) - 1;
    }

    /** 2^(k-1) - 1. */
    public static long weightLevels(int k) {
        return (1L << (k - 1)) - 1;
    }

    /** u = rint(clamp(x, 0, 1) * (2^k - 1)); NaN gives 0, infinities clamp. */
    public static long activationCode(float x, int k) {
        if (x != x) return 0;
        float clamped = Math.min(1f, Math.max(0f, x));
        float scaled = clamped * (float) activationLevels(k);
        return (long) Math.rint(scaled);
    }

    /** u / (2^k - 1), correctly rounded to float. */
    public static float activationValue(long code, int k) {
        return (float) ((double) code / (double) activationLevels(k));
    }

    public static long[] activationCodes(float[] x, int k) {
        long[] u = new long[x.length];
        for (int i = 0; i < x.length; i++) u[i] = activationCode(x[i], k);
        return u;
    }

    public static float[] quantizeActivations(float[] x, int k) {
        float[] y = new float[x.length];
        for (int i = 0; i < x.length; i++) y[i] = activationValue(activationCode(x[i], k), k);
        return y;
    }

    /** The STE mask: true where 0 &lt; x &lt; 1 (false for NaN). */
    public static boolean activationMask(float x) {
        return x > 0f && x < 1f;
    }

    public static float[] quantizeActivationsBackward(float[] x, float[] dy) {
        float[] dx = new float[x.length];
        for (int i = 0; i < x.length; i++) dx[i] = activationMask(x[i]) ? dy[i] : 0f;
        return dx;
    }

    /** s = rint(clamp(w, -1, 1) * (2^(k-1) - 1)) for k in {2, 4, 8}; NaN gives 0. */
    public static long weightCode(float w, int k) {
        if (k != 2 && k != 4 && k != 8) throw new IllegalArgumentException("k = " + k);
        if (w != w) return 0;
        float clamped = Math.min(1f, Math.max(-1f, w));
        float scaled = clamped * (float) weightLevels(k);
        return (long) Math.rint(scaled);
    }

    public static float weightValue(long code, int k) {
        return (float) ((double) code / (double) weightLevels(k));
    }

    /** Binary code: sign(w) with sign(0) = +1. */
    public static long binaryCode(float w) {
        return w < 0f ? -1 : 1;
    }

    /** mean |w| over the layer in double (NaN entries count as 0, as in Quantizer.java), rounded to float. */
    public static float binaryScale(float[] w) {
        double s = 0;
        for (float v : w) if (v == v) s += Math.abs((double) v);
        return w.length == 0 ? 0f : (float) (s / w.length);
    }

    /** Weight codes: signed k-bit codes, or ±1 for k = 1. */
    public static long[] weightCodes(float[] w, int k) {
        long[] s = new long[w.length];
        for (int i = 0; i < w.length; i++) s[i] = k == 1 ? binaryCode(w[i]) : weightCode(w[i], k);
        return s;
    }

    /** Weight values at k bits; k = 32 copies, k = 1 is sign(w) * mean|w|. */
    public static float[] quantizeWeights(float[] w, int k) {
        float[] out = new float[w.length];
        if (k == 32) return w.clone();
        if (k == 1) {
            float scale = binaryScale(w);
            for (int i = 0; i < w.length; i++) out[i] = binaryCode(w[i]) * scale;
            return out;
        }
        for (int i = 0; i < w.length; i++) out[i] = weightValue(weightCode(w[i], k), k);
        return out;
    }

    // ---- packed layout (DESIGN.md "Packed activations"), bit by bit ----------------------------

    /** Words per pixel: ceil(channels * k / 32). */
    public static int wordsPerPixel(int channels, int k) {
        return (int) (((long) channels * k + 31) / 32);
    }

    /**
     * Packs pixels x channels codes: channel c of a pixel occupies bits [c*k, c*k+k) of the pixel's
     * bit string, and bit j of that string is bit (j % 32) of word j / 32. With 32/k codes per word
     * this is word c / (32/k), bits (c % (32/k)) * k upward. Padding bits are zero.
     */
    public static int[] pack(long[] codes, int pixels, int channels, int k) {
        int wpp = wordsPerPixel(channels, k);
        long[] words = new long[pixels * wpp];
        for (int p = 0; p < pixels; p++)
            for (int c = 0; c < channels; c++) {
                long code = codes[p * channels + c];
                if (code < 0 || code >= (1L << k)) throw new IllegalArgumentException("code " + code + " out of range at k=" + k);
                for (int b = 0; b < k; b++) {
                    if (((code >> b) & 1) == 0) continue;
                    long bit = (long) c * k + b;
                    words[p * wpp + (int) (bit / 32)] |= 1L << (bit % 32);
                }
            }
        int[] out = new int[words.length];
        for (int i = 0; i < words.length; i++) out[i] = (int) words[i];
        return out;
    }

    public static long[] unpack(int[] words, int pixels, int channels, int k) {
        int wpp = wordsPerPixel(channels, k);
        long[] codes = new long[pixels * channels];
        for (int p = 0; p < pixels; p++)
            for (int c = 0; c < channels; c++) {
                long code = 0;
                for (int b = 0; b < k; b++) {
                    long bit = (long) c * k + b;
                    long word = words[p * wpp + (int) (bit / 32)] & 0xFFFFFFFFL;
                    code |= ((word >> (bit % 32)) & 1) << b;
                }
                codes[p * channels + c] = code;
            }
        return codes;
    }

    /** The STE mask as k = 1 codes. */
    public static long[] maskCodes(float[] x) {
        long[] m = new long[x.length];
        for (int i = 0; i < x.length; i++) m[i] = activationMask(x[i]) ? 1 : 0;
        return m;
    }

    /** STE backward from a saved mask: dx = dy where the mask code is 1. */
    public static float[] maskGradient(long[] mask, float[] dy) {
        float[] dx = new float[dy.length];
        for (int i = 0; i < dy.length; i++) dx[i] = mask[i] == 1 ? dy[i] : 0f;
        return dx;
    }
}
