package org.wrpn.backend;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.wrpn.backend.LayerOpsContract.RTOL;
import static org.wrpn.backend.LayerOpsContract.assertBits;
import static org.wrpn.backend.LayerOpsContract.assertClose;
import static org.wrpn.backend.LayerOpsContract.atolFor;
import static org.wrpn.backend.LayerOpsContract.d;

import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.reference.Reference;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * What only the CPU backend has (the op contract itself is CpuBackendContractTest): a large
 * oneDNN convolution against the reference, its staging workspace counted in the peak, closed arrays reused
 * zero-filled, results that repeat bit for bit, and the process-wide GEMM thread limit.
 */
class CpuBackendTest {
    /** Wide input, few output channels: oneDNN pads the output channels to its vector blocks. */
    private static final ConvGeometry LARGE = new ConvGeometry(5, 32, 32, 100, 5, 3, 3, 1, 1);

    private static CpuBackend be;
    private static BackendFixture fx;
    private final Random rnd = new Random(12);

    @BeforeAll
    static void start() {
        be = new CpuBackend();
        fx = new BackendFixture(be);
    }

    @AfterAll
    static void stop() {
        be.close();
    }

    @AfterEach
    void release() {
        fx.closeAll();
    }

    private float[] uniform(int n) {
        float[] a = new float[n];
        for (int i = 0; i < n; i++) a[i] = (float) (rnd.nextDouble() * 2 - 1);
        return a;
    }

    /** x, w and dy of a convolution, uploaded. */
    private Tensor[] convInputs(ConvGeometry g) {
        return new Tensor[] {
            fx.f32(uniform(g.n() * g.h() * g.w() * g.cin()), g.n(), g.h(), g.w(), g.cin()),
            fx.f32(uniform(g.cout() * g.patch()), g.cout(), g.kh(), g.kw(), g.cin()),
            fx.f32(uniform(g.n() * g.outH() * g.outW() * g.cout()), g.n(), g.outH(), g.outW(), g.cout())};
    }

    /** Forward, data gradient and weight gradient of one convolution on backend b. */
    private static float[][] conv(Backend b, BackendFixture f, Tensor[] in, ConvGeometry g) {
        Tensor y = f.outF32(g.n(), g.outH(), g.outW(), g.cout()), dx = f.outF32(g.n(), g.h(), g.w(), g.cin());
        Tensor dw = f.outF32(g.cout(), g.kh(), g.kw(), g.cin());
        b.conv2dForward(in[0], in[1], y, g);
        b.conv2dBackwardData(in[2], in[1], dx, g);
        b.conv2dBackwardFilter(in[0], in[2], dw, g);
        return new float[][] {f.floats(y), f.floats(dx), f.floats(dw)};
    }

    @Test
    void identity() {
        assertEquals("cpu", be.name());
        assertTrue(be.describe().contains("cores"), be.describe());
    }

    /**
     * The suite runs with -Dwrpn.poisonUninitialized=true: an uninitialized tensor is all NaN even
     * where its array held data before, so a step that reads one before writing it fails its checks;
     * a zero-filled tensor made from the same recycled array is zero.
     */
    @Test
    void uninitializedTensorsArePoisonedAndZeroedOnesAreZero() {
        assertTrue(UninitializedMemory.POISON, "the test suite sets -Dwrpn.poisonUninitialized=true");
        Shape s = Shape.of(3, 5, 7);
        Tensor used = be.allocate(DType.F32, s);
        be.fill(used, 2.5f);
        used.close();
        try (Tensor stale = be.allocateUninitialized(DType.F32, s)) {
            float[] got = new float[105];
            be.download(stale, got);
            for (float v : got) assertEquals(Float.floatToRawIntBits(UninitializedMemory.POISON_FLOAT), Float.floatToRawIntBits(v));
            be.fill(stale, 3f);
        }
        try (Tensor zero = be.allocate(DType.F32, s)) {
            float[] got = new float[105];
            be.download(zero, got);
            for (float v : got) assertEquals(0f, v);
        }
        try (Tensor codes = be.allocatePackedUninitialized(Shape.of(4, 33), 2)) {
            int[] words = new int[(int) (codes.bytes() / 4)];
            be.download(codes, words);
            for (int w : words) assertEquals(UninitializedMemory.POISON_INT, w);
        }
    }

    @Test
    void largeConvolutionMatchesTheReference() {
        ConvGeometry g = LARGE;
        Tensor[] in = convInputs(g);
        float[][] got = conv(be, fx, in, g);
        double[] x = d(fx.floats(in[0])), w = d(fx.floats(in[1])), dy = d(fx.floats(in[2]));
        assertClose("large fwd", Reference.conv2dForward(x, w, g), got[0], atolFor(g.patch()), RTOL);
        assertClose("large dgrad", Reference.conv2dBackwardData(dy, w, g), got[1], atolFor((long) g.kh() * g.kw() * g.cout()), RTOL);
        assertClose("large wgrad", Reference.conv2dBackwardFilter(x, dy, g), got[2], atolFor((long) g.n() * g.outH() * g.outW()),
                RTOL);
    }

    /** The staging copies are counted while a convolution runs: the peak holds them, then they are given back. */
    @Test
    void convolutionWorkspaceIsCountedInThePeak() {
        ConvGeometry[] geometries = {LARGE, new ConvGeometry(2, 7, 5, 3, 17, 3, 3, 2, 1), new ConvGeometry(2, 8, 11, 17, 9, 1, 1, 1, 0)};
        for (ConvGeometry g : geometries) {
            Tensor[] in = convInputs(g);
            Tensor y = fx.outF32(g.n(), g.outH(), g.outW(), g.cout()), dx = fx.outF32(g.n(), g.h(), g.w(), g.cin());
            Tensor dw = fx.outF32(g.cout(), g.kh(), g.kw(), g.cin());
            long workspace = be.convWorkspaceBytes(g, Device.ConvPass.FORWARD);
            assertEquals(4L * (in[0].shape().elements() + in[2].shape().elements() + in[1].shape().elements()), workspace,
                    "input, output and weights staged: " + g);
            long base = be.allocatedBytes();
            Runnable[] passes = {() -> be.conv2dForward(in[0], in[1], y, g), () -> be.conv2dBackwardData(in[2], in[1], dx, g),
                () -> be.conv2dBackwardFilter(in[0], in[2], dw, g)};
            for (Runnable pass : passes) {
                be.resetPeak();
                pass.run();
                assertEquals(base + workspace, be.peakAllocatedBytes(), "peak of " + g);
                assertEquals(base, be.allocatedBytes(), "workspace given back after " + g);
            }
        }
    }

    /** Closed arrays go back to a pool and come out again: zero-filled, and counted like fresh ones. */
    @Test
    void reusedArraysComeBackZeroFilled() {
        Shape s = Shape.nhwc(2, 3, 5, 17);
        int words = BackendFixture.packedWords(s, 4);
        long base = be.allocatedBytes();
        for (int round = 0; round < 3; round++) {
            Tensor f = be.allocate(DType.F32, s), i = be.allocate(DType.I32, s), p = be.allocatePacked(s, 4);
            assertEquals(base + f.bytes() + i.bytes() + p.bytes(), be.allocatedBytes());
            assertBits("f32 round " + round, new float[(int) s.elements()], fx.floats(f));
            assertArrayEquals(new int[(int) s.elements()], fx.ints(i, (int) s.elements()), "i32 round " + round);
            assertArrayEquals(new int[words], fx.ints(p, words), "packed round " + round);
            be.fill(f, 7f);
            int[] ones = new int[(int) s.elements()];
            Arrays.fill(ones, -1);
            be.upload(ones, i);
            be.upload(ones, p);
            f.close();
            i.close();
            p.close();
            assertEquals(base, be.allocatedBytes());
        }
    }

    /** Fixed summation orders: the same inputs give the same bits, on this backend and on a fresh one. */
    @Test
    void resultsRepeatBitForBit() {
        ConvGeometry g = LARGE;
        Tensor[] in = convInputs(g);
        float[][] first = conv(be, fx, in, g), again = conv(be, fx, in, g);
        float[][] fresh;
        try (CpuBackend other = new CpuBackend()) {
            BackendFixture of = new BackendFixture(other);
            Tensor[] copies = {of.f32(fx.floats(in[0]), in[0].shape().dims()), of.f32(fx.floats(in[1]), in[1].shape().dims()),
                of.f32(fx.floats(in[2]), in[2].shape().dims())};
            fresh = conv(other, of, copies, g);
            of.closeAll();
        }
        for (int i = 0; i < 3; i++) {
            assertBits("repeat, output " + i, first[i], again[i]);
            assertBits("fresh backend, output " + i, first[i], fresh[i]);
        }
        int c = 9;
        Shape s = Shape.nhwc(7, 16, 16, c);
        Tensor x = fx.f32(uniform((int) s.elements()), s.dims()), gamma = fx.f32(uniform(c), c), beta = fx.f32(uniform(c), c);
        float[][] bn = new float[2][];
        for (int run = 0; run < 2; run++) {
            Tensor y = fx.outF32(s.dims()), mean = fx.outF32(c), inv = fx.outF32(c), dx = fx.outF32(s.dims());
            be.batchNormTrain(x, gamma, beta, y, mean, inv, fx.outF32(c), fx.outF32(c), 0.1f, 1e-5f);
            be.batchNormBackward(x, y, gamma, mean, inv, dx, fx.outF32(c), fx.outF32(c));
            bn[run] = fx.floats(dx);
        }
        assertBits("batch norm, repeated", bn[0], bn[1]);
    }

    /** The Java loops split their work over threads without changing a bit: 1, 2 and 3 threads agree. */
    @Test
    void javaLoopsGiveTheSameBitsAtEveryThreadCount() {
        int c = 24;
        Shape s = Shape.nhwc(8, 40, 40, c); // 307200 elements: several parts per op
        Tensor x = fx.f32(uniform((int) s.elements()), s.dims()), gamma = fx.f32(uniform(c), c), beta = fx.f32(uniform(c), c);
        Tensor dyIn = fx.f32(uniform((int) s.elements()), s.dims());
        int before = CpuBackend.threads();
        float[][][] runs = new float[3][][];
        try {
            for (int t = 1; t <= 3; t++) {
                CpuBackend.limitGemmThreads(t);
                assertEquals(t, CpuBackend.threads());
                Tensor y = fx.outF32(s.dims()), mean = fx.outF32(c), inv = fx.outF32(c), dx = fx.outF32(s.dims());
                Tensor dg = fx.outF32(c), db = fx.outF32(c), r = fx.outF32(s.dims()), rb = fx.outF32(s.dims()), sum = fx.outF32(s.dims());
                be.batchNormTrain(x, gamma, beta, y, mean, inv, fx.outF32(c), fx.outF32(c), 0.1f, 1e-5f);
                be.batchNormBackward(x, dyIn, gamma, mean, inv, dx, dg, db);
                be.relu(x, r);
                be.reluBackward(r, dyIn, rb);
                be.add(y, dx, sum);
                Tensor codes = fx.outPacked(s, 2), mask = fx.outPacked(s, 1), back = fx.outF32(s.dims()), masked = fx.outF32(s.dims());
                be.quantizePack(y, 2, codes, mask);
                be.unpackValues(codes, back);
                be.maskGradient(mask, dyIn, masked);
                runs[t - 1] = new float[][] {fx.floats(y), fx.floats(mean), fx.floats(inv), fx.floats(dx), fx.floats(dg), fx.floats(db),
                    fx.floats(r), fx.floats(rb), fx.floats(sum), fx.floats(back), fx.floats(masked)};
            }
        } finally {
            CpuBackend.limitGemmThreads(before);
        }
        for (int t = 1; t < 3; t++) {
            for (int i = 0; i < runs[0].length; i++) assertBits((t + 1) + " threads, output " + i, runs[0][i], runs[t][i]);
        }
    }

    /**
     * quantizePack (with and without the mask) and unpackValues split over 2 and 3 threads, each part a pixel
     * range that starts mid-word for ragged channel counts: the reference's words, mask and values, bit for bit.
     */
    @Test
    void packedActivationsSplitOverThreadsMatchTheReference() {
        int before = CpuBackend.threads();
        try {
            for (int t : new int[] {2, 3}) {
                CpuBackend.limitGemmThreads(t);
                for (int k : new int[] {1, 2, 4, 8}) {
                    for (int c : new int[] {5, 17, 33, 64}) {
                        Shape s = Shape.nhwc(1, 1, (3 << 18) / c + 77, c); // 3 parts' worth: the pack grain is 2^18 elements
                        int pixels = (int) s.pixels();
                        float[] x = uniform(pixels * c);
                        for (int i = 0; i < x.length; i++) {
                            x[i] = i % 97 == 0 ? Float.NaN : i % 89 == 0 ? (i % 3 + 0.5f) / ((1 << k) - 1) : x[i] * 0.75f + 0.5f;
                        }
                        Tensor tx = fx.f32(x, s.dims()), codes = fx.outPacked(s, k), mask = fx.outPacked(s, 1), y = fx.outF32(s.dims());
                        String what = t + " threads, k=" + k + " C=" + c;
                        int[] ref = Reference.pack(Reference.activationCodes(x, k), pixels, c, k);
                        be.quantizePack(tx, k, codes, null);
                        assertArrayEquals(ref, fx.ints(codes, BackendFixture.packedWords(s, k)), what + ": codes");
                        be.quantizePack(tx, k, codes, mask);
                        assertArrayEquals(ref, fx.ints(codes, BackendFixture.packedWords(s, k)), what + ": codes with the mask");
                        assertArrayEquals(Reference.pack(Reference.maskCodes(x), pixels, c, 1), fx.ints(mask, BackendFixture.packedWords(s, 1)),
                                what + ": mask");
                        be.unpackValues(codes, y);
                        assertBits(what + ": values", Reference.quantizeActivations(x, k), fx.floats(y));
                    }
                }
            }
        } finally {
            CpuBackend.limitGemmThreads(before);
        }
    }

    // ---- quantized ops on codes ------------------------------------------------------------------

    /** Packed k-bit codes near the top of the range (high) or uniform, as the tensor and as doubles. */
    private Tensor packedCodes(Shape s, int k, boolean high, double[] values) {
        int levels = (1 << k) - 1;
        long[] u = new long[(int) s.elements()];
        for (int i = 0; i < u.length; i++) {
            u[i] = high ? levels - rnd.nextInt(3) : rnd.nextInt(levels + 1);
            values[i] = u[i];
        }
        return fx.packed(Reference.pack(u, (int) s.pixels(), s.channels(), k), s, k);
    }

    /** int8 weight codes, mostly +-max (95% positive, so that sums grow large) or uniform, as the tensor and as doubles. */
    private Tensor weightCodes(int max, boolean high, double[] values, int... dims) {
        int[] c = new int[values.length];
        for (int i = 0; i < c.length; i++) {
            c[i] = high ? (rnd.nextInt(20) == 0 ? -1 : 1) * (max - rnd.nextInt(2)) : rnd.nextInt(2 * max + 1) - max;
            values[i] = c[i];
        }
        Tensor t = fx.keep(be.allocate(DType.I8, Shape.of(dims)));
        be.upload(c, t);
        return t;
    }

    /** The contract's integer epilogue on exact sums, and a check that some sum passes 2^24 (where one float sum would round). */
    private static float[] integerEpilogue(double[] sums, float scale) {
        float[] y = new float[sums.length];
        double largest = 0;
        for (int i = 0; i < y.length; i++) {
            y[i] = (float) (long) sums[i] * scale;
            largest = Math.max(largest, Math.abs(sums[i]));
        }
        assertTrue(largest > (1 << 24), "the sums reach past 2^24: " + largest);
        return y;
    }

    /**
     * 8-bit codes on both sides past 2^24, bit for bit the exact sum's epilogue: centred codes in one
     * sum (K = 630, stride 2, the border's correction), centred codes with the weights' nibbles
     * (K = 4500: two sums, the correction added once) and four digit pairs (K = 9000: past what
     * centring and nibbles keep below 2^24), combined in int32.
     */
    @Test
    void exactSumsPastTwoPowerTwentyFour() {
        ConvGeometry[] geometries = {new ConvGeometry(2, 7, 6, 70, 5, 3, 3, 2, 1), new ConvGeometry(1, 5, 5, 500, 4, 3, 3, 2, 1),
            new ConvGeometry(1, 3, 4, 1000, 3, 3, 3, 1, 1)};
        float scale = (1f / 255) * (1f / 127);
        for (ConvGeometry g : geometries) {
            Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.cin());
            double[] u = new double[(int) xs.elements()], w = new double[g.cout() * g.patch()];
            Tensor x = packedCodes(xs, 8, true, u), wc = weightCodes(127, true, w, g.cout(), g.kh(), g.kw(), g.cin());
            Tensor y = fx.outF32(g.n(), g.outH(), g.outW(), g.cout());
            be.conv2dForwardQuantized(x, wc, scale, y, g);
            assertBits("conv 8/8 " + g, integerEpilogue(Reference.conv2dForward(u, w, g), scale), fx.floats(y));
        }

        for (int rows : new int[] {1, 9}) { // 1000 features: centred, one sum; 9000: four digit pairs
            int n = 2, out = 3;
            Shape ls = Shape.nhwc(n, rows, 1, 1000);
            int in = (int) (ls.elements() / n);
            double[] lu = new double[(int) ls.elements()], lw = new double[out * in];
            Tensor lx = packedCodes(ls, 8, true, lu), lwc = weightCodes(127, true, lw, out, in);
            Tensor ly = fx.outF32(n, out);
            be.linearForwardQuantized(lx, lwc, scale, null, ly);
            assertBits("linear 8/8, K = " + in, integerEpilogue(Reference.linearForward(lu, lw, null, n, in, out), scale), fx.floats(ly));
        }
    }

    /** The quantized ops' staging is counted while they run (the planner's rules), then given back. */
    @Test
    void quantizedWorkspaceIsCountedInThePeak() {
        ConvGeometry g = new ConvGeometry(2, 6, 5, 130, 9, 3, 3, 1, 1); // 8/8 at K = 1170: two sums
        Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.cin());
        Tensor x = packedCodes(xs, 8, true, new double[(int) xs.elements()]);
        Tensor w = weightCodes(127, true, new double[g.cout() * g.patch()], g.cout(), g.kh(), g.kw(), g.cin());
        Tensor y = fx.outF32(g.n(), g.outH(), g.outW(), g.cout()), dy = fx.f32(uniform((int) y.shape().elements()), y.shape().dims());
        Tensor dx = fx.outF32(xs.dims()), dw = fx.outF32(g.cout(), g.kh(), g.kw(), g.cin());
        int n = g.n(), in = (int) (xs.elements() / n), out = 7;
        Tensor lw = weightCodes(127, false, new double[out * in], out, in), ly = fx.outF32(n, out);
        Tensor ldy = fx.f32(uniform(n * out), n, out), ldx = fx.outF32(n, in), ldw = fx.outF32(out, in), ldb = fx.outF32(out);
        long conv = be.convWorkspaceBytes(g, Device.ConvPass.FORWARD), linear = be.quantizedLinearWorkspaceBytes(n, in, out);
        assertEquals(4L * ((long) n * in + (long) out * in + (long) n * out), linear, "x, w and y staged at 4 bytes each");
        long base = be.allocatedBytes();
        Runnable[] passes = {() -> be.conv2dForwardQuantized(x, w, 0.5f, y, g), () -> be.conv2dBackwardDataQuantized(dy, w, 0.5f, dx, g),
            () -> be.conv2dBackwardFilterQuantized(x, 0.5f, dy, dw, g), () -> be.linearForwardQuantized(x, lw, 0.5f, null, ly),
            () -> be.linearBackwardQuantized(x, 0.5f, lw, 0.5f, ldy, ldx, ldw, ldb)};
        long[] expected = {conv, conv, conv, linear, linear};
        for (int i = 0; i < passes.length; i++) {
            be.resetPeak();
            passes[i].run();
            assertEquals(base + expected[i], be.peakAllocatedBytes(), "peak of pass " + i);
            assertEquals(base, be.allocatedBytes(), "workspace given back after pass " + i);
        }
    }

    /** The new Java loops and the exact integer sums give the same bits at 1, 2 and 3 threads. */
    @Test
    void quantizedOpsGiveTheSameBitsAtEveryThreadCount() {
        int c = 24;
        Shape s = Shape.nhwc(8, 40, 40, c);
        Tensor x = fx.f32(uniform((int) s.elements()), s.dims()), gamma = fx.f32(uniform(c), c), beta = fx.f32(uniform(c), c);
        Tensor mean = fx.f32(uniform(c), c), inv = fx.f32(uniform(c), c);
        Tensor codes3 = packedCodes(s, 2, false, new double[(int) s.elements()]);
        ConvGeometry g = new ConvGeometry(4, 16, 16, 130, 32, 3, 3, 1, 1); // 8/8 at K = 1170: two sums
        Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.cin());
        Tensor qx = packedCodes(xs, 8, true, new double[(int) xs.elements()]);
        Tensor qw = weightCodes(127, true, new double[g.cout() * g.patch()], g.cout(), g.kh(), g.kw(), g.cin());
        int n = g.n(), in = (int) (xs.elements() / n), out = 10;
        Tensor lw = weightCodes(7, false, new double[out * in], out, in), lb = fx.f32(uniform(out), out);
        int before = CpuBackend.threads();
        float[][][] runs = new float[3][][];
        int[][][] packed = new int[3][][];
        try {
            for (int t = 1; t <= 3; t++) {
                CpuBackend.limitGemmThreads(t);
                Tensor codes = fx.outPacked(s, 4), mask = fx.outPacked(s, 1), sum = fx.outF32(s.dims());
                Tensor over = fx.f32(fx.floats(x), s.dims());
                be.batchNormQuantizePack(x, gamma, beta, mean, inv, 4, codes, mask);
                be.add(x, codes3, sum);
                be.add(over, codes3, over);
                Tensor y = fx.outF32(g.n(), g.outH(), g.outW(), g.cout()), ly = fx.outF32(n, out);
                be.conv2dForwardQuantized(qx, qw, 0.25f, y, g);
                be.linearForwardQuantized(qx, lw, 0.25f, lb, ly);
                runs[t - 1] = new float[][] {fx.floats(sum), fx.floats(over), fx.floats(y), fx.floats(ly)};
                packed[t - 1] = new int[][] {fx.ints(codes, BackendFixture.packedWords(s, 4)), fx.ints(mask, BackendFixture.packedWords(s, 1))};
            }
        } finally {
            CpuBackend.limitGemmThreads(before);
        }
        for (int t = 1; t < 3; t++) {
            for (int i = 0; i < runs[0].length; i++) assertBits((t + 1) + " threads, output " + i, runs[0][i], runs[t][i]);
            for (int i = 0; i < packed[0].length; i++) assertArrayEquals(packed[0][i], packed[t][i], (t + 1) + " threads, words " + i);
        }
    }

    /** One GEMM thread for the whole process (several jobs on few cores), and back. */
    @Test
    void gemmThreadsCanBeLimited() {
        int before = CpuBackend.threads();
        try {
            CpuBackend.limitGemmThreads(0);
            assertEquals(1, CpuBackend.threads(), "at least one thread");
            ConvGeometry g = new ConvGeometry(2, 9, 9, 16, 24, 3, 3, 1, 1);
            Tensor[] in = convInputs(g);
            float[][] got = conv(be, fx, in, g);
            assertClose("one-thread fwd", Reference.conv2dForward(d(fx.floats(in[0])), d(fx.floats(in[1])), g), got[0],
                    atolFor(g.patch()), RTOL);
        } finally {
            CpuBackend.limitGemmThreads(before);
        }
        assertEquals(before, CpuBackend.threads());
    }
}
