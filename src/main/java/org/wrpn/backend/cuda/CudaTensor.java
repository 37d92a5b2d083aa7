package org.wrpn.backend.cuda;

import jcuda.driver.CUdeviceptr;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** A tensor in GPU memory: one allocator block, owned by one CudaBackend. */
final class CudaTensor implements Tensor {
    final CudaBackend owner;
    final DType dtype;
    final Shape shape;
    final int bits;
    final long bytes;
    private DeviceAllocator.Block<CUdeviceptr> block;

    CudaTensor(CudaBackend owner, DType dtype, Shape shape, int bits, long bytes, DeviceAllocator.Block<CUdeviceptr> block) {
        this.owner = owner;
        this.dtype = dtype;
        this.shape = shape;
        this.bits = bits;
        this.bytes = bytes;
        this.block = block;
    }

    CUdeviceptr ptr() {
        if (block == null) throw new IllegalStateException("tensor " + this + " was closed");
        return block.pointer();
    }

    boolean isClosed() {
        return block == null;
    }

    long elements() {
        return shape.elements();
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
        if (block == null) return;
        DeviceAllocator.Block<CUdeviceptr> b = block;
        block = null;
        owner.release(this, b);
    }

    @Override
    public String toString() {
        return "cuda:" + dtype + (dtype == DType.PACKED ? "(k=" + bits + ")" : "") + "[" + shape + "]";
    }
}
