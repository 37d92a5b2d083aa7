package org.wrpn.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * 2-D convolution without bias (batch norm follows), weights (cout, k, k, cin), with weights quantized
 * to {@code weightBits} each step from the fp32 master copy; the gradient passes straight through to
 * the master weights.
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
    private Tensor y;
    private Tensor dx;
    private Tensor input;

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

    public int outChannels() {
        return cout;
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
    public void initialize(Backend backend, SplittableRandom random) {
        super.initialize(backend, random);
        Shape ws = Shape.of(cout, kernel, kernel, cin);
        weight = Parameter.trainable(backend, name + ".weight", ws, true);
        int fanIn = kernel * kernel * cin;
        backend.upload(Init.heNormal((int) ws.elements(), fanIn, Init.quantizedGain(weightBits, fanIn), random), weight.value());
        if (weightBits != Quantizer.FULL_PRECISION) quantized = backend.allocate(DType.F32, ws);
    }

    @Override
    public void prepare(Shape in) {
        releaseBuffers();
        geometry = geometryFor(in);
        y = backend.allocate(DType.F32, outputShape(in));
        dx = backend.allocate(DType.F32, in);
    }

    /** The weights the convolution uses: the quantized copy, remade from the master weights. */
    private Tensor effectiveWeights() {
        if (quantized == null) return weight.value();
        backend.quantizeWeights(weight.value(), weightBits, quantized);
        return quantized;
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        backend.conv2dForward(x, effectiveWeights(), y, geometry);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        backend.conv2dBackwardFilter(input, dy, weight.grad(), geometry);
        if (!needsInputGradient) return null;
        backend.conv2dBackwardData(dy, quantized == null ? weight.value() : quantized, dx, geometry);
        return dx;
    }

    @Override
    public List<Parameter> parameters() {
        return weight == null ? List.of() : List.of(weight);
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
