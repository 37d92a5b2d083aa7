package org.wrpn.nn;

import org.wrpn.tensor.Shape;

/** (N, H, W, C) to (N, C) by averaging each channel; keeps nothing for backward. */
public final class GlobalAvgPool extends Layer {
    private Shape inShape;

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
        inShape = in;
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        Feature y = ctx.feature(name, outputShape(inShape));
        try (ExecutionContext.Operand xf = ctx.floats(x, name)) {
            ctx.backend().globalAvgPoolForward(xf.tensor(), y.tensor());
        }
        x.release();
        return y;
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Feature dx = ctx.feature(name + ".grad", inShape);
        ctx.backend().globalAvgPoolBackward(dy.tensor(), dx.tensor());
        dy.release();
        return dx;
    }
}
