package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemHostAlloc;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuStreamCreate;

import java.nio.ByteOrder;
import java.nio.FloatBuffer;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;

/**
 * Run by EmulatedDriverFaultTest in a child JVM on the emulated driver: (1) a copy into pinned memory
 * is still stale before the stream is synchronised; (2) a kernel that runs past an exact-size
 * allocation fails at the synchronisation with CUDA_ERROR_ILLEGAL_ADDRESS, (3) which is sticky, (4)
 * and the JVM survives the fault. Prints "probe: ..." lines; exits non-zero when one fails.
 */
public final class EmulatedDriverFaultProbe {
    private EmulatedDriverFaultProbe() {}

    public static void main(String[] args) {
        CudaRuntime rt = CudaRuntime.get();
        rt.makeCurrent();
        CUstream stream = new CUstream();
        CudaRuntime.check(cuStreamCreate(stream, 1), "cuStreamCreate");
        int n = 1024;
        CUdeviceptr a = new CUdeviceptr(), b = new CUdeviceptr(), y = new CUdeviceptr();
        CudaRuntime.check(cuMemAlloc(a, 8L * n), "cuMemAlloc");
        CudaRuntime.check(cuMemAlloc(b, 8L * n), "cuMemAlloc");
        CudaRuntime.check(cuMemAlloc(y, 4L * n), "cuMemAlloc");  // 4096 bytes: its end is a guard page
        boolean ok = true;

        Pointer host = new Pointer();
        CudaRuntime.check(cuMemHostAlloc(host, 4L * n, 0), "cuMemHostAlloc");
        FloatBuffer view = host.getByteBuffer(0, 4L * n).order(ByteOrder.nativeOrder()).asFloatBuffer();
        view.put(0, -1f);
        CudaRuntime.check(cuMemsetD32Async(y, Float.floatToRawIntBits(3f), n, stream), "cuMemsetD32Async");
        CudaRuntime.check(cuMemcpyDtoHAsync(host, y, 4L * n, stream), "cuMemcpyDtoHAsync");
        float before = view.get(0);
        rt.synchronize(stream);
        float after = view.get(0);
        System.out.println("probe: before synchronising the pinned copy reads " + before + ", after " + after);
        ok &= before == -1f && after == 3f;

        Pointer overrun = Pointer.to(Pointer.to(a), Pointer.to(b), Pointer.to(y), Pointer.to(new long[] {n + 64}));
        rt.launch("add_f32", 2, 256, 0, stream, overrun);
        try {
            rt.synchronize(stream);
            System.out.println("probe: FAIL the overrun was not caught");
            ok = false;
        } catch (CudaError e) {
            System.out.println("probe: caught " + e.getMessage());
            ok &= e.code() == CUresult.CUDA_ERROR_ILLEGAL_ADDRESS;
        }
        int rc = cuMemAlloc(new CUdeviceptr(), 256);
        System.out.println("probe: the next call returns " + CUresult.stringFor(rc));
        ok &= rc == CUresult.CUDA_ERROR_ILLEGAL_ADDRESS;
        System.out.println(ok ? "probe: done" : "probe: FAILED");
        System.exit(ok ? 0 : 1);
    }
}
