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
import static jcuda.driver.JCudaDriver.cuModuleLoadDataJIT;
import static jcuda.driver.JCudaDriver.cuOccupancyMaxActiveBlocksPerMultiprocessor;
import static jcuda.driver.JCudaDriver.cuStreamSynchronize;

import java.io.IOException;
import java.io.InputStream;
import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.Buffer;
import java.nio.ByteBuffer;
import java.nio.CharBuffer;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.LongBuffer;
import java.nio.ShortBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import jcuda.NativePointerObject;
import jcuda.Pointer;
import jcuda.driver.CUcontext;
import jcuda.driver.CUdevice;
import jcuda.driver.CUdevice_attribute;
import jcuda.driver.CUfunction;
import jcuda.driver.CUjit_option;
import jcuda.driver.CUmodule;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.JITOptions;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;

/**
 * The process-wide CUDA state: driver, one device, its primary context (shared with any other CUDA
 * user in the process) and the PTX modules of this jar. Streams, memory and buffers belong to each
 * {@link CudaBackend}. Created once; a failed start is remembered and reported again, never retried.
 *
 * <p>Modules are loaded with cuModuleLoadDataEx (JCuda's cuModuleLoadDataJIT) and JIT error and
 * info log buffers, so a PTX the driver's JIT rejects says why. Every launch's arguments are checked
 * against the kernel's PTX .param list (byte sizes, parsed at load): an int passed for a 64-bit
 * parameter fails here, with the kernel and the argument named, instead of reading garbage on the GPU.
 *
 * <p>A little over 400 lines because start-up, module loading and the launch check share one
 * life cycle (the modules' .param tables); the .param check is the seam to split along next.
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
    private final Map<String, int[]> paramBytes = new ConcurrentHashMap<>();
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
            paramBytes.putAll(entryParams(new String(image, 0, image.length - 1, StandardCharsets.US_ASCII)));
            modules.put(name, loadModule(e.file() + " (" + e.target() + ", PTX ISA " + e.isa() + ")", image, e.isa()));
        }
    }

    static final int JIT_LOG_BYTES = 16384;

    /**
     * Loads one PTX image (NUL-terminated) through the driver's JIT with error and info log buffers;
     * a rejection throws with the JIT's own words.
     */
    CUmodule loadModule(String what, byte[] image, String isa) {
        makeCurrent();
        JITOptions jit = new JITOptions();
        jit.putBytes(CUjit_option.CU_JIT_ERROR_LOG_BUFFER, new byte[JIT_LOG_BYTES]);
        jit.putInt(CUjit_option.CU_JIT_ERROR_LOG_BUFFER_SIZE_BYTES, JIT_LOG_BYTES);
        jit.putBytes(CUjit_option.CU_JIT_INFO_LOG_BUFFER, new byte[JIT_LOG_BYTES]);
        jit.putInt(CUjit_option.CU_JIT_INFO_LOG_BUFFER_SIZE_BYTES, JIT_LOG_BYTES);
        jit.putInt(CUjit_option.CU_JIT_LOG_VERBOSE, 1);
        CUmodule module = new CUmodule();
        int rc = cuModuleLoadDataJIT(module, Pointer.to(image), jit);
        String errorLog = jitLog(jit, CUjit_option.CU_JIT_ERROR_LOG_BUFFER);
        String infoLog = jitLog(jit, CUjit_option.CU_JIT_INFO_LOG_BUFFER);
        if (!infoLog.isEmpty()) LOG.debug("JIT of {}: {}", what, infoLog);
        if (rc == CUresult.CUDA_ERROR_UNSUPPORTED_PTX_VERSION) {
            throw new CudaError(driverTooOld(isa) + (errorLog.isEmpty() ? "" : " JIT log: " + errorLog), rc);
        }
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new CudaError("the driver could not load " + what + " on " + info.name() + ": " + CUresult.stringFor(rc)
                    + (errorLog.isEmpty() ? " (the JIT wrote no error log)" : "; JIT error log: " + errorLog), rc);
        }
        return module;
    }

    /** A JIT log buffer as text: up to its NUL, trimmed. */
    static String jitLog(JITOptions jit, int option) {
        byte[] b = jit.getBytes(option);
        if (b == null) return "";
        int n = 0;
        while (n < b.length && b[n] != 0) n++;
        return new String(b, 0, n, StandardCharsets.UTF_8).strip();
    }

    private static final Pattern ENTRY = Pattern.compile("\\.entry\\s+([A-Za-z_$][\\w$]*)\\s*\\(([^)]*)\\)");
    private static final Pattern PARAM = Pattern.compile(
            "\\.param\\s+(?:\\.align\\s+\\d+\\s+)?\\.([subf])(8|16|32|64)\\b[^,\\[]*?(?:\\[(\\d+)\\])?\\s*(?:,|$)");

    /** Every .entry of a PTX text with the byte size of each of its .param declarations, in order. */
    static Map<String, int[]> entryParams(String ptx) {
        Map<String, int[]> out = new LinkedHashMap<>();
        Matcher e = ENTRY.matcher(ptx);
        while (e.find()) {
            List<Integer> sizes = new ArrayList<>();
            for (String decl : e.group(2).split(",")) {
                if (decl.isBlank()) continue;
                Matcher p = PARAM.matcher(decl.strip());
                if (!p.find()) throw new IllegalArgumentException("unreadable .param of " + e.group(1) + ": " + decl.strip());
                int bytes = Integer.parseInt(p.group(2)) / 8;
                if (p.group(3) != null) bytes *= Integer.parseInt(p.group(3));
                sizes.add(bytes);
            }
            out.put(e.group(1), sizes.stream().mapToInt(Integer::intValue).toArray());
        }
        return out;
    }

    /** The byte sizes of a kernel's parameters, from its PTX (null for an unknown kernel). */
    int[] parameterBytes(String kernel) {
        return paramBytes.get(kernel);
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
        checkArguments(name, params);
        lastKernel = name;
        int rc = cuLaunchKernel(f, (int) grid, 1, 1, block, 1, 1, sharedBytes, stream, params, null);
        if (rc != CUresult.CUDA_SUCCESS) {
            throw new CudaError("launch of " + name + " (grid " + grid + ", block " + block + ") failed: "
                    + CUresult.stringFor(rc), rc);
        }
        if (syncLaunches) check(cuStreamSynchronize(stream), "kernel " + name);
    }

    /**
     * Checks a launch's arguments against the kernel's PTX parameters: as many, each of the declared
     * byte size (the driver reads that many bytes from each argument's buffer, whatever was passed).
     */
    void checkArguments(String kernel, Pointer params) {
        int[] declared = paramBytes.get(kernel);
        long[] given = argumentBytes(params);
        if (declared == null || given == null) return;  // a kernel without parsed PTX, or an unknown JCuda layout
        boolean ok = declared.length == given.length;
        for (int i = 0; ok && i < declared.length; i++) ok = declared[i] == given[i];
        if (!ok) {
            throw new CudaError("kernel " + kernel + " takes parameters of " + Arrays.toString(declared)
                    + " bytes (its PTX .param list) but was given " + Arrays.toString(given), 0);
        }
    }

    private static final VarHandle BUFFER, POINTERS, OFFSET;

    static {
        VarHandle b = null, p = null, o = null;
        try {
            MethodHandles.Lookup l = MethodHandles.privateLookupIn(Pointer.class, MethodHandles.lookup());
            b = l.findVarHandle(Pointer.class, "buffer", Buffer.class);
            p = l.findVarHandle(Pointer.class, "pointers", NativePointerObject[].class);
            o = l.findVarHandle(Pointer.class, "byteOffset", long.class);
        } catch (ReflectiveOperationException | RuntimeException e) {
            LOG.debug("kernel argument checks off: JCuda's Pointer has another layout ({})", e.toString());
        }
        BUFFER = b;
        POINTERS = p;
        OFFSET = o;
    }

    /**
     * The byte size of each kernel argument of a Pointer.to(Pointer...) as CudaBackend builds them:
     * a Pointer.to(int[]/long[]/float[]...) is its array's bytes, a Pointer.to(device pointer) 8. Null
     * when the layout is not one of these.
     */
    static long[] argumentBytes(Pointer params) {
        if (BUFFER == null || params == null) return null;
        NativePointerObject[] args = (NativePointerObject[]) POINTERS.get(params);
        if (args == null) return null;
        long[] out = new long[args.length];
        for (int i = 0; i < args.length; i++) {
            if (!(args[i] instanceof Pointer arg)) return null;
            Buffer buf = (Buffer) BUFFER.get(arg);
            NativePointerObject[] inner = (NativePointerObject[]) POINTERS.get(arg);
            if (buf != null) {
                int width = switch (buf) {
                    case ByteBuffer x -> 1;
                    case ShortBuffer x -> 2;
                    case CharBuffer x -> 2;
                    case IntBuffer x -> 4;
                    case FloatBuffer x -> 4;
                    case LongBuffer x -> 8;
                    case DoubleBuffer x -> 8;
                    default -> 0;
                };
                if (width == 0) return null;
                out[i] = (long) buf.capacity() * width - (long) OFFSET.get(arg);
            } else if (inner != null) {
                out[i] = 8L * inner.length;
            } else {
                return null;
            }
        }
        return out;
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
