package org.wrpn.backend;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;
import org.wrpn.backend.cpu.CpuBackend;

/**
 * Picks the backend for --device auto|cpu|cuda. auto takes CUDA only when it can really run (driver,
 * device and PTX present); otherwise the CPU, with one log line saying why. The answer is cached.
 */
public final class BackendSelector {
    private static final Logger LOG = LogManager.getLogger(BackendSelector.class);

    /** Why CUDA is (not) available, probed once. */
    public record CudaStatus(boolean available, String reason) {}

    private static volatile CudaStatus cached;

    private BackendSelector() {}

    public static CudaStatus cudaStatus() {
        CudaStatus s = cached;
        if (s == null) {
            s = probeCuda();
            cached = s;
        }
        return s;
    }

    private static CudaStatus probeCuda() {
        // The CUDA backend ships with its PTX kernels; without them there is nothing to run.
        if (BackendSelector.class.getResource("/ptx/index.txt") == null) {
            return new CudaStatus(false, "this build has no CUDA backend/PTX kernels");
        }
        return new CudaStatus(false, "the CUDA backend is not implemented in this build yet");
    }

    public static Backend select(String device) {
        switch (device) {
            case "cpu" -> {
                return new CpuBackend();
            }
            case "cuda" -> {
                CudaStatus s = cudaStatus();
                throw new BadInputException("--device cuda is not available: " + s.reason());
            }
            case "auto" -> {
                CudaStatus s = cudaStatus();
                LOG.info("device auto: using the CPU because {}", s.reason());
                return new CpuBackend();
            }
            default -> throw new BadInputException("--device must be auto, cpu or cuda; got " + device);
        }
    }
}
