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
 * channels-last order. Weights quantized like Conv2d (int8 codes and one scale), and like Conv2d a
 * quantized input is multiplied as its codes; no bias when batch norm follows. Keeps its input for
 * backward in the form it arrived (packed codes or fp32).
 */
public final class Linear extends Layer {
    private final int in;
    private final int out;
    private final int weightBits;
    private final int inputBits;
    private final boolean bias;
    private Parameter weight;
    private Parameter biasParam;
    /** int8 weight codes, remade each step, and the value of one code. */
    private Tensor weightCodes;
    private float weightScale = 1f;
    private Shape outShape;
    private Feature savedInput;

    public Linear(String name, int in, int out, int weightBits, int inputBits, boolean bias) {
        super(name);
        if (!Quantizer.isValidActivationBits(inputBits)) throw new IllegalArgumentException(name + ": input bits " + inputBits);
        this.in = in;
        this.out = out;
        this.weightBits = weightBits;
        this.inputBits = inputBits;
        this.bias = bias;
    }

    public int weightBits() {
        return weightBits;
    }

    /** Bits of the activation this layer reads (32: full precision). */
    public int inputBits() {
        return inputBits;
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
        weight = weightBits < Quantizer.FULL_PRECISION ? Parameter.quantizedWeight(ctx.ledger(), name + ".weight", ws, weightBits)
                : Parameter.trainable(ctx.ledger(), name + ".weight", ws, true);
        if (ctx.backend().computes()) {
            ctx.backend().upload(Init.heNormal(out * in, in, Init.quantizedGain(weightBits, in), random),
                    weight.value());
        }
        if (bias) biasParam = Parameter.trainable(ctx.ledger(), name + ".bias", Shape.of(out), false);
        if (weightBits != Quantizer.FULL_PRECISION) {
            weightCodes = ctx.ledger().allocate(Category.QUANTIZED_WEIGHTS, name + ".weight", DType.I8, ws);
        }
        if (quantizedInput() && weightCodes != null && in > Quantizer.maxExactIntegerTerms(inputBits, weightBits)) {
            throw new IllegalArgumentException(name + ": " + in + " products per output overflow an int32 sum at w"
                    + weightBits + "/a" + inputBits);
        }
    }

    private boolean quantizedInput() {
        return inputBits != Quantizer.FULL_PRECISION;
    }

    /** Whether this layer runs the quantized ops (codes in, or weight codes). */
    private boolean onCodes() {
        return quantizedInput() || weightCodes != null;
    }

    private float inputStep() {
        return quantizedInput() ? Quantizer.activationStep(inputBits) : 1f;
    }

    private ExecutionContext.Operand operand(Feature x) {
        return quantizedInput() ? ctx.codes(x, inputBits, name) : ctx.floats(x, name);
    }

    private long workspaceBytes() {
        return onCodes() ? ctx.backend().quantizedLinearWorkspaceBytes(outShape.dim(0), in, out) : 0;
    }

    @Override
    public void prepare(Shape shape) {
        outShape = outputShape(shape);
    }

    private Tensor weights(boolean requantize) {
        if (weightCodes == null) return weight.value();
        if (requantize) weightScale = ctx.backend().weightCodes(weight.value(), weightBits, weightCodes);
        return weightCodes;
    }

    private Tensor multiply(Feature x, Tensor w) {
        Tensor y = ctx.temp(name, outShape);
        Tensor b = biasParam == null ? null : biasParam.value();
        try (ExecutionContext.Operand xo = operand(x)) {
            ctx.ledger().beginWorkspace(workspaceBytes());
            try {
                if (onCodes()) ctx.backend().linearForwardQuantized(xo.tensor(), w, inputStep() * weightScale, b, y);
                else ctx.backend().linearForward(xo.tensor(), w, b, y);
            } finally {
                ctx.ledger().endWorkspace();
            }
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
        Tensor dxt = dx == null ? null : dx.tensor(), db = biasParam == null ? null : biasParam.grad();
        try (ExecutionContext.Operand xo = operand(savedInput)) {
            ctx.ledger().beginWorkspace(workspaceBytes());
            try {
                if (onCodes()) {
                    ctx.backend().linearBackwardQuantized(xo.tensor(), inputStep(), weights(false), weightScale, dy.tensor(), dxt,
                            weight.grad(), db);
                } else {
                    ctx.backend().linearBackward(xo.tensor(), weights(false), dy.tensor(), dxt, weight.grad(), db);
                }
            } finally {
                ctx.ledger().endWorkspace();
            }
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
        if (weightCodes != null) ctx.ledger().free(weightCodes);
        weightCodes = null;
    }
}
