package org.wrpn.backend;

import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The compute interface every layer, the trainer and the planner talk to. Tensors are owned by the
 * backend (host arrays on CPU, device memory on a GPU); only scalars and explicit uploads/downloads
 * cross it. Activations are channels-last: a tensor of shape (..., C) is treated as pixels x C.
 *
 * <p>Unless a method says otherwise, outputs are overwritten, never accumulated into, and no output
 * may alias an input. The ops that may work in place say so: {@link #add}, {@link #maskGradient},
 * {@link #reluBackward}, {@link #batchNormBackward} and {@link #batchNormBackwardApply}.
 *
 * <p>Quantized layers run on codes ({@link #conv2dForwardQuantized} and its kin): packed k-bit
 * activation codes and int8 weight codes with one scale per layer, never an fp32 copy of a quantized
 * activation.
 */
public interface Backend extends AutoCloseable {

    /** Short name: "cpu" or "cuda". */
    String name();

    /** One line describing the device, for logs and `wrpn info`. */
    String describe();

    /** False for a backend that only counts memory (the planner's dry run): callers may skip filling data. */
    default boolean computes() {
        return true;
    }

    // ---- memory -------------------------------------------------------------------------------

    /** A zero-filled F32, I8 or I32 tensor. */
    Tensor allocate(DType dtype, Shape shape);

    /** A zero-filled packed tensor of k-bit codes in the layout of PackedLayout. */
    Tensor allocatePacked(Shape logicalShape, int bits);

    /**
     * A tensor whose contents are unspecified ({@link UninitializedMemory}): for an output the next op
     * overwrites in full before anything reads it. Saves the zero-fill of every activation and
     * gradient a step makes; a backend may return zeros.
     */
    default Tensor allocateUninitialized(DType dtype, Shape shape) {
        return allocate(dtype, shape);
    }

    /** The packed form of {@link #allocateUninitialized}. */
    default Tensor allocatePackedUninitialized(Shape logicalShape, int bits) {
        return allocatePacked(logicalShape, bits);
    }

    /** Bytes currently allocated through this backend, and the high-water mark since the last reset. */
    long allocatedBytes();

    long peakAllocatedBytes();

    void resetPeak();

    void upload(float[] src, Tensor dst);

    void upload(int[] src, Tensor dst);

    void download(Tensor src, float[] dst);

    void download(Tensor src, int[] dst);

    void copy(Tensor src, Tensor dst);

    /**
     * Copies `images` whole images (slices along the first dimension) from src, from image srcFirst,
     * into dst from image dstFirst: F32 or PACKED tensors of the same dtype, bits and image shape (a
     * packed image is whole words, so images are contiguous in both layouts).
     */
    void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images);

    void fill(Tensor dst, float value);

    /** dst += src (gradient accumulation). */
    void addInPlace(Tensor dst, Tensor src);

    /**
     * out = a + b (residual add). b may be PACKED activation codes, read as their values u / (2^k - 1)
     * (exactly what {@link #unpackValues} gives). out may be a (or b when b is F32).
     */
    void add(Tensor a, Tensor b, Tensor out);

    // ---- quantization ------------------------------------------------------------------------

    /** y = value(code(x)) for activations at k bits; k = 32 is not a quantizer (use relu). */
    void quantizeActivations(Tensor x, int bits, Tensor y);

    /** Straight-through backward of the activation quantizer: dx = dy where 0 &lt; x &lt; 1, else 0. */
    void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx);

    /** dx = dy where the packed 1-bit mask is set, else 0 (the STE backward from a saved mask). dx may be dy. */
    void maskGradient(Tensor packedMask, Tensor dy, Tensor dx);

    /** Weight values (not codes) at k bits: k = 32 copies, k = 1 is sign(w)·mean|w|. */
    void quantizeWeights(Tensor w, int bits, Tensor wq);

    /** int8 weight codes for k in {2,4,8}, or ±1 for k = 1 (returns mean|w| then, else the step 1/(2^(k-1)-1)). */
    float weightCodes(Tensor w, int bits, Tensor codes);

    /** Quantizes x to k-bit activation codes and packs them; mask (k = 1 packed, may be null) holds 0 &lt; x &lt; 1. */
    void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask);

    /**
     * Batch-norm apply, activation quantize, pack and STE mask in one pass over x: the same bits as
     * {@link #batchNormApply} followed by {@link #quantizePack} (mask may be null), without the fp32
     * output between them.
     */
    void batchNormQuantizePack(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, int bits,
            Tensor packedCodes, Tensor packedMask);

    /** Unpacks k-bit codes to their activation values (u / (2^k-1)) as F32. */
    void unpackValues(Tensor packedCodes, Tensor y);

    /** Unpacks codes to I32 (for tests and tooling). */
    void unpackCodes(Tensor packedCodes, Tensor codes);

    // ---- layers --------------------------------------------------------------------------------

    void relu(Tensor x, Tensor y);

    /** dx = dy where y &gt; 0. dx may be dy. */
    void reluBackward(Tensor y, Tensor dy, Tensor dx);

    // The scratch rules below are the device's (Device.of this backend's name); a backend on no device overrides them.

    /**
     * Scratch bytes one pass of a convolution of this geometry uses inside the backend (declared to the
     * memory ledger): {@link Device#convWorkspaceBytes}.
     */
    default long convWorkspaceBytes(ConvGeometry g, Device.ConvPass pass) {
        return Device.of(this).convWorkspaceBytes(g, pass);
    }

    /** Scratch bytes of a quantized linear layer of n rows, in inputs and out outputs: {@link Device#quantizedLinearWorkspaceBytes}. */
    default long quantizedLinearWorkspaceBytes(int n, int in, int out) {
        return Device.of(this).quantizedLinearWorkspaceBytes(n, in, out);
    }

    /** Whether networks on this backend work through a residual branch's backward in image slices: {@link Device#slicesResidualBackward}. */
    default boolean slicesResidualBackward() {
        return Device.of(this).slicesResidualBackward();
    }

    /** Scratch bytes of one batch-norm op over rows x channels: {@link Device#batchNormWorkspaceBytes}. */
    default long batchNormWorkspaceBytes(long rows, int channels, Device.BatchNormPass pass) {
        return Device.of(this).batchNormWorkspaceBytes(rows, channels, pass);
    }

    /** Scratch bytes of the loss over n samples: {@link Device#lossWorkspaceBytes}. */
    default long lossWorkspaceBytes(int n) {
        return Device.of(this).lossWorkspaceBytes(n);
    }

    /** Waits until all work queued on this backend has run (a no-op where ops run synchronously). */
    default void synchronize() {}

    void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g);

    void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g);

    void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g);

    /**
     * Convolution of a quantized layer, read as codes: x is PACKED k-bit activation codes or F32 values,
     * w is I8 weight codes or F32 values (cout, kh, kw, cin); y = scale · Σ x·w. With PACKED x and I8 w
     * the sum runs over the integer codes in int32, exact (the caller keeps the patch within
     * {@code Quantizer.maxExactIntegerTerms}), and y = (float) sum · scale: the same bits on every
     * backend. Otherwise the sum is in float and then multiplied by scale.
     */
    void conv2dForwardQuantized(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g);

    /** Data gradient of a quantized layer: dx = scale · Σ dy·w, w I8 weight codes or F32 values, sum in float. */
    void conv2dBackwardDataQuantized(Tensor dy, Tensor w, float scale, Tensor dx, ConvGeometry g);

    /**
     * Weight gradient of a quantized layer from its saved input: dw = step · Σ x·dy, x PACKED codes (step
     * the value of one code, {@code Quantizer.activationStep}) or F32 values; sum in float.
     */
    void conv2dBackwardFilterQuantized(Tensor x, float step, Tensor dy, Tensor dw, ConvGeometry g);

    /**
     * Training-mode batch norm over all pixels, per channel. Saves the batch mean and 1/sqrt(var+eps)
     * (biased variance) and updates the running statistics with the unbiased variance:
     * run = (1 - momentum) * run + momentum * batch. y may be null: statistics only (for
     * {@link #batchNormQuantizePack}).
     */
    void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps);

    /**
     * y = (x - mean) * (invStd * gamma) + beta with saved batch statistics, per channel, in float. The
     * training forward uses this same formula, so recomputing a BN output in backward is bit-exact.
     */
    void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y);

    void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps,
            Tensor y);

    /** dx may be x or dy (the statistics are reduced before dx is written). */
    void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta);

    /**
     * The elementwise half of {@link #batchNormBackward} over a slice of the batch, given the whole
     * batch's sums dgamma = Σ dy·xhat and dbeta = Σ dy over `rows` pixels: dx = (gamma·invStd) ·
     * ((dy − dbeta/rows) − xhat·(dgamma/rows)), the same float steps as batchNormBackward's. dx may
     * be x or dy. With sums made chunk by chunk, a batch norm's backward never holds its whole input.
     */
    void batchNormBackwardApply(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dgamma,
            Tensor dbeta, long rows, Tensor dx);

    /** Max pool; argmax (I32, same shape as y) records the winning input pixel index per output. */
    void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g);

    /**
     * Max pool of PACKED k-bit activation codes into PACKED codes of the same k, with the argmax of
     * {@link #maxPoolForward}: bit for bit quantizePack(maxPoolForward(unpackValues(x))), since values
     * rise with codes, without the fp32 tensors.
     */
    void maxPoolPacked(Tensor x, Tensor y, Tensor argmax, PoolGeometry g);

    void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g);

    /** (n, h, w, c) to (n, c). */
    void globalAvgPoolForward(Tensor x, Tensor y);

    void globalAvgPoolBackward(Tensor dy, Tensor dx);

    /** y = x w^T + b; x (n, in), w (out, in), b (out) or null. */
    void linearForward(Tensor x, Tensor w, Tensor b, Tensor y);

    /** dx (may be null) = dy w; dw = dy^T x; db (may be null) = column sums of dy. */
    void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db);

    /**
     * y = scale · x w^T + b for a quantized layer: x PACKED codes of any shape (n, ..., c), its
     * features in (..., c) order, or F32 (n, in); w I8 codes or F32 values (out, in); b F32 or null. The
     * sum is exact in int32 for PACKED x and I8 w, as in {@link #conv2dForwardQuantized}, and
     * y = ((float) sum · scale) + b in that order.
     */
    void linearForwardQuantized(Tensor x, Tensor w, float scale, Tensor b, Tensor y);

    /**
     * Backward of {@link #linearForwardQuantized}: dx (may be null) = scale · dy w; dw = step · dy^T x;
     * db (may be null) = column sums of dy. Sums in float.
     */
    void linearBackwardQuantized(Tensor x, float step, Tensor w, float scale, Tensor dy, Tensor dx, Tensor dw, Tensor db);

    /**
     * Softmax cross-entropy of logits (n, classes) against I32 labels; writes dlogits = (softmax - onehot)
     * * gradScale and returns the summed loss and the count of correct argmax predictions.
     */
    LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale);

    /**
     * SGD with momentum (PyTorch convention): g = grad + wd * p; v = momentum * v + g; p -= lr * v.
     */
    void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay);

    /** x = clamp(x, lo, hi) in place (the weight constraint after an update); NaN stays NaN. */
    void clampInPlace(Tensor x, float lo, float hi);

    /** Sum of squares (for gradient norms) and a non-finite check in one pass; NaN when any is non-finite. */
    double sumSquares(Tensor x);

    @Override
    void close();

    /**
     * Joins a data-parallel job's device collectives as rank of worldSize, the rendezvous at
     * masterAddr:masterPort (blocking until all ranks joined, at most timeout). Backends without
     * device collectives (the CPU's go through Gloo on host memory) refuse.
     */
    default DeviceCommunicator communicator(int rank, int worldSize, String masterAddr, int masterPort, java.time.Duration timeout) {
        throw new UnsupportedOperationException(describe() + " has no device collectives");
    }
}
