package org.wrpn.backend;

/**
 * Batch norm with running statistics folded into one scale and shift per channel, so that inference is
 * {@code y = x * scale + shift} in float (two roundings, no FMA). The fold is in double, rounded once per
 * value; the CPU backend, the CUDA kernel (bn_inference_coef_f32) and the exporters all use this rule.
 */
public record BatchNormFold(float[] scale, float[] shift) {
    public static BatchNormFold of(float[] gamma, float[] beta, float[] runMean, float[] runVar, float eps) {
        int c = gamma.length;
        float[] scale = new float[c], shift = new float[c];
        for (int ch = 0; ch < c; ch++) {
            double inv = 1.0 / Math.sqrt(runVar[ch] + (double) eps);
            scale[ch] = (float) (gamma[ch] * inv);
            shift[ch] = (float) (beta[ch] - gamma[ch] * inv * runMean[ch]);
        }
        return new BatchNormFold(scale, shift);
    }
}
