package org.wrpn.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Device;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Batch norm over the channel (last) dimension; also serves linear outputs (N, C). Keeps the batch
 * mean and 1/std for backward. Its input (the conv output) is kept in fp32 under the fp32 policy;
 * under the packed policy it is recomputed from the producer's saved input codes when needed.
 */
public final class BatchNorm2d extends Layer {
    public static final float EPS = 1e-5f;
    public static final float MOMENTUM = 0.1f;
    private final int channels;
    private final float eps;
    private Parameter gamma;
    private Parameter beta;
    private Parameter runningMean;
    private Parameter runningVar;
    private Tensor saveMean;
    private Tensor saveInvStd;
    private Feature savedInput;
    /** The recomputed input, held from a recompute() until backward uses it. */
    private Tensor recomputedInput;
    /** Set by a residual block: backward walks the batch in slices, its input never whole (see {@link #slicedBackward}). */
    private boolean slicedBackward;

    public BatchNorm2d(String name, int channels) {
        this(name, channels, EPS);
    }

    public BatchNorm2d(String name, int channels, float eps) {
        super(name);
        this.channels = channels;
        this.eps = eps;
    }

    public int channels() {
        return channels;
    }

    public float eps() {
        return eps;
    }

    @Override
    public Shape outputShape(Shape in) {
        if (in.channels() != channels) throw new IllegalArgumentException(name + " expects " + channels + " channels, got " + in);
        return in;
    }

    @Override
    public void initialize(ExecutionContext ctx, SplittableRandom random) {
        super.initialize(ctx, random);
        Shape s = Shape.of(channels);
        gamma = Parameter.trainable(ctx.ledger(), name + ".weight", s, false);
        beta = Parameter.trainable(ctx.ledger(), name + ".bias", s, false);
        runningMean = Parameter.state(ctx.ledger(), name + ".running_mean", s);
        runningVar = Parameter.state(ctx.ledger(), name + ".running_var", s);
        ctx.backend().fill(gamma.value(), 1f);
        ctx.backend().fill(runningVar.value(), 1f);
    }

    @Override
    public void prepare(Shape in) {
        outputShape(in);
    }

    private boolean recomputesInput() {
        return ctx.packed() && producer != null && producer.canRecompute();
    }

    /** Training statistics (and y, unless null), then keeps or lets go of x for backward. */
    private void train(Feature x, Tensor y) {
        saveMean = ctx.state(name + ".mean", DType.F32, Shape.of(channels));
        saveInvStd = ctx.state(name + ".invstd", DType.F32, Shape.of(channels));
        boolean sync = synchronizes();
        float[] runningBefore = sync ? runningStatistics() : null;
        beginWorkspace(x.tensor(), Device.BatchNormPass.TRAIN);
        try {
            ctx.backend().batchNormTrain(x.tensor(), gamma.value(), beta.value(), sync ? null : y, saveMean, saveInvStd,
                    runningMean.value(), runningVar.value(), MOMENTUM, eps);
        } finally {
            ctx.ledger().endWorkspace();
        }
        if (sync) {
            SynchronizedBatchNorm.statistics(ctx, saveMean, saveInvStd, runningMean.value(), runningVar.value(), runningBefore,
                    x.tensor().shape().elements() / channels, MOMENTUM, eps);
            if (y != null) ctx.backend().batchNormApply(x.tensor(), gamma.value(), beta.value(), saveMean, saveInvStd, y);
        }
    }

    /** Whether this step's statistics are those of every replica's batch together. */
    private boolean synchronizes() {
        return ctx.replicas() != null && ctx.replicas().synchronizesBatchNorm();
    }

    private float[] runningStatistics() {
        float[] both = new float[2 * channels], part = new float[channels];
        ctx.backend().download(runningMean.value(), part);
        System.arraycopy(part, 0, both, 0, channels);
        ctx.backend().download(runningVar.value(), part);
        System.arraycopy(part, 0, both, channels, channels);
        return both;
    }

    /** gamma and beta, whose gradients this layer sums over the replicas itself when it synchronises. */
    List<Parameter> affineParameters() {
        return List.of(gamma, beta);
    }

    /** Declares the backend's scratch for one op over x (the GPU's per-channel partial sums). */
    private void beginWorkspace(Tensor x, Device.BatchNormPass pass) {
        ctx.ledger().beginWorkspace(ctx.backend().batchNormWorkspaceBytes(x.shape().elements() / channels, channels, pass));
    }

    private void keepForBackward(Feature x) {
        if (recomputesInput()) x.release();
        else savedInput = x;
    }

    /** Training forward straight into k-bit codes and the STE mask of the activation that follows. */
    void forwardIntoCodes(Feature x, int bits, Tensor codes, Tensor mask) {
        train(x, null);
        ctx.backend().batchNormQuantizePack(x.tensor(), gamma.value(), beta.value(), saveMean, saveInvStd, bits, codes, mask);
        keepForBackward(x);
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        Feature y = ctx.feature(name, x.tensor().shape());
        if (training) {
            train(x, y.tensor());
            keepForBackward(x);
        } else {
            beginWorkspace(x.tensor(), Device.BatchNormPass.INFERENCE);
            try {
                ctx.backend().batchNormInference(x.tensor(), gamma.value(), beta.value(), runningMean.value(),
                        runningVar.value(), eps, y.tensor());
            } finally {
                ctx.ledger().endWorkspace();
            }
            x.release();
        }
        return y;
    }

    @Override
    public boolean canRecompute() {
        return saveMean != null && (savedInput != null || recomputedInput != null || producer != null && producer.canRecompute());
    }

    @Override
    public Tensor recompute() {
        if (recomputedInput == null && savedInput == null) recomputedInput = producer.recompute();
        Tensor x = savedInput != null ? savedInput.tensor() : recomputedInput;
        Tensor y = ctx.temp(name, x.shape());
        ctx.backend().batchNormApply(x, gamma.value(), beta.value(), saveMean, saveInvStd, y);
        return y;
    }

    /** Asks backward to walk the batch in image slices. */
    void slicedBackward() {
        slicedBackward = true;
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        boolean sliceable = savedInput != null || recomputedInput != null || producer instanceof Conv2d;
        if (slicedBackward && ctx.slicedResidualBackward() && sliceable && dy.tensor().shape().dim(0) >= 2) return slicedBackward(dy);
        Tensor x;
        if (savedInput != null) {
            x = savedInput.tensor();
        } else {
            if (recomputedInput == null) recomputedInput = producer.recompute();
            x = recomputedInput;
        }
        // dx overwrites the recomputed input (ours alone), else dy when nothing else holds it.
        Feature dx;
        if (recomputedInput != null) {
            dx = new Feature(recomputedInput, ctx.ledger());
            recomputedInput = null;
        } else if (dy.isExclusive()) {
            dx = dy.retain();
        } else {
            dx = ctx.feature(name + ".grad", x.shape());
        }
        if (synchronizes()) {
            synchronizedBackward(x, dy.tensor(), dx.tensor());
            return finishBackward(dy, dx);
        }
        beginWorkspace(x, Device.BatchNormPass.BACKWARD);
        try {
            ctx.backend().batchNormBackward(x, dy.tensor(), gamma.value(), saveMean, saveInvStd, dx.tensor(), gamma.grad(),
                    beta.grad());
        } finally {
            ctx.ledger().endWorkspace();
        }
        return finishBackward(dy, dx);
    }

    /**
     * Backward with the sums of dy and dy·xhat over every replica: this replica's sums (the whole op,
     * its dx into scratch), summed over the replicas, then dx from them over the global batch's rows.
     */
    private void synchronizedBackward(Tensor x, Tensor dy, Tensor dx) {
        Tensor scratch = ctx.temp(name + ".grad", x.shape());
        beginWorkspace(x, Device.BatchNormPass.BACKWARD);
        try {
            ctx.backend().batchNormBackward(x, dy, gamma.value(), saveMean, saveInvStd, scratch, gamma.grad(), beta.grad());
        } finally {
            ctx.ledger().endWorkspace();
        }
        ctx.free(scratch);
        SynchronizedBatchNorm.sumGradients(ctx, gamma.grad(), beta.grad());
        long rows = x.shape().elements() / channels * ctx.replicas().count();
        beginWorkspace(x, Device.BatchNormPass.BACKWARD_APPLY);
        try {
            ctx.backend().batchNormBackwardApply(x, dy, gamma.value(), saveMean, saveInvStd, gamma.grad(), beta.grad(), rows, dx);
        } finally {
            ctx.ledger().endWorkspace();
        }
    }

    /** Lets go of what forward kept, and of dy; returns dx. */
    private Feature finishBackward(Feature dy, Feature dx) {
        if (savedInput != null) savedInput.release();
        savedInput = null;
        ctx.free(saveMean);
        ctx.free(saveInvStd);
        saveMean = saveInvStd = null;
        dy.release();
        return dx;
    }

    /**
     * Backward a slice of images at a time, in two passes over the batch: each slice's sums of dy and
     * dy·xhat (the whole op over the slice, its dx discarded), added in slice order into the
     * parameters' gradients; then each slice's dx from the batch's sums. The input of a slice is copied
     * from the kept input or recomputed by the producing convolution from its saved codes (twice), so
     * no whole fp32 input exists beside dy; dx overwrites dy when nothing else holds it. The network's
     * structure and the backend decide it, so both save policies take it and stay bit-identical.
     */
    private Feature slicedBackward(Feature dy) {
        Shape shape = dy.tensor().shape();
        int n = shape.dim(0), per = ExecutionContext.imagesPerSlice(n);
        long rows = shape.elements() / channels;
        Feature dx = dy.isExclusive() ? dy.retain() : ctx.feature(name + ".grad", shape);
        Tensor sumDyXhat = ctx.temp(name + ".sums", Shape.of(channels)), sumDy = ctx.temp(name + ".sums", Shape.of(channels));
        if (synchronizes()) rows *= ctx.replicas().count();
        for (int pass = 0; pass < 2; pass++) {
            if (pass == 1 && synchronizes()) SynchronizedBatchNorm.sumGradients(ctx, gamma.grad(), beta.grad());
            for (int first = 0; first < n; first += per) {
                int count = Math.min(per, n - first);
                Tensor x = inputImages(first, count);
                Tensor g = ctx.temp(name + ".grad", x.shape());
                ctx.backend().copyImages(dy.tensor(), first, g, 0, count);
                if (pass == 0) {
                    boolean firstSlice = first == 0;
                    beginWorkspace(x, Device.BatchNormPass.BACKWARD);
                    try {
                        ctx.backend().batchNormBackward(x, g, gamma.value(), saveMean, saveInvStd, g,
                                firstSlice ? gamma.grad() : sumDyXhat, firstSlice ? beta.grad() : sumDy);
                    } finally {
                        ctx.ledger().endWorkspace();
                    }
                    if (!firstSlice) {
                        ctx.backend().addInPlace(gamma.grad(), sumDyXhat);
                        ctx.backend().addInPlace(beta.grad(), sumDy);
                    }
                } else {
                    beginWorkspace(x, Device.BatchNormPass.BACKWARD_APPLY);
                    try {
                        ctx.backend().batchNormBackwardApply(x, g, gamma.value(), saveMean, saveInvStd, gamma.grad(), beta.grad(),
                                rows, g);
                    } finally {
                        ctx.ledger().endWorkspace();
                    }
                    ctx.backend().copyImages(g, 0, dx.tensor(), first, count);
                }
                ctx.free(g);
                ctx.free(x);
            }
        }
        ctx.free(sumDyXhat);
        ctx.free(sumDy);
        if (recomputedInput != null) ctx.free(recomputedInput);
        recomputedInput = null;
        return finishBackward(dy, dx);
    }

    /** Images [first, first + count) of this layer's training input, in a scratch tensor the caller frees. */
    private Tensor inputImages(int first, int count) {
        Tensor whole = savedInput != null ? savedInput.tensor() : recomputedInput;
        if (whole == null) return ((Conv2d) producer).recomputeImages(first, count);
        Tensor x = ctx.temp(name, whole.shape().withDim(0, count));
        ctx.backend().copyImages(whole, first, x, 0, count);
        return x;
    }

    @Override
    public List<Parameter> parameters() {
        return gamma == null ? List.of() : List.of(gamma, beta, runningMean, runningVar);
    }
}
