package org.wrpn.backend;

import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.backend.cuda.CudaBackend;
import org.wrpn.backend.cuda.CudaProbe;

/**
 * Picks the backend for --device auto|cpu|cuda. auto takes CUDA only when it can really run (driver,
 * device and PTX present); otherwise the CPU, with
 * one log line saying why. The probe runs once per process and never throws.
 */
public final class BackendSelector {
    private static final Logger LOG = LogManager.getLogger(BackendSelector.class);

    /**
     * Whether CUDA is usable, and why (not). device is the GPU seen (null when none was reached);
     * ptx says which kernels this build carries.
     */
    public record CudaStatus(boolean available, String reason, GpuDevice device, String ptx) {}

    /** What auto picks ("cpu" or "cuda") and why. */
    public record Choice(String backend, String reason) {}

    private static volatile CudaStatus cached;

    private BackendSelector() {}

    public static CudaStatus cudaStatus() {
        CudaStatus s = cached;
        if (s == null) {
            synchronized (BackendSelector.class) {
                s = cached;
                if (s == null) {
                    s = probeCuda();
                    cached = s;
                }
            }
        }
        return s;
    }

    private static CudaStatus probeCuda() {
        try {
            CudaProbe.Result r = CudaProbe.probe();
            return new CudaStatus(r.usable(), r.reason(), r.device(), r.ptx());
        } catch (LinkageError | RuntimeException e) {
            // CudaProbe catches these itself; this is the last guard so that selection never crashes.
            return new CudaStatus(false, "CUDA could not be probed: " + e, null, "unknown");
        }
    }

    /** The choice of --device auto, without creating a backend. */
    public static Choice autoChoice() {
        CudaStatus s = cudaStatus();
        if (!s.available()) return new Choice("cpu", s.reason());
        return new Choice("cuda", "CUDA on " + s.device().describe());
    }

    public static Backend select(String device) {
        switch (device) {
            case "cpu" -> {
                return new CpuBackend();
            }
            case "cuda" -> {
                CudaStatus s = cudaStatus();
                if (!s.available()) throw new BadInputException("--device cuda is not available: " + s.reason());
                return new CudaBackend();
            }
            case "auto" -> {
                Choice c = autoChoice();
                if (c.backend().equals("cuda")) {
                    LOG.info("device auto: using {}", c.reason());
                    return new CudaBackend();
                }
                LOG.info("device auto: using the CPU because {}", c.reason());
                return new CpuBackend();
            }
            default -> throw new BadInputException("--device must be auto, cpu or cuda; got " + device);
        }
    }
}
