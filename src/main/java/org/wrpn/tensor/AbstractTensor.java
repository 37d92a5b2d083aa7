package org.wrpn.tensor;

/**
 * What every backend's tensor shares: format, shape, size (from {@link DType#bytes}) and a close that
 * runs once. Subclasses hold the storage and say in {@link #release()} how to give it back.
 */
public abstract class AbstractTensor implements Tensor {
    private final DType dtype;
    private final Shape shape;
    private final int bits;
    private final long bytes;
    private boolean closed;

    /** packedBits is the code width for PACKED tensors and ignored otherwise. */
    protected AbstractTensor(DType dtype, Shape shape, int packedBits) {
        this.dtype = dtype;
        this.shape = shape;
        this.bits = dtype.bits(packedBits);
        this.bytes = dtype.bytes(shape, bits);
    }

    @Override
    public final Shape shape() {
        return shape;
    }

    @Override
    public final DType dtype() {
        return dtype;
    }

    @Override
    public final int bits() {
        return bits;
    }

    @Override
    public final long bytes() {
        return bytes;
    }

    public final long elements() {
        return shape.elements();
    }

    public final boolean isClosed() {
        return closed;
    }

    @Override
    public final void close() {
        if (closed) return;
        closed = true;
        release();
    }

    /** Gives the storage back; called once, by the first close. */
    protected abstract void release();

    /** A prefix naming the backend in messages ("" for the CPU). */
    protected String where() {
        return "";
    }

    @Override
    public String toString() {
        return where() + dtype + (dtype == DType.PACKED ? "(k=" + bits + ")" : "") + "[" + shape + "]";
    }
}
