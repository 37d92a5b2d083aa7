package org.wrpn.backend;

import org.wrpn.FlagEnum;
import org.wrpn.backend.cpu.CpuConvolution;
import org.wrpn.backend.cuda.CudaSupport;

/**
 * Where a job runs (--device). The rules that decide a backend's op scratch live here too, so that
 * the planner, jobs and sweeps can ask them without naming (or loading) a backend implementation.
 */
public enum Device implements FlagEnum {
    /** CUDA when it can run here, else the CPU ({@link BackendSelector#resolve}). */
    AUTO,
    CPU,
    CUDA;

    /** auto, cpu or cuda. */
    public static Device parse(String s) {
        return FlagEnum.parse(Device.class, s, "--device must be auto, cpu or cuda; got ");
    }

    /** The device a concrete backend runs on (auto is resolved by {@link BackendSelector#autoChoice}). */
    public static Device of(Backend backend) {
        return parse(backend.name());
    }

    /** Which pass of a convolution, for its scratch rule. */
    public enum ConvPass { FORWARD, BACKWARD_DATA, BACKWARD_FILTER }

    /**
     * Scratch bytes one pass of a convolution of this geometry takes inside the backend of this device
     * (its operand staging for oneDNN on the CPU, every pass; the weight gradient's split-K partial sums
     * on the GPU); the memory ledger declares them for that pass alone.
     */
    public long convWorkspaceBytes(ConvGeometry g, ConvPass pass) {
        return switch (this) {
            case CPU -> CpuConvolution.workspaceBytes(g);
            case CUDA -> CudaSupport.convWorkspaceBytes(g, pass);
            case AUTO -> throw new IllegalStateException("resolve --device auto before asking for its workspace rules");
        };
    }

    /**
     * Whether a residual branch's backward works in image slices (nn's ResidualBlock): two whole fp32
     * tensors of the block instead of three, for one more forward convolution per block and many small
     * ops. On the GPU, where memory bounds the batch; not on the CPU, where the step time is what
     * binds and small slices run slowly on a few cores.
     */
    public boolean slicesResidualBackward() {
        return switch (this) {
            case CPU -> false;
            case CUDA -> true;
            case AUTO -> throw new IllegalStateException("resolve --device auto before asking for its rules");
        };
    }

    /** What a batch-norm op does, for its scratch rule. */
    public enum BatchNormPass { TRAIN, INFERENCE, BACKWARD, BACKWARD_APPLY }

    /** Scratch bytes one batch-norm op over rows x channels takes inside the backend (the GPU's per-channel partial sums). */
    public long batchNormWorkspaceBytes(long rows, int channels, BatchNormPass pass) {
        return switch (this) {
            case CPU -> 0;
            case CUDA -> CudaSupport.batchNormScratchBytes(rows, channels, pass);
            case AUTO -> throw new IllegalStateException("resolve --device auto before asking for its workspace rules");
        };
    }

    /** Scratch bytes of the softmax cross-entropy over n samples (the GPU's per-sample losses and hits). */
    public long lossWorkspaceBytes(int n) {
        return switch (this) {
            case CPU -> 0;
            case CUDA -> CudaSupport.lossScratchBytes(n);
            case AUTO -> throw new IllegalStateException("resolve --device auto before asking for its workspace rules");
        };
    }

    /**
     * Scratch bytes one linear layer of a quantized layer ({@link Backend#linearForwardQuantized} and its
     * backward) takes inside the backend: the CPU stages codes as floats for its GEMM, the GPU reads
     * codes directly.
     */
    public long quantizedLinearWorkspaceBytes(int n, int in, int out) {
        return switch (this) {
            case CPU -> CpuConvolution.quantizedLinearWorkspaceBytes(n, in, out);
            case CUDA -> 0;
            case AUTO -> throw new IllegalStateException("resolve --device auto before asking for its workspace rules");
        };
    }

    /**
     * Caps the CPU backend's GEMM threads for the whole process: N concurrent CPU jobs on N cores run
     * faster single-threaded. Results depend on the thread count. No effect on other devices.
     */
    public static void limitCpuThreads(int threads) {
        org.wrpn.backend.cpu.CpuBackend.limitGemmThreads(threads);
    }

    /** The threads the CPU backend computes with (what a peer should be given for a fair comparison). */
    public static int cpuThreads() {
        return org.wrpn.backend.cpu.CpuBackend.threads();
    }

    @Override
    public String toString() {
        return flag();
    }
}
