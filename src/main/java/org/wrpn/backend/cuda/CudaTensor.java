package org.wrpn.backend.cuda;

import jcuda.driver.CUdeviceptr;
import org.wrpn.tensor.AbstractTensor;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;

/** A tensor in GPU memory: one allocator block, owned by one backend's {@link DeviceMemory}. */
final class CudaTensor extends AbstractTensor {
    final DeviceMemory owner;
    private DeviceAllocator.Block<CUdeviceptr> block;

    CudaTensor(DeviceMemory owner, DType dtype, Shape shape, int bits, DeviceAllocator.Block<CUdeviceptr> block) {
        super(dtype, shape, bits);
        this.owner = owner;
        this.block = block;
    }

    CUdeviceptr ptr() {
        if (block == null) throw new IllegalStateException("tensor " + this + " was closed");
        return block.pointer();
    }

    @Override
    protected void release() {
        DeviceAllocator.Block<CUdeviceptr> b = block;
        block = null;
        owner.release(this, b);
    }

    @Override
    protected String where() {
        return "cuda:";
    }
}
