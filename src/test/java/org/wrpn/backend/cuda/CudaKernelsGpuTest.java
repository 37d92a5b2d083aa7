package org.wrpn.backend.cuda;

import org.wrpn.backend.GpuDevice;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.wrpn.backend.BackendFixture;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CUDA kernels against src/test/.../reference on fresh random inputs at ragged sizes. Codes,
 * packed words and quantized values must match bit for bit; every output is poisoned first (NaN,
 * 0xDEADBEEF, or -128 for int8) so that an element a kernel forgets to write fails. Inputs mix
 * uniform values beyond the clip range, exact rounding ties and NaN/+-Inf/-0.
 *
 * <p>Shapes are chosen to reach every kernel path: C % 32 == 0 (flat units), C % 4 == 0 (float4 path
 * with a ragged last group) and other C (one channel per lane), and element counts that are not
 * multiples of 4 (the scalar tails).
 */
@Tag("gpu")
class CudaKernelsGpuTest {
    private static final int[] ACT_BITS = {1, 2, 4, 8};
    private static final int[] CHANNELS = {1, 3, 4, 7, 12, 31, 32, 33, 36, 64, 100, 129, 256};
    private static final int[] PIXELS = {1, 5, 37};
    private static final int[] LENGTHS = {1, 3, 4, 5, 63, 1000, 4099, (1 << 20) + 3};

    private static CudaBackend be;
    private static BackendFixture fx;
    private final Random rnd = new Random(System.nanoTime());

    @BeforeAll
    static void start() {
        be = Gpu.backendOrSkip();
        fx = new BackendFixture(be);
    }

    @AfterAll
    static void stop() {
        if (be != null) be.close();
    }

    @AfterEach
    void release() {
        fx.closeAll();
    }

    private static <T extends Tensor> T keep(T t) {
        return fx.keep(t);
    }

    private static Tensor f32(float[] data, int... dims) {
        return fx.f32(data, dims);
    }

    private static Tensor outF32(int... dims) {
        return fx.outF32(dims);
    }

    private static Tensor outI32(int... dims) {
        return fx.outI32(dims);
    }

    private static Tensor outI8(int... dims) {
        return fx.outI8(dims);
    }

    private static Tensor outPacked(Shape s, int k) {
        return fx.outPacked(s, k);
    }

    private static float[] get(Tensor t) {
        return fx.floats(t);
    }

    private static int[] getInts(Tensor t, int n) {
        return fx.ints(t, n);
    }

    private static final float[] SPECIALS = {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY, -0.0f, 0.0f,
        1.0f, -1.0f, 0.5f, -0.5f, Float.MIN_VALUE, -Float.MIN_VALUE, Math.nextDown(1.0f), Math.nextUp(1.0f),
        Math.nextDown(-1.0f), 1e30f, -1e30f, Float.MAX_VALUE, -Float.MAX_VALUE, Float.MIN_NORMAL};

    /**
     * Uniform values over [lo, hi] (beyond the clip range on both sides), every special value, and
     * for each code step j the floats around (j + 0.5) / levels, among them exact ties where
     * x * levels is j + 0.5 in float arithmetic.
     */
    private float[] mixed(int n, float lo, float hi, int levels) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = lo + (hi - lo) * rnd.nextFloat();
        for (int i = 0; i < SPECIALS.length && i < n; i++) a[rnd.nextInt(n)] = SPECIALS[i];
        float sign = lo < 0 ? -1 : 1;
        for (int j = 0; j < levels && n > 8; j++) {
            float x = (float) ((j + 0.5) / levels);
            for (int d = -2; d <= 2; d++) {
                float v = x;
                for (int s = 0; s < Math.abs(d); s++) v = d < 0 ? Math.nextDown(v) : Math.nextUp(v);
                a[rnd.nextInt(n)] = (j % 2 == 0 ? 1 : sign) * v;
            }
        }
        return a;
    }

    /** How many inputs are exact ties: x * levels (a float product) lies exactly halfway. */
    private static int ties(float[] x, int levels) {
        int t = 0;
        for (float v : x) {
            float c = Math.min(1f, Math.max(-1f, v)) * levels;
            if (c - (float) Math.floor(c) == 0.5f) t++;
        }
        return t;
    }

    private static void assertBitsEqual(String what, float[] ref, float[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (Float.floatToRawIntBits(ref[i]) != Float.floatToRawIntBits(got[i])) {
                fail(what + "[" + i + "]: got " + got[i] + ", reference " + ref[i]);
            }
        }
    }

    private static void assertCodes(String what, long[] ref, int[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (ref[i] != got[i]) fail(what + "[" + i + "]: got " + got[i] + ", reference " + ref[i]);
        }
    }

    private static void assertWords(String what, int[] ref, int[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (ref[i] != got[i]) {
                fail(what + " word " + i + ": got 0x" + Integer.toHexString(got[i]) + ", reference 0x"
                        + Integer.toHexString(ref[i]));
            }
        }
    }

    // ---- runtime -------------------------------------------------------------------------------

    @Test
    void runtimeReportsTheDeviceAndLoadedEveryModule() {
        GpuDevice d = be.device();
        assertTrue(d.ccMajor() >= 8, d.describe());
        assertTrue(d.totalMemoryBytes() > 0 && d.multiprocessors() > 0, d.describe());
        CudaRuntime rt = CudaRuntime.get();
        assertEquals(rt.ptx().moduleNames(), rt.loadedModules());
        assertTrue(be.describe().contains(d.name()));
    }

    @Test
    void unsupportedBitWidthsAreRefusedClearly() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.allocatePacked(Shape.of(2, 8), 3));
        assertTrue(e.getMessage().contains("k in {1,2,4,8}"), e.getMessage());
    }

    // ---- memory ----------------------------------------------------------------------------------

    @Test
    void allocationsAreZeroFilledAndCounted() {
        long before = be.allocatedBytes();
        Tensor f = keep(be.allocate(DType.F32, Shape.of(3, 5)));
        Tensor b = keep(be.allocate(DType.I8, Shape.of(7)));
        Tensor p = keep(be.allocatePacked(Shape.nhwc(2, 1, 1, 33), 4));
        assertEquals(before + 60 + 7 + 2 * 5 * 4, be.allocatedBytes());
        assertTrue(be.peakAllocatedBytes() >= be.allocatedBytes());
        assertBitsEqual("zeros", new float[15], get(f));
        assertArrayEquals(new int[7], getInts(b, 7));
        assertArrayEquals(new int[10], getInts(p, 10));
        f.close();
        assertEquals(before + 7 + 40, be.allocatedBytes());
    }

    @Test
    void steadyAllocationReusesCachedBlocks() {
        for (int i = 0; i < 3; i++) keep(be.allocate(DType.F32, Shape.of(1000, 1000))).close();
        long asked = be.driverAllocations();
        for (int i = 0; i < 10; i++) be.allocate(DType.F32, Shape.of(1000, 1000)).close();
        assertEquals(asked, be.driverAllocations(), "a steady loop must not call cuMemAlloc again");
        assertTrue(be.reservedBytes() >= 4_000_000L);
    }

    @Test
    void uploadDownloadCopyFillRoundTripAcrossStagingChunks() {
        int n = (int) (Transfers.STAGING_SLOT_BYTES / 4) * 2 + 3;  // three staging chunks, ragged
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = rnd.nextFloat() * 2 - 1;
        a[7] = Float.NaN;
        a[9] = -0.0f;
        Tensor t = f32(a, n);
        assertBitsEqual("f32 round trip", a, get(t));
        Tensor c = outF32(n);
        be.copy(t, c);
        assertBitsEqual("copy", a, get(c));
        be.fill(c, -2.5f);
        float[] filled = new float[n];
        Arrays.fill(filled, -2.5f);
        assertBitsEqual("fill", filled, get(c));

        int[] ints = new int[n];
        for (int i = 0; i < n; i++) ints[i] = rnd.nextInt();
        Tensor it = keep(be.allocate(DType.I32, Shape.of(n)));
        be.upload(ints, it);
        assertArrayEquals(ints, getInts(it, n));

        int[] bytes = new int[4099];
        for (int i = 0; i < bytes.length; i++) bytes[i] = rnd.nextInt(256) - 128;
        Tensor bt = keep(be.allocate(DType.I8, Shape.of(bytes.length)));
        be.upload(bytes, bt);
        assertArrayEquals(bytes, getInts(bt, bytes.length));
    }

    @Test
    void addAndAddInPlace() {
        for (int n : LENGTHS) {
            float[] a = new float[n], b = new float[n];
            for (int i = 0; i < n; i++) {
                a[i] = (float) rnd.nextGaussian();
                b[i] = (float) rnd.nextGaussian();
            }
            Tensor ta = f32(a, n), tb = f32(b, n), out = outF32(n);
            be.add(ta, tb, out);
            float[] want = new float[n];
            for (int i = 0; i < n; i++) want[i] = a[i] + b[i];
            assertBitsEqual("add n=" + n, want, get(out));
            be.addInPlace(ta, tb);
            assertBitsEqual("addInPlace n=" + n, want, get(ta));
        }
    }

    // ---- element-wise quantizers -------------------------------------------------------------

    @Test
    void activationQuantizerMatchesTheReference() {
        for (int k : ACT_BITS) {
            int levels = (1 << k) - 1;
            for (int n : LENGTHS) {
                float[] x = mixed(n, -0.5f, 1.5f, levels);
                Tensor y = outF32(n);
                be.quantizeActivations(f32(x, n), k, y);
                assertBitsEqual("quantizeActivations k=" + k + " n=" + n, Reference.quantizeActivations(x, k), get(y));
            }
            float[] big = mixed(4099, -0.5f, 1.5f, levels);
            assertTrue(ties(big, levels) > 0, "the inputs must contain exact ties at k=" + k);
        }
    }

    @Test
    void activationBackwardPassesTheGradientInsideTheClipRange() {
        for (int n : LENGTHS) {
            float[] x = mixed(n, -0.5f, 1.5f, 15);
            float[] dy = new float[n];
            for (int i = 0; i < n; i++) dy[i] = (float) rnd.nextGaussian();
            Tensor dx = outF32(n);
            be.quantizeActivationsBackward(f32(x, n), f32(dy, n), dx);
            assertBitsEqual("quantizeActivationsBackward n=" + n, Reference.quantizeActivationsBackward(x, dy), get(dx));
        }
    }

    @Test
    void weightCodesAndValuesMatchTheReference() {
        for (int k : new int[] {2, 4, 8}) {
            int levels = (1 << (k - 1)) - 1;
            for (int n : LENGTHS) {
                float[] w = mixed(n, -1.5f, 1.5f, levels);
                Tensor tw = f32(w, n);
                Tensor codes = outI8(n);
                float step = be.weightCodes(tw, k, codes);
                assertEquals(1f / levels, step);
                assertCodes("weightCodes k=" + k + " n=" + n, Reference.weightCodes(w, k), getInts(codes, n));
                Tensor wq = outF32(n);
                be.quantizeWeights(tw, k, wq);
                assertBitsEqual("quantizeWeights k=" + k + " n=" + n, Reference.quantizeWeights(w, k), get(wq));
            }
        }
    }

    /**
     * k = 1: codes exactly; the scale mean|w| exactly when the double sum is exact (inputs on a 2^-24
     * grid, as here), since then no summation order can change it.
     */
    @Test
    void binaryWeightsMatchTheReference() {
        for (int n : LENGTHS) {
            float[] w = new float[n];
            for (int i = 0; i < n; i++) w[i] = rnd.nextFloat() * 2 - 1;  // multiples of 2^-24
            if (n > 8) {
                w[0] = 0.0f;
                w[1] = -0.0f;
                w[2] = Float.NaN;  // code +1, skipped by the scale
            }
            Tensor tw = f32(w, n);
            Tensor codes = outI8(n);
            float scale = be.weightCodes(tw, 1, codes);
            assertCodes("binary codes n=" + n, Reference.weightCodes(w, 1), getInts(codes, n));
            assertEquals(Reference.binaryScale(w), scale, "binary scale n=" + n);
            Tensor wq = outF32(n);
            be.quantizeWeights(tw, 1, wq);
            assertBitsEqual("binary values n=" + n, Reference.quantizeWeights(w, 1), get(wq));
        }
    }

    /**
     * On arbitrary floats the double sum depends on the summation order in its last bits, so the
     * GPU's tree order may round mean|w| one float ulp away from the reference's sequential sum.
     */
    @Test
    void binaryScaleOnArbitraryFloatsIsWithinOneUlp() {
        int n = 1 << 20;
        float[] w = new float[n];
        for (int i = 0; i < n; i++) w[i] = (float) (rnd.nextGaussian() * Math.exp(rnd.nextGaussian() * 3));
        float scale = be.weightCodes(f32(w, n), 1, outI8(n));
        float ref = Reference.binaryScale(w);
        assertTrue(Math.abs(scale - ref) <= Math.ulp(ref), "scale " + scale + " vs reference " + ref);
    }

    @Test
    void fullPrecisionWeightsAreCopied() {
        float[] w = mixed(1000, -2f, 2f, 1);
        Tensor wq = outF32(1000);
        be.quantizeWeights(f32(w, 1000), 32, wq);
        assertBitsEqual("k=32", w, get(wq));
    }

    // ---- packed activations --------------------------------------------------------------------

    @Test
    void quantizePackWritesTheReferenceWordsAndMask() {
        for (int k : ACT_BITS) {
            for (int c : CHANNELS) {
                for (int p : PIXELS) checkPack(k, p, c, true);
            }
            checkPack(k, 4096, 64, true);
            checkPack(k, 1000, 36, false);
            checkPack(k, 333, 5, true);
        }
    }

    private void checkPack(int k, int pixels, int c, boolean withMask) {
        Shape s = Shape.nhwc(pixels, 1, 1, c);
        int n = pixels * c;
        float[] x = mixed(n, -0.5f, 1.5f, (1 << k) - 1);
        Tensor codes = outPacked(s, k);
        Tensor mask = withMask ? outPacked(s, 1) : null;
        be.quantizePack(f32(x, pixels, 1, 1, c), k, codes, mask);
        String what = "quantizePack k=" + k + " pixels=" + pixels + " C=" + c;
        int[] want = Reference.pack(Reference.activationCodes(x, k), pixels, c, k);
        assertWords(what, want, getInts(codes, want.length));
        if (withMask) {
            int[] wantMask = Reference.pack(Reference.maskCodes(x), pixels, c, 1);
            assertWords(what + " mask", wantMask, getInts(mask, wantMask.length));
        }
    }

    /** The STE backward through the mask quantizePack saved equals the one computed from x. */
    @Test
    void maskGradientFromThePackedMaskMatchesTheReference() {
        for (int c : CHANNELS) {
            int pixels = 37;
            int n = pixels * c;
            float[] x = mixed(n, -0.5f, 1.5f, 3);
            float[] dy = new float[n];
            for (int i = 0; i < n; i++) dy[i] = (float) rnd.nextGaussian();
            Shape s = Shape.nhwc(pixels, 1, 1, c);
            Tensor mask = outPacked(s, 1);
            be.quantizePack(f32(x, pixels, 1, 1, c), 2, outPacked(s, 2), mask);
            Tensor dx = outF32(pixels, 1, 1, c);
            be.maskGradient(mask, f32(dy, pixels, 1, 1, c), dx);
            assertBitsEqual("maskGradient C=" + c, Reference.quantizeActivationsBackward(x, dy), get(dx));
        }
    }

    @Test
    void unpackGivesTheReferenceCodesAndValues() {
        for (int k : ACT_BITS) {
            for (int c : CHANNELS) {
                for (int p : PIXELS) checkUnpack(k, p, c);
            }
            checkUnpack(k, 4096, 64);
            checkUnpack(k, 1000, 36);
        }
    }

    private void checkUnpack(int k, int pixels, int c) {
        Shape s = Shape.nhwc(pixels, 1, 1, c);
        int n = pixels * c;
        long[] codes = new long[n];
        for (int i = 0; i < n; i++) codes[i] = rnd.nextInt(1 << k);
        int[] words = Reference.pack(codes, pixels, c, k);
        Tensor packed = keep(be.allocatePacked(s, k));
        be.upload(words, packed);
        String what = "unpack k=" + k + " pixels=" + pixels + " C=" + c;
        Tensor got = outI32(pixels, 1, 1, c);
        be.unpackCodes(packed, got);
        assertCodes(what + " codes", codes, getInts(got, n));
        Tensor values = outF32(pixels, 1, 1, c);
        be.unpackValues(packed, values);
        float[] want = new float[n];
        for (int i = 0; i < n; i++) want[i] = Reference.activationValue(codes[i], k);
        assertBitsEqual(what + " values", want, get(values));
    }

    @Test
    void packThenUnpackEqualsTheElementwiseQuantizer() {
        for (int k : ACT_BITS) {
            int pixels = 257, c = 96;
            float[] x = mixed(pixels * c, -0.5f, 1.5f, (1 << k) - 1);
            Tensor tx = f32(x, pixels, 1, 1, c);
            Tensor packed = outPacked(Shape.nhwc(pixels, 1, 1, c), k);
            be.quantizePack(tx, k, packed, null);
            Tensor y = outF32(pixels, 1, 1, c);
            be.unpackValues(packed, y);
            assertBitsEqual("pack/unpack k=" + k, Reference.quantizeActivations(x, k), get(y));
        }
    }

    // ---- reductions ----------------------------------------------------------------------------

    @Test
    void reductionsMatchTheReferenceAndRepeatExactly() {
        for (int n : LENGTHS) {
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = (float) (rnd.nextGaussian() * 3);
            Tensor t = f32(x, n);
            double ss = be.sumSquares(t);
            double ref = Reference.sumSquares(Reference.toDouble(x));
            assertTrue(Math.abs(ss - ref) <= 1e-12 * ref, "sumSquares n=" + n + ": " + ss + " vs " + ref);
            assertEquals(Double.doubleToRawLongBits(ss), Double.doubleToRawLongBits(be.sumSquares(t)), "repeatable");
            double sum = 0, sumAbs = 0;
            float max = 0;
            for (float v : x) {
                sum += v;
                sumAbs += Math.abs(v);
                max = Math.max(max, Math.abs(v));
            }
            assertTrue(Math.abs(be.sum(t) - sum) <= 1e-12 * sumAbs, "sum n=" + n);
            assertEquals(max, be.maxAbs(t), "maxAbs n=" + n);
        }
    }

    @Test
    void reductionsPropagateNonFiniteValues() {
        int n = 4099;
        float[] x = new float[n];
        for (int i = 0; i < n; i++) x[i] = rnd.nextFloat();
        x[1234] = Float.POSITIVE_INFINITY;
        Tensor inf = f32(x, n);
        assertTrue(Double.isNaN(be.sumSquares(inf)), "sumSquares is NaN when an element is infinite");
        assertEquals(Float.POSITIVE_INFINITY, be.maxAbs(inf));
        x[77] = Float.NaN;
        Tensor nan = f32(x, n);
        assertTrue(Double.isNaN(be.sumSquares(nan)));
        assertTrue(Float.isNaN(be.maxAbs(nan)), "maxAbs is NaN when an element is NaN");
        assertTrue(Double.isNaN(be.sum(nan)));
    }
}
