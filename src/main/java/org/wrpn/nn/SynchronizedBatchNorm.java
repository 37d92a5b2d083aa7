package org.wrpn.nn;

import org.wrpn.tensor.Tensor;

/**
 * Batch norm over the global batch of a data-parallel step (every replica's images): the per-channel
 * statistics and gradient sums of each replica's batch, combined over the replicas. All replicas
 * hold batches of equal size, so the global mean is the mean of the replicas' means and the global
 * (biased) variance is the mean of their variances plus the variance of their means, formed in double.
 */
final class SynchronizedBatchNorm {
    private SynchronizedBatchNorm() {}

    /**
     * Replaces this replica's saved mean and 1/std by the global batch's, and sets the running
     * statistics from their values before the step (runningBefore: means, then variances) as the
     * backend's batch-norm update would with the global batch of rows x replicas pixels.
     */
    static void statistics(ExecutionContext ctx, Tensor saveMean, Tensor saveInvStd, Tensor runningMean, Tensor runningVar,
            float[] runningBefore, long rows, float momentum, float eps) {
        int c = runningBefore.length / 2;
        float[] mean = new float[c], invStd = new float[c];
        ctx.backend().download(saveMean, mean);
        ctx.backend().download(saveInvStd, invStd);
        double[] sums = new double[3 * c];
        for (int i = 0; i < c; i++) {
            double var = 1.0 / ((double) invStd[i] * invStd[i]) - eps;
            sums[i] = mean[i];
            sums[c + i] = Math.max(0, var);
            sums[2 * c + i] = (double) mean[i] * mean[i];
        }
        int replicas = ctx.replicas().count();
        ctx.replicas().sum(sums);
        long globalRows = rows * replicas;
        float[] runMean = new float[c], runVar = new float[c];
        for (int i = 0; i < c; i++) {
            double m = sums[i] / replicas;
            double var = Math.max(0, sums[c + i] / replicas + sums[2 * c + i] / replicas - m * m);
            mean[i] = (float) m;
            invStd[i] = (float) (1.0 / Math.sqrt(var + eps));
            double unbiased = globalRows > 1 ? var * globalRows / (globalRows - 1) : var;
            runMean[i] = (float) ((1 - momentum) * runningBefore[i] + momentum * m);
            runVar[i] = (float) ((1 - momentum) * runningBefore[c + i] + momentum * unbiased);
        }
        ctx.backend().upload(mean, saveMean);
        ctx.backend().upload(invStd, saveInvStd);
        ctx.backend().upload(runMean, runningMean);
        ctx.backend().upload(runVar, runningVar);
    }

    /** Replaces this replica's sums of dy·xhat and dy (the gradients of gamma and beta) by their sums over the replicas. */
    static void sumGradients(ExecutionContext ctx, Tensor dgamma, Tensor dbeta) {
        int c = (int) dgamma.shape().elements();
        float[] g = new float[c], b = new float[c];
        ctx.backend().download(dgamma, g);
        ctx.backend().download(dbeta, b);
        double[] sums = new double[2 * c];
        for (int i = 0; i < c; i++) {
            sums[i] = g[i];
            sums[c + i] = b[i];
        }
        ctx.replicas().sum(sums);
        for (int i = 0; i < c; i++) {
            g[i] = (float) sums[i];
            b[i] = (float) sums[c + i];
        }
        ctx.backend().upload(g, dgamma);
        ctx.backend().upload(b, dbeta);
    }
}
