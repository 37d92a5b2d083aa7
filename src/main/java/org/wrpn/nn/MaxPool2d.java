package org.wrpn.nn;

import org.wrpn.backend.PoolGeometry;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** Max pooling with a square window; keeps the winning positions for backward. */
public final class MaxPool2d extends Layer {
    private final int window;
    private final int stride;
    private final int pad;
    private PoolGeometry geometry;
    private Tensor y;
    private Tensor argmax;
    private Tensor dx;

    public MaxPool2d(String name, int window, int stride, int pad) {
        super(name);
        this.window = window;
        this.stride = stride;
        this.pad = pad;
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
        releaseBuffers();
        geometry = geometryFor(in);
        Shape out = outputShape(in);
        y = backend.allocate(DType.F32, out);
        argmax = backend.allocate(DType.I32, out);
        dx = backend.allocate(DType.F32, in);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        backend.maxPoolForward(x, y, argmax, geometry);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        backend.maxPoolBackward(dy, argmax, dx, geometry);
        return dx;
    }

    @Override
    public void releaseBuffers() {
        free(y);
        free(argmax);
        free(dx);
        y = argmax = dx = null;
    }
}
