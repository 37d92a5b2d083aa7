package org.wrpn.export;

import org.wrpn.BadInputException;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;

/**
 * Weight codes in the packed layout of activations (docs/DESIGN.md, "The packed layout"): a row is the
 * last dimension (a conv's input channels, a linear's input channels per pixel), packed little-endian
 * into 32-bit words, padded to whole words with zero bits. A code is k-bit two's complement for k = 2..8
 * (-(2^(k-1) - 1) .. 2^(k-1) - 1) and one bit for k = 1 (1 is +1, 0 is -1).
 */
final class PackedCodes {
    static final String ENCODING = "k = 2..8: k-bit two's complement, codes -(2^(k-1) - 1) .. 2^(k-1) - 1, value code * scale;"
            + " k = 1: bit 1 = +1, bit 0 = -1, value code * scale; rows (the last dimension) packed little-endian into"
            + " 32-bit words, code c of a row in word c / (32 / k) at bit (c % (32 / k)) * k, each row padded to whole words"
            + " with zero bits: the layout of packed activations";

    private PackedCodes() {}

    /** Words of codes (int8, rows of rowLength) packed at k bits. */
    static int[] pack(byte[] codes, int rowLength, int k) {
        int[] bits = new int[codes.length];
        for (int i = 0; i < codes.length; i++) bits[i] = k == 1 ? (codes[i] > 0 ? 1 : 0) : codes[i];
        long rows = codes.length / rowLength;
        int[] words = new int[Math.toIntExact(rows * PackedLayout.wordsPerPixel(rowLength, k))];
        PackedLayout.pack(bits, rows, rowLength, k, words); // keeps the low k bits: two's complement
        return words;
    }

    /** The codes of packed words; BadInputException when a code is out of range or a padding bit is set. */
    static byte[] unpack(int[] words, long rows, int rowLength, int k, String what) {
        int[] raw = new int[Math.toIntExact(rows * rowLength)];
        PackedLayout.unpack(words, rows, rowLength, k, raw);
        int max = Quantizer.maxWeightCode(k);
        byte[] codes = new byte[raw.length];
        for (int i = 0; i < raw.length; i++) {
            int c = k == 1 ? 2 * raw[i] - 1 : (raw[i] << (32 - k)) >> (32 - k);
            if (Math.abs(c) > max) throw new BadInputException(what + " holds code " + c + ", outside +-" + max + " at " + k + " bits");
            codes[i] = (byte) c;
        }
        if (!java.util.Arrays.equals(pack(codes, rowLength, k), words)) {
            throw new BadInputException(what + " has padding bits set: it is not a packed export of wrpn");
        }
        return codes;
    }
}
