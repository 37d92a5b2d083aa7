package org.wrpn.backend.cpu;

import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CPU backend: Java loops for element-wise work, oneDNN for convolutions, OpenBLAS for
 * the GEMMs of linear layers. Deterministic for a given thread count: fixed summation orders in
 * Java, oneDNN's and OpenBLAS's static work splits.
 * A facade: it checks tensors out of {@link CpuMemory} and hands their arrays to the room of each
 * op (DnnlConvolution, CpuLinear, CpuQuantizedConvolution, CpuQuantizedLinear, CpuBatchNorm, CpuPooling,
 * CpuQuantization, CpuElementwise).
 */
public final class CpuBackend implements Backend {
    static {
        CpuThreads.quietWorkers(); // before OpenBLAS or oneDNN load and read their environment
        Integer threads = Integer.getInteger("wrpn.cpu.threads");
        if (threads != null) limitGemmThreads(threads);
    }

    /**
     * Caps the backend's threads (Java loops, oneDNN, OpenBLAS) for the whole process: N concurrent
     * CPU jobs on N cores run faster single-threaded. Convolution and GEMM results depend on the count.
     */
    public static void limitGemmThreads(int threads) {
        OpenBlas.setThreads(Math.max(1, threads));
    }

    /** The threads the backend computes with (Java loops, oneDNN, OpenBLAS). */
    public static int threads() {
        return CpuThreads.get();
    }

    /** The OpenBLAS the GEMMs run on: its build configuration, kernel core and thread count (loads it). */
    public static String blasLibrary() {
        return OpenBlas.describe();
    }

    private final CpuMemory mem = new CpuMemory();
    private final BlasGemm gemm = new BlasGemm();
    private final CpuLinear linear = new CpuLinear(gemm);
    private final CpuQuantizedLinear quantizedLinear = new CpuQuantizedLinear(gemm, this::conv, mem);
    /** Made at the first convolution: a backend that never convolves (the GPU bundle's CPU fallback) loads no oneDNN. */
    private DnnlConvolution conv;
    private CpuQuantizedConvolution quantizedConv;

    private DnnlConvolution conv() {
        if (conv == null) conv = new DnnlConvolution(mem);
        return conv;
    }

    private CpuQuantizedConvolution quantizedConv() {
        if (quantizedConv == null) quantizedConv = new CpuQuantizedConvolution(conv(), mem);
        return quantizedConv;
    }

    @Override
    public String name() {
        return "cpu";
    }

    @Override
    public String describe() {
        return "CPU (" + Runtime.getRuntime().availableProcessors() + " cores, oneDNN convolutions, OpenBLAS GEMM)";
    }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        return mem.allocate(dtype, shape, true);
    }

    @Override
    public Tensor allocatePacked(Shape logicalShape, int bits) {
        return mem.allocatePacked(logicalShape, bits, true);
    }

    @Override
    public Tensor allocateUninitialized(DType dtype, Shape shape) {
        return mem.allocate(dtype, shape, false);
    }

    @Override
    public Tensor allocatePackedUninitialized(Shape logicalShape, int bits) {
        return mem.allocatePacked(logicalShape, bits, false);
    }

    @Override
    public long allocatedBytes() {
        return mem.allocatedBytes();
    }

    @Override
    public long peakAllocatedBytes() {
        return mem.peakAllocatedBytes();
    }

    @Override
    public void resetPeak() {
        mem.resetPeak();
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        mem.upload(src, dst);
    }

    @Override
    public void upload(int[] src, Tensor dst) {
        mem.upload(src, dst);
    }

    @Override
    public void download(Tensor src, float[] dst) {
        mem.download(src, dst);
    }

    @Override
    public void download(Tensor src, int[] dst) {
        mem.download(src, dst);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        mem.copy(src, dst);
    }

    @Override
    public void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images) {
        mem.copyImages(src, srcFirst, dst, dstFirst, images);
    }

    @Override
    public void fill(Tensor dst, float value) {
        mem.fill(dst, value);
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src) {
        CpuElementwise.addInPlace(mem.f(dst), mem.f(src));
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        if (mem.tensor(b).dtype() == DType.PACKED) CpuQuantization.addValues(mem.f(a), mem.packed(b), mem.f(out));
        else CpuElementwise.add(mem.f(a), mem.f(b), mem.f(out));
    }

    // ---- quantization ------------------------------------------------------------------------

    @Override
    public void quantizeActivations(Tensor x, int bits, Tensor y) {
        CpuQuantization.quantizeActivations(mem.f(x), bits, mem.f(y));
    }

    @Override
    public void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {
        CpuQuantization.quantizeActivationsBackward(mem.f(x), mem.f(dy), mem.f(dx));
    }

    @Override
    public void maskGradient(Tensor packedMask, Tensor dy, Tensor dx) {
        CpuQuantization.maskGradient(mem.packed(packedMask), mem.f(dy), mem.f(dx));
    }

    @Override
    public void quantizeWeights(Tensor w, int bits, Tensor wq) {
        CpuQuantization.quantizeWeights(mem.f(w), bits, mem.f(wq));
    }

    @Override
    public float weightCodes(Tensor w, int bits, Tensor codes) {
        return CpuQuantization.weightCodes(mem.f(w), bits, mem.tensor(codes));
    }

    @Override
    public void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {
        CpuQuantization.quantizePack(mem.f(x), mem.tensor(x).shape(), bits, mem.packed(packedCodes),
                packedMask == null ? null : mem.packed(packedMask));
    }

    @Override
    public void batchNormQuantizePack(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, int bits,
            Tensor packedCodes, Tensor packedMask) {
        CpuTensor codes = mem.packed(packedCodes), mask = packedMask == null ? null : mem.packed(packedMask);
        if (codes.bits() != bits || !codes.shape().equals(mem.tensor(x).shape())) {
            throw new IllegalArgumentException("batchNormQuantizePack: " + mem.tensor(x) + " into " + codes + " at " + bits + " bits");
        }
        if (mask != null && (mask.bits() != 1 || !mask.shape().equals(codes.shape()))) {
            throw new IllegalArgumentException("mask must be 1-bit " + codes.shape());
        }
        CpuBatchNorm.applyQuantizePack(mem.f(x), mem.f(gamma), mem.f(beta), mem.f(mean), mem.f(invStd), bits, codes.i,
                mask == null ? null : mask.i);
    }

    @Override
    public void unpackValues(Tensor packedCodes, Tensor y) {
        CpuQuantization.unpackValues(mem.packed(packedCodes), mem.f(y));
    }

    @Override
    public void unpackCodes(Tensor packedCodes, Tensor codes) {
        CpuQuantization.unpackCodes(mem.packed(packedCodes), mem.ints(codes));
    }

    // ---- layers --------------------------------------------------------------------------------

    @Override
    public void relu(Tensor x, Tensor y) {
        CpuElementwise.relu(mem.f(x), mem.f(y));
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        CpuElementwise.reluBackward(mem.f(y), mem.f(dy), mem.f(dx));
    }

    @Override
    public void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {
        conv().forward(mem.f(x), mem.f(w), mem.f(y), g);
    }

    @Override
    public void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {
        conv().backwardData(mem.f(dy), mem.f(w), mem.f(dx), g);
    }

    @Override
    public void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {
        conv().backwardWeights(mem.f(x), mem.f(dy), mem.f(dw), g);
    }

    @Override
    public void conv2dForwardQuantized(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {
        quantizedConv().forward(mem.tensor(x), mem.tensor(w), scale, mem.f(y), g);
    }

    @Override
    public void conv2dBackwardDataQuantized(Tensor dy, Tensor w, float scale, Tensor dx, ConvGeometry g) {
        quantizedConv().backwardData(mem.f(dy), mem.tensor(w), scale, mem.f(dx), g);
    }

    @Override
    public void conv2dBackwardFilterQuantized(Tensor x, float step, Tensor dy, Tensor dw, ConvGeometry g) {
        quantizedConv().backwardFilter(mem.tensor(x), step, mem.f(dy), mem.f(dw), g);
    }

    @Override
    public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        CpuBatchNorm.train(mem.f(x), mem.f(gamma), mem.f(beta), y == null ? null : mem.f(y), mem.f(saveMean), mem.f(saveInvStd),
                mem.f(runningMean), mem.f(runningVar), momentum, eps);
    }

    @Override
    public void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {
        CpuBatchNorm.apply(mem.f(x), mem.f(gamma), mem.f(beta), mem.f(mean), mem.f(invStd), mem.f(y));
    }

    @Override
    public void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps,
            Tensor y) {
        CpuBatchNorm.inference(mem.f(x), mem.f(gamma), mem.f(beta), mem.f(runningMean), mem.f(runningVar), eps, mem.f(y));
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        CpuBatchNorm.backward(mem.f(x), mem.f(dy), mem.f(gamma), mem.f(saveMean), mem.f(saveInvStd), mem.f(dx),
                mem.f(dgamma), mem.f(dbeta));
    }

    @Override
    public void batchNormBackwardApply(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dgamma,
            Tensor dbeta, long rows, Tensor dx) {
        CpuBatchNorm.backwardApply(mem.f(x), mem.f(dy), mem.f(gamma), mem.f(saveMean), mem.f(saveInvStd), mem.f(dgamma),
                mem.f(dbeta), rows, mem.f(dx));
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        CpuPooling.maxForward(mem.f(x), mem.f(y), mem.ints(argmax), g);
    }

    @Override
    public void maxPoolPacked(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        CpuTensor xt = mem.packed(x), yt = mem.packed(y);
        if (xt.bits() != yt.bits()) throw new IllegalArgumentException("maxPoolPacked: " + xt + " into " + yt);
        CpuPooling.maxForwardPacked(xt.i, yt.i, mem.ints(argmax), g, xt.bits());
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {
        CpuPooling.maxBackward(mem.f(dy), mem.ints(argmax), mem.f(dx));
    }

    @Override
    public void globalAvgPoolForward(Tensor x, Tensor y) {
        CpuPooling.globalAvgForward(mem.f(x), mem.tensor(x).shape(), mem.f(y));
    }

    @Override
    public void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        CpuPooling.globalAvgBackward(mem.f(dy), mem.f(dx), mem.tensor(dx).shape());
    }

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        Shape ws = mem.tensor(w).shape();
        linear.forward(mem.f(x), mem.f(w), ws.dim(0), ws.dim(1), b == null ? null : mem.f(b), mem.f(y));
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        Shape ws = mem.tensor(w).shape();
        linear.backward(mem.f(x), mem.f(w), ws.dim(0), ws.dim(1), mem.f(dy), dx == null ? null : mem.f(dx), mem.f(dw),
                db == null ? null : mem.f(db));
    }

    @Override
    public void linearForwardQuantized(Tensor x, Tensor w, float scale, Tensor b, Tensor y) {
        quantizedLinear.forward(mem.tensor(x), mem.tensor(w), scale, b == null ? null : mem.f(b), mem.f(y));
    }

    @Override
    public void linearBackwardQuantized(Tensor x, float step, Tensor w, float scale, Tensor dy, Tensor dx, Tensor dw,
            Tensor db) {
        quantizedLinear.backward(mem.tensor(x), step, mem.tensor(w), scale, mem.f(dy), dx == null ? null : mem.f(dx), mem.f(dw),
                db == null ? null : mem.f(db));
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        return CpuElementwise.softmaxCrossEntropy(mem.f(logits), mem.ints(labels), mem.f(dlogits), gradScale);
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        CpuElementwise.sgdStep(mem.f(param), mem.f(grad), mem.f(velocity), lr, momentum, weightDecay);
    }

    @Override
    public void clampInPlace(Tensor x, float lo, float hi) {
        CpuElementwise.clampInPlace(mem.f(x), lo, hi);
    }

    @Override
    public double sumSquares(Tensor x) {
        return CpuElementwise.sumSquares(mem.f(x));
    }

    @Override
    public void close() {
        gemm.close();
        mem.clearPool();
        if (conv != null) conv.close();
    }

}
