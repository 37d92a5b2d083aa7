package org.wrpn.quant;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wrpn.quant.PackChecks.BITS;
import static org.wrpn.quant.PackChecks.CHANNELS;
import static org.wrpn.quant.PackChecks.SENTINEL;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;
import org.wrpn.quant.PackChecks.Impl;
import org.wrpn.reference.Reference;

/**
 * Both implementations of quantize+pack and unpack ({@link VectorPack}, the Vector API one, and {@link PackKernels},
 * the plain loops it falls back to) against the test reference, bit for bit: every k, ragged and aligned channel
 * counts, with and without the mask, values on and around every bin boundary, NaN, infinities and out-of-range
 * inputs, a sweep over the whole float range, pixel ranges as the backend's threads split them, and (in a child
 * JVM) the 8-float vectors of an AVX2 machine. Also that the test JVM, like every launcher, takes the vector path.
 */
class VectorPackTest {
    @Test
    void theVectorPathRunsHere() {
        assertTrue(ModuleLayer.boot().findModule("jdk.incubator.vector").isPresent(),
                "the test JVM runs with --add-modules jdk.incubator.vector (pom.xml's argLine, as the wrpn launcher)");
        assertEquals(VectorPack.usable(), PackedActivations.VECTOR, "PackedActivations takes VectorPack wherever it is usable");
        if (System.getProperty("os.arch").equals("amd64")) assertTrue(VectorPack.usable(), "x86-64 has AVX2 at least");
        assertEquals(PackedActivations.VECTOR ? "vector (" + VectorPack.L + " floats)" : "loops", PackedActivations.implementation());
    }

    @ParameterizedTest
    @EnumSource(Impl.class)
    void everyBitWidthAndChannelCount(Impl impl) {
        for (int k : BITS) {
            for (int c : CHANNELS) {
                int pixels = Math.max(3, 700 / c);
                PackChecks.check(impl, PackChecks.activations(pixels * c, k, 31L * k + c), pixels, c, k, "random");
            }
        }
    }

    /** Every bin boundary and code value with its neighbours, signed zeros, extremes, infinities and NaNs, in every lane. */
    @ParameterizedTest
    @EnumSource(Impl.class)
    void binBoundariesAndSpecialValues(Impl impl) {
        for (int k : BITS) {
            for (int c : CHANNELS) {
                int pixels = Math.max(3, 1500 / c);
                PackChecks.check(impl, PackChecks.delicateFill(pixels * c, k), pixels, c, k, "delicate");
            }
        }
    }

    /** A sweep over every 4099th float bit pattern: every exponent, both signs, NaNs and infinities. */
    @ParameterizedTest
    @EnumSource(Impl.class)
    void sweepOverTheFloats(Impl impl) {
        int n = (int) ((1L << 32) / 4099) / 48 * 48;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = Float.intBitsToFloat((int) (i * 4099L));
        for (int k : BITS) {
            for (int c : new int[] {16, 33, 48}) PackChecks.check(impl, Arrays.copyOf(x, n / c * c), n / c, c, k, "sweep");
        }
    }

    /** Codes at thousands of pixels, packed a chunk at a time by PackKernels: chunk edges and the dense paths. */
    @ParameterizedTest
    @EnumSource(Impl.class)
    void manyPixels(Impl impl) {
        for (int k : BITS) {
            for (int c : new int[] {1, 3, 8, 16, 48, 64, 8200}) {
                int pixels = Math.max(2, 3 * 8192 / c + 5);
                PackChecks.check(impl, PackChecks.activations(pixels * c, k, 7L * k + c), pixels, c, k, "many pixels");
            }
        }
    }

    /**
     * PackedActivations over pixel ranges as CpuThreads splits them (contiguous, uneven): the words and values of
     * the whole, and each range writes only its own pixels, for ragged channel counts and for those where the
     * vector path packs a range as one stream.
     */
    @Test
    void rangesSplitAsThreadsSplitThem() {
        for (int k : BITS) {
            for (int c : new int[] {1, 3, 5, 16, 17, 33, 64, 96}) {
                int pixels = 257;
                float[] x = PackChecks.activations(pixels * c, k, 5L * k + c);
                int[] expected = PackChecks.referenceWords(x, pixels, c, k, false);
                int[] expectedMask = PackChecks.referenceWords(x, pixels, c, k, true);
                int wpp = PackedLayout.wordsPerPixel(c, k), mpp = PackedLayout.wordsPerPixel(c, 1);
                int[] cuts = {0, 1, 86, 171, 256, 257};
                int[] words = new int[expected.length], mask = new int[expectedMask.length];
                float[] values = new float[x.length];
                for (int part = 0; part + 1 < cuts.length; part++) {
                    int from = cuts[part], to = cuts[part + 1];
                    int[] w = filled(words.length), m = filled(mask.length);
                    float[] v = new float[values.length];
                    Arrays.fill(v, Float.intBitsToFloat(SENTINEL));
                    PackedActivations.quantizePack(x, from, to, c, k, w, m);
                    PackedActivations.unpackValues(expected, from, to, c, k, v);
                    String what = "pixels [" + from + ", " + to + ") of " + pixels + "x" + c + " k=" + k;
                    for (int i = 0; i < w.length; i++) {
                        boolean in = i >= from * wpp && i < to * wpp;
                        assertEquals(in ? expected[i] : SENTINEL, w[i], what + ", word " + i);
                        if (in) words[i] = w[i];
                    }
                    for (int i = 0; i < m.length; i++) {
                        boolean in = i >= from * mpp && i < to * mpp;
                        assertEquals(in ? expectedMask[i] : SENTINEL, m[i], what + ", mask word " + i);
                        if (in) mask[i] = m[i];
                    }
                    for (int i = 0; i < v.length; i++) {
                        boolean in = i >= from * c && i < to * c;
                        if (in) values[i] = v[i];
                        if (!in) assertEquals(SENTINEL, Float.floatToRawIntBits(v[i]), what + ", value " + i + " outside");
                    }
                }
                assertArrayEquals(expected, words, "the parts' words");
                assertArrayEquals(expectedMask, mask, "the parts' mask");
                for (int i = 0; i < x.length; i++) {
                    float e = Reference.activationValue(Reference.activationCode(x[i], k), k);
                    assertEquals(Float.floatToRawIntBits(e), Float.floatToRawIntBits(values[i]), "value " + i + " k=" + k + " C=" + c);
                }
            }
        }
    }

    private static int[] filled(int n) {
        int[] a = new int[n];
        Arrays.fill(a, SENTINEL);
        return a;
    }

    /**
     * The vector path at 8 floats a vector, as on an AVX2 machine: a child JVM with -XX:UseAVX=2 runs
     * VectorPackCheck (every check of PackChecks.checkAll). Only where this JVM's vectors are wider (x86-64 with
     * AVX-512); on an AVX2 machine the tests above already run it.
     */
    @Test
    void eightFloatVectorsAgreeToo(@TempDir Path dir) throws IOException, InterruptedException {
        if (!System.getProperty("os.arch").equals("amd64") || VectorPack.L != 16) return;
        String java = Path.of(System.getProperty("java.home"), "bin", "java").toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-XX:UseAVX=2", "--add-modules", "jdk.incubator.vector", "-Xmx512m",
                "-cp", System.getProperty("java.class.path"), VectorPackCheck.class.getName()));
        Path log = dir.resolve("check.log");
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        if (!p.waitFor(300, TimeUnit.SECONDS)) {
            p.destroyForcibly();
            throw new AssertionError("VectorPackCheck still running after 300 s: " + Files.readString(log));
        }
        String out = Files.readString(log).lines().filter(l -> !l.startsWith("WARNING: Using incubator modules")).collect(Collectors.joining("\n"));
        assertEquals(0, p.exitValue(), out);
        assertTrue(out.contains("VectorPackCheck: 8 floats a vector, all agree"), out);
    }

    /**
     * The STE backward from a packed mask and the codes-as-floats unpacking of the quantized kernels' staging,
     * against the reference: every channel count, sub-ranges of pixels, dy with NaN and signed zeros, dx over dy.
     */
    @Test
    void maskGradientAndCodeFloatsMatchTheReference() {
        for (int c : CHANNELS) {
            int pixels = Math.max(4, 900 / c);
            float[] x = PackChecks.activations(pixels * c, 2, 97L * c);
            float[] dy = PackChecks.activations(pixels * c, 4, 89L * c);
            for (int i = 0; i < dy.length; i++) dy[i] -= 0.5f; // both signs; NaNs and signed zeros stay
            int[] mask = Reference.pack(Reference.maskCodes(x), pixels, c, 1);
            float[] expected = Reference.maskGradient(Reference.maskCodes(x), dy);
            float[] dx = new float[dy.length];
            VectorPack.maskGradient(mask, 0, 1, c, dy, dx); // one pixel, then the rest
            VectorPack.maskGradient(mask, 1, pixels - 1, c, dy, dx);
            assertBitsEqual(expected, dx, "maskGradient C=" + c);
            float[] inPlace = dy.clone();
            VectorPack.maskGradient(mask, 0, pixels, c, inPlace, inPlace);
            assertBitsEqual(expected, inPlace, "maskGradient in place C=" + c);
            for (int k : BITS) {
                long[] codes = Reference.activationCodes(x, k);
                int[] words = Reference.pack(codes, pixels, c, k);
                float[] got = new float[codes.length];
                VectorPack.unpackCodeFloats(words, 0, pixels - 2, c, k, got, 0);
                VectorPack.unpackCodeFloats(words, pixels - 2, 2, c, k, got, (pixels - 2) * c);
                for (int i = 0; i < codes.length; i++) assertEquals((float) codes[i], got[i], "codes k=" + k + " C=" + c + " at " + i);
            }
        }
    }

    private static void assertBitsEqual(float[] expected, float[] actual, String what) {
        for (int i = 0; i < expected.length; i++) {
            if (Float.floatToRawIntBits(expected[i]) != Float.floatToRawIntBits(actual[i])) {
                assertEquals(Integer.toHexString(Float.floatToRawIntBits(expected[i])), Integer.toHexString(Float.floatToRawIntBits(actual[i])),
                        what + " at " + i);
            }
        }
    }
}
