package org.wrpn.nn;

import java.util.List;
import org.wrpn.backend.Backend;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** What every layer of one network shares: the backend, the memory ledger and the save policy. */
public final class ExecutionContext {
    private final Backend backend;
    private final MemoryLedger ledger;
    private final SavePolicy policy;
    private boolean slicedResidualBackward;
    private Replicas replicas;

    public ExecutionContext(Backend backend, SavePolicy policy) {
        this.backend = backend;
        this.ledger = new MemoryLedger(backend);
        this.policy = policy;
        this.slicedResidualBackward = backend.slicesResidualBackward();
    }

    /** Whether residual branches work through backward in image slices (the backend's choice unless set). */
    public boolean slicedResidualBackward() {
        return slicedResidualBackward;
    }

    /** Overrides the backend's choice (tests run both ways on one backend). */
    public void sliceResidualBackward(boolean v) {
        slicedResidualBackward = v;
    }

    /** The other replicas of a data-parallel job, or null when this network trains alone. */
    public Replicas replicas() {
        return replicas;
    }

    public void replicas(Replicas r) {
        replicas = r;
    }

    /** Tells the replicas (if any) that layer's backward is done: its parameter gradients are final. */
    void backwardDone(Layer layer) {
        if (replicas != null) {
            List<Parameter> ps = layer.parameters().stream().filter(Parameter::isTrainable).toList();
            if (!ps.isEmpty()) replicas.gradientsReady(ps);
        }
    }

    public Backend backend() {
        return backend;
    }

    public MemoryLedger ledger() {
        return ledger;
    }

    public SavePolicy policy() {
        return policy;
    }

    public boolean packed() {
        return policy == SavePolicy.PACKED;
    }

    // Activations, gradients, scratch and layer state are all written in full by the op that makes
    // them before anything reads them (the op contract: outputs are overwritten), so none is zero-filled.

    /** A new fp32 activation or gradient. */
    public Feature feature(String owner, Shape shape) {
        return new Feature(ledger.allocateOutput(Category.ACTIVATIONS, owner, DType.F32, shape), ledger);
    }

    /** New k-bit packed activation codes. */
    public Feature packedFeature(String owner, Shape shape, int bits) {
        return new Feature(ledger.allocatePackedOutput(Category.ACTIVATIONS, owner, shape, bits), ledger);
    }

    /** A scratch fp32 tensor; free it with {@link #free}. */
    public Tensor temp(String owner, Shape shape) {
        return ledger.allocateOutput(Category.ACTIVATIONS, owner, DType.F32, shape);
    }

    public Tensor tempInts(String owner, Shape shape) {
        return ledger.allocateOutput(Category.ACTIVATIONS, owner, DType.I32, shape);
    }

    /** Layer state kept for backward (masks, pool choices, BN batch statistics). */
    public Tensor state(String owner, DType dtype, Shape shape) {
        return ledger.allocateOutput(Category.LAYER_STATE, owner, dtype, shape);
    }

    public Tensor packedState(String owner, Shape shape, int bits) {
        return ledger.allocatePackedOutput(Category.LAYER_STATE, owner, shape, bits);
    }

    public void free(Tensor t) {
        ledger.free(t);
    }

    /**
     * Ops that walk a batch a slice at a time (a residual branch's in-place input gradients and
     * chunked batch-norm backward) take this many slices: a slice's scratch is 1/32 of the tensor.
     */
    public static final int BATCH_SLICES = 32;

    /** Images per slice of a batch of n ({@link #BATCH_SLICES}). */
    public static int imagesPerSlice(int n) {
        return Math.max(1, (n + BATCH_SLICES - 1) / BATCH_SLICES);
    }

    /** A scratch copy of images [first, first + count) of f, of its dtype (codes stay codes); release it. */
    public Feature images(Feature f, int first, int count, String owner) {
        Tensor t = f.tensor();
        Shape s = t.shape().withDim(0, count);
        Tensor slice = f.isPacked() ? ledger.allocatePackedOutput(Category.ACTIVATIONS, owner, s, f.bits())
                : ledger.allocateOutput(Category.ACTIVATIONS, owner, DType.F32, s);
        backend.copyImages(t, first, slice, 0, count);
        return new Feature(slice, ledger);
    }

    /** fp32 values of a feature: the tensor itself, or unpacked codes in a scratch tensor. */
    public Operand floats(Feature f, String owner) {
        if (!f.isPacked()) return new Operand(f.tensor(), null);
        Tensor t = temp(owner, f.tensor().shape());
        backend.unpackValues(f.tensor(), t);
        return new Operand(t, ledger);
    }

    /**
     * k-bit codes of a feature that holds a quantized activation: the packed tensor itself, or (under
     * the fp32 policy, where activations flow as their values) its codes re-derived exactly into a
     * scratch packed tensor.
     */
    public Operand codes(Feature f, int bits, String owner) {
        if (f.isPacked()) {
            if (f.bits() != bits) throw new IllegalStateException(owner + " expects " + bits + "-bit codes, got " + f.bits());
            return new Operand(f.tensor(), null);
        }
        Tensor t = ledger.allocatePackedOutput(Category.ACTIVATIONS, owner, f.tensor().shape(), bits);
        backend.quantizePack(f.tensor(), bits, t, null);
        return new Operand(t, ledger);
    }

    /** A view of fp32 values (or of codes) that frees its scratch copy, if any, on close. */
    public record Operand(Tensor tensor, MemoryLedger owner) implements AutoCloseable {
        @Override
        public void close() {
            if (owner != null) owner.free(tensor);
        }
    }
}
