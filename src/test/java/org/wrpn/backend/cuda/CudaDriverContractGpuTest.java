package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;

/**
 * What the backend relies on from the driver, checked on the GPU (in the device bundle) and on the
 * emulated driver (EmulatedGpuRun): a thread has no context current until it makes one current (so
 * every entry point must call CudaRuntime.makeCurrent), a module the JIT rejects comes with the JIT's
 * error log in the exception, and kernel arguments are checked against the PTX .param sizes before
 * they reach the driver.
 */
@Tag("gpu")
class CudaDriverContractGpuTest {
    private static CudaBackend be;
    private static CudaRuntime rt;

    @BeforeAll
    static void start() {
        be = Gpu.backendOrSkip();
        rt = CudaRuntime.get();
    }

    @AfterAll
    static void stop() {
        if (be != null) be.close();
    }

    @Test
    void aThreadWithoutTheContextCurrentIsRefusedUntilItMakesItCurrent() throws InterruptedException {
        int[] rc = {-1, -1};
        Thread t = new Thread(() -> {
            CUdeviceptr p = new CUdeviceptr();
            rc[0] = cuMemAlloc(p, 256);
            if (rc[0] == CUresult.CUDA_SUCCESS) cuMemFree(p);
            rt.makeCurrent();
            rc[1] = cuMemAlloc(p, 256);
            if (rc[1] == CUresult.CUDA_SUCCESS) cuMemFree(p);
        });
        t.start();
        t.join();
        assertEquals(CUresult.stringFor(CUresult.CUDA_ERROR_INVALID_CONTEXT), CUresult.stringFor(rc[0]));
        assertEquals(CUresult.stringFor(CUresult.CUDA_SUCCESS), CUresult.stringFor(rc[1]));
    }

    /** Valid PTX syntax around an undefined register: the JIT must refuse it and say where. */
    private static final String BROKEN = """
            .version 8.0
            .target sm_80
            .address_size 64
            .visible .entry wrpn_jit_log_probe(
            \t.param .u64 wrpn_jit_log_probe_param_0
            )
            {
            \t.reg .b32 %r<2>;
            \tmov.u32 %r1, %wrpn_undefined_register;
            \tret;
            }
            """;

    @Test
    void aModuleTheJitRejectsThrowsWithTheJitErrorLog() {
        byte[] text = BROKEN.getBytes(StandardCharsets.US_ASCII);
        byte[] image = new byte[text.length + 1];
        System.arraycopy(text, 0, image, 0, text.length);
        CudaError e = assertThrows(CudaError.class, () -> rt.loadModule("a broken probe module", image, "8.0"));
        assertEquals(CUresult.CUDA_ERROR_INVALID_PTX, e.code(), e.getMessage());
        int at = e.getMessage().indexOf("JIT error log: ");
        assertTrue(at > 0 && e.getMessage().length() > at + 20, e.getMessage());
    }

    @Test
    void kernelArgumentsAreCheckedAgainstThePtxParameterSizes() {
        assertArrayEquals(new int[] {8, 8, 8, 8}, rt.parameterBytes("add_f32"), "add_f32(a, b, out, long long n)");
        CUdeviceptr d = new CUdeviceptr();
        rt.checkArguments("add_f32", Pointer.to(Pointer.to(d), Pointer.to(d), Pointer.to(d), Pointer.to(new long[] {4})));
        CudaError intForLong = assertThrows(CudaError.class, () -> rt.checkArguments("add_f32",
                Pointer.to(Pointer.to(d), Pointer.to(d), Pointer.to(d), Pointer.to(new int[] {4}))));
        assertTrue(intForLong.getMessage().contains("[8, 8, 8, 8]") && intForLong.getMessage().contains("[8, 8, 8, 4]"),
                intForLong.getMessage());
        assertThrows(CudaError.class, () -> rt.checkArguments("add_f32", Pointer.to(Pointer.to(d), Pointer.to(d), Pointer.to(d))));
        // and a launch checks before it reaches the driver
        assertThrows(CudaError.class, () -> rt.launch("add_f32", 1, 256, 0, null,
                Pointer.to(Pointer.to(d), Pointer.to(d), Pointer.to(d), Pointer.to(new float[] {4}))));
    }
}
