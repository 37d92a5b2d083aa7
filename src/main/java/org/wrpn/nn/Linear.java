package org.wrpn.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Fully connected layer y = x w^T (+ b). Accepts any (N, ...) input and flattens it in its
 * channels-last order. Weights quantized like Conv2d; no bias when batch norm follows. Keeps its
 * input for backward in the form it arrived (packed codes or fp32).
 */
public final class Linear extends Layer {
    private final int in;
    private final int out;
    private final int weightBits;
    private final boolean bias;
    private Parameter weight;
    private Parameter biasParam;
    private Tensor quantized;
    private Shape outShape;
    private Feature savedInput;

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

    public int inFeatures() {
        return in;
    }

    public int outFeatures() {
        return out;
    }

    public boolean hasBias() {
        return bias;
    }

    @Override
    public Shape outputShape(Shape shape) {
        if (shape.elements() / shape.dim(0) != in) {
            throw new IllegalArgumentException(name + " expects " + in + " features per sample, got " + shape);
        }
        return Shape.of(shape.dim(0), out);
    }

    @Override
    public void initialize(ExecutionContext ctx, SplittableRandom random) {
        super.initialize(ctx, random);
        Shape ws = Shape.of(out, in);
        weight = Parameter.trainable(ctx.ledger(), name + ".weight", ws, true);
        if (ctx.backend().computes()) {
            ctx.backend().upload(Init.heNormal(out * in, in, Init.quantizedGain(weightBits, in), random),
                    weight.value());
        }
        if (bias) biasParam = Parameter.trainable(ctx.ledger(), name + ".bias", Shape.of(out), false);
        if (weightBits != Quantizer.FULL_PRECISION) {
            quantized = ctx.ledger().allocate(Category.QUANTIZED_WEIGHTS, name + ".weight", DType.F32, ws);
        }
    }

    @Override
    public void prepare(Shape shape) {
        outShape = outputShape(shape);
    }

    private Tensor weights(boolean requantize) {
        if (quantized == null) return weight.value();
        if (requantize) ctx.backend().quantizeWeights(weight.value(), weightBits, quantized);
        return quantized;
    }

    private Tensor multiply(Feature x, Tensor w) {
        Tensor y = ctx.temp(name, outShape);
        try (ExecutionContext.Floats xf = ctx.floats(x, name)) {
            ctx.backend().linearForward(xf.tensor(), w, biasParam == null ? null : biasParam.value(), y);
        }
        return y;
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        Feature y = new Feature(multiply(x, weights(true)), ctx.ledger());
        if (training) savedInput = x;
        else x.release();
        return y;
    }

    @Override
    public boolean canRecompute() {
        return savedInput != null;
    }

    @Override
    public Tensor recompute() {
        return multiply(savedInput, weights(false));
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Feature dx = needsInputGradient ? ctx.feature(name + ".grad", savedInput.tensor().shape()) : null;
        try (ExecutionContext.Floats xf = ctx.floats(savedInput, name)) {
            ctx.backend().linearBackward(xf.tensor(), weights(false), dy.tensor(), dx == null ? null : dx.tensor(),
                    weight.grad(), biasParam == null ? null : biasParam.grad());
        }
        savedInput.release();
        savedInput = null;
        dy.release();
        return dx;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        if (weight != null) ps.add(weight);
        if (biasParam != null) ps.add(biasParam);
        return ps;
    }

    @Override
    public void close() {
        super.close();
        if (quantized != null) ctx.ledger().free(quantized);
        quantized = null;
    }
}
