package org.wrpn.backend.cpu;

import java.util.concurrent.atomic.AtomicLong;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CPU backend: Java loops for element-wise work, ND4J/OpenBLAS for the GEMMs inside convolution
 * and linear layers. Deterministic: fixed summation orders, no thread-count dependent reductions.
 */
public final class CpuBackend implements Backend {
    /**
     * Caps OpenBLAS's threads for the whole process. N concurrent CPU jobs on N cores run faster
     * single-threaded (the rest of a step is single-threaded Java); results depend on the thread count.
     */
    public static void limitGemmThreads(int threads) {
        org.nd4j.linalg.factory.Nd4j.factory().blas().setMaxThreads(Math.max(1, threads));
    }

    private final NdGemm gemm = new NdGemm();
    final ArrayPool pool = new ArrayPool();
    private final AtomicLong allocated = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();
    private float[] col = new float[0];
    private float[] col2 = new float[0];

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "CPU (" + Runtime.getRuntime().availableProcessors() + " cores, ND4J/OpenBLAS GEMM)";
    }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePacked for packed tensors");
        return track(new CpuTensor(this, dtype, shape, dtype == DType.I8 ? 8 : 32));
    }

    @Override
    public Tensor allocatePacked(Shape logicalShape, int bits) {
        PackedLayout.checkBits(bits);
        return track(new CpuTensor(this, DType.PACKED, logicalShape, bits));
    }

    private Tensor track(CpuTensor t) {
        long now = allocated.addAndGet(t.bytes());
        peak.accumulateAndGet(now, Math::max);
        return t;
    }

    void released(CpuTensor t) {
        allocated.addAndGet(-t.bytes());
    }

    @Override
    public long allocatedBytes() {
        return allocated.get();
    }

    @Override
    public long peakAllocatedBytes() {
        return peak.get();
    }

    @Override
    public void resetPeak() {
        peak.set(allocated.get());
    }

    private CpuTensor t(Tensor x) {
        if (!(x instanceof CpuTensor c) || c.owner != this) {
            throw new IllegalArgumentException("tensor " + x + " does not belong to this CPU backend");
        }
        if (c.isClosed()) throw new IllegalStateException("tensor " + x + " was closed");
        return c;
    }

    private float[] f(Tensor x) {
        CpuTensor c = t(x);
        if (c.dtype() != DType.F32) throw new IllegalArgumentException("expected F32 tensor, got " + c);
        return c.f;
    }

    private int[] ints(Tensor x) {
        CpuTensor c = t(x);
        if (c.dtype() != DType.I32) throw new IllegalArgumentException("expected I32 tensor, got " + c);
        return c.i;
    }

    private CpuTensor packed(Tensor x) {
        CpuTensor c = t(x);
        if (c.dtype() != DType.PACKED) throw new IllegalArgumentException("expected packed tensor, got " + c);
        return c;
    }

    private static void sameLength(float[] a, float[] b, String what) {
        if (a.length != b.length) throw new IllegalArgumentException(what + ": length " + a.length + " != " + b.length);
    }

    private static void expectLength(float[] a, long n, String what) {
        if (a.length != n) throw new IllegalArgumentException(what + ": expected " + n + " elements, got " + a.length);
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        float[] d = f(dst);
        if (src.length < d.length) throw new IllegalArgumentException("upload: source has " + src.length + " < " + d.length);
        System.arraycopy(src, 0, d, 0, d.length);
    }

    @Override
    public void upload(int[] src, Tensor dst) {
        CpuTensor c = t(dst);
        switch (c.dtype()) {
            case I32, PACKED -> {
                if (src.length < c.i.length) throw new IllegalArgumentException("upload: source too short");
                System.arraycopy(src, 0, c.i, 0, c.i.length);
            }
            case I8 -> {
                if (src.length < c.b.length) throw new IllegalArgumentException("upload: source too short");
                for (int k = 0; k < c.b.length; k++) c.b[k] = (byte) src[k];
            }
            default -> throw new IllegalArgumentException("int upload into " + c);
        }
    }

    @Override
    public void download(Tensor src, float[] dst) {
        float[] s = f(src);
        System.arraycopy(s, 0, dst, 0, s.length);
    }

    @Override
    public void download(Tensor src, int[] dst) {
        CpuTensor c = t(src);
        switch (c.dtype()) {
            case I32, PACKED -> System.arraycopy(c.i, 0, dst, 0, c.i.length);
            case I8 -> {
                for (int k = 0; k < c.b.length; k++) dst[k] = c.b[k];
            }
            default -> throw new IllegalArgumentException("int download from " + c);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CpuTensor s = t(src), d = t(dst);
        if (s.dtype() != d.dtype() || s.bytes() != d.bytes()) throw new IllegalArgumentException("copy " + s + " -> " + d);
        switch (s.dtype()) {
            case F32 -> System.arraycopy(s.f, 0, d.f, 0, s.f.length);
            case I8 -> System.arraycopy(s.b, 0, d.b, 0, s.b.length);
            default -> System.arraycopy(s.i, 0, d.i, 0, s.i.length);
        }
    }

    @Override
    public void fill(Tensor dst, float value) {
        java.util.Arrays.fill(f(dst), value);
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src) {
        float[] d = f(dst), s = f(src);
        sameLength(d, s, "addInPlace");
        for (int k = 0; k < d.length; k++) d[k] += s[k];
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        float[] x = f(a), y = f(b), o = f(out);
        sameLength(x, y, "add");
        sameLength(x, o, "add");
        for (int k = 0; k < o.length; k++) o[k] = x[k] + y[k];
    }

    // ---- quantization ------------------------------------------------------------------------

    @Override
    public void quantizeActivations(Tensor x, int bits, Tensor y) {
        float[] s = f(x), d = f(y);
        sameLength(s, d, "quantizeActivations");
        if (bits == Quantizer.FULL_PRECISION) throw new IllegalArgumentException("32-bit activations are a ReLU, not a quantizer");
        PackedLayout.checkBits(bits);
        float levels = Quantizer.activationLevels(bits);
        for (int k = 0; k < s.length; k++) {
            float v = s[k];
            float c = v > 0f ? (v < 1f ? v : 1f) : 0f; // NaN fails both comparisons: code 0
            d[k] = (float) Math.rint(c * levels) / levels;
        }
    }

    @Override
    public void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {
        float[] s = f(x), g = f(dy), d = f(dx);
        sameLength(s, g, "quantizeActivationsBackward");
        sameLength(s, d, "quantizeActivationsBackward");
        for (int k = 0; k < s.length; k++) d[k] = (s[k] > 0f && s[k] < 1f) ? g[k] : 0f;
    }

    @Override
    public void maskGradient(Tensor packedMask, Tensor dyT, Tensor dxT) {
        CpuTensor m = packed(packedMask);
        float[] dy = f(dyT), dx = f(dxT);
        sameLength(dy, dx, "maskGradient");
        if (m.bits() != 1 || m.shape().elements() != dy.length) throw new IllegalArgumentException("maskGradient: mask " + m + " for " + dy.length + " values");
        int channels = m.shape().channels();
        int wpp = PackedLayout.wordsPerPixel(channels, 1);
        long pixels = m.shape().pixels();
        for (long p = 0; p < pixels; p++) {
            int base = (int) (p * channels);
            int wbase = (int) (p * wpp);
            for (int c = 0; c < channels; c++) {
                boolean pass = ((m.i[wbase + (c >>> 5)] >>> (c & 31)) & 1) != 0;
                dx[base + c] = pass ? dy[base + c] : 0f;
            }
        }
    }

    @Override
    public void quantizeWeights(Tensor w, int bits, Tensor wq) {
        float[] s = f(w), d = f(wq);
        sameLength(s, d, "quantizeWeights");
        if (!Quantizer.isValidWeightBits(bits)) throw new IllegalArgumentException("weight bits " + bits);
        Quantizer.quantizeWeights(s, 0, s.length, bits, d, 0);
    }

    @Override
    public float weightCodes(Tensor w, int bits, Tensor codes) {
        float[] s = f(w);
        CpuTensor c = t(codes);
        if (c.dtype() != DType.I8 || c.b.length != s.length) throw new IllegalArgumentException("weightCodes into " + c);
        if (bits == 1) {
            for (int k = 0; k < s.length; k++) c.b[k] = (byte) Quantizer.binaryCode(s[k]);
            return Quantizer.binaryScale(s, 0, s.length);
        }
        if (bits < 2 || bits > 8 || !Quantizer.isValidWeightBits(bits)) throw new IllegalArgumentException("weight code bits " + bits);
        for (int k = 0; k < s.length; k++) c.b[k] = (byte) Quantizer.weightCode(s[k], bits);
        return 1f / Quantizer.weightLevels(bits);
    }

    @Override
    public void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {
        float[] s = f(x);
        CpuTensor p = packed(packedCodes);
        if (p.bits() != bits || !p.shape().equals(t(x).shape())) throw new IllegalArgumentException("quantizePack: " + x + " into " + p);
        CpuTensor m = null;
        if (packedMask != null) {
            m = packed(packedMask);
            if (m.bits() != 1 || !m.shape().equals(p.shape())) throw new IllegalArgumentException("mask must be 1-bit " + p.shape());
        }
        int channels = p.shape().channels();
        long pixels = p.shape().pixels();
        int per = 32 / bits;
        int wpp = PackedLayout.wordsPerPixel(channels, bits);
        int mpp = PackedLayout.wordsPerPixel(channels, 1);
        float levels = Quantizer.activationLevels(bits);
        for (long px = 0; px < pixels; px++) {
            int src = (int) (px * channels);
            int dst = (int) (px * wpp);
            for (int w = 0; w < wpp; w++) {
                int word = 0;
                int c0 = w * per;
                int c1 = Math.min(channels, c0 + per);
                for (int c = c0; c < c1; c++) {
                    float v = s[src + c];
                    float clamped = v > 0f ? (v < 1f ? v : 1f) : 0f; // the contract of Quantizer.activationCode
                    word |= ((int) Math.rint(clamped * levels)) << ((c - c0) * bits);
                }
                p.i[dst + w] = word;
            }
            if (m != null) {
                int mdst = (int) (px * mpp);
                for (int w = 0; w < mpp; w++) {
                    int word = 0;
                    int c0 = w * 32;
                    int c1 = Math.min(channels, c0 + 32);
                    for (int c = c0; c < c1; c++) {
                        float v = s[src + c];
                        word |= (v > 0f & v < 1f ? 1 : 0) << (c - c0);
                    }
                    m.i[mdst + w] = word;
                }
            }
        }
    }

    @Override
    public void unpackValues(Tensor packedCodes, Tensor y) {
        CpuTensor p = packed(packedCodes);
        float[] d = f(y);
        expectLength(d, p.shape().elements(), "unpackValues");
        int channels = p.shape().channels();
        long pixels = p.shape().pixels();
        int bits = p.bits();
        int per = 32 / bits;
        int mask = (1 << bits) - 1;
        int wpp = PackedLayout.wordsPerPixel(channels, bits);
        float levels = Quantizer.activationLevels(bits);
        float[] value = new float[mask + 1];
        for (int u = 0; u <= mask; u++) value[u] = u / levels; // the same division as the quantizer
        for (long px = 0; px < pixels; px++) {
            int src = (int) (px * wpp);
            int dst = (int) (px * channels);
            for (int w = 0, c = 0; w < wpp; w++) {
                int word = p.i[src + w];
                int end = Math.min(channels, c + per);
                for (; c < end; c++, word >>>= bits) d[dst + c] = value[word & mask];
            }
        }
    }

    @Override
    public void unpackCodes(Tensor packedCodes, Tensor codes) {
        CpuTensor p = packed(packedCodes);
        int[] d = ints(codes);
        if (d.length != p.shape().elements()) throw new IllegalArgumentException("unpackCodes: wrong output size");
        PackedLayout.unpack(p.i, p.shape().pixels(), p.shape().channels(), p.bits(), d);
    }

    // ---- layers --------------------------------------------------------------------------------

    @Override
    public void relu(Tensor x, Tensor y) {
        float[] s = f(x), d = f(y);
        sameLength(s, d, "relu");
        for (int k = 0; k < s.length; k++) d[k] = s[k] > 0f ? s[k] : 0f;
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        float[] s = f(y), g = f(dy), d = f(dx);
        sameLength(s, g, "reluBackward");
        sameLength(s, d, "reluBackward");
        for (int k = 0; k < s.length; k++) d[k] = s[k] > 0f ? g[k] : 0f;
    }

    @Override
    public long convWorkspaceBytes(ConvGeometry g) {
        return CpuConvolution.workspaceBytes(g);
    }

    private interface ChunkBody {
        void run(int firstImage, int images, int rows);
    }

    /** Runs body over chunks of images that fit the im2col budget, with that scratch counted as allocated. */
    private void overImageChunks(ConvGeometry g, ChunkBody body) {
        long workspace = CpuConvolution.workspaceBytes(g);
        workspaceInUse(workspace);
        try {
            int chunk = CpuConvolution.imagesPerChunk(g);
            int rowsPerImage = g.outH() * g.outW();
            for (int first = 0; first < g.n(); first += chunk) {
                int count = Math.min(chunk, g.n() - first);
                body.run(first, count, count * rowsPerImage);
            }
        } finally {
            workspaceInUse(-workspace);
        }
    }

    /** Counts im2col scratch as allocated while an op uses it, so the peak includes it. */
    private void workspaceInUse(long bytes) {
        long now = allocated.addAndGet(bytes);
        if (bytes > 0) peak.accumulateAndGet(now, Math::max);
    }

    private float[] colBuffer(int n) {
        if (col.length < n) col = new float[n];
        return col;
    }

    private float[] col2Buffer(int n) {
        if (col2.length < n) col2 = new float[n];
        return col2;
    }

    /** Rows (image, oy, ox) x (ky, kx, ci) patches of images [first, first+count). */
    private static void im2col(float[] x, ConvGeometry g, int first, int count, float[] out) {
        int oh = g.outH(), ow = g.outW(), cin = g.cin(), h = g.h(), w = g.w();
        int patch = g.patch();
        int row = 0;
        for (int n = first; n < first + count; n++) {
            int imageBase = n * h * w * cin;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++, row++) {
                    int dst = row * patch;
                    for (int ky = 0; ky < g.kh(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        for (int kx = 0; kx < g.kw(); kx++, dst += cin) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                                for (int c = 0; c < cin; c++) out[dst + c] = 0f;
                            } else if (cin < 16) { // arraycopy's call overhead dominates tiny copies
                                int src = imageBase + (iy * w + ix) * cin;
                                for (int c = 0; c < cin; c++) out[dst + c] = x[src + c];
                            } else {
                                System.arraycopy(x, imageBase + (iy * w + ix) * cin, out, dst, cin);
                            }
                        }
                    }
                }
            }
        }
    }

    /** Scatter-adds patch gradients back into dx (which the caller zeroed). */
    private static void col2im(float[] cols, ConvGeometry g, int first, int count, float[] dx) {
        int oh = g.outH(), ow = g.outW(), cin = g.cin(), h = g.h(), w = g.w();
        int patch = g.patch();
        int row = 0;
        for (int n = first; n < first + count; n++) {
            int imageBase = n * h * w * cin;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++, row++) {
                    int src = row * patch;
                    for (int ky = 0; ky < g.kh(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        for (int kx = 0; kx < g.kw(); kx++, src += cin) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            int dst = imageBase + (iy * w + ix) * cin;
                            for (int c = 0; c < cin; c++) dx[dst + c] += cols[src + c];
                        }
                    }
                }
            }
        }
    }

    private static void checkConv(float[] x, float[] w, float[] y, ConvGeometry g) {
        expectLength(x, (long) g.n() * g.h() * g.w() * g.cin(), "conv input");
        expectLength(w, (long) g.cout() * g.patch(), "conv weights");
        expectLength(y, (long) g.n() * g.outH() * g.outW() * g.cout(), "conv output");
    }

    @Override
    public void conv2dForward(Tensor xT, Tensor wT, Tensor yT, ConvGeometry g) {
        float[] x = f(xT), w = f(wT), y = f(yT);
        checkConv(x, w, y, g);
        int rowsPerImage = g.outH() * g.outW();
        if (CpuConvolution.isPointwise(g)) {
            gemm.gemm(x, 0, false, w, 0, true, y, 0, g.n() * rowsPerImage, g.cout(), g.cin(), false);
            return;
        }
        overImageChunks(g, (first, count, rows) -> {
            float[] cols = colBuffer(rows * g.patch());
            im2col(x, g, first, count, cols);
            gemm.gemm(cols, 0, false, w, 0, true, y, first * rowsPerImage * g.cout(), rows, g.cout(), g.patch(), false);
        });
    }

    @Override
    public void conv2dBackwardData(Tensor dyT, Tensor wT, Tensor dxT, ConvGeometry g) {
        float[] dy = f(dyT), w = f(wT), dx = f(dxT);
        checkConv(dx, w, dy, g);
        int rowsPerImage = g.outH() * g.outW();
        if (CpuConvolution.isPointwise(g)) {
            gemm.gemm(dy, 0, false, w, 0, false, dx, 0, g.n() * rowsPerImage, g.cin(), g.cout(), false);
            return;
        }
        java.util.Arrays.fill(dx, 0f);
        overImageChunks(g, (first, count, rows) -> {
            float[] cols = colBuffer(rows * g.patch());
            gemm.gemm(dy, first * rowsPerImage * g.cout(), false, w, 0, false, cols, 0, rows, g.patch(), g.cout(), false);
            col2im(cols, g, first, count, dx);
        });
    }

    @Override
    public void conv2dBackwardFilter(Tensor xT, Tensor dyT, Tensor dwT, ConvGeometry g) {
        float[] x = f(xT), dy = f(dyT), dw = f(dwT);
        checkConv(x, dw, dy, g);
        int rowsPerImage = g.outH() * g.outW();
        if (CpuConvolution.isPointwise(g)) {
            gemm.gemm(dy, 0, true, x, 0, false, dw, 0, g.cout(), g.cin(), g.n() * rowsPerImage, false);
            return;
        }
        overImageChunks(g, (first, count, rows) -> {
            float[] cols = col2Buffer(rows * g.patch());
            im2col(x, g, first, count, cols);
            gemm.gemm(dy, first * rowsPerImage * g.cout(), true, cols, 0, false, dw, 0, g.cout(), g.patch(), rows,
                    first > 0);
        });
    }

    @Override
    public void batchNormTrain(Tensor xT, Tensor gammaT, Tensor betaT, Tensor yT, Tensor saveMeanT,
            Tensor saveInvStdT, Tensor runMeanT, Tensor runVarT, float momentum, float eps) {
        float[] x = f(xT), y = f(yT), gamma = f(gammaT), beta = f(betaT);
        float[] mean = f(saveMeanT), invStd = f(saveInvStdT), runMean = f(runMeanT), runVar = f(runVarT);
        int c = gamma.length;
        sameLength(x, y, "batchNormTrain");
        int m = x.length / c;
        double[] sum = new double[c], sumSq = new double[c];
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) {
                double v = x[k];
                sum[ch] += v;
            }
        }
        for (int ch = 0; ch < c; ch++) sum[ch] /= m;
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) {
                double d = x[k] - sum[ch];
                sumSq[ch] += d * d;
            }
        }
        for (int ch = 0; ch < c; ch++) {
            double var = sumSq[ch] / m;
            mean[ch] = (float) sum[ch];
            invStd[ch] = (float) (1.0 / Math.sqrt(var + eps));
            double unbiased = m > 1 ? sumSq[ch] / (m - 1) : var;
            runMean[ch] = (float) ((1 - momentum) * runMean[ch] + momentum * sum[ch]);
            runVar[ch] = (float) ((1 - momentum) * runVar[ch] + momentum * unbiased);
        }
        applyNormalization(x, gamma, beta, mean, invStd, y);
    }

    @Override
    public void batchNormApply(Tensor xT, Tensor gammaT, Tensor betaT, Tensor meanT, Tensor invStdT, Tensor yT) {
        float[] x = f(xT), y = f(yT);
        sameLength(x, y, "batchNormApply");
        applyNormalization(x, f(gammaT), f(betaT), f(meanT), f(invStdT), y);
    }

    private static void applyNormalization(float[] x, float[] gamma, float[] beta, float[] mean, float[] invStd, float[] y) {
        int c = gamma.length;
        float[] scale = new float[c];
        for (int ch = 0; ch < c; ch++) scale[ch] = invStd[ch] * gamma[ch];
        int m = x.length / c;
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) y[k] = (x[k] - mean[ch]) * scale[ch] + beta[ch];
        }
    }

    @Override
    public void batchNormInference(Tensor xT, Tensor gammaT, Tensor betaT, Tensor runMeanT, Tensor runVarT,
            float eps, Tensor yT) {
        float[] x = f(xT), y = f(yT), gamma = f(gammaT), beta = f(betaT), runMean = f(runMeanT), runVar = f(runVarT);
        int c = gamma.length;
        sameLength(x, y, "batchNormInference");
        float[] scale = new float[c], shift = new float[c];
        for (int ch = 0; ch < c; ch++) {
            double inv = 1.0 / Math.sqrt(runVar[ch] + (double) eps);
            scale[ch] = (float) (gamma[ch] * inv);
            shift[ch] = (float) (beta[ch] - gamma[ch] * inv * runMean[ch]);
        }
        int m = x.length / c;
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) y[k] = x[k] * scale[ch] + shift[ch];
        }
    }

    @Override
    public void batchNormBackward(Tensor xT, Tensor dyT, Tensor gammaT, Tensor saveMeanT, Tensor saveInvStdT,
            Tensor dxT, Tensor dgammaT, Tensor dbetaT) {
        float[] x = f(xT), dy = f(dyT), gamma = f(gammaT), mean = f(saveMeanT), invStd = f(saveInvStdT);
        float[] dx = f(dxT), dgamma = f(dgammaT), dbeta = f(dbetaT);
        int c = gamma.length;
        int m = x.length / c;
        double[] sumDy = new double[c], sumDyXhat = new double[c];
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) {
                double xhat = (x[k] - mean[ch]) * (double) invStd[ch];
                sumDy[ch] += dy[k];
                sumDyXhat[ch] += dy[k] * xhat;
            }
        }
        float[] k0 = new float[c], meanDy = new float[c], meanDyXhat = new float[c];
        for (int ch = 0; ch < c; ch++) {
            dgamma[ch] = (float) sumDyXhat[ch];
            dbeta[ch] = (float) sumDy[ch];
            k0[ch] = gamma[ch] * invStd[ch];
            meanDy[ch] = (float) (sumDy[ch] / m);
            meanDyXhat[ch] = (float) (sumDyXhat[ch] / m);
        }
        // dx = gamma * invStd * (dy - mean(dy) - xhat * mean(dy * xhat)); in terms of xhat, not a folded
        // a*dy - b*x + c, which cancels badly when a channel's values sit close together.
        for (int p = 0, k = 0; p < m; p++) {
            for (int ch = 0; ch < c; ch++, k++) {
                float xhat = (x[k] - mean[ch]) * invStd[ch];
                dx[k] = k0[ch] * (dy[k] - meanDy[ch] - xhat * meanDyXhat[ch]);
            }
        }
    }

    @Override
    public void maxPoolForward(Tensor xT, Tensor yT, Tensor argmaxT, PoolGeometry g) {
        float[] x = f(xT), y = f(yT);
        int[] arg = ints(argmaxT);
        int oh = g.outH(), ow = g.outW(), c = g.c();
        expectLength(x, (long) g.n() * g.h() * g.w() * c, "maxPool input");
        expectLength(y, (long) g.n() * oh * ow * c, "maxPool output");
        for (int n = 0; n < g.n(); n++) {
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++) {
                    int o = ((n * oh + oy) * ow + ox) * c;
                    boolean first = true;
                    // window cells in row-major order; per cell a contiguous channel vector, so the first
                    // maximum wins ties and padding never takes part
                    for (int ky = 0; ky < g.window(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        if (iy < 0 || iy >= g.h()) continue;
                        for (int kx = 0; kx < g.window(); kx++) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (ix < 0 || ix >= g.w()) continue;
                            int base = ((n * g.h() + iy) * g.w() + ix) * c;
                            if (first) {
                                for (int ch = 0; ch < c; ch++) {
                                    y[o + ch] = x[base + ch];
                                    arg[o + ch] = base + ch;
                                }
                                first = false;
                            } else {
                                for (int ch = 0; ch < c; ch++) {
                                    float v = x[base + ch];
                                    if (v > y[o + ch]) {
                                        y[o + ch] = v;
                                        arg[o + ch] = base + ch;
                                    }
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    @Override
    public void maxPoolBackward(Tensor dyT, Tensor argmaxT, Tensor dxT, PoolGeometry g) {
        float[] dy = f(dyT), dx = f(dxT);
        int[] arg = ints(argmaxT);
        java.util.Arrays.fill(dx, 0f);
        for (int o = 0; o < dy.length; o++) dx[arg[o]] += dy[o];
    }

    @Override
    public void globalAvgPoolForward(Tensor xT, Tensor yT) {
        float[] x = f(xT), y = f(yT);
        Shape s = t(xT).shape();
        int n = s.dim(0), c = s.channels();
        int hw = (int) (s.elements() / ((long) n * c));
        expectLength(y, (long) n * c, "globalAvgPool output");
        double[] acc = new double[c];
        for (int i = 0; i < n; i++) {
            java.util.Arrays.fill(acc, 0);
            for (int p = 0; p < hw; p++) {
                int base = (i * hw + p) * c;
                for (int ch = 0; ch < c; ch++) acc[ch] += x[base + ch];
            }
            for (int ch = 0; ch < c; ch++) y[i * c + ch] = (float) (acc[ch] / hw);
        }
    }

    @Override
    public void globalAvgPoolBackward(Tensor dyT, Tensor dxT) {
        float[] dy = f(dyT), dx = f(dxT);
        Shape s = t(dxT).shape();
        int n = s.dim(0), c = s.channels();
        int hw = (int) (s.elements() / ((long) n * c));
        float inv = 1f / hw;
        for (int i = 0; i < n; i++) {
            for (int p = 0; p < hw; p++) {
                int base = (i * hw + p) * c;
                for (int ch = 0; ch < c; ch++) dx[base + ch] = dy[i * c + ch] * inv;
            }
        }
    }

    @Override
    public void linearForward(Tensor xT, Tensor wT, Tensor bT, Tensor yT) {
        float[] x = f(xT), w = f(wT), y = f(yT);
        Shape ws = t(wT).shape();
        int out = ws.dim(0), in = ws.dim(1);
        int n = x.length / in;
        expectLength(x, (long) n * in, "linear input");
        expectLength(y, (long) n * out, "linear output");
        gemm.gemm(x, 0, false, w, 0, true, y, 0, n, out, in, false);
        if (bT != null) {
            float[] b = f(bT);
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) y[i * out + o] += b[o];
            }
        }
    }

    @Override
    public void linearBackward(Tensor xT, Tensor wT, Tensor dyT, Tensor dxT, Tensor dwT, Tensor dbT) {
        float[] x = f(xT), w = f(wT), dy = f(dyT), dw = f(dwT);
        Shape ws = t(wT).shape();
        int out = ws.dim(0), in = ws.dim(1);
        int n = x.length / in;
        if (dxT != null) gemm.gemm(dy, 0, false, w, 0, false, f(dxT), 0, n, in, out, false);
        gemm.gemm(dy, 0, true, x, 0, false, dw, 0, out, in, n, false);
        if (dbT != null) {
            float[] db = f(dbT);
            double[] acc = new double[out];
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) acc[o] += dy[i * out + o];
            }
            for (int o = 0; o < out; o++) db[o] = (float) acc[o];
        }
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logitsT, Tensor labelsT, Tensor dlogitsT, float gradScale) {
        float[] z = f(logitsT), dz = f(dlogitsT);
        int[] labels = ints(labelsT);
        int n = labels.length;
        int classes = z.length / n;
        double loss = 0;
        int correct = 0;
        for (int i = 0; i < n; i++) {
            int base = i * classes;
            int label = labels[i];
            if (label < 0 || label >= classes) throw new IllegalArgumentException("label " + label + " outside 0.." + (classes - 1));
            double max = Double.NEGATIVE_INFINITY;
            int arg = 0;
            for (int j = 0; j < classes; j++) {
                if (z[base + j] > max) {
                    max = z[base + j];
                    arg = j;
                }
            }
            if (arg == label) correct++;
            double sum = 0;
            for (int j = 0; j < classes; j++) sum += Math.exp(z[base + j] - max);
            double logSum = Math.log(sum) + max;
            loss += logSum - z[base + label];
            for (int j = 0; j < classes; j++) {
                double p = Math.exp(z[base + j] - logSum);
                dz[base + j] = (float) ((p - (j == label ? 1 : 0)) * gradScale);
            }
        }
        return new LossResult(loss, correct, n);
    }

    @Override
    public void sgdStep(Tensor paramT, Tensor gradT, Tensor velocityT, float lr, float momentum, float weightDecay) {
        float[] p = f(paramT), g = f(gradT), v = f(velocityT);
        sameLength(p, g, "sgdStep");
        sameLength(p, v, "sgdStep");
        for (int k = 0; k < p.length; k++) {
            float gk = g[k] + weightDecay * p[k];
            v[k] = momentum * v[k] + gk;
            p[k] -= lr * v[k];
        }
    }

    @Override
    public double sumSquares(Tensor xT) {
        float[] x = f(xT);
        double s = 0;
        for (float v : x) {
            if (!Float.isFinite(v)) return Double.NaN;
            s += (double) v * v;
        }
        return s;
    }

    @Override
    public void close() {
        gemm.close();
        pool.clear();
        col = new float[0];
        col2 = new float[0];
    }
}
