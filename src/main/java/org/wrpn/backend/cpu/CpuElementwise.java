package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.sameLength;

import org.wrpn.backend.LossResult;

/** The element- and row-wise ops: adds, ReLU, softmax cross-entropy, the SGD step, sums of squares. */
final class CpuElementwise {
    private CpuElementwise() {}

    /** Elements per parallel part at least: smaller tensors are not worth a hand-off. */
    static final int GRAIN = 1 << 15;

    static void addInPlace(float[] d, float[] s) {
        sameLength(d, s, "addInPlace");
        CpuThreads.forRange(d.length, GRAIN, (from, to) -> {
            for (int k = from; k < to; k++) d[k] += s[k];
        });
    }

    static void add(float[] x, float[] y, float[] o) {
        sameLength(x, y, "add");
        sameLength(x, o, "add");
        CpuThreads.forRange(o.length, GRAIN, (from, to) -> {
            for (int k = from; k < to; k++) o[k] = x[k] + y[k];
        });
    }

    /** d = s > 0 ? s : +0 (NaN gives 0), branch-free: a sign-random branch costs more than the memory traffic. */
    static void relu(float[] s, float[] d) {
        sameLength(s, d, "relu");
        CpuThreads.forRange(s.length, GRAIN, (from, to) -> {
            for (int k = from; k < to; k++) {
                int bits = Float.floatToRawIntBits(s[k]);
                d[k] = Float.intBitsToFloat(bits & positiveMask(bits));
            }
        });
    }

    /** d = y > 0 ? g : +0, branch-free (g's bits pass unchanged). */
    static void reluBackward(float[] y, float[] g, float[] d) {
        sameLength(y, g, "reluBackward");
        sameLength(y, d, "reluBackward");
        CpuThreads.forRange(y.length, GRAIN, (from, to) -> {
            for (int k = from; k < to; k++) {
                int mask = positiveMask(Float.floatToRawIntBits(y[k]));
                d[k] = Float.intBitsToFloat(Float.floatToRawIntBits(g[k]) & mask);
            }
        });
    }

    /**
     * -1 where the float with these bits is > 0 (bits in 1..0x7F800000: positive, up to +infinity,
     * not NaN), else 0: t = bits - 1 must lie in [0, 0x7F800000), i.e. t >= 0 and t - 0x7F800000 < 0.
     */
    static int positiveMask(int bits) {
        int t = bits - 1;
        return ((t - 0x7F800000) & ~t) >> 31;
    }

    /** Per row a log-sum-exp in double around the row's maximum (the first maximum is the prediction). */
    static LossResult softmaxCrossEntropy(float[] z, int[] labels, float[] dz, float gradScale) {
        int n = labels.length;
        int classes = z.length / n;
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            int base = i * classes;
            int label = labels[i];
            if (label < 0 || label >= classes) throw new IllegalArgumentException("label " + label + " outside 0.." + (classes - 1));
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < classes; j++) {
                if (z[base + j] > max) {
                    max = z[base + j];
                    arg = j;
                }
            }
            if (arg == label) correct++;
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(z[base + j] - max);
            double logSum = Math.log(sum) + max;
            loss += logSum - z[base + label];
            for (int j = 0; j < classes; j++) {
                double p = Math.exp(z[base + j] - logSum);
                dz[base + j] = (float) ((p - (j == label ? 1 : 0)) * gradScale);
            }
        }
        return new LossResult(loss, correct, n);
    }

    static void sgdStep(float[] p, float[] g, float[] v, float lr, float momentum, float weightDecay) {
        sameLength(p, g, "sgdStep");
        sameLength(p, v, "sgdStep");
        for (int k = 0; k < p.length; k++) {
            float gk = g[k] + weightDecay * p[k];
            v[k] = momentum * v[k] + gk;
            p[k] -= lr * v[k];
        }
    }

    static void clampInPlace(float[] x, float lo, float hi) {
        for (int k = 0; k < x.length; k++) {
            float v = x[k];
            x[k] = v < lo ? lo : v > hi ? hi : v;
        }
    }

    /** Sum of squares in double, NaN as soon as an element is not finite. */
    static double sumSquares(float[] x) {
        double s = 0;
        for (float v : x) {
            if (!Float.isFinite(v)) return Double.NaN;
            s += (double) v * v;
        }
        return s;
    }
}
