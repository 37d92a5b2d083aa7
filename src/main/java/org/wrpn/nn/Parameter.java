package org.wrpn.nn;

import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * A named tensor of a layer's state. Trainable parameters carry an fp32 master value, a gradient and
 * a momentum buffer; non-trainable state (BN running statistics) carries only the value.
 */
public final class Parameter implements AutoCloseable {
    private final String name;
    private final Shape shape;
    private final boolean trainable;
    private final boolean weightDecay;
    private final int weightBits;
    private final Tensor value;
    private final Tensor grad;
    private final Tensor velocity;
    private final MemoryLedger ledger;

    private Parameter(MemoryLedger ledger, String name, Shape shape, boolean trainable, boolean weightDecay,
            int weightBits) {
        this.ledger = ledger;
        this.name = name;
        this.shape = shape;
        this.trainable = trainable;
        this.weightDecay = weightDecay;
        this.weightBits = weightBits;
        this.value = ledger.allocate(Category.MASTER_WEIGHTS, name, DType.F32, shape);
        this.grad = trainable ? ledger.allocate(Category.GRADIENTS, name, DType.F32, shape) : null;
        this.velocity = trainable ? ledger.allocate(Category.OPTIMIZER_STATE, name, DType.F32, shape) : null;
    }

    /** A trainable parameter; weightDecay is false for BN scales/shifts and biases. */
    public static Parameter trainable(MemoryLedger ledger, String name, Shape shape, boolean weightDecay) {
        return new Parameter(ledger, name, shape, true, weightDecay, Quantizer.FULL_PRECISION);
    }

    /** The fp32 masters of a layer whose weights are quantized (the trainer may constrain them to [-1, 1]). */
    public static Parameter quantizedWeight(MemoryLedger ledger, String name, Shape shape, int weightBits) {
        if (weightBits >= Quantizer.FULL_PRECISION) throw new IllegalArgumentException(name + ": not quantized at " + weightBits + " bits");
        return new Parameter(ledger, name, shape, true, true, weightBits);
    }

    /** Saved state that the optimizer does not touch, such as BN running statistics. */
    public static Parameter state(MemoryLedger ledger, String name, Shape shape) {
        return new Parameter(ledger, name, shape, false, false, Quantizer.FULL_PRECISION);
    }

    public String name() {
        return name;
    }

    public Shape shape() {
        return shape;
    }

    public boolean isTrainable() {
        return trainable;
    }

    public boolean hasWeightDecay() {
        return weightDecay;
    }

    /** Whether these are the masters of quantized weights (k &lt; 32). */
    public boolean isQuantizedWeight() {
        return weightBits < Quantizer.FULL_PRECISION;
    }

    /** The bits these weights are quantized to in the forward pass (32: not quantized). */
    public int weightBits() {
        return weightBits;
    }

    /** Inputs per output: the elements of one slice along the first dimension (a conv's kh·kw·cin, a linear's in). */
    public long fanIn() {
        return shape.elements() / shape.dim(0);
    }

    public Tensor value() {
        return value;
    }

    public Tensor grad() {
        return grad;
    }

    public Tensor velocity() {
        return velocity;
    }

    @Override
    public void close() {
        ledger.free(value);
        if (grad != null) ledger.free(grad);
        if (velocity != null) ledger.free(velocity);
    }
}
