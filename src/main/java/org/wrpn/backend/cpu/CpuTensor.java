package org.wrpn.backend.cpu;

import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** A CPU tensor: a Java array owned by one CpuBackend. Closing returns its bytes to the ledger. */
final class CpuTensor implements Tensor {
    final CpuBackend owner;
    final Shape shape;
    final DType dtype;
    final int bits;
    final long bytes;
    float[] f;
    int[] i;
    byte[] b;
    private boolean closed;

    CpuTensor(CpuBackend owner, DType dtype, Shape shape, int bits) {
        this.owner = owner;
        this.shape = shape;
        this.dtype = dtype;
        this.bits = bits;
        long n = shape.elements();
        switch (dtype) {
            case F32 -> {
                f = owner.pool.floats(checkedLength(n));
                bytes = 4L * n;
            }
            case I32 -> {
                i = owner.pool.ints(checkedLength(n));
                bytes = 4L * n;
            }
            case I8 -> {
                b = new byte[checkedLength(n)];
                bytes = n;
            }
            case PACKED -> {
                long words = shape.pixels() * PackedLayout.wordsPerPixel(shape.channels(), bits);
                i = owner.pool.ints(checkedLength(words));
                bytes = 4L * words;
            }
            default -> throw new IllegalArgumentException("unknown dtype " + dtype);
        }
    }

    private static int checkedLength(long n) {
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor too large for the CPU backend: " + n + " elements");
        return (int) n;
    }

    int length() {
        return (int) shape.elements();
    }

    boolean isClosed() {
        return closed;
    }

    @Override
    public Shape shape() {
        return shape;
    }

    @Override
    public DType dtype() {
        return dtype;
    }

    @Override
    public int bits() {
        return bits;
    }

    @Override
    public long bytes() {
        return bytes;
    }

    @Override
    public void close() {
        if (closed) return;
        closed = true;
        owner.pool.recycle(f);
        owner.pool.recycle(i);
        f = null;
        i = null;
        b = null;
        owner.released(this);
    }

    @Override
    public String toString() {
        return dtype + (dtype == DType.PACKED ? "(k=" + bits + ")" : "") + "[" + shape + "]";
    }
}
