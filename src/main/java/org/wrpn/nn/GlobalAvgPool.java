package org.wrpn.nn;

import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** (N, H, W, C) to (N, C) by averaging each channel. */
public final class GlobalAvgPool extends Layer {
    private Tensor y;
    private Tensor dx;

    public GlobalAvgPool(String name) {
        super(name);
    }

    @Override
    public Shape outputShape(Shape in) {
        if (in.rank() != 4) throw new IllegalArgumentException(name + " expects (N,H,W,C) input, got " + in);
        return Shape.of(in.dim(0), in.dim(3));
    }

    @Override
    public void prepare(Shape in) {
        releaseBuffers();
        y = backend.allocate(DType.F32, outputShape(in));
        dx = backend.allocate(DType.F32, in);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        backend.globalAvgPoolForward(x, y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        backend.globalAvgPoolBackward(dy, dx);
        return dx;
    }

    @Override
    public void releaseBuffers() {
        free(y);
        free(dx);
        y = dx = null;
    }
}
