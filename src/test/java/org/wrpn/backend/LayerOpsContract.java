package org.wrpn.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInstance;
import org.wrpn.quant.PackedLayout;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The ops of any Backend against src/test/.../reference on fresh random inputs at ragged shapes:
 * memory (exact byte counts, zero-filled allocations, round trips), the quantizers and the packed
 * layout (codes, words and quantized values bit for bit), and the layers at stride 1 and 2, padding
 * 0 and 1, channel counts that are no multiple of 32 (or of a 64-wide tile), batch 1 and 7, and
 * shapes large enough for the CUDA weight gradient to split its sum. Outputs are poisoned first.
 * fp32 results within |a - b| &lt;= atol + rtol |ref| (atol 1e-5 growing like sqrt(K / 64) for sums
 * of K terms, rtol 1e-4); exact where the contract is exact (ReLU, max pool, codes, and the batch-norm
 * recomputation, which must repeat the training output bit for bit).
 *
 * <p>Subclasses: CpuBackendContractTest, CudaLayersGpuTest (on a GPU) and ReferenceBackendContractTest
 * (which keeps these checks themselves honest: the reference backend is the spec).
 */
@TestInstance(TestInstance.Lifecycle.PER_CLASS)
public abstract class LayerOpsContract {
    static final double ATOL = 1e-5;
    static final double RTOL = 1e-4;

    protected Backend be;
    protected BackendFixture fx;
    /** Fresh inputs every run; the seed is printed so that a failure can be replayed. */
    protected final long seed = System.nanoTime();
    protected final Random rnd = new Random(seed);

    /** The backend under test (may abort the class, e.g. without a GPU). */
    protected abstract Backend open();

    @BeforeAll
    void start() {
        System.out.println(getClass().getSimpleName() + ": inputs from seed " + seed);
        be = open();
        fx = new BackendFixture(be);
    }

    @AfterAll
    void stop() {
        if (be != null) be.close();
    }

    @AfterEach
    void release() {
        if (fx != null) fx.closeAll();
    }

    // ---- helpers -------------------------------------------------------------------------------

    protected float[] uniform(int n, double lo, double hi) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (lo + (hi - lo) * rnd.nextDouble());
        return a;
    }

    protected static double[] d(float[] a) {
        return Reference.toDouble(a);
    }

    protected static double atolFor(long k) {
        return ATOL * Math.max(1.0, Math.sqrt(k / 64.0));
    }

    protected static void assertClose(String what, double[] ref, float[] got, double atol, double rtol) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            double r = ref[i], g = got[i];
            if (!(Math.abs(g - r) <= atol + rtol * Math.abs(r))) {
                fail(what + "[" + i + "]: got " + g + ", reference " + r + " (tolerance " + (atol + rtol * Math.abs(r)) + ")");
            }
        }
    }

    protected static void assertBits(String what, float[] ref, float[] got) {
        assertEquals(ref.length, got.length, what + ": length");
        for (int i = 0; i < ref.length; i++) {
            if (Float.floatToRawIntBits(ref[i]) != Float.floatToRawIntBits(got[i])) {
                fail(what + "[" + i + "]: got " + got[i] + ", expected bit for bit " + ref[i]);
            }
        }
    }

    static long[] toLong(int[] a) {
        long[] l = new long[a.length];
        for (int i = 0; i < a.length; i++) l[i] = a[i];
        return l;
    }

    /** Random floats plus every tie (u + 0.5) / levels, code centers, exact 0 and 1, out of range and non-finite values. */
    protected float[] activationInputs(int n, int k) {
        float[] x = uniform(n, -0.25, 1.25);
        List<Integer> at = new ArrayList<>();
        for (int i = 0; i < n; i++) at.add(i);
        Collections.shuffle(at, rnd); // the values below land at ragged positions inside words
        int levels = (1 << k) - 1;
        int j = 0;
        for (int u = 0; u <= levels && j < n; u++) {
            x[at.get(j++)] = (float) ((u + 0.5) / levels);
            if (j < n) x[at.get(j++)] = (float) u / levels;
        }
        float[] specials = {0f, -0.0f, 1f, -1f, 2f, Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY,
            Float.MIN_VALUE, Math.nextDown(1f), 1f / 6f, 0.5f};
        for (float s : specials) if (j < n) x[at.get(j++)] = s;
        return x;
    }

    /** Words of arbitrary bits for a packed tensor of shape s at k bits. */
    protected int[] randomWords(Shape s, int k) {
        int[] words = new int[BackendFixture.packedWords(s, k)];
        for (int i = 0; i < words.length; i++) words[i] = rnd.nextInt();
        return words;
    }

    /** Random weights beyond the clip range, every rounding tie of k-bit codes, 0, -0, +-1 and +-0.5. */
    protected float[] weightInputs(int n, int k) {
        float[] w = uniform(n, -1.3, 1.3);
        int levels = k >= 2 ? (1 << (k - 1)) - 1 : 1;
        int j = 0;
        for (int s = -levels; s <= levels && j + 1 < n; s++) {
            w[j++] = (float) ((s + 0.5) / levels);
            w[j++] = (float) ((s - 0.5) / levels);
        }
        float[] specials = {0f, -0.0f, 1f, -1f, 1.5f, -1.5f, 0.5f, -0.5f};
        for (float s : specials) if (j < n) w[j++] = s;
        return w;
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
    }

    @Test
    void allocationsAreZeroFilled() {
        assertBits("f32", new float[12], fx.floats(fx.keep(be.allocate(DType.F32, Shape.of(3, 4)))));
        assertArrayEquals(new int[5], fx.ints(fx.keep(be.allocate(DType.I32, Shape.of(5))), 5));
        assertArrayEquals(new int[7], fx.ints(fx.keep(be.allocate(DType.I8, Shape.of(7))), 7));
        assertArrayEquals(new int[6], fx.ints(fx.keep(be.allocatePacked(Shape.nhwc(1, 2, 3, 5), 2)), 6));
    }

    @Test
    void packedTensorsRefuseInvalidBitWidths() {
        assertThrows(IllegalArgumentException.class, () -> be.allocatePacked(Shape.of(2, 8), 3));
        assertThrows(IllegalArgumentException.class, () -> be.allocatePacked(Shape.of(2, 8), 32));
    }

    @Test
    void uploadDownloadRoundTrip() {
        float[] f = uniform(3 * 5 * 7, -1e3, 1e3);
        f[0] = Float.MIN_VALUE;
        f[1] = -0.0f;
        f[2] = Float.MAX_VALUE;
        assertBits("f32", f, fx.floats(fx.f32(f, 3, 5, 7)));
        int[] ints = new int[19];
        for (int i = 0; i < ints.length; i++) ints[i] = rnd.nextInt();
        ints[0] = Integer.MIN_VALUE;
        ints[1] = -1;
        assertArrayEquals(ints, fx.ints(fx.i32(ints, 19), 19));
        int[] bytes = new int[256];
        for (int i = 0; i < 256; i++) bytes[i] = i - 128;
        Tensor i8 = fx.keep(be.allocate(DType.I8, Shape.of(256)));
        be.upload(bytes, i8);
        assertArrayEquals(bytes, fx.ints(i8, 256));
        int[] words = randomWords(Shape.nhwc(2, 3, 1, 17), 2);
        assertArrayEquals(words, fx.ints(fx.packed(words, Shape.nhwc(2, 3, 1, 17), 2), words.length));
    }

    @Test
    void copyFillAndAdd() {
        int n = 3 * 7 * 17;
        float[] a = uniform(n, -2, 2), b = uniform(n, -2, 2);
        Tensor ta = fx.f32(a, 3, 7, 17), tb = fx.f32(b, 3, 7, 17);
        Tensor c = fx.outF32(3, 7, 17);
        be.copy(ta, c);
        assertBits("copy", a, fx.floats(c));
        int[] ints = {5, -3, 7, 0x7FFFFFFF};
        Tensor ci = fx.outI32(4);
        be.copy(fx.i32(ints, 4), ci);
        assertArrayEquals(ints, fx.ints(ci, 4));
        Shape ps = Shape.nhwc(1, 2, 2, 9);
        int[] words = randomWords(ps, 4);
        Tensor pc = fx.outPacked(ps, 4);
        be.copy(fx.packed(words, ps, 4), pc);
        assertArrayEquals(words, fx.ints(pc, words.length));
        Tensor f = fx.keep(be.allocate(DType.F32, Shape.of(13)));
        be.fill(f, -2.5f);
        float[] filled = new float[13];
        Arrays.fill(filled, -2.5f);
        assertBits("fill", filled, fx.floats(f));
        Tensor sum = fx.outF32(3, 7, 17);
        be.add(ta, tb, sum);
        assertClose("add", Reference.add(d(a), d(b)), fx.floats(sum), ATOL, RTOL);
        be.addInPlace(c, tb); // c holds a
        assertClose("addInPlace", Reference.add(d(a), d(b)), fx.floats(c), ATOL, RTOL);
        assertBits("addInPlace leaves src", b, fx.floats(tb));
    }

    /** Whole images move, fp32 or packed at a ragged channel count; the rest of dst stays; bad ranges are refused. */
    @Test
    void copyImagesMovesWholeImages() {
        float[] a = uniform(4 * 3 * 2 * 5, -2, 2), b = uniform(3 * 3 * 2 * 5, -2, 2);
        Tensor src = fx.f32(a, 4, 3, 2, 5), dst = fx.f32(b, 3, 3, 2, 5);
        be.copyImages(src, 1, dst, 1, 2);
        float[] want = b.clone();
        System.arraycopy(a, 30, want, 30, 60);
        assertBits("copyImages f32", want, fx.floats(dst));
        Shape ps = Shape.nhwc(4, 2, 3, 9), qs = Shape.nhwc(2, 2, 3, 9);
        int[] words = randomWords(ps, 2), perImage = new int[words.length / 4];
        Tensor packed = fx.packed(words, ps, 2), slice = fx.outPacked(qs, 2);
        be.copyImages(packed, 3, slice, 0, 1);
        be.copyImages(packed, 0, slice, 1, 1);
        int[] got = fx.ints(slice, 2 * perImage.length);
        assertArrayEquals(Arrays.copyOfRange(words, 3 * perImage.length, 4 * perImage.length), Arrays.copyOfRange(got, 0, perImage.length));
        assertArrayEquals(Arrays.copyOfRange(words, 0, perImage.length), Arrays.copyOfRange(got, perImage.length, 2 * perImage.length));
        assertThrows(IllegalArgumentException.class, () -> be.copyImages(src, 3, dst, 0, 2), "past the end of src");
        assertThrows(IllegalArgumentException.class, () -> be.copyImages(src, 0, dst, 2, 2), "past the end of dst");
        assertThrows(IllegalArgumentException.class, () -> be.copyImages(src, 0, fx.outF32(2, 3, 2, 4), 0, 1), "another image shape");
        assertThrows(IllegalArgumentException.class, () -> be.copyImages(packed, 0, fx.outPacked(qs, 4), 0, 1), "other bits");
    }

    @Test
    void sumSquaresAndNonFiniteValues() {
        float[] x = uniform(1000, -3, 3);
        Tensor t = fx.f32(x, 10, 100);
        double ref = Reference.sumSquares(d(x));
        assertEquals(ref, be.sumSquares(t), ATOL + 1e-6 * ref, "sumSquares");
        for (float bad : new float[] {Float.NaN, Float.POSITIVE_INFINITY, Float.NEGATIVE_INFINITY}) {
            x[537] = bad;
            be.upload(x, t);
            assertTrue(Double.isNaN(be.sumSquares(t)), "sumSquares with " + bad + " must be NaN");
        }
    }

    // ---- quantization ------------------------------------------------------------------------

    @Test
    void quantizeActivationsBitForBit() {
        for (int k : new int[] {1, 2, 4, 8}) {
            for (int c : new int[] {1, 3, 17, 100}) {
                float[] x = activationInputs(7 * 3 * c, k);
                Tensor y = fx.outF32(7, 3, c);
                be.quantizeActivations(fx.f32(x, 7, 3, c), k, y);
                assertBits("quantizeActivations k=" + k + " C=" + c, Reference.quantizeActivations(x, k), fx.floats(y));
            }
        }
    }

    @Test
    void quantizeActivationsBackwardPassesInsideTheClipRange() {
        float[] x = activationInputs(5 * 33, 2), dy = uniform(5 * 33, -1, 1);
        Tensor dx = fx.outF32(5, 33);
        be.quantizeActivationsBackward(fx.f32(x, 5, 33), fx.f32(dy, 5, 33), dx);
        assertBits("ste", Reference.quantizeActivationsBackward(x, dy), fx.floats(dx));
    }

    @Test
    void quantizeWeightsAllBitWidths() {
        for (int k : new int[] {2, 4, 8, 32}) {
            float[] w = weightInputs(17 * 3 * 3 * 5, k);
            w[w.length - 1] = k == 32 ? 0.25f : Float.NaN; // NaN -> code 0 below 32 bits
            Tensor wq = fx.outF32(17, 3, 3, 5);
            be.quantizeWeights(fx.f32(w, 17, 3, 3, 5), k, wq);
            assertBits("quantizeWeights k=" + k, Reference.quantizeWeights(w, k), fx.floats(wq));
        }
        // k = 1: sign(w) * mean|w|. The signs are exact; the scale is a mean (a summation order may
        // legitimately differ in the last double bit, rarely changing the float by an ulp).
        float[] w = weightInputs(33 * 7, 1);
        Tensor wq = fx.outF32(33, 7);
        be.quantizeWeights(fx.f32(w, 33, 7), 1, wq);
        float[] got = fx.floats(wq), ref = Reference.quantizeWeights(w, 1);
        assertClose("quantizeWeights k=1", d(ref), got, 0, 1e-6);
        for (int i = 0; i < w.length; i++) assertEquals(Math.signum(ref[i]), Math.signum(got[i]), "sign at " + i);
    }

    @Test
    void weightCodesAllBitWidths() {
        for (int k : new int[] {1, 2, 4, 8}) {
            int n = 15 * 5 * 5 * 3;
            float[] w = weightInputs(n, k);
            Tensor codes = fx.outI8(15, 5, 5, 3);
            float scale = be.weightCodes(fx.f32(w, 15, 5, 5, 3), k, codes);
            assertArrayEquals(Reference.weightCodes(w, k), toLong(fx.ints(codes, n)), "weightCodes k=" + k);
            if (k == 1) {
                assertClose("binary scale", new double[] {Reference.binaryScale(w)}, new float[] {scale}, 0, 1e-6);
            } else {
                assertEquals(1f / ((1 << (k - 1)) - 1), scale, "step at k=" + k);
            }
        }
    }

    /** Codes and mask words at ragged channel counts; the mask then gates a gradient as the STE does. */
    @Test
    void quantizePackAndTheMaskGradientAtRaggedChannels() {
        for (int k : new int[] {1, 2, 4, 8}) {
            for (int c : new int[] {1, 3, 15, 17, 33, 100}) {
                for (boolean withMask : new boolean[] {true, false}) {
                    Shape s = Shape.nhwc(c > 17 ? 1 : 7, 3, 2, c);
                    int pixels = (int) s.pixels();
                    float[] x = activationInputs(pixels * c, k);
                    Tensor tx = fx.f32(x, s.dims());
                    Tensor codes = fx.outPacked(s, k);
                    Tensor mask = withMask ? fx.outPacked(s, 1) : null;
                    be.quantizePack(tx, k, codes, mask);
                    String what = "quantizePack k=" + k + " C=" + c;
                    int[] ref = Reference.pack(Reference.activationCodes(x, k), pixels, c, k);
                    assertArrayEquals(ref, fx.ints(codes, BackendFixture.packedWords(s, k)), what + " codes");
                    if (!withMask) continue;
                    int[] refMask = Reference.pack(Reference.maskCodes(x), pixels, c, 1);
                    assertArrayEquals(refMask, fx.ints(mask, BackendFixture.packedWords(s, 1)), what + " mask");
                    float[] dy = uniform(pixels * c, -1, 1);
                    Tensor dx = fx.outF32(s.dims());
                    be.maskGradient(mask, fx.f32(dy, s.dims()), dx);
                    assertBits(what + " mask gradient", Reference.quantizeActivationsBackward(x, dy), fx.floats(dx));
                }
            }
        }
    }

    @Test
    void quantizePackGoldenWord() {
        float[] x = new float[8];
        for (int i = 0; i < 8; i++) x[i] = (i + 1) / 15f;
        Tensor codes = fx.outPacked(Shape.nhwc(1, 1, 1, 8), 4);
        be.quantizePack(fx.f32(x, 1, 1, 1, 8), 4, codes, null);
        assertArrayEquals(new int[] {0x87654321}, fx.ints(codes, 1));
    }

    @Test
    void unpackValuesAndCodes() {
        for (int k : new int[] {1, 2, 4, 8}) {
            for (int c : new int[] {1, 3, 15, 17, 33, 100}) {
                Shape s = Shape.nhwc(2, 5, 3, c);
                int pixels = (int) s.pixels();
                long[] codes = new long[pixels * c];
                for (int i = 0; i < codes.length; i++) codes[i] = i < (1 << k) ? i : rnd.nextInt(1 << k);
                Tensor p = fx.packed(Reference.pack(codes, pixels, c, k), s, k);
                Tensor ci = fx.outI32(s.dims());
                be.unpackCodes(p, ci);
                assertArrayEquals(codes, toLong(fx.ints(ci, codes.length)), "unpackCodes k=" + k + " C=" + c);
                Tensor v = fx.outF32(s.dims());
                be.unpackValues(p, v);
                float[] ref = new float[codes.length];
                for (int i = 0; i < ref.length; i++) ref[i] = Reference.activationValue(codes[i], k);
                assertBits("unpackValues k=" + k + " C=" + c, ref, fx.floats(v));
            }
        }
    }

    @Test
    void quantizePackThenUnpackEqualsQuantizeActivations() {
        Shape s = Shape.nhwc(7, 4, 3, 17);
        for (int k : new int[] {1, 2, 4, 8}) {
            Tensor tx = fx.f32(activationInputs((int) s.elements(), k), s.dims());
            Tensor p = fx.outPacked(s, k);
            be.quantizePack(tx, k, p, null);
            Tensor v = fx.outF32(s.dims());
            be.unpackValues(p, v);
            Tensor q = fx.outF32(s.dims());
            be.quantizeActivations(tx, k, q);
            assertBits("pack/unpack vs quantize k=" + k, fx.floats(q), fx.floats(v));
        }
    }

    // ---- ReLU ----------------------------------------------------------------------------------

    @Test
    void reluAndItsBackward() {
        for (int n : new int[] {1, 3, 4, 1029}) {
            float[] x = uniform(n, -1, 1);
            if (n > 3) {
                x[0] = Float.NaN;
                x[1] = -0.0f;
                x[2] = Float.POSITIVE_INFINITY;
            }
            Tensor y = fx.outF32(n);
            be.relu(fx.f32(x, n), y);
            float[] yv = fx.floats(y);
            assertBits("relu n=" + n, Reference.toFloat(Reference.relu(d(x))), yv);
            float[] dy = uniform(n, -1, 1);
            Tensor dx = fx.outF32(n);
            be.reluBackward(y, fx.f32(dy, n), dx);
            assertBits("relu backward n=" + n, Reference.toFloat(Reference.reluBackward(d(yv), d(dy))), fx.floats(dx));
        }
    }

    // ---- convolution ---------------------------------------------------------------------------

    /** n, h, w, cin, cout, kh, kw, stride, pad. */
    static final ConvGeometry[] CONVS = {
        new ConvGeometry(1, 7, 5, 3, 33, 3, 3, 1, 1),
        new ConvGeometry(7, 6, 6, 5, 4, 3, 3, 2, 1),
        new ConvGeometry(2, 5, 5, 33, 7, 1, 1, 2, 0),
        new ConvGeometry(1, 9, 9, 1, 6, 5, 5, 1, 2),   // the first layer of lenet: one input channel
        new ConvGeometry(7, 4, 4, 17, 65, 3, 3, 1, 0), // two tiles of output channels
        new ConvGeometry(2, 7, 7, 6, 5, 3, 3, 2, 0),   // stride 2 without padding: dgrad skips pixels
        new ConvGeometry(1, 3, 3, 70, 3, 3, 3, 1, 1),
        new ConvGeometry(1, 1, 1, 3, 5, 1, 1, 1, 0),
        new ConvGeometry(2, 7, 9, 4, 6, 3, 1, 1, 1),   // non-square kernel
        new ConvGeometry(1, 4, 3, 3, 5, 1, 1, 1, 1),   // 1x1 with padding: the border outputs are zero
        new ConvGeometry(2, 8, 8, 16, 32, 3, 3, 2, 1), // a resnet downsampling conv
        new ConvGeometry(7, 32, 32, 3, 5, 3, 3, 1, 1), // 7168 output pixels: the weight gradient splits (CUDA)
        new ConvGeometry(1, 80, 80, 2, 3, 3, 3, 2, 1), // 1600 pixels, batch 1
        new ConvGeometry(2, 8, 11, 17, 9, 1, 1, 1, 0), // 1x1, several images: one GEMM on the CPU
        new ConvGeometry(3, 6, 9, 5, 7, 1, 1, 2, 0),   // 1x1 stride 2 skips pixels
        new ConvGeometry(7, 10, 7, 3, 100, 5, 5, 2, 0),
    };

    @Test
    void convolutionForwardAndBothGradients() {
        for (ConvGeometry g : CONVS) checkConv(g);
    }

    protected void checkConv(ConvGeometry g) {
        int[] xs = {g.n(), g.h(), g.w(), g.cin()};
        int[] ws = {g.cout(), g.kh(), g.kw(), g.cin()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.cout()};
        float[] x = uniform(g.n() * g.h() * g.w() * g.cin(), -1, 1);
        float[] w = uniform(g.cout() * g.patch(), -1, 1);
        float[] dy = uniform(g.n() * g.outH() * g.outW() * g.cout(), -1, 1);
        Tensor tx = fx.f32(x, xs), tw = fx.f32(w, ws), tdy = fx.f32(dy, ys);

        Tensor y = fx.outF32(ys);
        be.conv2dForward(tx, tw, y, g);
        assertClose("conv fwd " + g, Reference.conv2dForward(d(x), d(w), g), fx.floats(y), atolFor(g.patch()), RTOL);
        Tensor dx = fx.outF32(xs);
        be.conv2dBackwardData(tdy, tw, dx, g);
        assertClose("conv dgrad " + g, Reference.conv2dBackwardData(d(dy), d(w), g), fx.floats(dx),
                atolFor((long) g.kh() * g.kw() * g.cout()), RTOL);
        Tensor dw = fx.outF32(ws);
        be.conv2dBackwardFilter(tx, tdy, dw, g);
        assertClose("conv wgrad " + g, Reference.conv2dBackwardFilter(d(x), d(dy), g), fx.floats(dw),
                atolFor((long) g.n() * g.outH() * g.outW()), RTOL);
        assertBits("conv leaves x", x, fx.floats(tx));
        assertBits("conv leaves w", w, fx.floats(tw));
        assertBits("conv leaves dy", dy, fx.floats(tdy));
    }

    // ---- batch norm ----------------------------------------------------------------------------

    /** n, h, w, c: rows from 1 to 7*16*16, channels 1 to 100. */
    static final int[][] BN_SHAPES = {{7, 5, 3, 17}, {1, 4, 6, 3}, {2, 3, 3, 33}, {1, 1, 2, 5}, {7, 1, 1, 100}, {7, 16, 16, 9},
        {1, 1, 1, 4}};

    /** Per-channel offsets and scales, as conv outputs have. */
    protected float[] bnInput(int pixels, int c) {
        float[] off = uniform(c, -2, 2), sc = uniform(c, 0.3, 2);
        float[] x = new float[pixels * c];
        for (int i = 0; i < x.length; i++) x[i] = off[i % c] + sc[i % c] * (float) rnd.nextGaussian();
        return x;
    }

    @Test
    void batchNormTrainRunningStatsAndExactRecomputation() {
        float eps = 1e-5f, momentum = 0.1f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(pixels, c);
            float[] gamma = uniform(c, 0.5, 1.5), beta = uniform(c, -1, 1);
            float[] rm = uniform(c, -1, 1), rv = uniform(c, 0.5, 2);
            Tensor tx = fx.f32(x, s), tg = fx.f32(gamma, c), tb = fx.f32(beta, c);
            Tensor y = fx.outF32(s), mean = fx.outF32(c), inv = fx.outF32(c);
            Tensor trm = fx.f32(rm, c), trv = fx.f32(rv, c);
            be.batchNormTrain(tx, tg, tb, y, mean, inv, trm, trv, momentum, eps);
            Reference.BnTrain ref = Reference.batchNormTrain(d(x), d(gamma), d(beta), eps);
            String what = "bn train " + Arrays.toString(s);
            float[] yv = fx.floats(y);
            if (pixels > 1) assertClose(what + " y", ref.y(), yv, ATOL, RTOL); // one row: y = beta up to rounding
            assertClose(what + " mean", ref.stats().mean(), fx.floats(mean), ATOL, RTOL);
            assertClose(what + " invstd", ref.stats().invStd(), fx.floats(inv), ATOL, RTOL);
            assertClose(what + " running mean", Reference.runningUpdate(d(rm), ref.stats().mean(), momentum), fx.floats(trm),
                    ATOL, RTOL);
            assertClose(what + " running var", Reference.runningUpdate(d(rv), ref.stats().unbiasedVar(), momentum),
                    fx.floats(trv), ATOL, RTOL);
            // The packed policy recomputes BN outputs in backward from the saved statistics: bit for bit.
            Tensor again = fx.outF32(s);
            be.batchNormApply(tx, tg, tb, mean, inv, again);
            assertBits(what + " recomputed", yv, fx.floats(again));
        }
    }

    @Test
    void batchNormInference() {
        float eps = 1e-5f;
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] x = bnInput(pixels, c);
            float[] gamma = uniform(c, 0.5, 1.5), beta = uniform(c, -1, 1);
            float[] rm = uniform(c, -2, 2), rv = uniform(c, 0.1, 4);
            Tensor y = fx.outF32(s);
            be.batchNormInference(fx.f32(x, s), fx.f32(gamma, c), fx.f32(beta, c), fx.f32(rm, c), fx.f32(rv, c), eps, y);
            assertClose("bn inference " + Arrays.toString(s),
                    Reference.batchNormInference(d(x), d(gamma), d(beta), d(rm), d(rv), eps), fx.floats(y), ATOL, RTOL);
        }
    }

    @Test
    void batchNormBackward() {
        for (int[] s : BN_SHAPES) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            if (pixels == 1) continue; // one row: dx is 0 up to the rounding of a cancellation
            checkBatchNormBackward("bn backward " + Arrays.toString(s), s, bnInput(pixels, c));
        }
    }

    /**
     * A channel whose values sit close together (spread 1e-3 around offsets up to 2) has a huge
     * 1/std: a backward that folds the mean into a per-channel constant (dx = a dy - b x + c) then
     * cancels |b x| ~ 1e3 |dx| and loses three digits; dx must stay within tolerance.
     */
    @Test
    void batchNormBackwardOnClusteredValues() {
        for (int[] s : new int[][] {{1, 1, 2, 5}, {2, 3, 3, 7}, {7, 4, 4, 33}}) {
            int c = s[3], pixels = s[0] * s[1] * s[2];
            float[] off = uniform(c, -2, 2);
            float[] x = new float[pixels * c];
            for (int i = 0; i < x.length; i++) x[i] = off[i % c] + 1e-3f * (float) rnd.nextGaussian();
            checkBatchNormBackward("bn backward, clustered " + Arrays.toString(s), s, x);
        }
    }

    /**
     * dx of a slice of the batch from the whole batch's sums, in place over dy and into a separate
     * tensor, against the reference's dx of the whole batch at those images.
     */
    @Test
    void batchNormBackwardApplyOnASliceOfTheBatch() {
        for (int[] s : new int[][] {{4, 3, 3, 7}, {5, 1, 1, 33}, {3, 2, 5, 1}}) {
            int n = s[0], c = s[3], per = s[1] * s[2] * c, pixels = n * s[1] * s[2];
            float[] x = bnInput(pixels, c), gamma = uniform(c, 0.5, 1.5), dy = uniform(pixels * c, -1, 1);
            Reference.BnStats st = Reference.batchNormStats(d(x), c, 1e-5f);
            float[] mean = Reference.toFloat(st.mean()), inv = Reference.toFloat(st.invStd());
            Reference.BnGrads ref = Reference.batchNormBackward(d(x), d(dy), d(gamma), d(mean), d(inv));
            int first = 1, count = n - 2;
            int[] sliceShape = {count, s[1], s[2], c};
            float[] xs = Arrays.copyOfRange(x, first * per, (first + count) * per), dys = Arrays.copyOfRange(dy, first * per, (first + count) * per);
            Tensor tdg = fx.f32(Reference.toFloat(ref.dgamma()), c), tdb = fx.f32(Reference.toFloat(ref.dbeta()), c);
            double[] want = Arrays.copyOfRange(ref.dx(), first * per, (first + count) * per);
            Tensor dx = fx.outF32(sliceShape);
            be.batchNormBackwardApply(fx.f32(xs, sliceShape), fx.f32(dys, sliceShape), fx.f32(gamma, c), fx.f32(mean, c), fx.f32(inv, c),
                    tdg, tdb, pixels, dx);
            String what = "bn backward apply " + Arrays.toString(s);
            assertClose(what, want, fx.floats(dx), ATOL, RTOL);
            Tensor inPlace = fx.f32(dys, sliceShape);
            be.batchNormBackwardApply(fx.f32(xs, sliceShape), inPlace, fx.f32(gamma, c), fx.f32(mean, c), fx.f32(inv, c), tdg, tdb,
                    pixels, inPlace);
            assertBits(what + " in place over dy", fx.floats(dx), fx.floats(inPlace));
        }
    }

    private void checkBatchNormBackward(String what, int[] s, float[] x) {
        float eps = 1e-5f;
        int c = s[3], pixels = s[0] * s[1] * s[2];
        float[] gamma = uniform(c, 0.5, 1.5);
        float[] dy = uniform(pixels * c, -1, 1);
        Reference.BnStats st = Reference.batchNormStats(d(x), c, eps);
        float[] mean = Reference.toFloat(st.mean()), inv = Reference.toFloat(st.invStd());
        Tensor dx = fx.outF32(s), dgamma = fx.outF32(c), dbeta = fx.outF32(c);
        be.batchNormBackward(fx.f32(x, s), fx.f32(dy, s), fx.f32(gamma, c), fx.f32(mean, c), fx.f32(inv, c), dx, dgamma, dbeta);
        Reference.BnGrads ref = Reference.batchNormBackward(d(x), d(dy), d(gamma), d(mean), d(inv));
        assertClose(what + " dgamma", ref.dgamma(), fx.floats(dgamma), atolFor(pixels), RTOL);
        assertClose(what + " dbeta", ref.dbeta(), fx.floats(dbeta), atolFor(pixels), RTOL);
        assertClose(what + " dx", ref.dx(), fx.floats(dx), ATOL, RTOL);
    }

    // ---- pooling -------------------------------------------------------------------------------

    static final PoolGeometry[] POOLS = {
        new PoolGeometry(1, 7, 5, 3, 2, 2, 0),  // lenet's pool; drops the last row and column
        new PoolGeometry(7, 6, 9, 17, 3, 2, 1), // resnet18's stem pool: overlapping windows, padding
        new PoolGeometry(2, 5, 5, 33, 3, 1, 1),
        new PoolGeometry(1, 3, 3, 5, 3, 3, 2),  // corner windows hold a single real cell
        new PoolGeometry(2, 2, 3, 100, 1, 1, 0),
        new PoolGeometry(3, 4, 7, 1, 2, 1, 0),  // one channel
        new PoolGeometry(2, 6, 6, 32, 2, 2, 0), // whole vectors of channels (8 and 16 floats)
        new PoolGeometry(1, 5, 4, 48, 3, 2, 1),
    };

    private void checkMaxPool(String what, float[] x, PoolGeometry g) {
        int[] xs = {g.n(), g.h(), g.w(), g.c()};
        int[] ys = {g.n(), g.outH(), g.outW(), g.c()};
        int outLen = g.n() * g.outH() * g.outW() * g.c();
        Tensor y = fx.outF32(ys), arg = fx.outI32(ys);
        be.maxPoolForward(fx.f32(x, xs), y, arg, g);
        Reference.MaxPool ref = Reference.maxPoolForward(d(x), g);
        assertClose(what + " y " + g, ref.y(), fx.floats(y), 0, 0);
        assertArrayEquals(ref.argmax(), toLong(fx.ints(arg, outLen)), what + " argmax " + g);
        float[] dy = uniform(outLen, -1, 1);
        Tensor dx = fx.outF32(xs);
        be.maxPoolBackward(fx.f32(dy, ys), arg, dx, g);
        assertClose(what + " dx " + g, Reference.maxPoolBackward(d(dy), ref.argmax(), x.length), fx.floats(dx), ATOL, RTOL);
    }

    @Test
    void maxPoolRandomTiesAndNegativeInputs() {
        float[] levels = {-1f, -0.5f, 0f, 0.5f};
        for (PoolGeometry g : POOLS) {
            int n = g.n() * g.h() * g.w() * g.c();
            checkMaxPool("random", uniform(n, -1, 1), g);
            float[] ties = new float[n];
            for (int i = 0; i < n; i++) ties[i] = levels[rnd.nextInt(levels.length)];
            checkMaxPool("ties", ties, g); // the first maximum in window order wins
            checkMaxPool("negative", uniform(n, -3, -1), g); // padding never wins
            float[] same = new float[n];
            Arrays.fill(same, -2f);
            checkMaxPool("constant", same, g); // every cell ties: the first one wins
        }
    }

    @Test
    void globalAveragePool() {
        int[][] shapes = {{1, 1, 1, 3}, {7, 5, 3, 17}, {2, 7, 9, 33}, {3, 8, 8, 100}};
        for (int[] s : shapes) {
            int n = s[0], hw = s[1] * s[2], c = s[3];
            float[] x = uniform(n * hw * c, -1, 2), dy = uniform(n * c, -1, 1);
            Tensor y = fx.outF32(n, c);
            be.globalAvgPoolForward(fx.f32(x, s), y);
            assertClose("avgpool fwd " + Arrays.toString(s), Reference.globalAvgPoolForward(d(x), n, hw, c), fx.floats(y), ATOL,
                    RTOL);
            Tensor dx = fx.outF32(s);
            be.globalAvgPoolBackward(fx.f32(dy, n, c), dx);
            assertClose("avgpool bwd " + Arrays.toString(s), Reference.globalAvgPoolBackward(d(dy), n, hw, c), fx.floats(dx),
                    ATOL, RTOL);
        }
    }

    // ---- linear, loss, optimizer ---------------------------------------------------------------

    @Test
    void linearForwardAndBackward() {
        int[][] dims = {{1, 3, 10}, {7, 100, 33}, {5, 17, 1}, {7, 640, 10}, {70, 65, 130}};
        for (int[] dm : dims) {
            int n = dm[0], in = dm[1], out = dm[2];
            float[] x = uniform(n * in, -1, 1), w = uniform(out * in, -1, 1), b = uniform(out, -1, 1);
            float[] dy = uniform(n * out, -1, 1);
            Tensor tx = fx.f32(x, n, in), tw = fx.f32(w, out, in), tb = fx.f32(b, out), tdy = fx.f32(dy, n, out);
            String what = "linear " + Arrays.toString(dm);
            Tensor y = fx.outF32(n, out);
            be.linearForward(tx, tw, tb, y);
            assertClose(what + " y", Reference.linearForward(d(x), d(w), d(b), n, in, out), fx.floats(y), atolFor(in), RTOL);
            Tensor y0 = fx.outF32(n, out);
            be.linearForward(tx, tw, null, y0);
            assertClose(what + " y (no bias)", Reference.linearForward(d(x), d(w), null, n, in, out), fx.floats(y0),
                    atolFor(in), RTOL);
            Reference.LinearGrads ref = Reference.linearBackward(d(x), d(w), d(dy), n, in, out);
            Tensor dx = fx.outF32(n, in), dw = fx.outF32(out, in), db = fx.outF32(out);
            be.linearBackward(tx, tw, tdy, dx, dw, db);
            assertClose(what + " dx", ref.dx(), fx.floats(dx), atolFor(out), RTOL);
            assertClose(what + " dw", ref.dw(), fx.floats(dw), atolFor(n), RTOL);
            assertClose(what + " db", ref.db(), fx.floats(db), atolFor(n), RTOL);
            Tensor dw2 = fx.outF32(out, in);
            be.linearBackward(tx, tw, tdy, null, dw2, null);
            assertClose(what + " dw (no dx, db)", ref.dw(), fx.floats(dw2), atolFor(n), RTOL);
        }
    }

    @Test
    void softmaxCrossEntropyWithTiesAndLargeLogits() {
        int[][] dims = {{1, 10}, {7, 3}, {33, 17}, {7, 1000}, {300, 10}};
        for (int[] dm : dims) {
            int n = dm[0], classes = dm[1];
            float[] z = uniform(n * classes, -4, 4);
            int[] labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = rnd.nextInt(classes);
            if (n > 4 && classes > 2) {
                z[0] = 60f;
                z[classes + 1] = -80f;
                z[2 * classes] = 5f; // tie in row 2: class 0 is the prediction, the label is 1
                z[2 * classes + 1] = 5f;
                labels[2] = 1;
                z[3 * classes] = 5f; // tie in row 3: the first maximum is the label
                z[3 * classes + 2] = 5f;
                labels[3] = 0;
                z[4 * classes] = 5f; // row 4 likewise, so that a last-maximum rule cannot break even
                z[4 * classes + 1] = 5f;
                labels[4] = 0;
            }
            float scale = 1f / n;
            Tensor dz = fx.outF32(n, classes);
            LossResult r = be.softmaxCrossEntropy(fx.f32(z, n, classes), fx.i32(labels, n), dz, scale);
            Reference.Loss ref = Reference.softmaxCrossEntropy(d(z), labels, n, classes, scale);
            String what = "softmax-ce " + Arrays.toString(dm);
            assertEquals(ref.lossSum(), r.lossSum(), ATOL * n + RTOL * Math.abs(ref.lossSum()), what + " loss");
            assertEquals(ref.correct(), r.correct(), what + " correct");
            assertEquals(n, r.count(), what + " count");
            assertClose(what + " dlogits", ref.dlogits(), fx.floats(dz), ATOL, RTOL);
        }
    }

    @Test
    void aLabelOutsideTheClassesIsRefused() {
        int n = 9, classes = 4;
        int[] labels = new int[n];
        labels[5] = classes;
        Tensor z = fx.f32(uniform(n * classes, -1, 1), n, classes), dz = fx.outF32(n, classes);
        Tensor lab = fx.i32(labels, n);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> be.softmaxCrossEntropy(z, lab, dz, 1f));
        assertTrue(e.getMessage().contains("label " + classes), e.getMessage());
    }

    @Test
    void sgdWithMomentumAndWeightDecay() {
        int n = 17 * 3 * 3 * 5;
        float[] p = uniform(n, -1, 1), g = uniform(n, -1, 1), v = uniform(n, -0.5, 0.5);
        float lr = 0.05f, momentum = 0.9f, wd = 5e-4f;
        Tensor tp = fx.f32(p, 17, 3, 3, 5), tg = fx.f32(g, 17, 3, 3, 5), tv = fx.f32(v, 17, 3, 3, 5);
        double[] rp = d(p), rv = d(v);
        for (int step = 0; step < 3; step++) {
            be.sgdStep(tp, tg, tv, lr, momentum, wd);
            Reference.Sgd ref = Reference.sgdStep(rp, d(g), rv, lr, momentum, wd);
            rp = ref.param();
            rv = ref.velocity();
            assertClose("sgd param step " + step, rp, fx.floats(tp), ATOL, RTOL);
            assertClose("sgd velocity step " + step, rv, fx.floats(tv), ATOL, RTOL);
        }
        assertBits("sgd leaves grad", g, fx.floats(tg));
        // Without momentum and weight decay it is plain gradient descent.
        Tensor tp2 = fx.f32(p, n), tv2 = fx.f32(new float[n], n);
        be.sgdStep(tp2, fx.f32(g, n), tv2, 0.1f, 0f, 0f);
        double[] plain = new double[n];
        for (int i = 0; i < n; i++) plain[i] = p[i] - 0.1f * (double) g[i];
        assertClose("plain sgd", plain, fx.floats(tp2), ATOL, RTOL);
    }

    /** Ragged length (a vector tail), values on both sides, exactly on the bounds, infinities and NaN. */
    @Test
    void clampInPlaceKeepsNaNAndTheBoundsExactly() {
        int n = 4 * 37 + 3;
        float[] x = uniform(n, -3, 3);
        x[0] = -1f;
        x[1] = 1f;
        x[2] = Float.NaN;
        x[3] = Float.NEGATIVE_INFINITY;
        x[n - 1] = Float.POSITIVE_INFINITY;
        x[n - 2] = -0f;
        Tensor t = fx.f32(x, n);
        be.clampInPlace(t, -1f, 1f);
        float[] got = fx.floats(t);
        double[] want = Reference.clamp(d(x), -1, 1);
        float[] wantF = new float[n];
        for (int i = 0; i < n; i++) wantF[i] = (float) want[i];
        assertBits("clamp to [-1, 1]", wantF, got);
        assertTrue(Float.isNaN(got[2]), "NaN stays NaN");
    }
}
