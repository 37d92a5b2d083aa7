package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import jcuda.driver.CUdeviceptr;
import org.wrpn.tensor.Tensor;

/**
 * Whole-tensor reductions (sum, sum of squares, mean |x|, max |x|) in two stages whose block count
 * depends on n alone, so results are reproducible; their partials and results live in buffers of
 * their own, outside the allocator.
 */
final class Reductions implements AutoCloseable {
    private final CudaStream stream;
    private final Operands operands;
    private final Transfers transfers;
    /** Stage-1 partials (REDUCE_MAX_BLOCKS doubles) and results: a double sum, a float mean, a float max. */
    private final CUdeviceptr partials = new CUdeviceptr();
    private final CUdeviceptr sumResult = new CUdeviceptr();
    private final CUdeviceptr meanResult = new CUdeviceptr();
    private final CUdeviceptr maxResult = new CUdeviceptr();

    Reductions(CudaStream stream, Operands operands, Transfers transfers) {
        this.stream = stream;
        this.operands = operands;
        this.transfers = transfers;
        CudaRuntime.check(cuMemAlloc(partials, 8L * KernelCall.REDUCE_MAX_BLOCKS), "cuMemAlloc(reduction partials)");
        CudaRuntime.check(cuMemAlloc(sumResult, 8), "cuMemAlloc(reduction result)");
        CudaRuntime.check(cuMemAlloc(meanResult, 4), "cuMemAlloc(reduction result)");
        CudaRuntime.check(cuMemAlloc(maxResult, 4), "cuMemAlloc(reduction result)");
    }

    /** Two-stage double sum into sumResult, and (float)(sum / n) into meanResult when mean. */
    private void sumOnDevice(String stage1, CudaTensor x, boolean mean) {
        long n = x.elements();
        int blocks = stream.launch(stage1).ptr(x).i64(n).ptr(partials).reduce(n);
        stream.launch("reduce_final_f64").ptr(partials).i32(blocks).ptr(sumResult).ptrOrNull(mean ? meanResult : null)
                .i64(n).single();
    }

    /** Queues mean|w| and returns where it will be: the scale stays on the device, no host round trip. */
    CUdeviceptr meanAbsOnDevice(CudaTensor w) {
        sumOnDevice("reduce_sum_abs_f32_f64", w, true);
        return meanResult;
    }

    double sumSquares(Tensor x) {
        CudaTensor s = operands.f32(x, "sumSquares");
        sumOnDevice("reduce_sum_squares_f32_f64", s, false);
        double v = transfers.download(sumResult, 8).getDouble(0);
        return Double.isFinite(v) ? v : Double.NaN;
    }

    double sum(Tensor x) {
        CudaTensor s = operands.f32(x, "sum");
        sumOnDevice("reduce_sum_f32_f64", s, false);
        return transfers.download(sumResult, 8).getDouble(0);
    }

    float maxAbs(Tensor x) {
        CudaTensor s = operands.f32(x, "maxAbs");
        long n = s.elements();
        int blocks = stream.launch("reduce_max_abs_f32").ptr(s).i64(n).ptr(partials).reduce(n);
        stream.launch("reduce_final_max_f32").ptr(partials).i32(blocks).ptr(maxResult).single();
        return transfers.download(maxResult, 4).getFloat(0);
    }

    @Override
    public void close() {
        cuMemFree(partials);
        cuMemFree(sumResult);
        cuMemFree(meanResult);
        cuMemFree(maxResult);
    }
}
