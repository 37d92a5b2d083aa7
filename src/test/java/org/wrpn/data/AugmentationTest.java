package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.wrpn.data.Augmentation.Placement;

class AugmentationTest {
    /** A 3x3 image with 2 channels: value = 10*(y*3+x+1) + c. */
    static final byte[] IMAGE = new byte[18];
    /** Identity normalization: lut(c, v) = v. */
    static final float[] LUT = new float[512];

    static {
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 3; x++) {
                for (int c = 0; c < 2; c++) IMAGE[(y * 3 + x) * 2 + c] = (byte) (10 * (y * 3 + x + 1) + c);
            }
        }
        for (int i = 0; i < 512; i++) LUT[i] = i & 0xFF;
    }

    static float[][] channel(Placement p, int c) {
        float[] out = new float[18];
        java.util.Arrays.fill(out, Float.NaN); // poison
        Augmentation.render(IMAGE, 0, 3, 3, 2, LUT, p, out, 0);
        float[][] plane = new float[3][3];
        for (int y = 0; y < 3; y++) {
            for (int x = 0; x < 3; x++) plane[y][x] = out[(y * 3 + x) * 2 + c];
        }
        return plane;
    }

    @Test
    void identity() {
        assertArrayEquals(new float[][] {{10, 20, 30}, {40, 50, 60}, {70, 80, 90}}, channel(Placement.IDENTITY, 0));
        assertArrayEquals(new float[][] {{11, 21, 31}, {41, 51, 61}, {71, 81, 91}}, channel(Placement.IDENTITY, 1));
    }

    @Test
    void flip() {
        assertArrayEquals(new float[][] {{30, 20, 10}, {60, 50, 40}, {90, 80, 70}}, channel(new Placement(0, 0, true), 0));
    }

    @Test
    void shiftFillsWithZero() {
        // dy = 1, dx = -1: out(y, x) = in(y + 1, x - 1)
        assertArrayEquals(new float[][] {{0, 40, 50}, {0, 70, 80}, {0, 0, 0}}, channel(new Placement(1, -1, false), 0));
        assertArrayEquals(new float[][] {{0, 41, 51}, {0, 71, 81}, {0, 0, 0}}, channel(new Placement(1, -1, false), 1));
    }

    @Test
    void flipThenShift() {
        // crop (dy=-1, dx=1) then flip: out(y, x) = in(y - 1, 2 - x + 1)
        assertArrayEquals(new float[][] {{0, 0, 0}, {0, 30, 20}, {0, 60, 50}}, channel(new Placement(-1, 1, true), 0));
    }

    @Test
    void samplingIsDeterministicAndCoversTheRange() {
        Augmentation a = Augmentation.PAD4_CROP_FLIP;
        Set<Integer> dys = new HashSet<>();
        int flips = 0;
        for (int pos = 0; pos < 2000; pos++) {
            Placement p = a.sample(42, 3, pos);
            assertEquals(p, a.sample(42, 3, pos));
            assertTrue(Math.abs(p.dy()) <= 4 && Math.abs(p.dx()) <= 4);
            dys.add(p.dy());
            if (p.flip()) flips++;
        }
        assertEquals(9, dys.size());
        assertTrue(flips > 850 && flips < 1150, "flips " + flips);
        assertEquals(Placement.IDENTITY, Augmentation.NONE.sample(42, 3, 0));
    }
}
