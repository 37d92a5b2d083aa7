package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;

import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import org.wrpn.backend.UninitializedMemory;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;

/**
 * One backend's device memory: its caching allocator, the zero-filled tensors it hands out (tracked
 * until closed) and op scratch. All of it is counted by the allocator, so the planner's figures hold.
 */
final class DeviceMemory {
    private final CudaStream stream;
    private final DeviceAllocator<CUdeviceptr> allocator;
    private final Set<CudaTensor> live = Collections.newSetFromMap(new IdentityHashMap<>());

    DeviceMemory(CudaStream stream) {
        this.stream = stream;
        this.allocator = new DeviceAllocator<>(new DriverMemory(stream.runtime()));
    }

    /** The allocator's side of the driver: cuMemAlloc and cuMemFree. */
    private record DriverMemory(CudaRuntime rt) implements DeviceAllocator.RawMemory<CUdeviceptr> {
        @Override
        public CUdeviceptr allocate(long bytes) {
            CUdeviceptr p = new CUdeviceptr();
            int rc = cuMemAlloc(p, bytes);
            if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) return null;
            CudaRuntime.check(rc, "cuMemAlloc(" + bytes + ")");
            return p;
        }

        @Override
        public void free(CUdeviceptr block) {
            CudaRuntime.check(cuMemFree(block), "cuMemFree");
        }

        @Override
        public long[] memoryInfo() {
            return rt.memoryInfo();
        }
    }

    /** A zero-filled or an uninitialized tensor (bits only for PACKED); see UninitializedMemory. */
    CudaTensor allocate(DType dtype, Shape shape, int bits, boolean zeroed) {
        stream.ensureOpen();
        stream.makeCurrent();
        long bytes = dtype.bytes(shape, dtype.bits(bits));
        DeviceAllocator.Block<CUdeviceptr> b = allocator.allocate(bytes);
        CudaTensor t = new CudaTensor(this, dtype, shape, bits, b);
        synchronized (live) {
            live.add(t);
        }
        if (zeroed || UninitializedMemory.POISON) {
            byte value = zeroed ? 0 : UninitializedMemory.POISON_BYTE;
            CudaRuntime.check(cuMemsetD8Async(b.pointer(), value, bytes, stream.handle()), "cuMemsetD8Async");
        }
        return t;
    }

    void release(CudaTensor t, DeviceAllocator.Block<CUdeviceptr> b) {
        synchronized (live) {
            live.remove(t);
        }
        allocator.release(b);
    }

    /** The allocator, for its figures (in use, reserved, their peaks, driver allocations). */
    DeviceAllocator<CUdeviceptr> allocator() {
        return allocator;
    }

    /** Returns the allocator's cached blocks to the driver, once the stream is idle. */
    void emptyCache() {
        stream.synchronize();
        allocator.emptyCache();
    }

    /** Scratch device memory for the duration of one op, from the caching allocator (so counted). */
    Scratch scratch(long bytes) {
        stream.ensureOpen();
        stream.makeCurrent();
        return new Scratch(allocator.allocate(bytes));
    }

    final class Scratch implements AutoCloseable {
        private final DeviceAllocator.Block<CUdeviceptr> block;

        private Scratch(DeviceAllocator.Block<CUdeviceptr> block) {
            this.block = block;
        }

        CUdeviceptr at(long byteOffset) {
            return block.pointer().withByteOffset(byteOffset);
        }

        @Override
        public void close() {
            // Stream-ordered reuse: whatever takes the block next queues behind the kernels using it.
            allocator.release(block);
        }
    }

    /** Closes every live tensor and frees the cache (the stream is already drained). */
    void close() {
        List<CudaTensor> open;
        synchronized (live) {
            open = List.copyOf(live);
        }
        for (CudaTensor t : open) t.close();
        allocator.emptyCache();
    }
}
