package org.wrpn.backend.cuda;

import org.wrpn.backend.GpuDevice;
import static jcuda.driver.JCudaDriver.cuCtxSetCurrent;
import static jcuda.driver.JCudaDriver.cuDeviceGet;
import static jcuda.driver.JCudaDriver.cuDeviceGetAttribute;
import static jcuda.driver.JCudaDriver.cuDeviceGetCount;
import static jcuda.driver.JCudaDriver.cuDeviceGetName;
import static jcuda.driver.JCudaDriver.cuDeviceTotalMem;
import static jcuda.driver.JCudaDriver.cuDevicePrimaryCtxRetain;
import static jcuda.driver.JCudaDriver.cuDriverGetVersion;
import static jcuda.driver.JCudaDriver.cuInit;
import static jcuda.driver.JCudaDriver.cuLaunchKernel;
import static jcuda.driver.JCudaDriver.cuMemGetInfo;
import static jcuda.driver.JCudaDriver.cuModuleGetFunction;
import static jcuda.driver.JCudaDriver.cuModuleLoadData;
import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The process-wide CUDA state: driver, one device, its primary context (shared with any other CUDA
 * user in the process) and the PTX modules of this jar. Streams, memory and buffers belong to each
 * {@link CudaBackend}. Created once; a failed start is remembered and reported again, never retried.
 */
public final class CudaRuntime {
    private static final Logger LOG = LogManager.getLogger(CudaRuntime.class);

    /** Synchronise after every launch, so that a faulting kernel is named (slow; for tests and debugging). */
    private static volatile boolean syncLaunches = Boolean.getBoolean("wrpn.cuda.syncLaunches")
            || "1".equals(System.getenv("WRPN_CUDA_SYNC"));

    static void syncLaunches(boolean on) {
        syncLaunches = on;
    }

    private static CudaRuntime instance;
    private static RuntimeException failure;
    private static volatile GpuDevice seen;

    final CUdevice device = new CUdevice();
    final CUcontext context = new CUcontext();
    private final GpuDevice info;
    private final PtxIndex ptx;
    private final Map<String, CUmodule> modules = new LinkedHashMap<>();
    private final Map<String, CUfunction> functions = new ConcurrentHashMap<>();
    private final Map<String, Integer> fullGrids = new ConcurrentHashMap<>();
    private final ThreadLocal<Boolean> current = ThreadLocal.withInitial(() -> false);
    private volatile String lastKernel = "(none)";

    /** The runtime, started on first use. Throws CudaError (or LinkageError without libcuda). */
    public static synchronized CudaRuntime get() {
        if (instance != null) return instance;
        if (failure != null) throw new CudaError(failure.getMessage(), failure instanceof CudaError c ? c.code() : 0);
        try {
            instance = new CudaRuntime();
            return instance;
        } catch (RuntimeException e) {
            failure = e;
            throw e;
        }
    }

    private CudaRuntime() {
        PtxIndex index = PtxIndex.ofClasspath();
        if (index == null) throw new CudaError("this build has no PTX kernels (it was built without nvcc)", 0);
        this.ptx = index;
        check(cuInit(0), "cuInit");
        int[] count = {0};
        check(cuDeviceGetCount(count), "cuDeviceGetCount");
        if (count[0] == 0) throw new CudaError("the CUDA driver loaded but sees no GPU", CUresult.CUDA_ERROR_NO_DEVICE);
        int ordinal = Integer.getInteger("wrpn.cudaDevice", 0);
        if (ordinal < 0 || ordinal >= count[0]) {
            throw new CudaError("-Dwrpn.cudaDevice=" + ordinal + " but the driver sees " + count[0] + " GPU(s)", 0);
        }
        check(cuDeviceGet(device, ordinal), "cuDeviceGet");
        this.info = readDevice(device, ordinal);
        seen = info;
        if (info.ccMajor() < 8) {
            throw new CudaError(info.name() + " has compute capability " + info.computeCapability()
                    + "; the wrpn kernels need 8.0 (Ampere) or newer", 0);
        }
        int needed = PtxIndex.cudaVersionForIsa(ptx.maxIsa());
        if (needed > 0 && info.driverVersion() < needed) throw new CudaError(driverTooOld(ptx.maxIsa()), 0);
        check(cuDevicePrimaryCtxRetain(context, device), "cuDevicePrimaryCtxRetain");
        makeCurrent();
        loadModules();
        LOG.debug("CUDA ready on {}: {}", info.describe(), ptx.describe());
    }

    private String driverTooOld(String isa) {
        return "the GPU driver is too old for these kernels: they are PTX ISA " + isa
                + ", which needs a driver for CUDA " + GpuDevice.formatCudaVersion(PtxIndex.cudaVersionForIsa(isa))
                + " or newer (r580+ for 13.0), and this driver supports CUDA " + info.driverCudaVersion()
                + ". Update the driver, or rebuild the PTX with an nvcc no newer than the driver.";
    }

    static GpuDevice readDevice(CUdevice device, int ordinal) {
        byte[] name = new byte[256];
        check(cuDeviceGetName(name, name.length, device), "cuDeviceGetName");
        int len = 0;
        while (len < name.length && name[len] != 0) len++;
        long[] mem = {0};
        check(cuDeviceTotalMem(mem, device), "cuDeviceTotalMem");
        int[] driver = {0};
        check(cuDriverGetVersion(driver), "cuDriverGetVersion");
        return new GpuDevice(ordinal, new String(name, 0, len, StandardCharsets.UTF_8), mem[0],
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_MULTIPROCESSOR_COUNT),
                attribute(device, CUdevice_attribute.CU_DEVICE_ATTRIBUTE_L2_CACHE_SIZE), driver[0]);
    }

    private static int attribute(CUdevice device, int attribute) {
        int[] v = {0};
        check(cuDeviceGetAttribute(v, attribute, device), "cuDeviceGetAttribute(" + attribute + ")");
        return v[0];
    }

    private void loadModules() {
        Map<String, PtxIndex.Entry> chosen = ptx.select(info.ccMajor(), info.ccMinor());
        for (String name : ptx.moduleNames()) {
            PtxIndex.Entry e = chosen.get(name);
            if (e == null) {
                throw new CudaError("no variant of PTX module " + name + " runs on compute capability "
                        + info.computeCapability(), 0);
            }
            byte[] image = resource("/ptx/" + e.file());
            CUmodule module = new CUmodule();
            int rc = cuModuleLoadData(module, image);
            if (rc == CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION) throw new CudaError(driverTooOld(e.isa()), rc);
            if (rc != CUresult.CUDA_SUCCESS) {
                throw new CudaError("the driver could not load " + e.file() + " (" + e.target() + ", PTX ISA " + e.isa()
                        + ") on " + info.name() + ": " + CUresult.stringFor(rc), rc);
            }
            modules.put(name, module);
        }
    }

    /** The PTX text with the NUL terminator cuModuleLoadData needs. */
    private static byte[] resource(String path) {
        try (InputStream in = CudaRuntime.class.getResourceAsStream(path)) {
            if (in == null) throw new CudaError("PTX resource " + path + " is listed in the index but missing", 0);
            byte[] text = in.readAllBytes();
            byte[] z = new byte[text.length + 1];
            System.arraycopy(text, 0, z, 0, text.length);
            return z;
        } catch (IOException e) {
            throw new CudaError("reading " + path + ": " + e.getMessage(), 0);
        }
    }

    /** The GPU the last start saw, even if the start then failed (null when none was found). */
    static GpuDevice seenDevice() {
        return seen;
    }

    public GpuDevice device() {
        return info;
    }

    public PtxIndex ptx() {
        return ptx;
    }

    public List<String> loadedModules() {
        return List.copyOf(modules.keySet());
    }

    /** Makes the primary context current on the calling thread (once per thread). */
    public void makeCurrent() {
        if (!current.get()) {
            check(cuCtxSetCurrent(context), "cuCtxSetCurrent");
            current.set(true);
        }
    }

    /** A kernel by its extern "C" name, from whichever module defines it. */
    public CUfunction function(String name) {
        CUfunction f = functions.get(name);
        if (f != null) return f;
        makeCurrent();
        for (CUmodule m : modules.values()) {
            CUfunction candidate = new CUfunction();
            int rc = cuModuleGetFunction(candidate, m, name);
            if (rc == CUresult.CUDA_SUCCESS) {
                functions.put(name, candidate);
                return candidate;
            }
            if (rc != CUresult.CUDA_ERROR_NOT_FOUND) check(rc, "cuModuleGetFunction(" + name + ")");
        }
        throw new CudaError("no PTX module of this build defines kernel " + name, CUresult.CUDA_ERROR_NOT_FOUND);
    }

    /**
     * Blocks of this size that fit on the whole GPU at once: the grid of a grid-stride kernel. A
     * larger grid would run in a second, partly empty wave.
     */
    public int fullGrid(String kernel, int block) {
        return fullGrids.computeIfAbsent(kernel + "/" + block, k -> {
            int[] perSm = {0};
            check(cuOccupancyMaxActiveBlocksPerMultiprocessor(perSm, function(kernel), block, 0),
                    "cuOccupancyMaxActiveBlocksPerMultiprocessor(" + kernel + ")");
            return Math.max(1, perSm[0]) * info.multiprocessors();
        });
    }

    /**
     * Launches a 1-D grid and checks the launch. Errors inside the kernel surface at the next
     * synchronisation (download, scalar result); with -Dwrpn.cuda.syncLaunches=true every launch
     * synchronises, so that the failing kernel is named.
     */
    public void launch(String name, long grid, int block, int sharedBytes, CUstream stream, Pointer params) {
        if (grid <= 0 || grid > Integer.MAX_VALUE || block <= 0 || block > 1024) {
            throw new CudaError("bad launch configuration for " + name + ": grid " + grid + ", block " + block, 0);
        }
        CUfunction f = function(name);
        lastKernel = name;
        int rc = cuLaunchKernel(f, (int) grid, 1, 1, block, 1, 1, sharedBytes, stream, params, null);
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new CudaError("launch of " + name + " (grid " + grid + ", block " + block + ") failed: "
                    + CUresult.stringFor(rc), rc);
        }
        if (syncLaunches) check(cuStreamSynchronize(stream), "kernel " + name);
    }

    /** Waits for the stream; a failure names the last kernel launched. */
    public void synchronize(CUstream stream) {
        int rc = cuStreamSynchronize(stream);
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new CudaError("CUDA error " + CUresult.stringFor(rc) + " (last kernel launched: " + lastKernel
                    + (syncLaunches ? ")" : "; rerun with -Dwrpn.cuda.syncLaunches=true to name the failing one)"), rc);
        }
    }

    /** Free and total device memory in bytes. */
    public long[] memoryInfo() {
        makeCurrent();
        long[] free = {0}, total = {0};
        check(cuMemGetInfo(free, total), "cuMemGetInfo");
        return new long[] {free[0], total[0]};
    }

    static void check(int rc, String what) {
        if (rc != CUresult.CUDA_SUCCESS) throw new CudaError(what + " failed: " + CUresult.stringFor(rc), rc);
    }
}
