package org.wrpn.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Fully connected layer y = x w^T (+ b). Accepts any (N, ...) input and flattens it in its
 * channels-last order. Weights quantized like Conv2d; no bias when batch norm follows.
 */
public final class Linear extends Layer {
    private final int in;
    private final int out;
    private final int weightBits;
    private final boolean bias;
    private Parameter weight;
    private Parameter biasParam;
    private Tensor quantized;
    private Tensor y;
    private Tensor dx;
    private Tensor input;

    public Linear(String name, int in, int out, int weightBits, boolean bias) {
        super(name);
        this.in = in;
        this.out = out;
        this.weightBits = weightBits;
        this.bias = bias;
    }

    public int weightBits() {
        return weightBits;
    }

    @Override
    public Shape outputShape(Shape shape) {
        if (shape.elements() / shape.dim(0) != in) {
            throw new IllegalArgumentException(name + " expects " + in + " features per sample, got " + shape);
        }
        return Shape.of(shape.dim(0), out);
    }

    @Override
    public void initialize(Backend backend, SplittableRandom random) {
        super.initialize(backend, random);
        Shape ws = Shape.of(out, in);
        weight = Parameter.trainable(backend, name + ".weight", ws, true);
        backend.upload(Init.heNormal(out * in, in, Init.quantizedGain(weightBits, in), random), weight.value());
        if (bias) biasParam = Parameter.trainable(backend, name + ".bias", Shape.of(out), false);
        if (weightBits != Quantizer.FULL_PRECISION) quantized = backend.allocate(DType.F32, ws);
    }

    @Override
    public void prepare(Shape shape) {
        releaseBuffers();
        y = backend.allocate(DType.F32, outputShape(shape));
        dx = backend.allocate(DType.F32, shape);
    }

    private Tensor effectiveWeights() {
        if (quantized == null) return weight.value();
        backend.quantizeWeights(weight.value(), weightBits, quantized);
        return quantized;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        backend.linearForward(x, effectiveWeights(), biasParam == null ? null : biasParam.value(), y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        backend.linearBackward(input, quantized == null ? weight.value() : quantized, dy, needsInputGradient ? dx : null,
                weight.grad(), biasParam == null ? null : biasParam.grad());
        return needsInputGradient ? dx : null;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        if (weight != null) ps.add(weight);
        if (biasParam != null) ps.add(biasParam);
        return ps;
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
        free(quantized);
    }
}
