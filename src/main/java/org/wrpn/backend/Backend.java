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
 * may alias an input.
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

    void fill(Tensor dst, float value);

    /** dst += src (gradient accumulation). */
    void addInPlace(Tensor dst, Tensor src);

    /** out = a + b (residual add). */
    void add(Tensor a, Tensor b, Tensor out);

    // ---- quantization ------------------------------------------------------------------------

    /** y = value(code(x)) for activations at k bits; k = 32 is not a quantizer (use relu). */
    void quantizeActivations(Tensor x, int bits, Tensor y);

    /** Straight-through backward of the activation quantizer: dx = dy where 0 &lt; x &lt; 1, else 0. */
    void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx);

    /** dx = dy where the packed 1-bit mask is set, else 0 (the STE backward from a saved mask). */
    void maskGradient(Tensor packedMask, Tensor dy, Tensor dx);

    /** Weight values (not codes) at k bits: k = 32 copies, k = 1 is sign(w)·mean|w|. */
    void quantizeWeights(Tensor w, int bits, Tensor wq);

    /** int8 weight codes for k in {2,4,8}, or ±1 for k = 1 (returns mean|w| then, else the step 1/(2^(k-1)-1)). */
    float weightCodes(Tensor w, int bits, Tensor codes);

    /** Quantizes x to k-bit activation codes and packs them; mask (k = 1 packed, may be null) holds 0 &lt; x &lt; 1. */
    void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask);

    /** Unpacks k-bit codes to their activation values (u / (2^k-1)) as F32. */
    void unpackValues(Tensor packedCodes, Tensor y);

    /** Unpacks codes to I32 (for tests and tooling). */
    void unpackCodes(Tensor packedCodes, Tensor codes);

    // ---- layers --------------------------------------------------------------------------------

    void relu(Tensor x, Tensor y);

    /** dx = dy where y &gt; 0. */
    void reluBackward(Tensor y, Tensor dy, Tensor dx);

    /**
     * Scratch bytes a convolution of this geometry uses inside the backend (declared to the memory
     * ledger): the rule of {@link Device#convWorkspaceBytes} for this backend's device.
     */
    long convWorkspaceBytes(ConvGeometry g);

    /** Waits until all work queued on this backend has run (a no-op where ops run synchronously). */
    default void synchronize() {}

    void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g);

    void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g);

    void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g);

    /**
     * Training-mode batch norm over all pixels, per channel. Saves the batch mean and 1/sqrt(var+eps)
     * (biased variance) and updates the running statistics with the unbiased variance:
     * run = (1 - momentum) * run + momentum * batch.
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

    void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta);

    /** Max pool; argmax (I32, same shape as y) records the winning input pixel index per output. */
    void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g);

    void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g);

    /** (n, h, w, c) to (n, c). */
    void globalAvgPoolForward(Tensor x, Tensor y);

    void globalAvgPoolBackward(Tensor dy, Tensor dx);

    /** y = x w^T + b; x (n, in), w (out, in), b (out) or null. */
    void linearForward(Tensor x, Tensor w, Tensor b, Tensor y);

    /** dx (may be null) = dy w; dw = dy^T x; db (may be null) = column sums of dy. */
    void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db);

    /**
     * Softmax cross-entropy of logits (n, classes) against I32 labels; writes dlogits = (softmax - onehot)
     * * gradScale and returns the summed loss and the count of correct argmax predictions.
     */
    LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale);

    /**
     * SGD with momentum (PyTorch convention): g = grad + wd * p; v = momentum * v + g; p -= lr * v.
     */
    void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay);

    /** Sum of squares (for gradient norms) and a non-finite check in one pass; NaN when any is non-finite. */
    double sumSquares(Tensor x);

    @Override
    void close();
}
