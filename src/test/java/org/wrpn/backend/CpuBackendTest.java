package org.wrpn.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.quant.PackedLayout;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * CpuBackend against the reference on fresh random inputs at ragged sizes. Integer codes and packed
 * words must match exactly; fp32 results within |a - b| &lt;= atol + rtol * |ref| (atol 1e-5, rtol
 * 1e-4 unless noted). Every output is poisoned (NaN, or an impossible code) before the op runs.
 */
class CpuBackendTest {
    private static final double ATOL = 1e-5;
    private static final double RTOL = 1e-4;
    private static final int POISON_INT = 0xDEADBEEF;

    private static CpuBackend be;
    private final List<Tensor> live = new ArrayList<>();

    @BeforeAll
    static void start() {
        be = new CpuBackend();
    }

    @AfterAll
    static void stop() {
        be.close();
    }

    @AfterEach
    void release() {
        for (Tensor t : live) t.close();
        live.clear();
    }

    // ---- helpers -------------------------------------------------------------------------------

    private <T extends Tensor> T keep(T t) {
        live.add(t);
        return t;
    }

    private Tensor f32(float[] data, int... dims) {
        Tensor t = keep(be.allocate(DType.F32, Shape.of(dims)));
        be.upload(data, t);
        return t;
    }

    private Tensor i32(int[] data, int... dims) {
        Tensor t = keep(be.allocate(DType.I32, Shape.of(dims)));
        be.upload(data, t);
        return t;
    }

    /** An F32 output filled with NaN, so that an element the op forgets to write fails the check. */
    private Tensor outF32(int... dims) {
        Tensor t = keep(be.allocate(DType.F32, Shape.of(dims)));
        be.fill(t, Float.NaN);
        return t;
    }

    private Tensor outI32(int... dims) {
        Tensor t = keep(be.allocate(DType.I32, Shape.of(dims)));
        int[] p = new int[(int) t.shape().elements()];
        Arrays.fill(p, POISON_INT);
        be.upload(p, t);
        return t;
    }

    /** -128 is no weight code at any k (codes are within ±127). */
    private Tensor outI8(int... dims) {
        Tensor t = keep(be.allocate(DType.I8, Shape.of(dims)));
        int[] p = new int[(int) t.shape().elements()];
        Arrays.fill(p, -128);
        be.upload(p, t);
        return t;
    }

    private Tensor outPacked(Shape s, int k) {
        Tensor t = keep(be.allocatePacked(s, k));
        int[] p = new int[packedWords(s, k)];
        Arrays.fill(p, POISON_INT);
        be.upload(p, t);
        return t;
    }

    private static int packedWords(Shape s, int k) {
        return (int) (s.pixels() * PackedLayout.wordsPerPixel(s.channels(), k));
    }

    private static float[] get(Tensor t) {
        float[] a = new float[(int) t.shape().elements()];
        be.download(t, a);
        return a;
    }

    private static int[] getInts(Tensor t, int n) {
        int[] a = new int[n];
        be.download(t, a);
        return a;
    }

    private static float[] uniform(Random rnd, int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return a;
    }

    private static double[] d(float[] a) {
        return Reference.toDouble(a);
    }

    private static void assertClose(String what, double[] ref, float[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            double r = ref[i], g = got[i];
            // Written this way round so that a NaN on either side fails.
            if (!(Math.abs(g - r) <= atol + rtol * Math.abs(r))) {
                fail(what + "[" + i + "]: got " + g + ", reference " + r + " (|diff| " + Math.abs(g - r) + ", allowed "
                        + (atol + rtol * Math.abs(r)) + ")");
            }
        }
    }

    private static void assertClose(String what, double[] ref, float[] got) {
        assertClose(what, ref, got, ATOL, RTOL);
    }

    private static void assertClose(String what, double ref, double got, double atol, double rtol) {
        assertClose(what, new double[] {ref}, new float[] {(float) got}, atol, rtol);
    }

    /** Exact float results: numeric equality (so 0 == -0), NaN never equal. */
    private static void assertExact(String what, float[] ref, float[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (!(ref[i] == got[i])) fail(what + "[" + i + "]: got " + got[i] + ", expected exactly " + ref[i]);
        }
    }

    /**
     * Reductions of K fp32 products: rounding error grows like sqrt(K) (a random walk of roundings),
     * so the absolute bound is 1e-5 for K up to 64 and scales by sqrt(K / 64) beyond.
     */
    private static double atolFor(long k) {
        return ATOL * Math.max(1.0, Math.sqrt(k / 64.0));
    }

    private static long[] toLong(int[] a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) l[i] = a[i];
        return l;
    }

    /** Random floats plus every tie (u + 0.5) / levels, code centers, exact 0 and 1, out of range and non-finite values. */
    private static float[] activationInputs(Random rnd, int n, int k) {
        float[] x = uniform(rnd, n, -0.25, 1.25);
        int levels = (1 << k) - 1;
        int j = 0;
        for (int u = 0; u <= levels && j < n; u++) {
            x[j++] = (float) ((u + 0.5) / levels);
            if (j < n) x[j++] = (float) u / levels;
        }
        float[] specials = {0f, -0.0f, 1f, -1f, 2f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE, Math.nextDown(1f), 1f / 6f, 0.5f};
        for (float s : specials) if (j < n) x[j++] = s;
        // Shuffle so the special values land at ragged positions inside words.
        for (int i = n - 1; i > 0; i--) {
            int r = rnd.nextInt(i + 1);
            float t = x[i];
            x[i] = x[r];
            x[r] = t;
        }
        return x;
    }

    // ---- memory and copies ---------------------------------------------------------------------

    @Test
    void allocationBookkeeping() {
        long base = be.allocatedBytes();
        be.resetPeak();
        assertEquals(base, be.peakAllocatedBytes());

        Tensor a = be.allocate(DType.F32, Shape.of(7, 5, 3));
        assertEquals(4L * 105, a.bytes());
        assertEquals(base + 420, be.allocatedBytes());
        Tensor b = be.allocate(DType.I32, Shape.of(11));
        assertEquals(44, b.bytes());
        Tensor c = be.allocate(DType.I8, Shape.of(3, 17));
        assertEquals(51, c.bytes());
        Tensor p = be.allocatePacked(Shape.nhwc(2, 3, 5, 17), 4); // 30 pixels x 3 words
        assertEquals(PackedLayout.bytes(30, 17, 4), p.bytes());
        assertEquals(4L * 30 * 3, p.bytes());
        Tensor m = be.allocatePacked(Shape.nhwc(1, 1, 1, 33), 1); // 33 bits -> 2 words
        assertEquals(8, m.bytes());
        assertEquals(DType.PACKED, p.dtype());
        assertEquals(4, p.bits());
        assertEquals(1, m.bits());

        long all = 420 + 44 + 51 + 360 + 8;
        assertEquals(base + all, be.allocatedBytes());
        assertEquals(base + all, be.peakAllocatedBytes());

        a.close();
        assertEquals(base + all - 420, be.allocatedBytes());
        a.close(); // closing twice frees once
        assertEquals(base + all - 420, be.allocatedBytes());
        assertEquals(base + all, be.peakAllocatedBytes(), "the peak stays until reset");
        be.resetPeak();
        assertEquals(base + all - 420, be.peakAllocatedBytes());

        b.close();
        c.close();
        p.close();
        m.close();
        assertEquals(base, be.allocatedBytes());
        assertEquals(base + all - 420, be.peakAllocatedBytes());
        Tensor z = be.allocate(DType.F32, Shape.of(2));
        assertEquals(base + 8, be.allocatedBytes());
        z.close();
        assertEquals(base, be.allocatedBytes());
    }

    @Test
    void allocationsAreZeroFilled() {
        assertExact("f32", new float[12], get(keep(be.allocate(DType.F32, Shape.of(3, 4)))));
        assertArrayEquals(new int[5], getInts(keep(be.allocate(DType.I32, Shape.of(5))), 5));
        assertArrayEquals(new int[7], getInts(keep(be.allocate(DType.I8, Shape.of(7))), 7));
        assertArrayEquals(new int[6], getInts(keep(be.allocatePacked(Shape.nhwc(1, 2, 3, 5), 2)), 6));
    }

    @Test
    void uploadDownloadRoundTrip() {
        Random rnd = new Random(1);
        float[] f = uniform(rnd, 3 * 5 * 7, -1e3, 1e3);
        f[0] = Float.MIN_VALUE;
        f[1] = -0.0f;
        f[2] = Float.MAX_VALUE;
        float[] back = get(f32(f, 3, 5, 7));
        for (int i = 0; i < f.length; i++) {
            assertEquals(Float.floatToRawIntBits(f[i]), Float.floatToRawIntBits(back[i]), "f32[" + i + "]");
        }

        int[] ints = new int[19];
        for (int i = 0; i < ints.length; i++) ints[i] = rnd.nextInt();
        ints[0] = Integer.MIN_VALUE;
        ints[1] = -1;
        assertArrayEquals(ints, getInts(i32(ints, 19), 19));

        int[] bytes = new int[256];
        for (int i = 0; i < 256; i++) bytes[i] = i - 128;
        Tensor i8 = keep(be.allocate(DType.I8, Shape.of(256)));
        be.upload(bytes, i8);
        assertArrayEquals(bytes, getInts(i8, 256));

        Shape s = Shape.nhwc(2, 3, 1, 17);
        int[] words = new int[packedWords(s, 2)];
        for (int i = 0; i < words.length; i++) words[i] = rnd.nextInt();
        Tensor p = keep(be.allocatePacked(s, 2));
        be.upload(words, p);
        assertArrayEquals(words, getInts(p, words.length));
    }

    @Test
    void copyFillAndAdd() {
        Random rnd = new Random(2);
        int n = 3 * 7 * 17;
        float[] a = uniform(rnd, n, -2, 2), b = uniform(rnd, n, -2, 2);
        Tensor ta = f32(a, 3, 7, 17), tb = f32(b, 3, 7, 17);

        Tensor c = outF32(3, 7, 17);
        be.copy(ta, c);
        assertExact("copy", a, get(c));

        int[] ints = {5, -3, 7, 0x7FFFFFFF};
        Tensor ci = outI32(4);
        be.copy(i32(ints, 4), ci);
        assertArrayEquals(ints, getInts(ci, 4));

        Shape ps = Shape.nhwc(1, 2, 2, 9);
        int[] words = new int[packedWords(ps, 4)];
        for (int i = 0; i < words.length; i++) words[i] = rnd.nextInt();
        Tensor p = keep(be.allocatePacked(ps, 4));
        be.upload(words, p);
        Tensor pc = outPacked(ps, 4);
        be.copy(p, pc);
        assertArrayEquals(words, getInts(pc, words.length));

        Tensor f = keep(be.allocate(DType.F32, Shape.of(13)));
        be.fill(f, -2.5f);
        float[] expected = new float[13];
        Arrays.fill(expected, -2.5f);
        assertExact("fill", expected, get(f));

        Tensor sum = outF32(3, 7, 17);
        be.add(ta, tb, sum);
        assertClose("add", Reference.add(d(a), d(b)), get(sum));

        be.addInPlace(c, tb); // c holds a
        assertClose("addInPlace", Reference.add(d(a), d(b)), get(c));
        assertExact("addInPlace leaves src", b, get(tb));
    }

    @Test
    void reluForwardBackward() {
        Random rnd = new Random(3);
        int n = 7 * 3 * 5 * 33;
        float[] x = uniform(rnd, n, -1, 1);
        x[0] = 0f;
        x[1] = -0.0f;
        x[2] = Float.MIN_VALUE;
        float[] dy = uniform(rnd, n, -1, 1);
        Tensor y = outF32(7, 3, 5, 33);
        be.relu(f32(x, 7, 3, 5, 33), y);
        float[] yv = get(y);
        assertClose("relu", Reference.relu(d(x)), yv, 0, 0);
        Tensor dx = outF32(7, 3, 5, 33);
        be.reluBackward(y, f32(dy, 7, 3, 5, 33), dx);
        assertClose("reluBackward", Reference.reluBackward(d(yv), d(dy)), get(dx), 0, 0);
    }

    @Test
    void sumSquares() {
        Random rnd = new Random(4);
        float[] x = uniform(rnd, 1000, -3, 3);
        Tensor t = f32(x, 10, 100);
        assertClose("sumSquares", Reference.sumSquares(d(x)), be.sumSquares(t), ATOL, 1e-6);
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            x[537] = bad;
            be.upload(x, t);
            assertTrue(Double.isNaN(be.sumSquares(t)), "sumSquares with " + bad + " must be NaN");
        }
    }

    @Test
    void identity() {
        assertEquals("cpu", be.name());
        assertFalse(be.describe().isBlank());
    }

    @Test
    void packedTensorsRefuseInvalidBitWidths() {
        assertThrows(IllegalArgumentException.class, () -> be.allocatePacked(Shape.of(2, 8), 3));
        assertThrows(IllegalArgumentException.class, () -> be.allocatePacked(Shape.of(2, 8), 32));
    }

    // ---- quantization ------------------------------------------------------------------------

    @Test
    void quantizeActivationsMatchesReferenceExactly() {
        Random rnd = new Random(5);
        for (int k : new int[] {1, 2, 4, 8}) {
            for (int c : new int[] {1, 3, 17, 100}) {
                int n = 7 * 3 * c;
                float[] x = activationInputs(rnd, n, k);
                Tensor y = outF32(7, 3, c);
                be.quantizeActivations(f32(x, 7, 3, c), k, y);
                assertExact("quantizeActivations k=" + k + " C=" + c, Reference.quantizeActivations(x, k), get(y));
            }
        }
    }

    @Test
    void quantizeActivationsBackwardMask() {
        Random rnd = new Random(6);
        int n = 5 * 33;
        float[] x = activationInputs(rnd, n, 2);
        float[] dy = uniform(rnd, n, -1, 1);
        Tensor dx = outF32(5, 33);
        be.quantizeActivationsBackward(f32(x, 5, 33), f32(dy, 5, 33), dx);
        assertExact("ste", Reference.quantizeActivationsBackward(x, dy), get(dx));
    }

    private static float[] weightInputs(Random rnd, int n, int k) {
        float[] w = uniform(rnd, n, -1.3, 1.3);
        int levels = k >= 2 ? (1 << (k - 1)) - 1 : 1;
        int j = 0;
        for (int s = -levels; s <= levels && j + 1 < n; s++) {
            w[j++] = (float) ((s + 0.5) / levels); // ties
            w[j++] = (float) ((s - 0.5) / levels);
        }
        float[] specials = {0f, -0.0f, 1f, -1f, 1.5f, -1.5f, 0.5f, -0.5f};
        for (float s : specials) if (j < n) w[j++] = s;
        return w;
    }

    @Test
    void quantizeWeightsAllBitWidths() {
        Random rnd = new Random(7);
        for (int k : new int[] {2, 4, 8, 32}) {
            float[] w = weightInputs(rnd, 17 * 3 * 3 * 5, k);
            w[w.length - 1] = Float.NaN; // NaN -> code 0 at k < 32 (copied through at k = 32, which == cannot compare)
            if (k == 32) w[w.length - 1] = 0.25f;
            Tensor wq = outF32(17, 3, 3, 5);
            be.quantizeWeights(f32(w, 17, 3, 3, 5), k, wq);
            assertExact("quantizeWeights k=" + k, Reference.quantizeWeights(w, k), get(wq));
        }
        // k = 1: sign(w) * mean|w|. The sign pattern is exact; the scale is a mean (summation order may
        // legitimately differ in the last double bit, rarely changing the float by an ulp).
        float[] w = weightInputs(rnd, 33 * 7, 1);
        Tensor wq = outF32(33, 7);
        be.quantizeWeights(f32(w, 33, 7), 1, wq);
        float[] got = get(wq);
        float[] ref = Reference.quantizeWeights(w, 1);
        assertClose("quantizeWeights k=1", d(ref), got, 0, 1e-6);
        for (int i = 0; i < w.length; i++) assertEquals(Math.signum(ref[i]), Math.signum(got[i]), "sign at " + i);
    }

    @Test
    void weightCodesAllBitWidths() {
        Random rnd = new Random(8);
        for (int k : new int[] {1, 2, 4, 8}) {
            int n = 15 * 5 * 5 * 3;
            float[] w = weightInputs(rnd, n, k);
            Tensor codes = outI8(15, 5, 5, 3);
            float scale = be.weightCodes(f32(w, 15, 5, 5, 3), k, codes);
            long[] ref = Reference.weightCodes(w, k);
            assertArrayEquals(ref, toLong(getInts(codes, n)), "weightCodes k=" + k);
            if (k == 1) {
                assertClose("binary scale", Reference.binaryScale(w), scale, 0, 1e-6);
            } else {
                assertEquals(1f / ((1 << (k - 1)) - 1), scale, "step at k=" + k);
            }
        }
    }

    @Test
    void quantizePackRaggedChannels() {
        Random rnd = new Random(9);
        for (int k : new int[] {1, 2, 4, 8}) {
            for (int c : new int[] {1, 3, 15, 17, 33, 100}) {
                for (boolean withMask : new boolean[] {true, false}) {
                    Shape s = Shape.nhwc(c > 17 ? 1 : 7, 3, 2, c);
                    int pixels = (int) s.pixels();
                    float[] x = activationInputs(rnd, pixels * c, k);
                    Tensor codes = outPacked(s, k);
                    Tensor mask = withMask ? outPacked(s, 1) : null;
                    be.quantizePack(f32(x, s.dims()), k, codes, mask);
                    String what = "quantizePack k=" + k + " C=" + c;
                    int[] ref = Reference.pack(Reference.activationCodes(x, k), pixels, c, k);
                    assertArrayEquals(ref, getInts(codes, packedWords(s, k)), what + " codes");
                    if (withMask) {
                        int[] refMask = Reference.pack(Reference.maskCodes(x), pixels, c, 1);
                        assertArrayEquals(refMask, getInts(mask, packedWords(s, 1)), what + " mask");
                    }
                }
            }
        }
    }

    @Test
    void quantizePackGoldenWord() {
        float[] x = new float[8];
        for (int i = 0; i < 8; i++) x[i] = (i + 1) / 15f;
        Tensor codes = outPacked(Shape.nhwc(1, 1, 1, 8), 4);
        be.quantizePack(f32(x, 1, 1, 1, 8), 4, codes, null);
        assertArrayEquals(new int[] {0x87654321}, getInts(codes, 1));
    }

    @Test
    void unpackValuesAndCodes() {
        Random rnd = new Random(10);
        for (int k : new int[] {1, 2, 4, 8}) {
            for (int c : new int[] {1, 3, 15, 17, 33, 100}) {
                Shape s = Shape.nhwc(2, 5, 3, c);
                int pixels = (int) s.pixels();
                long[] codes = new long[pixels * c];
                for (int i = 0; i < codes.length; i++) codes[i] = i < (1 << k) ? i : rnd.nextInt(1 << k);
                Tensor p = keep(be.allocatePacked(s, k));
                be.upload(Reference.pack(codes, pixels, c, k), p);

                Tensor ci = outI32(s.dims());
                be.unpackCodes(p, ci);
                assertArrayEquals(codes, toLong(getInts(ci, codes.length)), "unpackCodes k=" + k + " C=" + c);

                Tensor v = outF32(s.dims());
                be.unpackValues(p, v);
                float[] ref = new float[codes.length];
                for (int i = 0; i < ref.length; i++) ref[i] = Reference.activationValue(codes[i], k);
                assertExact("unpackValues k=" + k + " C=" + c, ref, get(v));
            }
        }
    }

    @Test
    void quantizePackThenUnpackEqualsQuantizeActivations() {
        Random rnd = new Random(11);
        Shape s = Shape.nhwc(7, 4, 3, 17);
        for (int k : new int[] {1, 2, 4, 8}) {
            float[] x = activationInputs(rnd, (int) s.elements(), k);
            Tensor tx = f32(x, s.dims());
            Tensor p = outPacked(s, k);
            be.quantizePack(tx, k, p, null);
            Tensor v = outF32(s.dims());
            be.unpackValues(p, v);
            Tensor q = outF32(s.dims());
            be.quantizeActivations(tx, k, q);
            assertExact("pack/unpack vs quantize k=" + k, get(q), get(v));
        }
    }

    // ---- convolution ---------------------------------------------------------------------------

    static final ConvGeometry[] CONVS = {
        new ConvGeometry(1, 7, 5, 3, 17, 3, 3, 1, 1),
        new ConvGeometry(7, 9, 6, 33, 15, 3, 3, 2, 1),
        new ConvGeometry(2, 8, 7, 6, 5, 3, 3, 2, 0), // stride does not divide the input evenly
        new ConvGeometry(2, 8, 11, 17, 9, 1, 1, 1, 0), // pointwise fast path
        new ConvGeometry(7, 5, 6, 15, 33, 1, 1, 1, 0),
        new ConvGeometry(3, 6, 9, 5, 7, 1, 1, 2, 0), // 1x1 stride 2 skips pixels
        new ConvGeometry(1, 4, 3, 3, 5, 1, 1, 1, 1), // 1x1 with padding: the border outputs are zero
        new ConvGeometry(1, 11, 8, 33, 10, 5, 5, 1, 1),
        new ConvGeometry(7, 10, 7, 3, 100, 5, 5, 2, 0),
        new ConvGeometry(2, 7, 9, 4, 6, 3, 1, 1, 1), // non-square kernel
        new ConvGeometry(1, 1, 1, 3, 5, 1, 1, 1, 0),
        new ConvGeometry(1, 3, 3, 2, 3, 3, 3, 1, 1),
    };

    @Test
    void conv2dAllPasses() {
        Random rnd = new Random(12);
        for (ConvGeometry g : CONVS) checkConv(rnd, g);
    }

    /** Large enough that the CPU backend's im2col buffer splits the batch into chunks. */
    @Test
    void conv2dChunkedBatch() {
        checkConv(new Random(13), new ConvGeometry(5, 32, 32, 100, 5, 3, 3, 1, 1));
    }

    private void checkConv(Random rnd, ConvGeometry g) {
        int[] xs = {g.n(), g.h(), g.w(), g.cin()};
        int[] ws = {g.cout(), g.kh(), g.kw(), g.cin()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.cout()};
        float[] x = uniform(rnd, g.n() * g.h() * g.w() * g.cin(), -1, 1);
        float[] w = uniform(rnd, g.cout() * g.patch(), -1, 1);
        float[] dy = uniform(rnd, g.n() * g.outH() * g.outW() * g.cout(), -1, 1);
        Tensor tx = f32(x, xs), tw = f32(w, ws), tdy = f32(dy, ys);

        Tensor y = outF32(ys);
        be.conv2dForward(tx, tw, y, g);
        assertClose("conv fwd " + g, Reference.conv2dForward(d(x), d(w), g), get(y), atolFor(g.patch()), RTOL);

        Tensor dx = outF32(xs);
        be.conv2dBackwardData(tdy, tw, dx, g);
        // Each dx element sums over at most kh*kw*cout products.
        assertClose("conv dgrad " + g, Reference.conv2dBackwardData(d(dy), d(w), g), get(dx),
                atolFor((long) g.kh() * g.kw() * g.cout()), RTOL);

        Tensor dw = outF32(ws);
        be.conv2dBackwardFilter(tx, tdy, dw, g);
        assertClose("conv wgrad " + g, Reference.conv2dBackwardFilter(d(x), d(dy), g), get(dw),
                atolFor((long) g.n() * g.outH() * g.outW()), RTOL);
        assertExact("conv leaves x", x, get(tx));
        assertExact("conv leaves w", w, get(tw));
        assertExact("conv leaves dy", dy, get(tdy));
    }

    // ---- batch norm ----------------------------------------------------------------------------

    private static final int[][] BN_SHAPES = {{7, 5, 3, 17}, {1, 4, 6, 3}, {2, 3, 3, 33}, {1, 1, 2, 5}, {7, 1, 1, 100}};

    /**
     * Per-channel offsets and scales, as conv outputs have; the offset exposes one-pass variance
     * cancellation. |mean| / std stays below ~10: far beyond that any fp32 BN loses digits in x - mean
     * (ulp(mean) * invstd) and the 1e-5 bound no longer applies.
     */
    private static float[] bnInput(Random rnd, int pixels, int c) {
        float[] off = uniform(rnd, c, -2, 2), sc = uniform(rnd, c, 0.3, 2);
        float[] x = new float[pixels * c];
        for (int i = 0; i < x.length; i++) x[i] = off[i % c] + sc[i % c] * (float) rnd.nextGaussian();
        return x;
    }

    @Test
    void batchNormTrainAndRunningStats() {
        Random rnd = new Random(14);
        float eps = 1e-5f, momentum = 0.1f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(rnd, pixels, c);
            float[] gamma = uniform(rnd, c, 0.5, 1.5), beta = uniform(rnd, c, -1, 1);
            float[] rm = uniform(rnd, c, -1, 1), rv = uniform(rnd, c, 0.5, 2);
            Tensor y = outF32(s), mean = outF32(c), inv = outF32(c);
            Tensor trm = f32(rm, c), trv = f32(rv, c);
            be.batchNormTrain(f32(x, s), f32(gamma, c), f32(beta, c), y, mean, inv, trm, trv, momentum, eps);

            Reference.BnTrain ref = Reference.batchNormTrain(d(x), d(gamma), d(beta), eps);
            String what = "bn train " + Arrays.toString(s);
            assertClose(what + " y", ref.y(), get(y));
            assertClose(what + " mean", ref.stats().mean(), get(mean));
            assertClose(what + " invstd", ref.stats().invStd(), get(inv));
            assertClose(what + " running mean", Reference.runningUpdate(d(rm), ref.stats().mean(), momentum), get(trm));
            assertClose(what + " running var", Reference.runningUpdate(d(rv), ref.stats().unbiasedVar(), momentum),
                    get(trv));
        }
    }

    @Test
    void batchNormInference() {
        Random rnd = new Random(15);
        float eps = 1e-5f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(rnd, pixels, c);
            float[] gamma = uniform(rnd, c, 0.5, 1.5), beta = uniform(rnd, c, -1, 1);
            float[] rm = uniform(rnd, c, -2, 2), rv = uniform(rnd, c, 0.1, 4);
            Tensor y = outF32(s);
            be.batchNormInference(f32(x, s), f32(gamma, c), f32(beta, c), f32(rm, c), f32(rv, c), eps, y);
            assertClose("bn inference " + Arrays.toString(s),
                    Reference.batchNormInference(d(x), d(gamma), d(beta), d(rm), d(rv), eps), get(y));
        }
    }

    @Test
    void batchNormBackward() {
        Random rnd = new Random(16);
        float eps = 1e-5f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(rnd, pixels, c);
            float[] gamma = uniform(rnd, c, 0.5, 1.5);
            float[] dy = uniform(rnd, pixels * c, -1, 1);
            // The saved statistics are inputs here: both sides get the same fp32 values.
            Reference.BnStats st = Reference.batchNormStats(d(x), c, eps);
            float[] mean = Reference.toFloat(st.mean()), inv = Reference.toFloat(st.invStd());
            Tensor dx = outF32(s), dgamma = outF32(c), dbeta = outF32(c);
            be.batchNormBackward(f32(x, s), f32(dy, s), f32(gamma, c), f32(mean, c), f32(inv, c), dx, dgamma, dbeta);

            Reference.BnGrads ref = Reference.batchNormBackward(d(x), d(dy), d(gamma), d(mean), d(inv));
            String what = "bn backward " + Arrays.toString(s);
            // dgamma and dbeta sum over all pixels of a channel.
            assertClose(what + " dgamma", ref.dgamma(), get(dgamma), atolFor(pixels), RTOL);
            assertClose(what + " dbeta", ref.dbeta(), get(dbeta), atolFor(pixels), RTOL);
            assertClose(what + " dx", ref.dx(), get(dx));
        }
    }

    // ---- pooling -------------------------------------------------------------------------------

    static final PoolGeometry[] POOLS = {
        new PoolGeometry(1, 7, 5, 3, 2, 2, 0), // drops the last row and column
        new PoolGeometry(7, 6, 9, 17, 3, 2, 1), // overlapping windows, padding
        new PoolGeometry(2, 5, 5, 33, 3, 1, 1),
        new PoolGeometry(3, 4, 7, 1, 2, 1, 0),
        new PoolGeometry(1, 3, 3, 5, 3, 3, 2), // corner windows hold a single real cell
        new PoolGeometry(2, 2, 3, 100, 1, 1, 0),
    };

    private void checkMaxPool(String what, float[] x, PoolGeometry g, float[] dy) {
        int[] xs = {g.n(), g.h(), g.w(), g.c()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.c()};
        Tensor y = outF32(ys);
        Tensor arg = outI32(ys);
        be.maxPoolForward(f32(x, xs), y, arg, g);
        Reference.MaxPool ref = Reference.maxPoolForward(d(x), g);
        int outLen = g.n() * g.outH() * g.outW() * g.c();
        assertClose(what + " y " + g, ref.y(), get(y), 0, 0); // the max is an input value: exact
        assertArrayEquals(ref.argmax(), toLong(getInts(arg, outLen)), what + " argmax " + g);
        Tensor dx = outF32(xs);
        be.maxPoolBackward(f32(dy, ys), arg, dx, g);
        // A cell that wins several overlapping windows sums a few dy values.
        assertClose(what + " dx " + g, Reference.maxPoolBackward(d(dy), ref.argmax(), x.length), get(dx));
    }

    @Test
    void maxPoolRandom() {
        Random rnd = new Random(17);
        for (PoolGeometry g : POOLS) {
            float[] x = uniform(rnd, g.n() * g.h() * g.w() * g.c(), -1, 1);
            checkMaxPool("random", x, g, uniform(rnd, g.n() * g.outH() * g.outW() * g.c(), -1, 1));
        }
    }

    @Test
    void maxPoolTiesAndNegativeInputs() {
        Random rnd = new Random(18);
        float[] levels = {-1f, -0.5f, 0f, 0.5f};
        for (PoolGeometry g : POOLS) {
            int n = g.n() * g.h() * g.w() * g.c();
            int outLen = g.n() * g.outH() * g.outW() * g.c();
            // Few distinct values: most windows tie, so the first-maximum rule decides the argmax.
            float[] x = new float[n];
            for (int i = 0; i < n; i++) x[i] = levels[rnd.nextInt(levels.length)];
            checkMaxPool("ties", x, g, uniform(rnd, outLen, -1, 1));
            // All inputs negative: a padding cell (an implicit 0) must never win.
            float[] neg = uniform(rnd, n, -3, -1);
            checkMaxPool("negative", neg, g, uniform(rnd, outLen, -1, 1));
            float[] same = new float[n];
            Arrays.fill(same, -2f);
            checkMaxPool("constant", same, g, uniform(rnd, outLen, -1, 1));
        }
    }

    @Test
    void globalAvgPool() {
        Random rnd = new Random(19);
        int[][] shapes = {{1, 1, 1, 3}, {7, 5, 3, 17}, {2, 7, 9, 33}, {3, 8, 8, 100}};
        for (int[] s : shapes) {
            int n = s[0], hw = s[1] * s[2], c = s[3];
            float[] x = uniform(rnd, n * hw * c, -1, 2);
            float[] dy = uniform(rnd, n * c, -1, 1);
            Tensor y = outF32(n, c);
            be.globalAvgPoolForward(f32(x, s), y);
            assertClose("avgpool fwd " + Arrays.toString(s), Reference.globalAvgPoolForward(d(x), n, hw, c), get(y));
            Tensor dx = outF32(s);
            be.globalAvgPoolBackward(f32(dy, n, c), dx);
            assertClose("avgpool bwd " + Arrays.toString(s), Reference.globalAvgPoolBackward(d(dy), n, hw, c), get(dx));
        }
    }

    // ---- linear, loss, optimizer ---------------------------------------------------------------

    @Test
    void linearForwardBackward() {
        Random rnd = new Random(20);
        int[][] dims = {{1, 3, 10}, {7, 100, 33}, {5, 17, 1}, {7, 640, 10}};
        for (int[] dm : dims) {
            int n = dm[0], in = dm[1], out = dm[2];
            float[] x = uniform(rnd, n * in, -1, 1), w = uniform(rnd, out * in, -1, 1), b = uniform(rnd, out, -1, 1);
            float[] dy = uniform(rnd, n * out, -1, 1);
            Tensor tx = f32(x, n, in), tw = f32(w, out, in), tb = f32(b, out), tdy = f32(dy, n, out);
            String what = "linear " + Arrays.toString(dm);

            Tensor y = outF32(n, out);
            be.linearForward(tx, tw, tb, y);
            assertClose(what + " y", Reference.linearForward(d(x), d(w), d(b), n, in, out), get(y), atolFor(in), RTOL);
            Tensor y0 = outF32(n, out);
            be.linearForward(tx, tw, null, y0);
            assertClose(what + " y (no bias)", Reference.linearForward(d(x), d(w), null, n, in, out), get(y0),
                    atolFor(in), RTOL);

            Reference.LinearGrads ref = Reference.linearBackward(d(x), d(w), d(dy), n, in, out);
            Tensor dx = outF32(n, in), dw = outF32(out, in), db = outF32(out);
            be.linearBackward(tx, tw, tdy, dx, dw, db);
            assertClose(what + " dx", ref.dx(), get(dx), atolFor(out), RTOL);
            assertClose(what + " dw", ref.dw(), get(dw), atolFor(n), RTOL);
            assertClose(what + " db", ref.db(), get(db), atolFor(n), RTOL);

            // dx and db may be null (first layer, no bias): dw is still complete.
            Tensor dw2 = outF32(out, in);
            be.linearBackward(tx, tw, tdy, null, dw2, null);
            assertClose(what + " dw (no dx, db)", ref.dw(), get(dw2), atolFor(n), RTOL);
        }
    }

    @Test
    void softmaxCrossEntropy() {
        Random rnd = new Random(21);
        int[][] dims = {{1, 10}, {7, 3}, {33, 17}, {7, 1000}};
        for (int[] dm : dims) {
            int n = dm[0], classes = dm[1];
            float[] z = uniform(rnd, n * classes, -4, 4);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = rnd.nextInt(classes);
            if (n > 4 && classes > 2) {
                z[0] = 60f; // large logits must not overflow
                z[classes + 1] = -80f;
                z[2 * classes] = 5f; // a tie between classes 0 and 1 of row 2: class 0 wins
                z[2 * classes + 1] = 5f;
                labels[2] = 1;
                labels[3] = 0;
                z[3 * classes] = 5f; // row 3: the first of the tied maxima is the label, so it counts as correct
                z[3 * classes + 2] = 5f;
                z[4 * classes] = 5f; // row 4 likewise, so that a last-maximum rule cannot break even
                z[4 * classes + 1] = 5f;
                labels[4] = 0;
            }
            float scale = 1f / n;
            Tensor dz = outF32(n, classes);
            LossResult r = be.softmaxCrossEntropy(f32(z, n, classes), i32(labels, n), dz, scale);
            Reference.Loss ref = Reference.softmaxCrossEntropy(d(z), labels, n, classes, scale);
            String what = "softmax-ce " + Arrays.toString(dm);
            assertClose(what + " loss", ref.lossSum(), r.lossSum(), ATOL * n, RTOL);
            assertEquals(ref.correct(), r.correct(), what + " correct");
            assertEquals(n, r.count(), what + " count");
            assertClose(what + " dlogits", ref.dlogits(), get(dz));
        }
    }

    @Test
    void sgdStep() {
        Random rnd = new Random(22);
        int n = 17 * 3 * 3 * 5;
        float[] p = uniform(rnd, n, -1, 1), g = uniform(rnd, n, -1, 1), v = uniform(rnd, n, -0.5, 0.5);
        float lr = 0.05f, momentum = 0.9f, wd = 5e-4f;
        Tensor tp = f32(p, 17, 3, 3, 5), tg = f32(g, 17, 3, 3, 5), tv = f32(v, 17, 3, 3, 5);
        double[] rp = d(p), rv = d(v);
        for (int step = 0; step < 3; step++) {
            be.sgdStep(tp, tg, tv, lr, momentum, wd);
            Reference.Sgd ref = Reference.sgdStep(rp, d(g), rv, lr, momentum, wd);
            rp = ref.param();
            rv = ref.velocity();
            assertClose("sgd param step " + step, rp, get(tp));
            assertClose("sgd velocity step " + step, rv, get(tv));
        }
        assertExact("sgd leaves grad", g, get(tg));
        // Without momentum and weight decay it is plain gradient descent.
        Tensor tp2 = f32(p, n), tv2 = f32(new float[n], n);
        be.sgdStep(tp2, f32(g, n), tv2, 0.1f, 0f, 0f);
        double[] plain = new double[n];
        for (int i = 0; i < n; i++) plain[i] = p[i] - 0.1f * (double) g[i];
        assertClose("plain sgd", plain, get(tp2));
    }
}
