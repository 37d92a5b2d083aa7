package org.wrpn.data;

import java.util.Arrays;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/** Per-channel normalization (x/255 - mean) / std, with mean and std fitted on a training set. */
public record Normalization(float[] mean, float[] std) {
    private static final Logger LOG = LogManager.getLogger(Normalization.class);

    public Normalization {
        if (mean.length == 0 || mean.length != std.length) {
            throw new IllegalArgumentException("mean and std need the same, non-zero length: " + mean.length + " vs " + std.length);
        }
        mean = mean.clone();
        std = std.clone();
        for (int c = 0; c < std.length; c++) {
            if (!(std[c] > 0) || !Float.isFinite(std[c]) || !Float.isFinite(mean[c])) {
                throw new IllegalArgumentException("channel " + c + ": mean " + mean[c] + ", std " + std[c]
                        + " (std must be positive and finite)");
            }
        }
    }

    /** Mean and population std per channel over all pixels, in double over bytes/255. */
    public static Normalization fit(Dataset data) {
        int channels = data.channels();
        long[] sum = new long[channels];
        long[] sumSquares = new long[channels];
        byte[] pixels = data.pixels();
        for (int i = 0; i < pixels.length; i += channels) {
            for (int c = 0; c < channels; c++) {
                int v = pixels[i + c] & 0xFF;
                sum[c] += v;
                sumSquares[c] += v * v;
            }
        }
        return fromSums(sum, sumSquares, (double) data.count() * data.height() * data.width(), data.toString());
    }

    /** Mean and population std per channel from sums of byte values and of their squares over n pixels. */
    static Normalization fromSums(long[] sum, long[] sumSquares, double n, String what) {
        int channels = sum.length;
        float[] mean = new float[channels];
        float[] std = new float[channels];
        for (int c = 0; c < channels; c++) {
            double m = n == 0 ? 0 : sum[c] / n / 255.0;
            double var = n == 0 ? 0 : sumSquares[c] / n / (255.0 * 255.0) - m * m;
            double s = Math.sqrt(Math.max(var, 0));
            if (s < 1e-6) {
                LOG.warn("channel {} is constant ({}) in {}: using std 1", c, m, what);
                s = 1;
            }
            mean[c] = (float) m;
            std[c] = (float) s;
        }
        return new Normalization(mean, std);
    }

    public int channels() {
        return mean.length;
    }

    @Override
    public float[] mean() {
        return mean.clone();
    }

    @Override
    public float[] std() {
        return std.clone();
    }

    /** Normalized value of byte value v (0..255) in channel c. */
    public float apply(int v, int c) {
        return (float) ((v / 255.0 - mean[c]) / std[c]);
    }

    /** apply(v, c) for every v and c, at index c * 256 + v. */
    public float[] lookupTable() {
        float[] table = new float[channels() * 256];
        for (int c = 0; c < channels(); c++) {
            for (int v = 0; v < 256; v++) table[c * 256 + v] = apply(v, c);
        }
        return table;
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Normalization n && Arrays.equals(mean, n.mean) && Arrays.equals(std, n.std);
    }

    @Override
    public int hashCode() {
        return 31 * Arrays.hashCode(mean) + Arrays.hashCode(std);
    }

    @Override
    public String toString() {
        return "Normalization[mean=" + Arrays.toString(mean) + ", std=" + Arrays.toString(std) + "]";
    }
}
