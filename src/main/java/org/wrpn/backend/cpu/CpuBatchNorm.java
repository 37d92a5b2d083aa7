package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.sameLength;

import org.wrpn.backend.BatchNormFold;
import org.wrpn.quant.PackedActivations;
import org.wrpn.quant.PackedLayout;

/**
 * Batch norm over pixels x C, per channel: statistics in double with the mean subtracted before
 * squaring (no one-pass cancellation), the normalisation in float by the formula of
 * Backend#batchNormApply, so a recomputation in backward repeats the training output bit for bit.
 */
final class CpuBatchNorm {
    private CpuBatchNorm() {}

    /** y may be null: statistics only (the fused quantize-pack normalises later). */
    static void train(float[] x, float[] gamma, float[] beta, float[] y, float[] mean, float[] invStd, float[] runMean,
            float[] runVar, float momentum, float eps) {
        train(x, gamma, beta, y, mean, invStd, runMean, runVar, momentum, eps, true);
    }

    /** {@link #train} on the Vector API loops where they serve and are preferred, else the scalar ones (the same bits). */
    static void train(float[] x, float[] gamma, float[] beta, float[] y, float[] mean, float[] invStd, float[] runMean,
            float[] runVar, float momentum, float eps, boolean preferVector) {
        int c = gamma.length;
        boolean vector = preferVector && vectorFor(c);
        if (y != null) sameLength(x, y, "batchNormTrain");
        int m = x.length / c;
        int blocks = blocks(m);
        double[][] part = new double[blocks][c];
        CpuThreads.forRange(blocks, 1, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                double[] s1 = part[b];
                if (vector) {
                    VectorBatchNorm.sum(x, c, b * BLOCK, Math.min(m, (b + 1) * BLOCK), s1);
                    continue;
                }
                for (int p = b * BLOCK, end = Math.min(m, p + BLOCK); p < end; p++) {
                    int base = p * c;
                    for (int ch = 0; ch < c; ch++) s1[ch] += x[base + ch];
                }
            }
        });
        double[] sum = inOrder(part, c);
        for (int ch = 0; ch < c; ch++) sum[ch] /= m;
        double[][] partSq = new double[blocks][c];
        CpuThreads.forRange(blocks, 1, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                double[] s1 = partSq[b];
                if (vector) {
                    VectorBatchNorm.sumSquares(x, sum, c, b * BLOCK, Math.min(m, (b + 1) * BLOCK), s1);
                    continue;
                }
                for (int p = b * BLOCK, end = Math.min(m, p + BLOCK); p < end; p++) {
                    int base = p * c;
                    for (int ch = 0; ch < c; ch++) {
                        double d = x[base + ch] - sum[ch];
                        s1[ch] += d * d;
                    }
                }
            }
        });
        double[] sumSq = inOrder(partSq, c);
        for (int ch = 0; ch < c; ch++) {
            double var = sumSq[ch] / m;
            mean[ch] = (float) sum[ch];
            invStd[ch] = (float) (1.0 / Math.sqrt(var + eps));
            double unbiased = m > 1 ? sumSq[ch] / (m - 1) : var;
            runMean[ch] = (float) ((1 - momentum) * runMean[ch] + momentum * sum[ch]);
            runVar[ch] = (float) ((1 - momentum) * runVar[ch] + momentum * unbiased);
        }
        if (y != null) normalize(x, gamma, beta, mean, invStd, y, vector);
    }

    static void apply(float[] x, float[] gamma, float[] beta, float[] mean, float[] invStd, float[] y) {
        sameLength(x, y, "batchNormApply");
        normalize(x, gamma, beta, mean, invStd, y, vectorFor(gamma.length));
    }

    /** invStd * gamma per channel, in float: the one scale of the apply formula. */
    private static float[] scale(float[] gamma, float[] invStd) {
        float[] scale = new float[gamma.length];
        for (int ch = 0; ch < scale.length; ch++) scale[ch] = invStd[ch] * gamma[ch];
        return scale;
    }

    /** y = (x - mean) * (invStd * gamma) + beta, in float. */
    private static void normalize(float[] x, float[] gamma, float[] beta, float[] mean, float[] invStd, float[] y, boolean vector) {
        int c = gamma.length;
        float[] scale = scale(gamma, invStd);
        int m = x.length / c;
        CpuThreads.forRange(m, pixelGrain(c), (p0, p1) -> {
            if (vector) {
                VectorBatchNorm.normalize(x, mean, scale, beta, c, p0, p1, y, 0);
                return;
            }
            for (int p = p0; p < p1; p++) {
                int base = p * c;
                for (int ch = 0; ch < c; ch++) y[base + ch] = (x[base + ch] - mean[ch]) * scale[ch] + beta[ch];
            }
        });
    }

    /** Floats per block of the fused quantize-pack: the block's values stay in L2, and the packer's per-call set-up is paid rarely. */
    private static final int PACK_BLOCK = 1 << 15;

    /**
     * The apply formula, the activation quantizer, packing and the STE mask in one pass: per block of
     * pixels the normalised values go to a small buffer, then through quant/'s block packer
     * ({@link PackedActivations#quantizePackBlock}, the loops quantizePack runs), so the codes have the bits of
     * apply followed by quantizePack, without an fp32 output. mask may be null.
     */
    static void applyQuantizePack(float[] x, float[] gamma, float[] beta, float[] mean, float[] invStd, int bits, int[] words,
            int[] mask) {
        int c = gamma.length;
        float[] scale = scale(gamma, invStd);
        int m = x.length / c;
        int wpp = PackedLayout.wordsPerPixel(c, bits), mpp = PackedLayout.wordsPerPixel(c, 1);
        if (x.length != (long) m * c || words.length != (long) m * wpp || (mask != null && mask.length != (long) m * mpp)) {
            throw new IllegalArgumentException("batchNormQuantizePack: " + x.length + " values of " + c + " channels into "
                    + words.length + " words" + (mask == null ? "" : " and " + mask.length + " mask words"));
        }
        int step = Math.max(1, PACK_BLOCK / c);
        boolean vector = vectorFor(c);
        CpuThreads.forRange(m, pixelGrain(c), (p0, p1) -> {
            float[] y = new float[Math.min(step, p1 - p0) * c]; // ranges can be far smaller than a block
            for (int b = p0; b < p1; b += step) {
                int n = Math.min(step, p1 - b);
                if (vector) {
                    VectorBatchNorm.normalize(x, mean, scale, beta, c, b, b + n, y, b * c);
                    PackedActivations.quantizePackBlock(y, 0, n, c, bits, words, b, mask);
                    continue;
                }
                // Copied first so the formula reads and writes one array at one index, which C2 vectorises
                // (a read from x at another offset is a possible alias to it, and the loop stays scalar).
                System.arraycopy(x, b * c, y, 0, n * c);
                for (int p = 0; p < n; p++) {
                    int base = p * c;
                    for (int ch = 0; ch < c; ch++) y[base + ch] = (y[base + ch] - mean[ch]) * scale[ch] + beta[ch];
                }
                PackedActivations.quantizePackBlock(y, 0, n, c, bits, words, b, mask);
            }
        });
    }

    /**
     * Pixels per partial sum. Statistics are summed per block of pixels (each block in pixel order,
     * in double), the blocks added in block order: an order fixed by the shape, so the CPU threads can
     * share the blocks without changing a bit, each reading whole pixels (not interleaved channels).
     */
    private static final int BLOCK = 2048;

    private static int blocks(int pixels) {
        return Math.max(1, (pixels + BLOCK - 1) / BLOCK);
    }

    private static double[] inOrder(double[][] part, int c) {
        double[] total = new double[c];
        for (double[] p : part) {
            for (int ch = 0; ch < c; ch++) total[ch] += p[ch];
        }
        return total;
    }

    /**
     * Whether the Vector API loops ({@link VectorBatchNorm}, the same bits) run for `channels` channels:
     * where quant/ packs on the Vector API too (the module is present; -Dwrpn.vectorPack=false turns both off).
     */
    static boolean vectorFor(int channels) {
        return PackedActivations.vectorApi() && VectorBatchNorm.serves(channels);
    }

    private static int pixelGrain(int channels) {
        return Math.max(1, CpuElementwise.GRAIN / channels);
    }

    /** y = x * scale + shift with the running statistics folded into a per-channel scale and shift. */
    static void inference(float[] x, float[] gamma, float[] beta, float[] runMean, float[] runVar, float eps, float[] y) {
        int c = gamma.length;
        sameLength(x, y, "batchNormInference");
        BatchNormFold fold = BatchNormFold.of(gamma, beta, runMean, runVar, eps);
        float[] scale = fold.scale(), shift = fold.shift();
        int m = x.length / c;
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) y[k] = x[k] * scale[ch] + shift[ch];
        }
    }

    static void backward(float[] x, float[] dy, float[] gamma, float[] mean, float[] invStd, float[] dx, float[] dgamma,
            float[] dbeta) {
        backward(x, dy, gamma, mean, invStd, dx, dgamma, dbeta, true);
    }

    /** {@link #backward} on the Vector API loops where they serve and are preferred, else the scalar ones (the same bits). */
    static void backward(float[] x, float[] dy, float[] gamma, float[] mean, float[] invStd, float[] dx, float[] dgamma,
            float[] dbeta, boolean preferVector) {
        int c = gamma.length;
        boolean vector = preferVector && vectorFor(c);
        int m = x.length / c;
        int blocks = blocks(m);
        double[][] partDy = new double[blocks][c], partDyXhat = new double[blocks][c];
        CpuThreads.forRange(blocks, 1, (b0, b1) -> {
            for (int b = b0; b < b1; b++) {
                double[] s1 = partDy[b], s2 = partDyXhat[b];
                if (vector) {
                    VectorBatchNorm.backwardSums(x, dy, mean, invStd, c, b * BLOCK, Math.min(m, (b + 1) * BLOCK), s1, s2);
                    continue;
                }
                for (int p = b * BLOCK, end = Math.min(m, p + BLOCK); p < end; p++) {
                    int base = p * c;
                    for (int ch = 0; ch < c; ch++) {
                        int k = base + ch;
                        double xhat = (x[k] - mean[ch]) * (double) invStd[ch];
                        s1[ch] += dy[k];
                        s2[ch] += dy[k] * xhat;
                    }
                }
            }
        });
        double[] sumDy = inOrder(partDy, c), sumDyXhat = inOrder(partDyXhat, c);
        for (int ch = 0; ch < c; ch++) {
            dgamma[ch] = (float) sumDyXhat[ch];
            dbeta[ch] = (float) sumDy[ch];
        }
        apply(x, dy, gamma, mean, invStd, sumDy, sumDyXhat, m, dx, vector);
    }

    /** The elementwise pass of backward from the batch's sums (Σ dy·xhat, Σ dy) over `rows` pixels. */
    static void backwardApply(float[] x, float[] dy, float[] gamma, float[] mean, float[] invStd, float[] dgamma, float[] dbeta,
            long rows, float[] dx) {
        backwardApply(x, dy, gamma, mean, invStd, dgamma, dbeta, rows, dx, true);
    }

    /** {@link #backwardApply} on the Vector API loops where they serve, or the scalar ones (the same bits). */
    static void backwardApply(float[] x, float[] dy, float[] gamma, float[] mean, float[] invStd, float[] dgamma, float[] dbeta,
            long rows, float[] dx, boolean preferVector) {
        int c = gamma.length;
        double[] sumDy = new double[c], sumDyXhat = new double[c];
        for (int ch = 0; ch < c; ch++) {
            sumDy[ch] = dbeta[ch];
            sumDyXhat[ch] = dgamma[ch];
        }
        apply(x, dy, gamma, mean, invStd, sumDy, sumDyXhat, rows, dx, preferVector && vectorFor(c));
    }

    private static void apply(float[] x, float[] dy, float[] gamma, float[] mean, float[] invStd, double[] sumDy, double[] sumDyXhat,
            long rows, float[] dx, boolean vector) {
        int c = gamma.length;
        int m = x.length / c;
        float[] k0 = new float[c], meanDy = new float[c], meanDyXhat = new float[c];
        for (int ch = 0; ch < c; ch++) {
            k0[ch] = gamma[ch] * invStd[ch];
            meanDy[ch] = (float) (sumDy[ch] / rows);
            meanDyXhat[ch] = (float) (sumDyXhat[ch] / rows);
        }
        // dx may be x or dy: the sums above are complete, and each element below reads its x and dy before writing dx.
        // dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)); in terms of xhat, not a folded
        // a*dy - b*x + c, which cancels badly when a channel's values sit close together.
        CpuThreads.forRange(m, pixelGrain(c), (p0, p1) -> {
            if (vector) {
                VectorBatchNorm.backwardApply(x, dy, mean, invStd, k0, meanDy, meanDyXhat, c, p0, p1, dx);
                return;
            }
            for (int p = p0; p < p1; p++) {
                int base = p * c;
                for (int ch = 0; ch < c; ch++) {
                    int k = base + ch;
                    float xhat = (x[k] - mean[ch]) * invStd[ch];
                    dx[k] = k0[ch] * (dy[k] - meanDy[ch] - xhat * meanDyXhat[ch]);
                }
            }
        });
    }
}
