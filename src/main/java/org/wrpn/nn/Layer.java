package org.wrpn.nn;

import java.util.List;
import org.wrpn.backend.Backend;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * A layer with an explicit forward and backward pass. A layer owns its output and input-gradient
 * buffers (sized for one batch size by {@link #prepare}) and keeps what its backward pass needs.
 * forward's input tensor must stay unchanged until backward runs: every layer writes only its own
 * buffers, so within one step nothing overwrites an earlier layer's output.
 */
public abstract class Layer implements AutoCloseable {
    protected final String name;
    protected Backend backend;

    protected Layer(String name) {
        this.name = name;
    }

    public String name() {
        return name;
    }

    /** Output shape for an input shape (both including the batch dimension). */
    public abstract Shape outputShape(Shape input);

    /** Allocates parameters (once) and initialises them from the given random source. */
    public void initialize(Backend backend, java.util.SplittableRandom random) {
        this.backend = backend;
    }

    /** (Re)allocates per-batch buffers for this input shape. */
    public abstract void prepare(Shape input);

    public abstract Tensor forward(Tensor x, boolean training);

    /** Returns dL/dx, or null when needsInputGradient is false (the first layer). */
    public abstract Tensor backward(Tensor dy, boolean needsInputGradient);

    public List<Parameter> parameters() {
        return List.of();
    }

    /** Frees per-batch buffers. */
    public abstract void releaseBuffers();

    @Override
    public void close() {
        releaseBuffers();
        for (Parameter p : parameters()) p.close();
    }

    protected static void free(Tensor t) {
        if (t != null) t.close();
    }
}
