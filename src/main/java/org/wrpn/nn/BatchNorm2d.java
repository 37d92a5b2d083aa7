package org.wrpn.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** Batch norm over the channel (last) dimension; also serves linear outputs (N, C). */
public final class BatchNorm2d extends Layer {
    public static final float EPS = 1e-5f;
    public static final float MOMENTUM = 0.1f;
    private final int channels;
    private Parameter gamma;
    private Parameter beta;
    private Parameter runningMean;
    private Parameter runningVar;
    private Tensor saveMean;
    private Tensor saveInvStd;
    private Tensor y;
    private Tensor dx;
    private Tensor input;

    public BatchNorm2d(String name, int channels) {
        super(name);
        this.channels = channels;
    }

    @Override
    public Shape outputShape(Shape in) {
        if (in.channels() != channels) throw new IllegalArgumentException(name + " expects " + channels + " channels, got " + in);
        return in;
    }

    @Override
    public void initialize(Backend backend, SplittableRandom random) {
        super.initialize(backend, random);
        Shape s = Shape.of(channels);
        gamma = Parameter.trainable(backend, name + ".weight", s, false);
        beta = Parameter.trainable(backend, name + ".bias", s, false);
        runningMean = Parameter.state(backend, name + ".running_mean", s);
        runningVar = Parameter.state(backend, name + ".running_var", s);
        backend.fill(gamma.value(), 1f);
        backend.fill(runningVar.value(), 1f);
        saveMean = backend.allocate(DType.F32, s);
        saveInvStd = backend.allocate(DType.F32, s);
    }

    @Override
    public void prepare(Shape in) {
        releaseBuffers();
        outputShape(in);
        y = backend.allocate(DType.F32, in);
        dx = backend.allocate(DType.F32, in);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        if (training) {
            backend.batchNormTrain(x, gamma.value(), beta.value(), y, saveMean, saveInvStd, runningMean.value(),
                    runningVar.value(), MOMENTUM, EPS);
        } else {
            backend.batchNormInference(x, gamma.value(), beta.value(), runningMean.value(), runningVar.value(), EPS, y);
        }
        return y;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        backend.batchNormBackward(input, dy, gamma.value(), saveMean, saveInvStd, dx, gamma.grad(), beta.grad());
        return dx;
    }

    @Override
    public List<Parameter> parameters() {
        return gamma == null ? List.of() : List.of(gamma, beta, runningMean, runningVar);
    }

    @Override
    public void releaseBuffers() {
        free(y);
        free(dx);
        y = dx = null;
        input = null;
    }

    @Override
    public void close() {
        super.close();
        free(saveMean);
        free(saveInvStd);
    }
}
