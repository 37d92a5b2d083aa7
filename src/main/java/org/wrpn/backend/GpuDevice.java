package org.wrpn.backend;

/** What `wrpn info` and the logs say about the GPU. Pure data: no driver types. */
public record GpuDevice(int ordinal, String name, long totalMemoryBytes, int ccMajor, int ccMinor,
        int multiprocessors, long l2CacheBytes, int driverVersion) {

    public String computeCapability() {
        return ccMajor + "." + ccMinor;
    }

    /** "13.0" for the driver API version 13000. */
    public String driverCudaVersion() {
        return formatCudaVersion(driverVersion);
    }

    /** "13.0" for the CUDA version number 13000. */
    public static String formatCudaVersion(int v) {
        return (v / 1000) + "." + (v % 1000) / 10;
    }

    public String describe() {
        return String.format("%s (GPU %d, compute capability %s, %d SMs, %.1f GiB, driver supports CUDA %s)", name,
                ordinal, computeCapability(), multiprocessors, totalMemoryBytes / (1024.0 * 1024 * 1024),
                driverCudaVersion());
    }
}
