package org.wrpn.nn;

import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The activation that feeds a layer: at 32 bits a plain ReLU; at k bits the WRPN quantized clipped
 * ReLU (clamp to [0, 1], k-bit codes) with the straight-through gradient masked to 0 &lt; x &lt; 1.
 */
public final class Activation extends Layer {
    private final int bits;
    private Tensor y;
    private Tensor dx;
    private Tensor input;

    public Activation(String name, int bits) {
        super(name);
        if (!Quantizer.isValidActivationBits(bits)) throw new IllegalArgumentException("activation bits " + bits);
        this.bits = bits;
    }

    public int bits() {
        return bits;
    }

    public boolean isQuantized() {
        return bits != Quantizer.FULL_PRECISION;
    }

    @Override
    public Shape outputShape(Shape in) {
        return in;
    }

    @Override
    public void prepare(Shape in) {
        releaseBuffers();
        y = backend.allocate(DType.F32, in);
        dx = backend.allocate(DType.F32, in);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        input = x;
        if (isQuantized()) backend.quantizeActivations(x, bits, y);
        else backend.relu(x, y);
        return y;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        if (isQuantized()) backend.quantizeActivationsBackward(input, dy, dx);
        else backend.reluBackward(y, dy, dx);
        return dx;
    }

    @Override
    public void releaseBuffers() {
        free(y);
        free(dx);
        y = dx = null;
        input = null;
    }
}
