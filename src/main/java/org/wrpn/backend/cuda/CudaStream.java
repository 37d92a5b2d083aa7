package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import jcuda.Pointer;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;

/** One backend's stream and its open/closed state: every kernel, copy and wait of that backend goes through it. */
final class CudaStream {
    private final CudaRuntime rt;
    private final CUstream stream = new CUstream();
    private boolean closed;

    CudaStream(CudaRuntime rt) {
        this.rt = rt;
        rt.makeCurrent();
        CudaRuntime.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
    }

    CudaRuntime runtime() {
        return rt;
    }

    CUstream handle() {
        return stream;
    }

    void makeCurrent() {
        rt.makeCurrent();
    }

    void ensureOpen() {
        if (closed) throw new IllegalStateException("the CUDA backend was closed");
    }

    boolean isClosed() {
        return closed;
    }

    /** A kernel launch to build: its arguments, then a grid rule that queues it. */
    KernelCall launch(String kernel) {
        ensureOpen();
        rt.makeCurrent();
        return new KernelCall(this, kernel);
    }

    void run(String kernel, long grid, int block, Pointer params) {
        rt.launch(kernel, grid, block, 0, stream, params);
    }

    int fullGrid(String kernel, int block) {
        return rt.fullGrid(kernel, block);
    }

    /** Waits until everything queued so far has run. */
    void synchronize() {
        rt.makeCurrent();
        rt.synchronize(stream);
    }

    /** Marks the stream closed (ops fail from now on); {@link #destroy} frees it once its users are done. */
    void markClosed() {
        closed = true;
    }

    void destroy() {
        cuStreamDestroy(stream);
    }
}
