package org.wrpn.nn;

import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * A layer with an explicit forward and backward pass. forward consumes one reference to its input
 * and returns a new feature; a layer that needs its input for backward retains it (fp32 policy) or,
 * under the packed policy, asks its producer to recompute it ({@link #recompute}). backward consumes
 * dy and returns dx. Everything a layer keeps between the two passes is allocated through the
 * context's memory ledger, tagged with the layer's name.
 */
public abstract class Layer implements AutoCloseable {
    protected final String name;
    protected ExecutionContext ctx;
    /** The layer whose output this layer reads, when it can recompute it; set by Sequential. */
    protected Layer producer;

    protected Layer(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Output shape for an input shape (both including the batch dimension). */
    public abstract Shape outputShape(Shape input);

    /** Binds the layer to its context and allocates its parameters. */
    public void initialize(ExecutionContext ctx, SplittableRandom random) {
        this.ctx = ctx;
    }

    /** Sets the batch geometry; allocates nothing. */
    public abstract void prepare(Shape input);

    public abstract Feature forward(Feature x, boolean training);

    /** Returns dL/dx, or null when needsInputGradient is false (the first layer). */
    public abstract Feature backward(Feature dy, boolean needsInputGradient);

    /** Whether {@link #recompute} can rebuild this layer's last training-mode output in backward. */
    public boolean canRecompute() {
        return false;
    }

    /** This layer's last training-mode forward output as fp32 values, in a scratch tensor the caller frees. */
    public Tensor recompute() {
        throw new IllegalStateException(name + " cannot recompute its output");
    }

    void setProducer(Layer p) {
        this.producer = p;
    }

    public List<Parameter> parameters() {
        return List.of();
    }

    @Override
    public void close() {
        for (Parameter p : parameters()) p.close();
    }
}
