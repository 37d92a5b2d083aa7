package org.wrpn.export;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.wrpn.BadInputException;
import org.wrpn.quant.Quantizer;

/** Weight codes packed in the activations' layout, two's complement (one bit for k = 1), and back. */
class PackedCodesTest {
    @Test
    void bitsSitWhereTheLayoutSays() {
        // k = 4, one row of 9 codes: 8 to a word, code c at bits 4c; -1 is 0xF, -7 is 0x9; the 9th code opens word 2
        int[] words = PackedCodes.pack(new byte[] {1, -1, 0, 7, -7, 2, 3, 4, 5}, 9, 4);
        assertArrayEquals(new int[] {0x432970F1, 0x5}, words, Integer.toHexString(words[0]));
        // k = 2: ternary -1, 0, 1 as 0b11, 0b00, 0b01
        assertArrayEquals(new int[] {0b01_00_11}, PackedCodes.pack(new byte[] {-1, 0, 1}, 3, 2));
        // k = 1: +1 is bit 1, -1 bit 0; two rows of 3 codes, a word each
        assertArrayEquals(new int[] {0b101, 0b010}, PackedCodes.pack(new byte[] {1, -1, 1, -1, 1, -1}, 3, 1));
    }

    @Test
    void everyWidthRoundTripsAtRaggedRowLengths() {
        SplittableRandom r = new SplittableRandom(3);
        for (int k : new int[] {1, 2, 4, 8}) {
            int max = Quantizer.maxWeightCode(k);
            for (int row = 1; row <= 70; row += 3) {
                byte[] codes = new byte[row * 5];
                for (int i = 0; i < codes.length; i++) codes[i] = (byte) (k == 1 ? (r.nextBoolean() ? 1 : -1) : r.nextInt(-max, max + 1));
                assertArrayEquals(codes, PackedCodes.unpack(PackedCodes.pack(codes, row, k), 5, row, k, "t"), "k=" + k + " row=" + row);
            }
        }
    }

    @Test
    void outOfRangeCodesAndPaddingBitsAreRefused() {
        // 0x8 at 4 bits is -8: not a code of the 4-bit grid (-7 .. 7)
        BadInputException e = assertThrows(BadInputException.class, () -> PackedCodes.unpack(new int[] {0x8}, 1, 1, 4, "w"));
        assertTrue(e.getMessage().contains("outside"), e.getMessage());
        // a row of 3 codes at 4 bits uses 12 bits; bit 20 is padding
        e = assertThrows(BadInputException.class, () -> PackedCodes.unpack(new int[] {1 << 20}, 1, 3, 4, "w"));
        assertTrue(e.getMessage().contains("padding"), e.getMessage());
    }
}
