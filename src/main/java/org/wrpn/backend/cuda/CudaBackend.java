package org.wrpn.backend.cuda;

import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.GpuDevice;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CUDA backend: JCuda's driver API and the PTX kernels of cuda/. One instance owns one stream
 * (one per trainer), its caching allocator and its pinned staging buffers; all instances share the
 * process's {@link CudaRuntime}. Work is queued on the stream; only downloads and scalar results
 * (weightCodes at k = 1, sumSquares, maxAbs, sum) wait for it. A step leaves the GPU only for the
 * loss and correct-count scalars.
 *
 * <p>This class is the facade; the work is done by {@link DeviceMemory} and {@link Transfers}
 * (memory), {@link KernelCall} (typed launches and grid rules) and the op families
 * {@link QuantizeOps}, {@link ConvLinearOps}, {@link QuantizedConvOps}, {@link BatchNormOps}, {@link Reductions},
 * {@link PoolLossOps} and {@link ElementwiseOps}.
 */
public final class CudaBackend implements Backend {
    private final CudaRuntime rt;
    private final CudaStream stream;
    private final DeviceMemory memory;
    private final Transfers transfers;
    private final Reductions reductions;
    private final PoolLossOps poolLoss;
    private final QuantizeOps quantize;
    private final ConvLinearOps convLinear;
    private final QuantizedConvOps quantizedConv;
    private final BatchNormOps batchNorm;
    private final ElementwiseOps elementwise;

    public CudaBackend() {
        this(CudaRuntime.get());
    }

    CudaBackend(CudaRuntime rt) {
        this.rt = rt;
        stream = new CudaStream(rt);
        memory = new DeviceMemory(stream);
        Operands operands = new Operands(memory);
        transfers = new Transfers(stream, operands);
        reductions = new Reductions(stream, operands, transfers);
        poolLoss = new PoolLossOps(stream, operands, memory, transfers);
        quantize = new QuantizeOps(stream, operands, transfers, reductions);
        convLinear = new ConvLinearOps(stream, operands, memory);
        quantizedConv = new QuantizedConvOps(stream, operands, memory);
        batchNorm = new BatchNormOps(stream, operands, memory);
        elementwise = new ElementwiseOps(stream, operands, quantize);
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String describe() {
        return "CUDA " + rt.device().describe();
    }

    public GpuDevice device() {
        return rt.device();
    }

    /** Waits until everything queued on this backend's stream has run. */
    @Override
    public void synchronize() {
        stream.synchronize();
    }

    /** A pair of events on this backend's stream. */
    public CudaTimer newTimer() {
        stream.makeCurrent();
        return new CudaTimer(stream.handle());
    }

    // ---- memory -------------------------------------------------------------------------------

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePacked for packed tensors");
        return memory.allocate(dtype, shape, 0, true);
    }

    @Override
    public Tensor allocatePacked(Shape logicalShape, int bits) {
        return memory.allocate(DType.PACKED, logicalShape, bits, true);
    }

    @Override
    public Tensor allocateUninitialized(DType dtype, Shape shape) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePackedUninitialized for packed tensors");
        return memory.allocate(dtype, shape, 0, false);
    }

    @Override
    public Tensor allocatePackedUninitialized(Shape logicalShape, int bits) {
        return memory.allocate(DType.PACKED, logicalShape, bits, false);
    }

    @Override
    public long allocatedBytes() {
        return memory.allocator().inUseBytes();
    }

    @Override
    public long peakAllocatedBytes() {
        return memory.allocator().peakInUseBytes();
    }

    @Override
    public void resetPeak() {
        memory.allocator().resetPeaks();
    }

    /** Device bytes held from the driver (live tensors, rounding and the allocator's cache). */
    public long reservedBytes() {
        return memory.allocator().reservedBytes();
    }

    public long peakReservedBytes() {
        return memory.allocator().peakReservedBytes();
    }

    /** How many times the allocator had to ask the driver (steady training should stop asking). */
    public long driverAllocations() {
        return memory.allocator().driverAllocations();
    }

    /** Returns the allocator's cached blocks to the driver. */
    public void emptyCache() {
        memory.emptyCache();
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        transfers.upload(src, dst);
    }

    @Override
    public void upload(int[] src, Tensor dst) {
        transfers.upload(src, dst);
    }

    @Override
    public void download(Tensor src, float[] dst) {
        transfers.download(src, dst);
    }

    @Override
    public void download(Tensor src, int[] dst) {
        transfers.download(src, dst);
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        transfers.copy(src, dst);
    }

    @Override
    public void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images) {
        transfers.copyImages(src, srcFirst, dst, dstFirst, images);
    }

    @Override
    public void fill(Tensor dst, float value) {
        transfers.fill(dst, value);
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src) {
        elementwise.addInPlace(dst, src);
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        elementwise.add(a, b, out);
    }

    // ---- quantization ------------------------------------------------------------------------

    @Override
    public void quantizeActivations(Tensor x, int bits, Tensor y) {
        quantize.quantizeActivations(x, bits, y);
    }

    @Override
    public void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {
        quantize.quantizeActivationsBackward(x, dy, dx);
    }

    @Override
    public void maskGradient(Tensor packedMask, Tensor dy, Tensor dx) {
        quantize.maskGradient(packedMask, dy, dx);
    }

    @Override
    public void quantizeWeights(Tensor w, int bits, Tensor wq) {
        quantize.quantizeWeights(w, bits, wq);
    }

    @Override
    public float weightCodes(Tensor w, int bits, Tensor codes) {
        return quantize.weightCodes(w, bits, codes);
    }

    @Override
    public void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {
        quantize.quantizePack(x, bits, packedCodes, packedMask);
    }

    @Override
    public void unpackValues(Tensor packedCodes, Tensor y) {
        quantize.unpackValues(packedCodes, y);
    }

    @Override
    public void unpackCodes(Tensor packedCodes, Tensor codes) {
        quantize.unpackCodes(packedCodes, codes);
    }

    // ---- reductions ----------------------------------------------------------------------------

    @Override
    public double sumSquares(Tensor x) {
        return reductions.sumSquares(x);
    }

    /** Sum of all elements, accumulated in double (NaN/Inf propagate). */
    public double sum(Tensor x) {
        return reductions.sum(x);
    }

    /** max |x|; NaN when any element is NaN. */
    public float maxAbs(Tensor x) {
        return reductions.maxAbs(x);
    }

    // ---- layers -------------------------------------------------------------------------------

    @Override
    public void relu(Tensor x, Tensor y) {
        elementwise.relu(x, y);
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        elementwise.reluBackward(y, dy, dx);
    }

    @Override
    public void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {
        convLinear.conv2dForward(x, w, y, g);
    }

    @Override
    public void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {
        convLinear.conv2dBackwardData(dy, w, dx, g);
    }

    @Override
    public void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {
        convLinear.conv2dBackwardFilter(x, dy, dw, g);
    }

    @Override
    public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        batchNorm.batchNormTrain(x, gamma, beta, y, saveMean, saveInvStd, runningMean, runningVar, momentum, eps);
    }

    @Override
    public void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {
        batchNorm.batchNormApply(x, gamma, beta, mean, invStd, y);
    }

    @Override
    public void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps,
            Tensor y) {
        batchNorm.batchNormInference(x, gamma, beta, runningMean, runningVar, eps, y);
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        batchNorm.batchNormBackward(x, dy, gamma, saveMean, saveInvStd, dx, dgamma, dbeta);
    }

    @Override
    public void batchNormBackwardApply(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dgamma,
            Tensor dbeta, long rows, Tensor dx) {
        batchNorm.batchNormBackwardApply(x, dy, gamma, saveMean, saveInvStd, dgamma, dbeta, rows, dx);
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        poolLoss.maxPoolForward(x, y, argmax, g);
    }

    @Override
    public void maxPoolPacked(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        poolLoss.maxPoolPacked(x, y, argmax, g);
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {
        poolLoss.maxPoolBackward(dy, argmax, dx, g);
    }

    @Override
    public void globalAvgPoolForward(Tensor x, Tensor y) {
        poolLoss.globalAvgPoolForward(x, y);
    }

    @Override
    public void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        poolLoss.globalAvgPoolBackward(dy, dx);
    }

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        convLinear.linearForward(x, w, b, y);
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        convLinear.linearBackward(x, w, dy, dx, dw, db);
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        return poolLoss.softmaxCrossEntropy(logits, labels, dlogits, gradScale);
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        elementwise.sgdStep(param, grad, velocity, lr, momentum, weightDecay);
    }

    @Override
    public void clampInPlace(Tensor x, float lo, float hi) {
        elementwise.clampInPlace(x, lo, hi);
    }

    @Override
    public org.wrpn.backend.DeviceCommunicator communicator(int rank, int worldSize, String masterAddr, int masterPort,
            java.time.Duration timeout) {
        return new NcclCommunicator(stream, rank, worldSize, masterAddr, masterPort, timeout);
    }

    @Override
    public void close() {
        if (stream.isClosed()) return;
        try {
            stream.synchronize();
        } finally {
            stream.markClosed();
            memory.close();
            transfers.close();
            reductions.close();
            poolLoss.close();
            stream.destroy();
        }
    }

    @Override
    public void batchNormQuantizePack(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, int bits,
            Tensor packedCodes, Tensor packedMask) {
        quantize.batchNormQuantizePack(x, gamma, beta, mean, invStd, bits, packedCodes, packedMask);
    }

    @Override
    public void conv2dForwardQuantized(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {
        quantizedConv.conv2dForwardQuantized(x, w, scale, y, g);
    }

    /** The same on the SIMT kernels (dp4a) even where tensor cores apply: for PackBenchmark's comparison. */
    void conv2dForwardQuantizedSimt(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {
        quantizedConv.conv2dForwardQuantizedSimt(x, w, scale, y, g);
    }

    @Override
    public void conv2dBackwardDataQuantized(Tensor dy, Tensor w, float scale, Tensor dx, ConvGeometry g) {
        quantizedConv.conv2dBackwardDataQuantized(dy, w, scale, dx, g);
    }

    @Override
    public void conv2dBackwardFilterQuantized(Tensor x, float step, Tensor dy, Tensor dw, ConvGeometry g) {
        quantizedConv.conv2dBackwardFilterQuantized(x, step, dy, dw, g);
    }

    @Override
    public void linearForwardQuantized(Tensor x, Tensor w, float scale, Tensor b, Tensor y) {
        quantizedConv.linearForwardQuantized(x, w, scale, b, y);
    }

    @Override
    public void linearBackwardQuantized(Tensor x, float step, Tensor w, float scale, Tensor dy, Tensor dx, Tensor dw,
            Tensor db) {
        quantizedConv.linearBackwardQuantized(x, step, w, scale, dy, dx, dw, db);
    }
}
