package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuEventCreate;
import static jcuda.driver.JCudaDriver.cuEventDestroy;
import static jcuda.driver.JCudaDriver.cuEventElapsedTime;
import static jcuda.driver.JCudaDriver.cuEventRecord;
import static jcuda.driver.JCudaDriver.cuEventSynchronize;

import jcuda.driver.CUevent;
import jcuda.driver.CUevent_flags;
import jcuda.driver.CUstream;

/** Times work on a backend's stream with a pair of CUDA events (device time, not host time). */
public final class CudaTimer implements AutoCloseable {
    private final CUstream stream;
    private final CUevent start = new CUevent();
    private final CUevent stop = new CUevent();

    CudaTimer(CUstream stream) {
        this.stream = stream;
        CudaRuntime.check(cuEventCreate(start, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
        CudaRuntime.check(cuEventCreate(stop, CUevent_flags.CU_EVENT_DEFAULT), "cuEventCreate");
    }

    public void start() {
        CudaRuntime.check(cuEventRecord(start, stream), "cuEventRecord");
    }

    public void stop() {
        CudaRuntime.check(cuEventRecord(stop, stream), "cuEventRecord");
    }

    /** Milliseconds between start() and stop(); waits for stop. */
    public float elapsedMillis() {
        CudaRuntime.check(cuEventSynchronize(stop), "cuEventSynchronize");
        float[] ms = {0};
        CudaRuntime.check(cuEventElapsedTime(ms, start, stop), "cuEventElapsedTime");
        return ms[0];
    }

    @Override
    public void close() {
        cuEventDestroy(start);
        cuEventDestroy(stop);
    }
}
