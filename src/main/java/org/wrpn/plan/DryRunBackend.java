package org.wrpn.plan;

import org.wrpn.backend.ImageSlices;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.Device;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.tensor.AbstractTensor;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * A backend that allocates nothing and computes nothing: tensors are sizes. The planner runs the
 * real layer code on it, so the memory ledger sees exactly the allocations a training step makes.
 * Op-internal workspace follows the target backend's own rule.
 */
final class DryRunBackend implements Backend {
    private final Device target;
    private long allocated;
    private long peak;

    DryRunBackend(Device target) {
        this.target = target;
    }

    private final class SizedTensor extends AbstractTensor {
        SizedTensor(DType dtype, Shape shape, int bits) {
            super(dtype, shape, bits);
            allocated += bytes();
            peak = Math.max(peak, allocated);
        }

        @Override
        protected void release() {
            allocated -= bytes();
        }
    }

    @Override
    public String name() {
        return "plan(" + target + ")";
    }

    @Override
    public String describe() {
        return "memory planner for the " + target + " backend";
    }

    @Override
    public boolean computes() {
        return false;
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePacked for packed tensors");
        return new SizedTensor(dtype, shape, 0);
    }

    @Override
    public Tensor allocatePacked(Shape shape, int bits) {
        return new SizedTensor(DType.PACKED, shape, bits);
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
    public long convWorkspaceBytes(ConvGeometry g, Device.ConvPass pass) {
        return target.convWorkspaceBytes(g, pass);
    }

    @Override
    public long batchNormWorkspaceBytes(long rows, int channels, Device.BatchNormPass pass) {
        return target.batchNormWorkspaceBytes(rows, channels, pass);
    }

    @Override
    public long lossWorkspaceBytes(int n) {
        return target.lossWorkspaceBytes(n);
    }

    @Override
    public long quantizedLinearWorkspaceBytes(int n, int in, int out) {
        return target.quantizedLinearWorkspaceBytes(n, in, out);
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        return new LossResult(0, 0, labels.shape().dim(0));
    }

    @Override
    public float weightCodes(Tensor w, int bits, Tensor codes) {
        return 1f;
    }

    @Override
    public double sumSquares(Tensor x) {
        return 0;
    }

    // Everything below moves no data.
    @Override public void upload(float[] src, Tensor dst) {}
    @Override public void upload(int[] src, Tensor dst) {}
    @Override public void download(Tensor src, float[] dst) {}
    @Override public void download(Tensor src, int[] dst) {}
    @Override public boolean slicesResidualBackward() {
        return target.slicesResidualBackward();
    }
    @Override public void copy(Tensor src, Tensor dst) {}
    @Override public void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images) {
        ImageSlices.wordsPerImage(src, dst, srcFirst, dstFirst, images);
    }
    @Override public void fill(Tensor dst, float value) {}
    @Override public void addInPlace(Tensor dst, Tensor src) {}
    @Override public void add(Tensor a, Tensor b, Tensor out) {}
    @Override public void quantizeActivations(Tensor x, int bits, Tensor y) {}
    @Override public void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {}
    @Override public void maskGradient(Tensor packedMask, Tensor dy, Tensor dx) {}
    @Override public void quantizeWeights(Tensor w, int bits, Tensor wq) {}
    @Override public void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {}
    @Override public void unpackValues(Tensor packedCodes, Tensor y) {}
    @Override public void unpackCodes(Tensor packedCodes, Tensor codes) {}
    @Override public void relu(Tensor x, Tensor y) {}
    @Override public void reluBackward(Tensor y, Tensor dy, Tensor dx) {}
    @Override public void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {}
    @Override public void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {}
    @Override public void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {}
    @Override public void batchNormQuantizePack(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, int bits,
            Tensor packedCodes, Tensor packedMask) {}
    @Override public void conv2dForwardQuantized(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {}
    @Override public void conv2dBackwardDataQuantized(Tensor dy, Tensor w, float scale, Tensor dx, ConvGeometry g) {}
    @Override public void conv2dBackwardFilterQuantized(Tensor x, float step, Tensor dy, Tensor dw, ConvGeometry g) {}
    @Override public void linearForwardQuantized(Tensor x, Tensor w, float scale, Tensor b, Tensor y) {}
    @Override public void linearBackwardQuantized(Tensor x, float step, Tensor w, float scale, Tensor dy, Tensor dx, Tensor dw,
            Tensor db) {}
    @Override public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {}
    @Override public void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {}
    @Override public void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar,
            float eps, Tensor y) {}
    @Override public void batchNormBackwardApply(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd,
            Tensor dgamma, Tensor dbeta, long rows, Tensor dx) {}
    @Override public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {}
    @Override public void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {}
    @Override public void maxPoolPacked(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {}
    @Override public void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {}
    @Override public void globalAvgPoolForward(Tensor x, Tensor y) {}
    @Override public void globalAvgPoolBackward(Tensor dy, Tensor dx) {}
    @Override public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {}
    @Override public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {}
    @Override public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {}
    @Override public void clampInPlace(Tensor x, float lo, float hi) {}

    @Override
    public void close() {}
}
