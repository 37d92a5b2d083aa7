package org.wrpn.nn;

import org.wrpn.backend.PoolGeometry;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Max pooling with a square window. Pools codes as codes: packed input gives packed output of the
 * same width. Keeps its choices (argmax) for backward; under the packed policy it keeps its packed
 * input instead (k bits per value, less than the choices' 32 bits per output from k = 8 down at a
 * 2x2 window) and pools it again in backward, which gives the same choices.
 */
public final class MaxPool2d extends Layer {
    private final int window;
    private final int stride;
    private final int pad;
    private PoolGeometry geometry;
    private Shape inShape;
    private Shape outShape;
    private Tensor argmax;
    private Feature savedCodes;

    public MaxPool2d(String name, int window, int stride, int pad) {
        super(name);
        this.window = window;
        this.stride = stride;
        this.pad = pad;
    }

    public int window() {
        return window;
    }

    public int stride() {
        return stride;
    }

    public int padding() {
        return pad;
    }

    private PoolGeometry geometryFor(Shape in) {
        if (in.rank() != 4) throw new IllegalArgumentException(name + " expects (N,H,W,C) input, got " + in);
        return new PoolGeometry(in.dim(0), in.dim(1), in.dim(2), in.dim(3), window, stride, pad);
    }

    @Override
    public Shape outputShape(Shape in) {
        PoolGeometry g = geometryFor(in);
        return Shape.nhwc(in.dim(0), g.outH(), g.outW(), in.dim(3));
    }

    @Override
    public void prepare(Shape in) {
        geometry = geometryFor(in);
        inShape = in;
        outShape = outputShape(in);
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        boolean keepCodes = training && ctx.packed() && x.isPacked();
        Tensor choices = training && !keepCodes ? ctx.state(name + ".argmax", DType.I32, outShape) : ctx.tempInts(name, outShape);
        Feature y = pool(x, choices);
        if (keepCodes) savedCodes = x;
        else x.release();
        if (training && !keepCodes) {
            argmax = choices;
        } else {
            ctx.free(choices);
        }
        return y;
    }

    /** Pools x (codes as codes) and writes the choices. */
    private Feature pool(Feature x, Tensor choices) {
        if (x.isPacked()) {
            Feature y = ctx.packedFeature(name, outShape, x.bits());
            ctx.backend().maxPoolPacked(x.tensor(), y.tensor(), choices, geometry);
            return y;
        }
        Feature y = ctx.feature(name, outShape);
        ctx.backend().maxPoolForward(x.tensor(), y.tensor(), choices, geometry);
        return y;
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Tensor choices = argmax;
        if (choices == null) {
            choices = ctx.tempInts(name, outShape);
            pool(savedCodes, choices).release(); // the choices again; the pooled codes are not needed
            savedCodes.release();
            savedCodes = null;
        }
        Feature dx = ctx.feature(name + ".grad", inShape);
        ctx.backend().maxPoolBackward(dy.tensor(), choices, dx.tensor(), geometry);
        ctx.free(choices);
        argmax = null;
        dy.release();
        return dx;
    }
}
