package org.wrpn.backend.cpu;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.cpu.ExactSplit.Digit;
import org.wrpn.backend.cpu.ExactSplit.Plan;

/** The split that keeps the CPU's f32 sums of code products exact, and the convolution it relies on. */
class ExactSplitTest {
    /** Every code is the sum of its digits times 2^shift: activations 0..2^k-1, int8 weights -128..127. */
    @Test
    void digitsAddUpToTheCode() {
        for (int bits : new int[] {1, 2, 4, 8}) {
            for (int width = bits; width >= 1; width /= 2) {
                Digit[] ds = ExactSplit.digits(bits, width);
                int lo = bits == 8 ? -128 : 0, hi = (1 << bits) - 1;
                for (int v = lo; v <= hi; v++) {
                    int sum = 0;
                    for (Digit d : ds) sum += d.of(v) << d.shift();
                    assertEquals(v, sum, "v=" + v + " bits=" + bits + " width=" + width);
                }
            }
        }
        assertEquals(-7, ExactSplit.WHOLE.of(-7));
        assertEquals(-128, new Digit(0, 32, true, 128).of(0));
    }

    @Test
    void theFewestSumsThatStayBelowTwoPowerTwentyFour() {
        Plan whole = ExactSplit.plan(517, 8, 127);
        assertEquals(1, whole.sums(), "517 * 255 * 127 < 2^24");
        assertEquals(0, whole.a()[0].offset(), "no offset where none is needed");
        Plan centred = ExactSplit.plan(630, 8, 127);
        assertEquals(1, centred.sums(), "8/8 at K = 630: 630 * 128 * 127 < 2^24 with the codes centred");
        assertEquals(128, centred.a()[0].offset());
        Plan nibbles = ExactSplit.plan(1100, 8, 127);
        assertEquals(2, nibbles.sums(), "8/8 at K = 1100: two sums");
        assertEquals(1, nibbles.a().length, "the weights split (restaged), the activations staged once");
        assertEquals(1, ExactSplit.plan(9 * 4096, 2, 1).sums(), "ternary weights, 2-bit codes: no split");
        assertEquals(1, ExactSplit.plan(9000, 4, 127).sums(), "4/8 at K = 9000: 9000 * 8 * 127 < 2^24 centred");
        assertEquals(2, ExactSplit.plan(20000, 4, 127).sums(), "4/8 at K = 20000: the weights' nibbles");
        assertEquals(1, ExactSplit.plan(20000, 4, 127).a().length);
        Plan four = ExactSplit.plan(9000, 8, 127);
        assertEquals(4, four.sums(), "8/8 at K = 9000: four sums");
        assertEquals(1, four.a().length, "of equal counts, the fewest activation digits (2-bit weight digits)");
        assertEquals(1, ExactSplit.plan(100_000, 8, 0).sums(), "zero weights never overflow");
        long a = ExactSplit.maxDigit(four.a(), 0, 255), w = ExactSplit.maxDigit(four.w(), -127, 127);
        assertTrue(9000 * a * w < ExactSplit.FLOAT_EXACT, a + " x " + w);
        assertTrue(9000 * 15 * 15 < ExactSplit.FLOAT_EXACT && 9000 * 15 * 127 >= ExactSplit.FLOAT_EXACT, "nibbles of one side are not enough");
    }

    /** Exactness needs every partial sum an integer: a direct (or GEMM) algorithm, never Winograd. */
    @Test
    void theConvolutionsAreDirect() {
        try (DnnlConvolution conv = new DnnlConvolution(new CpuMemory())) {
            for (ConvGeometry g : new ConvGeometry[] {new ConvGeometry(8, 32, 32, 64, 64, 3, 3, 1, 1),
                new ConvGeometry(2, 5, 7, 17, 9, 3, 3, 1, 1)}) {
                String impl = conv.implementation(g, "FORWARD");
                assertFalse(impl.toLowerCase().contains("wino"), impl);
                String int8 = conv.implementation(g, "FORWARD_INT8");
                assertFalse(int8.toLowerCase().contains("wino"), int8);
                System.out.println("oneDNN forward " + g + ": f32 " + impl + ", int8 " + int8);
            }
        }
    }

    /** Without VNNI oneDNN adds two u8 x s8 products in int16 first: the int8 path is kept to codes where that cannot saturate. */
    @Test
    void theInt8PathIsExactOrNotTaken() {
        assertTrue(DnnlConvolution.int8Exact(4, 127), "15 x 127 x 2 fits int16 on any ISA");
        assertTrue(DnnlConvolution.int8Exact(8, 7), "255 x 7 x 2 fits int16 on any ISA");
        boolean vnni = DnnlConvolution.int8Exact(8, 127);
        String flags = "";
        try {
            flags = java.nio.file.Files.readString(java.nio.file.Path.of("/proc/cpuinfo"));
        } catch (java.io.IOException e) {
            org.junit.jupiter.api.Assumptions.abort("no /proc/cpuinfo");
        }
        boolean cpuVnni = flags.contains("avx512_vnni") || flags.contains("avx_vnni");
        if (System.getenv("DNNL_MAX_CPU_ISA") == null) assertEquals(cpuVnni, vnni, "8/8 on int8 exactly when the CPU has VNNI");
    }
}
