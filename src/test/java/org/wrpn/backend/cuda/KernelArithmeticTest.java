package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;

import org.junit.jupiter.api.Test;
import org.wrpn.reference.Reference;

/**
 * The kernels compute a code's value as one IEEE float division, (float) u / (float) levels
 * (__fdiv_rn), while the reference divides in double and rounds to float. Check on every code of
 * every bit width that the two agree, so that the GPU tests' bit-exact comparisons are sound.
 */
class KernelArithmeticTest {
    @Test
    void floatDivisionOfCodesEqualsTheReferenceValues() {
        for (int k : new int[] {1, 2, 4, 8}) {
            float levels = (1 << k) - 1;
            for (int u = 0; u <= (1 << k) - 1; u++) {
                assertEquals(Float.floatToRawIntBits(Reference.activationValue(u, k)),
                        Float.floatToRawIntBits((float) u / levels), "activation k=" + k + " u=" + u);
            }
        }
        for (int k : new int[] {2, 4, 8}) {
            int levels = (1 << (k - 1)) - 1;
            for (int s = -levels; s <= levels; s++) {
                assertEquals(Float.floatToRawIntBits(Reference.weightValue(s, k) + 0.0f),
                        Float.floatToRawIntBits((float) s / (float) levels + 0.0f), "weight k=" + k + " s=" + s);
            }
        }
    }
}
