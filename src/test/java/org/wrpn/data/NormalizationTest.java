package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.util.Random;
import org.junit.jupiter.api.Test;

class NormalizationTest {
    /** n random 4x4 images, channel c drawn from a different range per channel. */
    static Dataset skewed(int n, int channels, long seed) {
        Random r = new Random(seed);
        byte[] pixels = new byte[n * 16 * channels];
        for (int i = 0; i < pixels.length; i++) {
            int c = i % channels;
            pixels[i] = (byte) (c * 60 + r.nextInt(40 + c * 30));
        }
        return new Dataset(n, 4, 4, channels, 10, pixels, TestFiles.labels(n, seed));
    }

    @Test
    void normalizedChannelsHaveZeroMeanUnitStd() {
        Dataset d = skewed(500, 3, 1);
        Normalization norm = Normalization.fit(d);
        assertEquals(3, norm.channels());
        double[] sum = new double[3];
        double[] sq = new double[3];
        byte[] px = d.pixels();
        for (int i = 0; i < px.length; i++) {
            double v = norm.apply(px[i] & 0xFF, i % 3);
            sum[i % 3] += v;
            sq[i % 3] += v * v;
        }
        double n = px.length / 3.0;
        for (int c = 0; c < 3; c++) {
            double mean = sum[c] / n;
            assertEquals(0, mean, 1e-5, "mean of channel " + c);
            assertEquals(1, Math.sqrt(sq[c] / n - mean * mean), 1e-5, "std of channel " + c);
        }
        // the channels really differ
        float[] m = norm.mean();
        assertEquals(true, m[0] < m[1] && m[1] < m[2]);
    }

    @Test
    void exactValuesOnTinySet() {
        // one 1x2 image, one channel: values 0 and 255 -> mean 0.5, std 0.5
        Dataset d = new Dataset(1, 1, 2, 1, 10, new byte[] {0, (byte) 255}, new byte[] {0});
        Normalization norm = Normalization.fit(d);
        assertArrayEquals(new float[] {0.5f}, norm.mean());
        assertArrayEquals(new float[] {0.5f}, norm.std());
        assertEquals(-1f, norm.apply(0, 0));
        assertEquals(1f, norm.apply(255, 0));
        float[] lut = norm.lookupTable();
        assertEquals(256, lut.length);
        assertEquals(norm.apply(77, 0), lut[77]);
    }

    @Test
    void constantChannelGetsUnitStd() {
        Dataset d = new Dataset(2, 1, 1, 1, 10, new byte[] {9, 9}, new byte[] {0, 1});
        Normalization norm = Normalization.fit(d);
        assertEquals(1f, norm.std()[0]);
        assertEquals(0f, norm.apply(9, 0), 1e-7);
    }

    @Test
    void valueSemantics() {
        Normalization a = new Normalization(new float[] {0.1f, 0.2f}, new float[] {1f, 2f});
        Normalization b = new Normalization(new float[] {0.1f, 0.2f}, new float[] {1f, 2f});
        assertEquals(a, b);
        assertEquals(a.hashCode(), b.hashCode());
    }
}
