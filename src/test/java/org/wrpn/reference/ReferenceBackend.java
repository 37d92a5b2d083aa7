package org.wrpn.reference;

import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The executable specification as a Backend: every op computes through {@link Reference} (double
 * loops, exact integer code paths) and rounds its result to float once. Pure Java without native libraries, so
 * the GPU bundle can run a whole training step on it beside the CUDA backend.
 *
 * <p>Where the Backend contract fixes float arithmetic, it is followed: batch norm normalises with
 * the float statistics and the interface's formula y = (x - mean) * (invStd * gamma) + beta, in
 * training and in {@link #batchNormApply} alike, so that recomputation in backward is exact here too.
 * Slow (naive loops): for small networks and batches.
 */
public final class ReferenceBackend implements Backend {
    private long allocated;
    private long peak;

    /** A tensor on the Java heap: floats (F32), ints (I32, packed words) or bytes (I8). */
    private record RefTensor(ReferenceBackend owner, DType dtype, Shape shape, int bits, long bytes, float[] f, int[] i, byte[] b,
            boolean[] closed) implements Tensor {
        static RefTensor of(ReferenceBackend owner, DType dtype, Shape shape, int bits) {
            int n = Math.toIntExact(shape.elements());
            float[] f = dtype == DType.F32 ? new float[n] : null;
            byte[] b = dtype == DType.I8 ? new byte[n] : null;
            int[] i = switch (dtype) {
                case I32 -> new int[n];
                case PACKED -> new int[Math.toIntExact(shape.pixels() * Reference.wordsPerPixel(shape.channels(), bits))];
                default -> null;
            };
            long bytes = f != null ? 4L * n : b != null ? n : 4L * i.length;
            owner.allocated += bytes;
            owner.peak = Math.max(owner.peak, owner.allocated);
            return new RefTensor(owner, dtype, shape, bits, bytes, f, i, b, new boolean[1]);
        }

        @Override
        public void close() {
            if (!closed[0]) {
                closed[0] = true;
                owner.allocated -= bytes;
            }
        }
    }

    private RefTensor t(Tensor x) {
        if (!(x instanceof RefTensor r) || r.closed()[0]) throw new IllegalArgumentException("not a live reference tensor: " + x);
        return r;
    }

    private float[] f(Tensor x) {
        RefTensor r = t(x);
        if (r.dtype() != DType.F32) throw new IllegalArgumentException("expected F32, got " + r.dtype());
        return r.f();
    }

    private double[] d(Tensor x) {
        return Reference.toDouble(f(x));
    }

    /** An operand of a quantized op as doubles: F32 values, or PACKED / I8 codes as the integers they hold. */
    private double[] operand(Tensor x) {
        RefTensor r = t(x);
        return switch (r.dtype()) {
            case F32 -> Reference.toDouble(r.f());
            case I8 -> {
                double[] o = new double[r.b().length];
                for (int k = 0; k < o.length; k++) o[k] = r.b()[k];
                yield o;
            }
            case PACKED -> {
                long[] u = Reference.unpack(r.i(), (int) r.shape().pixels(), r.shape().channels(), r.bits());
                double[] o = new double[u.length];
                for (int k = 0; k < o.length; k++) o[k] = u[k];
                yield o;
            }
            default -> throw new IllegalArgumentException("not an operand of a quantized op: " + r.dtype());
        };
    }

    private static boolean integerOperands(Tensor x, Tensor w) {
        return x.dtype() == DType.PACKED && w.dtype() == DType.I8;
    }

    /**
     * The output of a quantized forward op: with integer operands the sums are exact integers (doubles
     * hold them exactly) and y = (float) sum · scale, as the contract fixes; otherwise sum · scale in
     * double, rounded once.
     */
    private void setScaled(Tensor dst, double[] sums, float scale, boolean integer) {
        float[] out = f(dst);
        for (int k = 0; k < sums.length; k++) {
            if (integer) {
                long acc = (long) sums[k];
                if (acc != sums[k] || acc != (int) acc) throw new IllegalStateException("integer sum " + sums[k] + " outside int32");
                out[k] = (float) acc * scale;
            } else {
                out[k] = (float) (sums[k] * scale);
            }
        }
    }

    private static double[] scaled(double[] a, float scale) {
        double[] o = a.clone();
        for (int k = 0; k < o.length; k++) o[k] *= scale;
        return o;
    }

    /** Rounds a double result to float, once per element. */
    private void set(Tensor dst, double[] src) {
        float[] out = f(dst);
        if (out.length != src.length) throw new IllegalArgumentException("length " + src.length + " into " + out.length);
        for (int k = 0; k < src.length; k++) out[k] = (float) src[k];
    }

    private void set(Tensor dst, float[] src) {
        float[] out = f(dst);
        if (out.length != src.length) throw new IllegalArgumentException("length " + src.length + " into " + out.length);
        System.arraycopy(src, 0, out, 0, src.length);
    }

    @Override
    public String name() {
        return "reference";
    }

    @Override
    public boolean slicesResidualBackward() {
        return false; // tests ask for it through ExecutionContext.sliceResidualBackward
    }

    /** The reference computes in plain arrays of the tensors themselves: no scratch. */
    @Override
    public long convWorkspaceBytes(ConvGeometry g, org.wrpn.backend.Device.ConvPass pass) {
        return 0;
    }

    @Override
    public long batchNormWorkspaceBytes(long rows, int channels, org.wrpn.backend.Device.BatchNormPass pass) {
        return 0;
    }

    @Override
    public long lossWorkspaceBytes(int n) {
        return 0;
    }

    @Override
    public long quantizedLinearWorkspaceBytes(int n, int in, int out) {
        return 0;
    }

    @Override
    public String describe() {
        return "reference loops (double) in Java";
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePacked");
        return RefTensor.of(this, dtype, shape, dtype == DType.I8 ? 8 : 32);
    }

    @Override
    public Tensor allocatePacked(Shape logicalShape, int bits) {
        if (bits != 1 && bits != 2 && bits != 4 && bits != 8) throw new IllegalArgumentException("packed k must be 1, 2, 4 or 8, got " + bits);
        return RefTensor.of(this, DType.PACKED, logicalShape, bits);
    }

    @Override
    public long allocatedBytes() {
        return allocated;
    }

    @Override
    public long peakAllocatedBytes() {
        return peak;
    }

    @Override
    public void resetPeak() {
        peak = allocated;
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        float[] d = f(dst);
        System.arraycopy(src, 0, d, 0, d.length);
    }

    @Override
    public void upload(int[] src, Tensor dst) {
        RefTensor r = t(dst);
        if (r.b() != null) {
            for (int k = 0; k < r.b().length; k++) r.b()[k] = (byte) src[k];
        } else {
            System.arraycopy(src, 0, r.i(), 0, r.i().length);
        }
    }

    @Override
    public void download(Tensor src, float[] dst) {
        float[] s = f(src);
        System.arraycopy(s, 0, dst, 0, s.length);
    }

    @Override
    public void download(Tensor src, int[] dst) {
        RefTensor r = t(src);
        if (r.b() != null) {
            for (int k = 0; k < r.b().length; k++) dst[k] = r.b()[k];
        } else {
            System.arraycopy(r.i(), 0, dst, 0, r.i().length);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        RefTensor s = t(src), d = t(dst);
        if (s.f() != null) System.arraycopy(s.f(), 0, d.f(), 0, s.f().length);
        else if (s.b() != null) System.arraycopy(s.b(), 0, d.b(), 0, s.b().length);
        else System.arraycopy(s.i(), 0, d.i(), 0, s.i().length);
    }

    @Override
    public void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images) {
        RefTensor s = t(src), d = t(dst);
        long per = org.wrpn.backend.ImageSlices.wordsPerImage(src, dst, srcFirst, dstFirst, images);
        int from = Math.toIntExact(srcFirst * per), to = Math.toIntExact(dstFirst * per), len = Math.toIntExact(images * per);
        if (s.f() != null) System.arraycopy(s.f(), from, d.f(), to, len);
        else System.arraycopy(s.i(), from, d.i(), to, len);
    }

    @Override
    public void fill(Tensor dst, float value) {
        java.util.Arrays.fill(f(dst), value);
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src) {
        set(dst, Reference.add(d(dst), d(src)));
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        double[] bv;
        if (b.dtype() == DType.PACKED) {
            float[] v = new float[Math.toIntExact(b.shape().elements())];
            RefTensor p = t(b);
            long[] u = Reference.unpack(p.i(), (int) p.shape().pixels(), p.shape().channels(), p.bits());
            for (int k = 0; k < u.length; k++) v[k] = Reference.activationValue(u[k], p.bits());
            bv = Reference.toDouble(v);
        } else {
            bv = d(b);
        }
        set(out, Reference.add(d(a), bv));
    }

    // ---- quantization ------------------------------------------------------------------------

    @Override
    public void quantizeActivations(Tensor x, int bits, Tensor y) {
        set(y, Reference.quantizeActivations(f(x), bits));
    }

    @Override
    public void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {
        set(dx, Reference.quantizeActivationsBackward(f(x), f(dy)));
    }

    @Override
    public void maskGradient(Tensor packedMask, Tensor dy, Tensor dx) {
        RefTensor m = t(packedMask);
        long[] mask = Reference.unpack(m.i(), (int) m.shape().pixels(), m.shape().channels(), 1);
        set(dx, Reference.maskGradient(mask, f(dy)));
    }

    @Override
    public void quantizeWeights(Tensor w, int bits, Tensor wq) {
        set(wq, Reference.quantizeWeights(f(w), bits));
    }

    @Override
    public float weightCodes(Tensor w, int bits, Tensor codes) {
        float[] s = f(w);
        long[] c = Reference.weightCodes(s, bits);
        byte[] out = t(codes).b();
        for (int k = 0; k < c.length; k++) out[k] = (byte) c[k];
        return bits == 1 ? Reference.binaryScale(s) : 1f / Reference.weightLevels(bits);
    }

    @Override
    public void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {
        float[] s = f(x);
        RefTensor p = t(packedCodes);
        int pixels = (int) p.shape().pixels(), channels = p.shape().channels();
        System.arraycopy(Reference.pack(Reference.activationCodes(s, bits), pixels, channels, bits), 0, p.i(), 0, p.i().length);
        if (packedMask != null) {
            RefTensor m = t(packedMask);
            System.arraycopy(Reference.pack(Reference.maskCodes(s), pixels, channels, 1), 0, m.i(), 0, m.i().length);
        }
    }

    @Override
    public void batchNormQuantizePack(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, int bits,
            Tensor packedCodes, Tensor packedMask) {
        Tensor y = allocate(DType.F32, x.shape());
        try {
            batchNormApply(x, gamma, beta, mean, invStd, y);
            quantizePack(y, bits, packedCodes, packedMask);
        } finally {
            y.close();
        }
    }

    @Override
    public void unpackValues(Tensor packedCodes, Tensor y) {
        RefTensor p = t(packedCodes);
        long[] u = Reference.unpack(p.i(), (int) p.shape().pixels(), p.shape().channels(), p.bits());
        float[] out = f(y);
        for (int k = 0; k < u.length; k++) out[k] = Reference.activationValue(u[k], p.bits());
    }

    @Override
    public void unpackCodes(Tensor packedCodes, Tensor codes) {
        RefTensor p = t(packedCodes);
        long[] u = Reference.unpack(p.i(), (int) p.shape().pixels(), p.shape().channels(), p.bits());
        int[] out = t(codes).i();
        for (int k = 0; k < u.length; k++) out[k] = (int) u[k];
    }

    // ---- layers --------------------------------------------------------------------------------

    @Override
    public void relu(Tensor x, Tensor y) {
        set(y, Reference.relu(d(x)));
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        set(dx, Reference.reluBackward(d(y), d(dy)));
    }

    @Override
    public void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {
        set(y, Reference.conv2dForward(d(x), d(w), g));
    }

    @Override
    public void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {
        set(dx, Reference.conv2dBackwardData(d(dy), d(w), g));
    }

    @Override
    public void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {
        set(dw, Reference.conv2dBackwardFilter(d(x), d(dy), g));
    }

    @Override
    public void conv2dForwardQuantized(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {
        setScaled(y, Reference.conv2dForward(operand(x), operand(w), g), scale, integerOperands(x, w));
    }

    @Override
    public void conv2dBackwardDataQuantized(Tensor dy, Tensor w, float scale, Tensor dx, ConvGeometry g) {
        set(dx, scaled(Reference.conv2dBackwardData(d(dy), operand(w), g), scale));
    }

    @Override
    public void conv2dBackwardFilterQuantized(Tensor x, float step, Tensor dy, Tensor dw, ConvGeometry g) {
        set(dw, scaled(Reference.conv2dBackwardFilter(operand(x), d(dy), g), step));
    }

    @Override
    public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        int c = (int) gamma.shape().elements();
        Reference.BnStats st = Reference.batchNormStats(d(x), c, eps);
        set(saveMean, st.mean());
        set(saveInvStd, st.invStd());
        set(runningMean, Reference.runningUpdate(d(runningMean), st.mean(), momentum));
        set(runningVar, Reference.runningUpdate(d(runningVar), st.unbiasedVar(), momentum));
        if (y != null) batchNormApply(x, gamma, beta, saveMean, saveInvStd, y);
    }

    /** The contract's float formula, shared by training and recomputation. */
    @Override
    public void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {
        float[] xs = f(x), g = f(gamma), b = f(beta), m = f(mean), inv = f(invStd), out = f(y);
        int c = g.length;
        for (int k = 0; k < xs.length; k++) {
            int ch = k % c;
            out[k] = (xs[k] - m[ch]) * (inv[ch] * g[ch]) + b[ch];
        }
    }

    @Override
    public void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps,
            Tensor y) {
        set(y, Reference.batchNormInference(d(x), d(gamma), d(beta), d(runningMean), d(runningVar), eps));
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        Reference.BnGrads r = Reference.batchNormBackward(d(x), d(dy), d(gamma), d(saveMean), d(saveInvStd));
        set(dx, r.dx());
        set(dgamma, r.dgamma());
        set(dbeta, r.dbeta());
    }

    @Override
    public void batchNormBackwardApply(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dgamma,
            Tensor dbeta, long rows, Tensor dx) {
        set(dx, Reference.batchNormBackwardApply(d(x), d(dy), d(gamma), d(saveMean), d(saveInvStd), d(dgamma), d(dbeta), rows));
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        Reference.MaxPool r = Reference.maxPoolForward(d(x), g);
        set(y, r.y());
        int[] a = t(argmax).i();
        for (int k = 0; k < a.length; k++) a[k] = (int) r.argmax()[k];
    }

    @Override
    public void maxPoolPacked(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        RefTensor p = t(x);
        long[] u = Reference.unpack(p.i(), (int) p.shape().pixels(), p.shape().channels(), p.bits());
        double[] values = new double[u.length];
        for (int k = 0; k < u.length; k++) values[k] = Reference.activationValue(u[k], p.bits());
        Reference.MaxPool r = Reference.maxPoolForward(values, g);
        float[] pooled = new float[r.y().length];
        for (int k = 0; k < pooled.length; k++) pooled[k] = (float) r.y()[k];
        RefTensor out = t(y);
        int pixels = (int) out.shape().pixels(), channels = out.shape().channels();
        System.arraycopy(Reference.pack(Reference.activationCodes(pooled, p.bits()), pixels, channels, p.bits()), 0, out.i(), 0,
                out.i().length);
        int[] a = t(argmax).i();
        for (int k = 0; k < a.length; k++) a[k] = (int) r.argmax()[k];
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {
        int[] a = t(argmax).i();
        long[] arg = new long[a.length];
        for (int k = 0; k < a.length; k++) arg[k] = a[k];
        set(dx, Reference.maxPoolBackward(d(dy), arg, f(dx).length));
    }

    @Override
    public void globalAvgPoolForward(Tensor x, Tensor y) {
        Shape s = x.shape();
        int n = s.dim(0), c = s.channels();
        set(y, Reference.globalAvgPoolForward(d(x), n, (int) (s.elements() / ((long) n * c)), c));
    }

    @Override
    public void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        Shape s = dx.shape();
        int n = s.dim(0), c = s.channels();
        set(dx, Reference.globalAvgPoolBackward(d(dy), n, (int) (s.elements() / ((long) n * c)), c));
    }

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        int n = (int) (x.shape().elements() / in);
        set(y, Reference.linearForward(d(x), d(w), b == null ? null : d(b), n, in, out));
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        int n = (int) (x.shape().elements() / in);
        Reference.LinearGrads r = Reference.linearBackward(d(x), d(w), d(dy), n, in, out);
        if (dx != null) set(dx, r.dx());
        set(dw, r.dw());
        if (db != null) set(db, r.db());
    }

    @Override
    public void linearForwardQuantized(Tensor x, Tensor w, float scale, Tensor b, Tensor y) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        int n = (int) (x.shape().elements() / in);
        double[] sums = Reference.linearForward(operand(x), operand(w), null, n, in, out);
        setScaled(y, sums, scale, integerOperands(x, w));
        if (b != null) {
            float[] yv = f(y), bv = f(b);
            for (int k = 0; k < yv.length; k++) yv[k] += bv[k % out];
        }
    }

    @Override
    public void linearBackwardQuantized(Tensor x, float step, Tensor w, float scale, Tensor dy, Tensor dx, Tensor dw,
            Tensor db) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        int n = (int) (x.shape().elements() / in);
        Reference.LinearGrads r = Reference.linearBackward(operand(x), operand(w), d(dy), n, in, out);
        if (dx != null) set(dx, scaled(r.dx(), scale));
        set(dw, scaled(r.dw(), step));
        if (db != null) set(db, r.db());
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        int[] lab = t(labels).i();
        int n = lab.length, classes = (int) (logits.shape().elements() / n);
        for (int label : lab) {
            if (label < 0 || label >= classes) throw new IllegalArgumentException("label " + label + " outside 0.." + (classes - 1));
        }
        Reference.Loss r = Reference.softmaxCrossEntropy(d(logits), lab, n, classes, gradScale);
        set(dlogits, r.dlogits());
        return new LossResult(r.lossSum(), r.correct(), n);
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        Reference.Sgd r = Reference.sgdStep(d(param), d(grad), d(velocity), lr, momentum, weightDecay);
        set(param, r.param());
        set(velocity, r.velocity());
    }

    @Override
    public void clampInPlace(Tensor x, float lo, float hi) {
        set(x, Reference.clamp(d(x), lo, hi));
    }

    @Override
    public double sumSquares(Tensor x) {
        return Reference.sumSquares(d(x));
    }

    @Override
    public void close() {}
}
