package org.wrpn.nn;

import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The activation that feeds a layer: at 32 bits a plain ReLU (keeps its fp32 output for backward);
 * at k bits the WRPN quantized clipped ReLU (clamp to [0, 1], k-bit codes) with the straight-through
 * gradient masked to 0 &lt; x &lt; 1. Under the fp32 policy it outputs fp32 values and keeps its
 * fp32 input for the mask; under the packed policy it outputs packed k-bit codes and keeps only the
 * 1-bit mask.
 */
public final class Activation extends Layer {
    private final int bits;
    private Feature saved;
    private Tensor mask;

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
        // no geometry
    }

    /** Whether this activation takes batch norm's output straight from {@link #forwardAfter}: quantized, packed policy. */
    boolean fusesWithBatchNorm() {
        return isQuantized() && ctx.packed();
    }

    /**
     * Batch norm and this activation in one pass (training, packed policy): the norm's statistics, then
     * its apply, quantize, pack and mask fused, so the norm's fp32 output is never written. The same
     * bits as {@code bn.forward} followed by {@link #forward}.
     */
    Feature forwardAfter(BatchNorm2d bn, Feature x, boolean training) {
        if (!training) return forward(bn.forward(x, false), false);
        Shape shape = x.tensor().shape();
        Feature y = ctx.packedFeature(name, shape, bits);
        mask = ctx.packedState(name + ".mask", shape, 1);
        bn.forwardIntoCodes(x, bits, y.tensor(), mask);
        return y;
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        Shape shape = x.tensor().shape();
        if (!isQuantized()) {
            Feature y = ctx.feature(name, shape);
            try (ExecutionContext.Operand xf = ctx.floats(x, name)) {
                ctx.backend().relu(xf.tensor(), y.tensor());
            }
            x.release();
            if (training) saved = y.retain();
            return y;
        }
        if (ctx.packed()) {
            Feature y = ctx.packedFeature(name, shape, bits);
            if (training) mask = ctx.packedState(name + ".mask", shape, 1);
            ctx.backend().quantizePack(x.tensor(), bits, y.tensor(), mask);
            x.release();
            return y;
        }
        Feature y = ctx.feature(name, shape);
        ctx.backend().quantizeActivations(x.tensor(), bits, y.tensor());
        if (training) saved = x;
        else x.release();
        return y;
    }

    @Override
    public boolean canRecompute() {
        return isQuantized() && mask != null && producer != null && producer.canRecompute();
    }

    @Override
    public Tensor recompute() {
        Tensor z = producer.recompute();
        Tensor y = ctx.temp(name, z.shape());
        ctx.backend().quantizeActivations(z, bits, y);
        ctx.free(z);
        return y;
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        // The mask and ReLU gradients may overwrite dy when nothing else holds it.
        boolean inPlace = dy.isExclusive() && (!isQuantized() || mask != null);
        Feature dx = inPlace ? dy.retain() : ctx.feature(name + ".grad", dy.tensor().shape());
        if (!isQuantized()) {
            ctx.backend().reluBackward(saved.tensor(), dy.tensor(), dx.tensor());
        } else if (mask != null) {
            ctx.backend().maskGradient(mask, dy.tensor(), dx.tensor());
            ctx.free(mask);
            mask = null;
        } else {
            ctx.backend().quantizeActivationsBackward(saved.tensor(), dy.tensor(), dx.tensor());
        }
        if (saved != null) saved.release();
        saved = null;
        dy.release();
        return dx;
    }
}
