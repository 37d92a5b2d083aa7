package org.wrpn.backend.cuda;

import org.wrpn.backend.GpuDevice;
/**
 * Answers "can the CUDA backend run here, and on what?" without throwing: no PTX in the jar, no
 * driver library, no GPU, a GPU or driver too old, each becomes a reason. Used once per process by
 * BackendSelector, which caches the answer.
 */
public final class CudaProbe {
    private CudaProbe() {}

    /** usable: driver, device and PTX all work. device: what was seen (null before a GPU was found). */
    public record Result(boolean usable, String reason, GpuDevice device, String ptx) {}

    public static Result probe() {
        PtxIndex index;
        try {
            index = PtxIndex.ofClasspath();
        } catch (RuntimeException e) {
            return new Result(false, "the PTX index of this build is unreadable: " + e.getMessage(), null, "unreadable");
        }
        if (index == null) {
            String none = "none (this build was made without nvcc)";
            return new Result(false, "this build has no PTX kernels (it was built without nvcc)", null, none);
        }
        String ptx = index.describe();
        try {
            CudaRuntime rt = CudaRuntime.get();
            return new Result(true, "CUDA driver, GPU and PTX kernels are all present", rt.device(),
                    ptx + "; loaded on the GPU");
        } catch (CudaError e) {
            return new Result(false, e.getMessage(), CudaRuntime.seenDevice(), ptx);
        } catch (LinkageError e) {
            return new Result(false, "the CUDA driver library could not be loaded (" + linkMessage(e) + ")", null, ptx);
        } catch (RuntimeException e) {
            return new Result(false, "CUDA start-up failed: " + e, CudaRuntime.seenDevice(), ptx);
        }
    }

    /** The useful line of JCuda's multi-line load error: the one naming libcuda, else the first. */
    static String linkMessage(Throwable e) {
        String first = null;
        for (Throwable t = e; t != null; t = t.getCause()) {
            String m = t.getMessage();
            if (m == null) continue;
            for (String line : m.split("\n")) {
                String l = line.strip();
                if (l.isEmpty()) continue;
                if (first == null) first = l;
                if (l.contains("libcuda")) return l.substring(l.indexOf("libcuda"));
            }
        }
        return first != null ? first : e.getClass().getSimpleName();
    }
}
