package org.wrpn.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * 2-D convolution without bias (batch norm follows), weights (cout, k, k, cin), quantized to
 * {@code weightBits} each step from the fp32 master copy into int8 codes and one scale; the gradient
 * passes straight through to the master weights. A layer whose input is a quantized activation
 * ({@code inputBits} &lt; 32) convolves the activation's codes: integer sums of codes times weight
 * codes under one scale, the same bits on every backend, and never an fp32 copy of the activation.
 * Keeps its input for backward in whatever form it arrived: packed codes of the previous block (stored
 * once, shared with whoever else keeps them) or fp32.
 */
public final class Conv2d extends Layer {
    private final int cin;
    private final int cout;
    private final int kernel;
    private final int stride;
    private final int pad;
    private final int weightBits;
    private final int inputBits;
    private Parameter weight;
    /** int8 weight codes, remade each step, and the value of one code. */
    private Tensor weightCodes;
    private float weightScale = 1f;
    private ConvGeometry geometry;
    private Shape outShape;
    private Feature savedInput;
    /** Set by a residual block for its branch: the input gradient overwrites dy a slice at a time where shapes allow. */
    private boolean inPlaceInputGradient;

    public Conv2d(String name, int cin, int cout, int kernel, int stride, int pad, int weightBits, int inputBits) {
        super(name);
        if (!Quantizer.isValidActivationBits(inputBits)) throw new IllegalArgumentException(name + ": input bits " + inputBits);
        this.cin = cin;
        this.cout = cout;
        this.kernel = kernel;
        this.stride = stride;
        this.pad = pad;
        this.weightBits = weightBits;
        this.inputBits = inputBits;
    }

    public int weightBits() {
        return weightBits;
    }

    /** Bits of the activation this layer reads (32: full precision). */
    public int inputBits() {
        return inputBits;
    }

    public int inChannels() {
        return cin;
    }

    public int outChannels() {
        return cout;
    }

    public int kernel() {
        return kernel;
    }

    public int stride() {
        return stride;
    }

    public int padding() {
        return pad;
    }

    @Override
    public Shape outputShape(Shape in) {
        ConvGeometry g = geometryFor(in);
        return Shape.nhwc(in.dim(0), g.outH(), g.outW(), cout);
    }

    private ConvGeometry geometryFor(Shape in) {
        if (in.rank() != 4 || in.channels() != cin) {
            throw new IllegalArgumentException(name + " expects (N,H,W," + cin + ") input, got " + in);
        }
        return new ConvGeometry(in.dim(0), in.dim(1), in.dim(2), cin, cout, kernel, kernel, stride, pad);
    }

    @Override
    public void initialize(ExecutionContext ctx, SplittableRandom random) {
        super.initialize(ctx, random);
        Shape ws = Shape.of(cout, kernel, kernel, cin);
        weight = weightBits < Quantizer.FULL_PRECISION ? Parameter.quantizedWeight(ctx.ledger(), name + ".weight", ws, weightBits)
                : Parameter.trainable(ctx.ledger(), name + ".weight", ws, true);
        int fanIn = kernel * kernel * cin;
        if (ctx.backend().computes()) {
            ctx.backend().upload(Init.heNormal((int) ws.elements(), fanIn, Init.quantizedGain(weightBits, fanIn), random),
                    weight.value());
        }
        if (weightBits != Quantizer.FULL_PRECISION) {
            weightCodes = ctx.ledger().allocate(Category.QUANTIZED_WEIGHTS, name + ".weight", DType.I8, ws);
        }
        long terms = (long) kernel * kernel * cin;
        if (quantizedOperands() && terms > Quantizer.maxExactIntegerTerms(inputBits, weightBits)) {
            throw new IllegalArgumentException(name + ": " + terms + " products per output overflow an int32 sum at w"
                    + weightBits + "/a" + inputBits);
        }
    }

    private boolean quantizedInput() {
        return inputBits != Quantizer.FULL_PRECISION;
    }

    private boolean quantizedOperands() {
        return quantizedInput() && weightBits != Quantizer.FULL_PRECISION;
    }

    @Override
    public void prepare(Shape in) {
        geometry = geometryFor(in);
        outShape = outputShape(in);
    }

    /** The weights as the ops read them: int8 codes (remade from the masters when asked) or the fp32 masters. */
    private Tensor weights(boolean requantize) {
        if (weightCodes == null) return weight.value();
        if (requantize) weightScale = ctx.backend().weightCodes(weight.value(), weightBits, weightCodes);
        return weightCodes;
    }

    /** The value of one input code (1 for an fp32 input). */
    private float inputStep() {
        return quantizedInput() ? Quantizer.activationStep(inputBits) : 1f;
    }

    /** A view of the input as the quantized ops read it: its codes when it is a quantized activation, else fp32. */
    private ExecutionContext.Operand operand(Feature x) {
        return quantizedInput() ? ctx.codes(x, inputBits, name) : ctx.floats(x, name);
    }

    private Tensor convolve(Feature x, Tensor w, ConvGeometry g) {
        Tensor y = ctx.temp(name, outShape.withDim(0, g.n()));
        try (ExecutionContext.Operand xo = operand(x)) {
            inWorkspace(g, Device.ConvPass.FORWARD, () -> {
                if (weightCodes == null && !quantizedInput()) {
                    ctx.backend().conv2dForward(xo.tensor(), w, y, g);
                } else {
                    ctx.backend().conv2dForwardQuantized(xo.tensor(), w, inputStep() * weightScale, y, g);
                }
            });
        }
        return y;
    }

    /** Runs one pass of the convolution over g with its backend scratch declared to the ledger. */
    private void inWorkspace(ConvGeometry g, Device.ConvPass pass, Runnable op) {
        ctx.ledger().beginWorkspace(ctx.backend().convWorkspaceBytes(g, pass));
        try {
            op.run();
        } finally {
            ctx.ledger().endWorkspace();
        }
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        Feature y = new Feature(convolve(x, weights(true), geometry), ctx.ledger());
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
        return convolve(savedInput, weights(false), geometry);
    }

    /** The last training-mode output for images [first, first + count) only, in a scratch tensor the caller frees. */
    public Tensor recomputeImages(int first, int count) {
        Feature slice = ctx.images(savedInput, first, count, name);
        try {
            return convolve(slice, weights(false), geometry.withBatch(count));
        } finally {
            slice.release();
        }
    }

    /** Asks for the input gradient to overwrite dy a slice of the batch at a time, when input and output shapes match. */
    void inPlaceInputGradient() {
        inPlaceInputGradient = true;
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Feature dx = null;
        try (ExecutionContext.Operand xo = operand(savedInput)) {
            inWorkspace(geometry, Device.ConvPass.BACKWARD_FILTER, () -> {
                if (quantizedInput()) {
                    ctx.backend().conv2dBackwardFilterQuantized(xo.tensor(), inputStep(), dy.tensor(), weight.grad(), geometry);
                } else {
                    ctx.backend().conv2dBackwardFilter(xo.tensor(), dy.tensor(), weight.grad(), geometry);
                }
            });
        }
        if (needsInputGradient) dx = inputGradient(dy);
        savedInput.release();
        savedInput = null;
        dy.release();
        return dx;
    }

    /**
     * dx from dy and the weights. In a residual branch, where input and output shapes match, image slices
     * of dy are staged, run and written back over dy (when nothing else holds it), so backward needs no
     * second whole tensor. The network's structure and the backend decide it, so both save policies slice alike.
     */
    private Feature inputGradient(Feature dy) {
        Shape inShape = savedInput.tensor().shape();
        int n = inShape.dim(0);
        if (!inPlaceInputGradient || !ctx.slicedResidualBackward() || !inShape.equals(outShape) || n < 2) {
            Feature grad = ctx.feature(name + ".grad", inShape);
            dgrad(dy.tensor(), grad.tensor(), geometry);
            return grad;
        }
        Feature grad = dy.isExclusive() ? dy.retain() : ctx.feature(name + ".grad", inShape);
        int per = ExecutionContext.imagesPerSlice(n);
        for (int first = 0; first < n; first += per) {
            int count = Math.min(per, n - first);
            Tensor dyc = ctx.temp(name + ".grad", outShape.withDim(0, count)), dxc = ctx.temp(name + ".grad", inShape.withDim(0, count));
            ctx.backend().copyImages(dy.tensor(), first, dyc, 0, count);
            dgrad(dyc, dxc, geometry.withBatch(count));
            ctx.free(dyc);
            ctx.backend().copyImages(dxc, 0, grad.tensor(), first, count);
            ctx.free(dxc);
        }
        return grad;
    }

    private void dgrad(Tensor dy, Tensor dx, ConvGeometry g) {
        inWorkspace(g, Device.ConvPass.BACKWARD_DATA, () -> {
            if (weightCodes == null) {
                ctx.backend().conv2dBackwardData(dy, weights(false), dx, g);
            } else {
                ctx.backend().conv2dBackwardDataQuantized(dy, weights(false), weightScale, dx, g);
            }
        });
    }

    @Override
    public List<Parameter> parameters() {
        return weight == null ? List.of() : List.of(weight);
    }

    @Override
    public void close() {
        super.close();
        if (weightCodes != null) ctx.ledger().free(weightCodes);
        weightCodes = null;
    }
}
