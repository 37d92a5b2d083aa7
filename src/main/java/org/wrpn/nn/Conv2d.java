package org.wrpn.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * 2-D convolution without bias (batch norm follows), weights (cout, k, k, cin), quantized to
 * {@code weightBits} each step from the fp32 master copy; the gradient passes straight through to the
 * master weights. Keeps its input for backward in whatever form it arrived: packed codes of the
 * previous block (stored once, shared with whoever else keeps them) or fp32.
 */
public final class Conv2d extends Layer {
    private final int cin;
    private final int cout;
    private final int kernel;
    private final int stride;
    private final int pad;
    private final int weightBits;
    private Parameter weight;
    private Tensor quantized;
    private ConvGeometry geometry;
    private Shape outShape;
    private Feature savedInput;

    public Conv2d(String name, int cin, int cout, int kernel, int stride, int pad, int weightBits) {
        super(name);
        this.cin = cin;
        this.cout = cout;
        this.kernel = kernel;
        this.stride = stride;
        this.pad = pad;
        this.weightBits = weightBits;
    }

    public int weightBits() {
        return weightBits;
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
        weight = Parameter.trainable(ctx.ledger(), name + ".weight", ws, true);
        int fanIn = kernel * kernel * cin;
        if (ctx.backend().computes()) {
            ctx.backend().upload(Init.heNormal((int) ws.elements(), fanIn, Init.quantizedGain(weightBits, fanIn), random),
                    weight.value());
        }
        if (weightBits != Quantizer.FULL_PRECISION) {
            quantized = ctx.ledger().allocate(Category.QUANTIZED_WEIGHTS, name + ".weight", DType.F32, ws);
        }
    }

    @Override
    public void prepare(Shape in) {
        geometry = geometryFor(in);
        outShape = outputShape(in);
    }

    private Tensor weights(boolean requantize) {
        if (quantized == null) return weight.value();
        if (requantize) ctx.backend().quantizeWeights(weight.value(), weightBits, quantized);
        return quantized;
    }

    private Tensor convolve(Feature x, Tensor w) {
        Tensor y = ctx.temp(name, outShape);
        try (ExecutionContext.Floats xf = ctx.floats(x, name)) {
            ctx.ledger().beginWorkspace(ctx.backend().convWorkspaceBytes(geometry));
            try {
                ctx.backend().conv2dForward(xf.tensor(), w, y, geometry);
            } finally {
                ctx.ledger().endWorkspace();
            }
        }
        return y;
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        Feature y = new Feature(convolve(x, weights(true)), ctx.ledger());
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
        return convolve(savedInput, weights(false));
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Feature dx = null;
        try (ExecutionContext.Floats xf = ctx.floats(savedInput, name)) {
            ctx.ledger().beginWorkspace(ctx.backend().convWorkspaceBytes(geometry));
            try {
                ctx.backend().conv2dBackwardFilter(xf.tensor(), dy.tensor(), weight.grad(), geometry);
                if (needsInputGradient) {
                    dx = ctx.feature(name + ".grad", savedInput.tensor().shape());
                    ctx.backend().conv2dBackwardData(dy.tensor(), weights(false), dx.tensor(), geometry);
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
        return weight == null ? List.of() : List.of(weight);
    }

    @Override
    public void close() {
        super.close();
        if (quantized != null) ctx.ledger().free(quantized);
        quantized = null;
    }
}
