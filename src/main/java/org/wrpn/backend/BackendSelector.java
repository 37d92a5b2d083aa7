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

    /**
     * The CPU backend's BLAS (OpenBLAS's configuration, kernel core and threads), or why it cannot
     * load (the GPU bundle carries no JavaCPP libraries).
     */
    public static String cpuBlas() {
        try {
            return CpuBackend.blasLibrary();
        } catch (LinkageError | RuntimeException e) {
            return "not available: " + e;
        }
    }

    /** The device --device auto stands for here (what {@link #autoChoice} picks); CPU and CUDA are themselves. */
    public static Device resolve(Device device) {
        return device == Device.AUTO ? Device.parse(autoChoice().backend()) : device;
    }

    /** As {@link #select(Device)} for the flag's text; a bad one is refused naming --device. */
    public static Backend select(String device) {
        return select(Device.parse(device));
    }

    public static Backend select(Device device) {
        return switch (device) {
            case CPU -> new CpuBackend();
            case CUDA -> {
                CudaStatus s = cudaStatus();
                if (!s.available()) throw new BadInputException("--device cuda is not available: " + s.reason());
                yield new CudaBackend();
            }
            case AUTO -> {
                Choice c = autoChoice();
                if (c.backend().equals("cuda")) {
                    LOG.info("device auto: using {}", c.reason());
                    yield new CudaBackend();
                }
                LOG.info("device auto: using the CPU because {}", c.reason());
                yield new CpuBackend();
            }
        };
    }
}
