package org.wrpn.backend.cuda;

import org.wrpn.backend.GpuDevice;
import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;
import static jcuda.driver.JCudaDriver.cuMemsetD8Async;
import static jcuda.driver.JCudaDriver.cuStreamCreate;
import static jcuda.driver.JCudaDriver.cuStreamDestroy;

import java.nio.ByteBuffer;
import java.util.Collections;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Set;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import jcuda.driver.CUresult;
import jcuda.driver.CUstream;
import jcuda.driver.CUstream_flags;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CUDA backend: JCuda's driver API and the PTX kernels of cuda/. One instance owns one stream
 * (one per trainer), its caching allocator and its pinned staging buffers; all instances share the
 * process's {@link CudaRuntime}. Work is queued on the stream; only downloads and scalar results
 * (weightCodes at k = 1, sumSquares, maxAbs, sum) wait for it.
 *
 * <p>Every op of a training step is here: the quantizers, pack/unpack, convolution (implicit-GEMM
 * SIMT kernels, split-K weight gradient), batch norm, pooling, linear, softmax cross-entropy and
 * SGD. A step leaves the GPU only for the loss and correct-count scalars (and for whatever scalar the
 * caller asks for, such as sumSquares). Op-internal scratch (split-K partial sums, batch-norm and loss
 * partials) comes from the caching allocator and is released when the op has been queued.
 */
public final class CudaBackend implements Backend {
    static final int BLOCK = 256;
    /** Stage-1 blocks of a reduction at most; the count depends on n only, so results are reproducible. */
    static final int REDUCE_MAX_BLOCKS = 1024;
    static final int STAGING_SLOTS = 4;
    static final long STAGING_SLOT_BYTES = 4L << 20;

    private final CudaRuntime rt;
    private final CUstream stream = new CUstream();
    private final DeviceAllocator<CUdeviceptr> allocator;
    private final PinnedStaging staging;
    /** Reduction partials (REDUCE_MAX_BLOCKS doubles) and results: a double sum, a float mean, a float max. */
    private final CUdeviceptr partials = new CUdeviceptr();
    private final CUdeviceptr sumResult = new CUdeviceptr();
    private final CUdeviceptr meanResult = new CUdeviceptr();
    private final CUdeviceptr maxResult = new CUdeviceptr();
    /** The loss kernel's totals: double loss sum, int correct count, int first bad label (or -1). */
    private final CUdeviceptr lossResult = new CUdeviceptr();
    private final Set<CudaTensor> live = Collections.newSetFromMap(new IdentityHashMap<>());
    private boolean closed;

    public CudaBackend() {
        this(CudaRuntime.get());
    }

    CudaBackend(CudaRuntime rt) {
        this.rt = rt;
        rt.makeCurrent();
        CudaRuntime.check(cuStreamCreate(stream, CUstream_flags.CU_STREAM_NON_BLOCKING), "cuStreamCreate");
        allocator = new DeviceAllocator<>(new DriverMemory(rt));
        staging = new PinnedStaging(STAGING_SLOTS, STAGING_SLOT_BYTES);
        CudaRuntime.check(cuMemAlloc(partials, 8L * REDUCE_MAX_BLOCKS), "cuMemAlloc(reduction partials)");
        CudaRuntime.check(cuMemAlloc(sumResult, 8), "cuMemAlloc(reduction result)");
        CudaRuntime.check(cuMemAlloc(meanResult, 4), "cuMemAlloc(reduction result)");
        CudaRuntime.check(cuMemAlloc(maxResult, 4), "cuMemAlloc(reduction result)");
        CudaRuntime.check(cuMemAlloc(lossResult, 16), "cuMemAlloc(loss result)");
    }

    private static final class DriverMemory implements DeviceAllocator.RawMemory<CUdeviceptr> {
        private final CudaRuntime rt;

        DriverMemory(CudaRuntime rt) {
            this.rt = rt;
        }

        @Override
        public CUdeviceptr allocate(long bytes) {
            CUdeviceptr p = new CUdeviceptr();
            int rc = cuMemAlloc(p, bytes);
            if (rc == CUresult.CUDA_ERROR_OUT_OF_MEMORY) return null;
            CudaRuntime.check(rc, "cuMemAlloc(" + bytes + ")");
            return p;
        }

        @Override
        public void free(CUdeviceptr block) {
            CudaRuntime.check(cuMemFree(block), "cuMemFree");
        }

        @Override
        public long[] memoryInfo() {
            return rt.memoryInfo();
        }
    }

    @Override
    public String name() {
        return "cuda";
    }

    @Override
    public String describe() {
        return "CUDA " + rt.device().describe();
    }

    public GpuDevice device() {
        return rt.device();
    }

    // ---- memory -------------------------------------------------------------------------------

    private CudaTensor track(DType dtype, Shape shape, int bits) {
        ensureOpen();
        rt.makeCurrent();
        long bytes = dtype.bytes(shape, dtype.bits(bits));
        DeviceAllocator.Block<CUdeviceptr> b = allocator.allocate(bytes);
        CudaTensor t = new CudaTensor(this, dtype, shape, bits, b);
        synchronized (live) {
            live.add(t);
        }
        CudaRuntime.check(cuMemsetD8Async(b.pointer(), (byte) 0, bytes, stream), "cuMemsetD8Async");
        return t;
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePacked for packed tensors");
        return track(dtype, shape, 0);
    }

    @Override
    public Tensor allocatePacked(Shape logicalShape, int bits) {
        return track(DType.PACKED, logicalShape, bits);
    }

    void release(CudaTensor t, DeviceAllocator.Block<CUdeviceptr> b) {
        synchronized (live) {
            live.remove(t);
        }
        allocator.release(b);
    }

    @Override
    public long allocatedBytes() {
        return allocator.inUseBytes();
    }

    @Override
    public long peakAllocatedBytes() {
        return allocator.peakInUseBytes();
    }

    @Override
    public void resetPeak() {
        allocator.resetPeaks();
    }

    /** Device bytes held from the driver (live tensors, rounding and the allocator's cache). */
    public long reservedBytes() {
        return allocator.reservedBytes();
    }

    public long peakReservedBytes() {
        return allocator.peakReservedBytes();
    }

    /** How many times the allocator had to ask the driver (steady training should stop asking). */
    public long driverAllocations() {
        return allocator.driverAllocations();
    }

    /** Returns the allocator's cached blocks to the driver. */
    public void emptyCache() {
        rt.makeCurrent();
        synchronize();
        allocator.emptyCache();
    }

    private CudaTensor t(Tensor x) {
        if (!(x instanceof CudaTensor c) || c.owner != this) {
            throw new IllegalArgumentException("tensor " + x + " does not belong to this CUDA backend");
        }
        if (c.isClosed()) throw new IllegalStateException("tensor " + x + " was closed");
        return c;
    }

    private CudaTensor of(Tensor x, DType dtype, String what) {
        CudaTensor c = t(x);
        if (c.dtype() != dtype) throw new IllegalArgumentException(what + ": expected " + dtype + " tensor, got " + c);
        return c;
    }

    private CudaTensor packed(Tensor x, String what) {
        return of(x, DType.PACKED, what);
    }

    private static void sameElements(CudaTensor a, CudaTensor b, String what) {
        if (a.elements() != b.elements()) {
            throw new IllegalArgumentException(what + ": " + a.elements() + " elements != " + b.elements());
        }
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("the CUDA backend was closed");
    }

    /** Waits until everything queued on this backend's stream has run. */
    @Override
    public void synchronize() {
        rt.makeCurrent();
        rt.synchronize(stream);
    }

    /** A pair of events on this backend's stream. */
    public CudaTimer newTimer() {
        rt.makeCurrent();
        return new CudaTimer(stream);
    }

    private interface Fill {
        void into(ByteBuffer slot, long fromByte, long bytes);
    }

    private interface Drain {
        void from(ByteBuffer slot, long fromByte, long bytes);
    }

    private void stagedUpload(CudaTensor dst, long bytes, Fill fill) {
        rt.makeCurrent();
        for (long off = 0; off < bytes; off += staging.slotBytes()) {
            long len = Math.min(staging.slotBytes(), bytes - off);
            int slot = staging.acquire();
            fill.into(staging.view(slot), off, len);
            CudaRuntime.check(cuMemcpyHtoDAsync(dst.ptr().withByteOffset(off), staging.pointer(slot), len, stream),
                    "cuMemcpyHtoDAsync");
            staging.inFlight(slot, stream);
        }
    }

    private void stagedDownload(CUdeviceptr src, long bytes, Drain drain) {
        rt.makeCurrent();
        for (long off = 0; off < bytes; off += staging.slotBytes()) {
            long len = Math.min(staging.slotBytes(), bytes - off);
            int slot = staging.acquire();
            CudaRuntime.check(cuMemcpyDtoHAsync(staging.pointer(slot), src.withByteOffset(off), len, stream),
                    "cuMemcpyDtoHAsync");
            rt.synchronize(stream);
            drain.from(staging.view(slot), off, len);
        }
    }

    @Override
    public void upload(float[] src, Tensor dst) {
        CudaTensor d = of(dst, DType.F32, "upload");
        long n = d.elements();
        if (src.length < n) throw new IllegalArgumentException("upload: source has " + src.length + " < " + n);
        stagedUpload(d, 4 * n, (b, off, len) -> b.asFloatBuffer().put(src, (int) (off / 4), (int) (len / 4)));
    }

    @Override
    public void upload(int[] src, Tensor dst) {
        CudaTensor d = t(dst);
        switch (d.dtype()) {
            case I32, PACKED -> {
                long words = d.bytes() / 4;
                if (src.length < words) throw new IllegalArgumentException("upload: source too short");
                stagedUpload(d, d.bytes(), (b, off, len) -> b.asIntBuffer().put(src, (int) (off / 4), (int) (len / 4)));
            }
            case I8 -> {
                if (src.length < d.bytes()) throw new IllegalArgumentException("upload: source too short");
                stagedUpload(d, d.bytes(), (b, off, len) -> {
                    for (int i = 0; i < len; i++) b.put(i, (byte) src[(int) off + i]);
                });
            }
            default -> throw new IllegalArgumentException("int upload into " + d);
        }
    }

    @Override
    public void download(Tensor src, float[] dst) {
        CudaTensor s = of(src, DType.F32, "download");
        long n = s.elements();
        if (dst.length < n) throw new IllegalArgumentException("download: destination has " + dst.length + " < " + n);
        stagedDownload(s.ptr(), 4 * n, (b, off, len) -> b.asFloatBuffer().get(dst, (int) (off / 4), (int) (len / 4)));
    }

    @Override
    public void download(Tensor src, int[] dst) {
        CudaTensor s = t(src);
        switch (s.dtype()) {
            case I32, PACKED -> {
                if (dst.length < s.bytes() / 4) throw new IllegalArgumentException("download: destination too short");
                stagedDownload(s.ptr(), s.bytes(), (b, off, len) -> b.asIntBuffer().get(dst, (int) (off / 4), (int) (len / 4)));
            }
            case I8 -> {
                if (dst.length < s.bytes()) throw new IllegalArgumentException("download: destination too short");
                stagedDownload(s.ptr(), s.bytes(), (b, off, len) -> {
                    for (int i = 0; i < len; i++) dst[(int) off + i] = b.get(i);
                });
            }
            default -> throw new IllegalArgumentException("int download from " + s);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CudaTensor s = t(src), d = t(dst);
        if (s.dtype() != d.dtype() || s.bytes() != d.bytes()) throw new IllegalArgumentException("copy " + s + " -> " + d);
        rt.makeCurrent();
        CudaRuntime.check(cuMemcpyDtoDAsync(d.ptr(), s.ptr(), s.bytes(), stream), "cuMemcpyDtoDAsync");
    }

    @Override
    public void fill(Tensor dst, float value) {
        CudaTensor d = of(dst, DType.F32, "fill");
        rt.makeCurrent();
        CudaRuntime.check(cuMemsetD32Async(d.ptr(), Float.floatToRawIntBits(value), d.elements(), stream),
                "cuMemsetD32Async");
    }

    @Override
    public void addInPlace(Tensor dst, Tensor src) {
        CudaTensor d = of(dst, DType.F32, "addInPlace"), s = of(src, DType.F32, "addInPlace");
        sameElements(d, s, "addInPlace");
        elementwise("add_inplace_f32", d.elements(), d, s, d.elements());
    }

    @Override
    public void add(Tensor a, Tensor b, Tensor out) {
        CudaTensor x = of(a, DType.F32, "add"), y = of(b, DType.F32, "add"), o = of(out, DType.F32, "add");
        sameElements(x, y, "add");
        sameElements(x, o, "add");
        elementwise("add_f32", o.elements(), x, y, o, o.elements());
    }

    // ---- launches -----------------------------------------------------------------------------

    /** Kernel parameters: tensors and device pointers by address, boxed numbers by value, null as NULL. */
    private static Pointer params(Object... args) {
        Pointer[] p = new Pointer[args.length];
        for (int i = 0; i < args.length; i++) {
            p[i] = switch (args[i]) {
                case null -> Pointer.to(new CUdeviceptr());
                case CudaTensor t -> Pointer.to(t.ptr());
                case CUdeviceptr d -> Pointer.to(d);
                case Integer v -> Pointer.to(new int[] {v});
                case Long v -> Pointer.to(new long[] {v});
                case Float v -> Pointer.to(new float[] {v});
                default -> throw new IllegalArgumentException("kernel argument of type " + args[i].getClass());
            };
        }
        return Pointer.to(p);
    }

    private void launch(String kernel, long threads, Object... args) {
        ensureOpen();
        rt.makeCurrent();
        // Grid-stride kernels: no more blocks than are resident at once (one full wave).
        long grid = Math.min(Math.max(1, (threads + BLOCK - 1) / BLOCK), rt.fullGrid(kernel, BLOCK));
        rt.launch(kernel, grid, BLOCK, 0, stream, params(args));
    }

    /** Element-wise kernels take 4 elements per thread (float4). */
    private void elementwise(String kernel, long n, Object... args) {
        launch(kernel, (n + 3) / 4, args);
    }

    /** Threads a pack/unpack kernel needs: a warp per unit, or per 4 units on the vector path. */
    static long packThreads(long pixels, int channels) {
        long units = pixels * ((channels + 31) / 32);
        long warps = channels % 4 == 0 ? (units + 3) / 4 : units;
        return warps * 32;
    }

    /** Stage-1 blocks for a reduction over n floats: a function of n alone. */
    static int reduceBlocks(long n) {
        return (int) Math.max(1, Math.min(REDUCE_MAX_BLOCKS, (n + BLOCK * 16L - 1) / (BLOCK * 16L)));
    }

    // ---- quantization ------------------------------------------------------------------------

    @Override
    public void quantizeActivations(Tensor x, int bits, Tensor y) {
        CudaTensor s = of(x, DType.F32, "quantizeActivations"), d = of(y, DType.F32, "quantizeActivations");
        sameElements(s, d, "quantizeActivations");
        if (bits == Quantizer.FULL_PRECISION) throw new IllegalArgumentException("32-bit activations are a ReLU, not a quantizer");
        PackedLayout.checkBits(bits);
        elementwise("quantize_act_f32", s.elements(), s, d, s.elements(), bits);
    }

    @Override
    public void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {
        CudaTensor s = of(x, DType.F32, "quantizeActivationsBackward");
        CudaTensor g = of(dy, DType.F32, "quantizeActivationsBackward");
        CudaTensor d = of(dx, DType.F32, "quantizeActivationsBackward");
        sameElements(s, g, "quantizeActivationsBackward");
        sameElements(s, d, "quantizeActivationsBackward");
        elementwise("quantize_act_bwd_f32", s.elements(), s, g, d, s.elements());
    }

    @Override
    public void maskGradient(Tensor packedMask, Tensor dy, Tensor dx) {
        CudaTensor m = packed(packedMask, "maskGradient");
        CudaTensor g = of(dy, DType.F32, "maskGradient"), d = of(dx, DType.F32, "maskGradient");
        sameElements(g, d, "maskGradient");
        if (m.bits() != 1 || m.elements() != g.elements()) {
            throw new IllegalArgumentException("maskGradient: mask " + m + " for " + g.elements() + " values");
        }
        long pixels = m.shape().pixels();
        int channels = m.shape().channels();
        launch("mask_grad_f32", packThreads(pixels, channels), m, g, d, pixels, channels);
    }

    @Override
    public void quantizeWeights(Tensor w, int bits, Tensor wq) {
        CudaTensor s = of(w, DType.F32, "quantizeWeights"), d = of(wq, DType.F32, "quantizeWeights");
        sameElements(s, d, "quantizeWeights");
        if (!Quantizer.isValidWeightBits(bits)) throw new IllegalArgumentException("weight bits " + bits);
        long n = s.elements();
        if (bits == Quantizer.FULL_PRECISION) {
            copy(s, d);
        } else if (bits == 1) {
            meanAbsOnDevice(s);  // the scale stays on the device: no host round trip
            elementwise("binarize_weight_f32_f32", n, s, d, n, meanResult);
        } else {
            elementwise("quantize_weight_f32_f32", n, s, d, n, bits);
        }
    }

    @Override
    public float weightCodes(Tensor w, int bits, Tensor codes) {
        CudaTensor s = of(w, DType.F32, "weightCodes"), c = of(codes, DType.I8, "weightCodes");
        sameElements(s, c, "weightCodes");
        long n = s.elements();
        if (bits == 1) {
            elementwise("binarize_weight_f32_s8", n, s, c, n);
            meanAbsOnDevice(s);
            float[] mean = new float[1];
            stagedDownload(meanResult, 4, (b, off, len) -> mean[0] = b.getFloat(0));
            return mean[0];
        }
        if (bits != 2 && bits != 4 && bits != 8) throw new IllegalArgumentException("weight code bits " + bits);
        elementwise("quantize_weight_f32_s8", n, s, c, n, bits);
        return 1f / Quantizer.weightLevels(bits);
    }

    @Override
    public void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {
        CudaTensor s = of(x, DType.F32, "quantizePack");
        CudaTensor p = packed(packedCodes, "quantizePack");
        if (p.bits() != bits || !p.shape().equals(s.shape())) throw new IllegalArgumentException("quantizePack: " + x + " into " + p);
        CudaTensor m = null;
        if (packedMask != null) {
            m = packed(packedMask, "quantizePack mask");
            if (m.bits() != 1 || !m.shape().equals(p.shape())) throw new IllegalArgumentException("mask must be 1-bit " + p.shape());
        }
        long pixels = p.shape().pixels();
        int channels = p.shape().channels();
        launch("quantize_act_pack_u" + bits, packThreads(pixels, channels), s, p, m, pixels, channels);
    }

    @Override
    public void unpackValues(Tensor packedCodes, Tensor y) {
        CudaTensor p = packed(packedCodes, "unpackValues");
        CudaTensor d = of(y, DType.F32, "unpackValues");
        if (d.elements() != p.elements()) throw new IllegalArgumentException("unpackValues: expected " + p.elements() + " elements, got " + d.elements());
        long pixels = p.shape().pixels();
        int channels = p.shape().channels();
        launch("unpack_u" + p.bits() + "_f32", packThreads(pixels, channels), p, d, pixels, channels);
    }

    @Override
    public void unpackCodes(Tensor packedCodes, Tensor codes) {
        CudaTensor p = packed(packedCodes, "unpackCodes");
        CudaTensor d = of(codes, DType.I32, "unpackCodes");
        if (d.elements() != p.elements()) throw new IllegalArgumentException("unpackCodes: wrong output size");
        long pixels = p.shape().pixels();
        int channels = p.shape().channels();
        launch("unpack_u" + p.bits() + "_s32", packThreads(pixels, channels), p, d, pixels, channels);
    }

    // ---- reductions ----------------------------------------------------------------------------

    /** Two-stage double sum into sumResult, and (float)(sum / n) into meanResult when mean. */
    private void sumOnDevice(String stage1, CudaTensor x, boolean mean) {
        ensureOpen();
        rt.makeCurrent();
        long n = x.elements();
        int blocks = reduceBlocks(n);
        rt.launch(stage1, blocks, BLOCK, 0, stream, params(x, n, partials));
        rt.launch("reduce_final_f64", 1, BLOCK, 0, stream,
                params(partials, blocks, sumResult, mean ? meanResult : null, n));
    }

    private void meanAbsOnDevice(CudaTensor w) {
        sumOnDevice("reduce_sum_abs_f32_f64", w, true);
    }

    private double downloadDouble() {
        double[] v = new double[1];
        stagedDownload(sumResult, 8, (b, off, len) -> v[0] = b.getDouble(0));
        return v[0];
    }

    @Override
    public double sumSquares(Tensor x) {
        CudaTensor s = of(x, DType.F32, "sumSquares");
        sumOnDevice("reduce_sum_squares_f32_f64", s, false);
        double v = downloadDouble();
        return Double.isFinite(v) ? v : Double.NaN;
    }

    /** Sum of all elements, accumulated in double (NaN/Inf propagate). */
    public double sum(Tensor x) {
        CudaTensor s = of(x, DType.F32, "sum");
        sumOnDevice("reduce_sum_f32_f64", s, false);
        return downloadDouble();
    }

    /** max |x|; NaN when any element is NaN. */
    public float maxAbs(Tensor x) {
        CudaTensor s = of(x, DType.F32, "maxAbs");
        ensureOpen();
        rt.makeCurrent();
        long n = s.elements();
        int blocks = reduceBlocks(n);
        rt.launch("reduce_max_abs_f32", blocks, BLOCK, 0, stream, params(s, n, partials));
        rt.launch("reduce_final_max_f32", 1, BLOCK, 0, stream, params(partials, blocks, maxResult));
        float[] v = new float[1];
        stagedDownload(maxResult, 4, (b, off, len) -> v[0] = b.getFloat(0));
        return v[0];
    }

    // ---- layers -------------------------------------------------------------------------------

    @Override
    public void relu(Tensor x, Tensor y) {
        CudaTensor s = of(x, DType.F32, "relu"), d = of(y, DType.F32, "relu");
        sameElements(s, d, "relu");
        elementwise("relu_f32", s.elements(), s, d, s.elements());
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        CudaTensor s = of(y, DType.F32, "reluBackward"), g = of(dy, DType.F32, "reluBackward");
        CudaTensor d = of(dx, DType.F32, "reluBackward");
        sameElements(s, g, "reluBackward");
        sameElements(s, d, "reluBackward");
        elementwise("relu_bwd_f32", s.elements(), s, g, d, s.elements());
    }

    /** Scratch device memory for the duration of one op, from the caching allocator (so counted). */
    private final class Scratch implements AutoCloseable {
        private final DeviceAllocator.Block<CUdeviceptr> block;

        Scratch(long bytes) {
            ensureOpen();
            rt.makeCurrent();
            block = allocator.allocate(bytes);
        }

        CUdeviceptr at(long byteOffset) {
            return block.pointer().withByteOffset(byteOffset);
        }

        @Override
        public void close() {
            // Stream-ordered reuse: whatever takes the block next queues behind the kernels using it.
            allocator.release(block);
        }
    }

    /** A launch with an exact grid (tiled kernels that derive their tile from blockIdx). */
    private void launchBlocks(String kernel, long blocks, int threads, Object... args) {
        ensureOpen();
        rt.makeCurrent();
        rt.launch(kernel, blocks, threads, 0, stream, params(args));
    }

    private static long gemmBlocks(long m, long n) {
        long t = CudaSupport.GEMM_TILE;
        return ((m + t - 1) / t) * ((n + t - 1) / t);
    }

    private void checkConv(CudaTensor x, CudaTensor w, CudaTensor y, ConvGeometry g) {
        long xs = (long) g.n() * g.h() * g.w() * g.cin(), ws = (long) g.cout() * g.patch();
        long ys = (long) g.n() * g.outH() * g.outW() * g.cout();
        if (x.elements() != xs || w.elements() != ws || y.elements() != ys) {
            throw new IllegalArgumentException("convolution " + g + ": input " + x + ", weights " + w + ", output " + y);
        }
    }

    private Object[] convArgs(ConvGeometry g) {
        return new Object[] {g.n(), g.h(), g.w(), g.cin(), g.cout(), g.kh(), g.kw(), g.stride(), g.pad(), g.outH(), g.outW()};
    }

    private static Object[] concat(Object[] a, Object... b) {
        Object[] r = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    @Override
    public long convWorkspaceBytes(ConvGeometry g) {
        return CudaSupport.convWorkspaceBytes(g);
    }

    @Override
    public void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {
        CudaTensor xt = of(x, DType.F32, "conv2dForward"), wt = of(w, DType.F32, "conv2dForward");
        CudaTensor yt = of(y, DType.F32, "conv2dForward");
        checkConv(xt, wt, yt, g);
        launchBlocks("conv2d_fprop_f32_f32_f32", gemmBlocks((long) g.n() * g.outH() * g.outW(), g.cout()), BLOCK,
                concat(new Object[] {xt, wt, yt}, convArgs(g)));
    }

    @Override
    public void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {
        CudaTensor dyt = of(dy, DType.F32, "conv2dBackwardData"), wt = of(w, DType.F32, "conv2dBackwardData");
        CudaTensor dxt = of(dx, DType.F32, "conv2dBackwardData");
        checkConv(dxt, wt, dyt, g);
        launchBlocks("conv2d_dgrad_f32_f32_f32", gemmBlocks((long) g.n() * g.h() * g.w(), g.cin()), BLOCK,
                concat(new Object[] {dyt, wt, dxt}, convArgs(g)));
    }

    @Override
    public void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {
        CudaTensor xt = of(x, DType.F32, "conv2dBackwardFilter"), dyt = of(dy, DType.F32, "conv2dBackwardFilter");
        CudaTensor dwt = of(dw, DType.F32, "conv2dBackwardFilter");
        checkConv(xt, dwt, dyt, g);
        long pixels = (long) g.n() * g.outH() * g.outW();
        int splits = CudaSupport.wgradSplits(g);
        long blocks = gemmBlocks(g.cout(), g.patch());
        if (splits == 1) {
            launchBlocks("conv2d_wgrad_f32_f32_f32", blocks, BLOCK, concat(new Object[] {xt, dyt, dwt}, concat(convArgs(g), 1, 0)));
            return;
        }
        int perSplit = (int) CudaSupport.wgradPixelsPerSplit(pixels, splits);
        long mn = (long) g.cout() * g.patch();
        try (Scratch partial = new Scratch(CudaSupport.convWorkspaceBytes(g))) {
            launchBlocks("conv2d_wgrad_f32_f32_f32", blocks * splits, BLOCK,
                    concat(new Object[] {xt, dyt, partial.at(0)}, concat(convArgs(g), splits, perSplit)));
            launch("conv2d_splitk_reduce_f32", mn, partial.at(0), dwt, mn, splits);
        }
    }

    private CudaTensor perChannel(Tensor t, int channels, String what) {
        CudaTensor c = of(t, DType.F32, what);
        if (c.elements() != channels) throw new IllegalArgumentException(what + ": expected " + channels + " values, got " + c);
        return c;
    }

    /** Launch arguments of a (rows, C) batch-norm reduction: rows, C, chunks. */
    private record BnShape(long rows, int channels, int chunks) {
        long blocks() {
            return (long) chunks * ((channels + 31) / 32);
        }
    }

    private static BnShape bnShape(CudaTensor x, int channels) {
        long rows = x.elements() / channels;
        if (rows * channels != x.elements()) {
            throw new IllegalArgumentException("batch norm over " + channels + " channels of " + x);
        }
        return new BnShape(rows, channels, CudaSupport.bnChunks(rows));
    }

    @Override
    public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        CudaTensor xt = of(x, DType.F32, "batchNormTrain"), yt = of(y, DType.F32, "batchNormTrain");
        sameElements(xt, yt, "batchNormTrain");
        CudaTensor gt = of(gamma, DType.F32, "batchNormTrain gamma");
        int c = (int) gt.elements();
        CudaTensor bt = perChannel(beta, c, "batchNormTrain beta"), mt = perChannel(saveMean, c, "batchNormTrain mean");
        CudaTensor it = perChannel(saveInvStd, c, "batchNormTrain invStd");
        CudaTensor rm = perChannel(runningMean, c, "batchNormTrain running mean");
        CudaTensor rv = perChannel(runningVar, c, "batchNormTrain running var");
        BnShape s = bnShape(xt, c);
        long partialBytes = 8L * s.chunks() * c;
        try (Scratch sc = new Scratch(partialBytes + 8L * c)) {
            CUdeviceptr partial = sc.at(0), mean = sc.at(partialBytes);
            launchBlocks("bn_partial_sum_f32_f64", s.blocks(), BLOCK, xt, s.rows(), c, s.chunks(), partial);
            launch("bn_mean_f64", c, partial, s.rows(), c, s.chunks(), mean);
            launchBlocks("bn_partial_sqdev_f32_f64", s.blocks(), BLOCK, xt, mean, s.rows(), c, s.chunks(), partial);
            launch("bn_train_stats_f32", c, partial, mean, s.rows(), c, s.chunks(), mt, it, rm, rv, momentum, eps);
        }
        launch("bn_apply_f32", xt.elements(), xt, gt, bt, mt, it, yt, xt.elements(), c);
    }

    @Override
    public void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {
        CudaTensor xt = of(x, DType.F32, "batchNormApply"), yt = of(y, DType.F32, "batchNormApply");
        sameElements(xt, yt, "batchNormApply");
        CudaTensor gt = of(gamma, DType.F32, "batchNormApply gamma");
        int c = (int) gt.elements();
        bnShape(xt, c);
        launch("bn_apply_f32", xt.elements(), xt, gt, perChannel(beta, c, "batchNormApply beta"),
                perChannel(mean, c, "batchNormApply mean"), perChannel(invStd, c, "batchNormApply invStd"), yt,
                xt.elements(), c);
    }

    @Override
    public void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps,
            Tensor y) {
        CudaTensor xt = of(x, DType.F32, "batchNormInference"), yt = of(y, DType.F32, "batchNormInference");
        sameElements(xt, yt, "batchNormInference");
        CudaTensor gt = of(gamma, DType.F32, "batchNormInference gamma");
        int c = (int) gt.elements();
        bnShape(xt, c);
        try (Scratch coef = new Scratch(8L * c)) {
            launch("bn_inference_coef_f32", c, gt, perChannel(beta, c, "batchNormInference beta"),
                    perChannel(runningMean, c, "batchNormInference running mean"),
                    perChannel(runningVar, c, "batchNormInference running var"), eps, c, coef.at(0));
            launch("bn_scale_shift_f32", xt.elements(), xt, coef.at(0), yt, xt.elements(), c);
        }
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        CudaTensor xt = of(x, DType.F32, "batchNormBackward"), gy = of(dy, DType.F32, "batchNormBackward");
        CudaTensor gx = of(dx, DType.F32, "batchNormBackward");
        sameElements(xt, gy, "batchNormBackward");
        sameElements(xt, gx, "batchNormBackward");
        CudaTensor gt = of(gamma, DType.F32, "batchNormBackward gamma");
        int c = (int) gt.elements();
        CudaTensor mt = perChannel(saveMean, c, "batchNormBackward mean");
        CudaTensor it = perChannel(saveInvStd, c, "batchNormBackward invStd");
        CudaTensor dg = perChannel(dgamma, c, "batchNormBackward dgamma"), db = perChannel(dbeta, c, "batchNormBackward dbeta");
        BnShape s = bnShape(xt, c);
        long partialBytes = 16L * s.chunks() * c;
        try (Scratch sc = new Scratch(partialBytes + 12L * c)) {
            CUdeviceptr partial = sc.at(0), coef = sc.at(partialBytes);
            launchBlocks("bn_partial_bwd_f32_f64", s.blocks(), BLOCK, xt, gy, mt, it, s.rows(), c, s.chunks(), partial);
            launch("bn_bwd_coef_f32", c, partial, gt, it, s.rows(), c, s.chunks(), dg, db, coef);
            launch("bn_bwd_apply_f32", xt.elements(), xt, gy, mt, it, coef, gx, xt.elements(), c);
        }
    }

    private static Object[] poolArgs(PoolGeometry g) {
        return new Object[] {g.n(), g.h(), g.w(), g.c(), g.window(), g.stride(), g.pad(), g.outH(), g.outW()};
    }

    private static void checkPool(CudaTensor x, CudaTensor y, PoolGeometry g, String what) {
        long xs = (long) g.n() * g.h() * g.w() * g.c(), ys = (long) g.n() * g.outH() * g.outW() * g.c();
        if (x.elements() != xs || y.elements() != ys) throw new IllegalArgumentException(what + " " + g + ": " + x + " -> " + y);
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        CudaTensor xt = of(x, DType.F32, "maxPoolForward"), yt = of(y, DType.F32, "maxPoolForward");
        CudaTensor at = of(argmax, DType.I32, "maxPoolForward argmax");
        checkPool(xt, yt, g, "maxPoolForward");
        sameElements(yt, at, "maxPoolForward argmax");
        launch("maxpool_fwd_f32", yt.elements(), concat(new Object[] {xt, yt, at}, poolArgs(g)));
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {
        CudaTensor gy = of(dy, DType.F32, "maxPoolBackward"), at = of(argmax, DType.I32, "maxPoolBackward argmax");
        CudaTensor gx = of(dx, DType.F32, "maxPoolBackward");
        checkPool(gx, gy, g, "maxPoolBackward");
        sameElements(gy, at, "maxPoolBackward argmax");
        launch("maxpool_bwd_f32", gx.elements(), concat(new Object[] {gy, at, gx}, poolArgs(g)));
    }

    /** (n, hw, c) of a (n, h, w, c) tensor. */
    private static int[] gapDims(CudaTensor t) {
        Shape s = t.shape();
        int n = s.dim(0), c = s.channels();
        return new int[] {n, (int) (s.elements() / ((long) n * c)), c};
    }

    @Override
    public void globalAvgPoolForward(Tensor x, Tensor y) {
        CudaTensor xt = of(x, DType.F32, "globalAvgPoolForward"), yt = of(y, DType.F32, "globalAvgPoolForward");
        int[] d = gapDims(xt);
        if (yt.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("globalAvgPool " + xt + " -> " + yt);
        launch("gap_fwd_f32", yt.elements(), xt, yt, d[0], d[1], d[2]);
    }

    @Override
    public void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        CudaTensor gy = of(dy, DType.F32, "globalAvgPoolBackward"), gx = of(dx, DType.F32, "globalAvgPoolBackward");
        int[] d = gapDims(gx);
        if (gy.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("globalAvgPool backward " + gy + " -> " + gx);
        launch("gap_bwd_f32", gx.elements(), gy, gx, d[0], d[1], d[2], 1f / d[1]);
    }

    /** (n, in, out) of a linear layer with weights (out, in). */
    private static int[] linearDims(CudaTensor x, CudaTensor w) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        long n = x.elements() / in;
        if (w.shape().rank() != 2 || n * in != x.elements()) throw new IllegalArgumentException("linear: input " + x + ", weights " + w);
        return new int[] {(int) n, in, out};
    }

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        CudaTensor xt = of(x, DType.F32, "linearForward"), wt = of(w, DType.F32, "linearForward");
        CudaTensor yt = of(y, DType.F32, "linearForward");
        int[] d = linearDims(xt, wt);
        if (yt.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("linear output " + yt);
        CudaTensor bt = b == null ? null : perChannel(b, d[2], "linearForward bias");
        launchBlocks("linear_fprop_f32_f32_f32", gemmBlocks(d[0], d[2]), BLOCK, xt, wt, bt, yt, d[0], d[1], d[2]);
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        CudaTensor xt = of(x, DType.F32, "linearBackward"), wt = of(w, DType.F32, "linearBackward");
        CudaTensor gy = of(dy, DType.F32, "linearBackward"), gw = of(dw, DType.F32, "linearBackward dw");
        int[] d = linearDims(xt, wt);
        if (gy.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("linear dy " + gy);
        sameElements(wt, gw, "linearBackward dw");
        if (dx != null) {
            CudaTensor gx = of(dx, DType.F32, "linearBackward dx");
            sameElements(xt, gx, "linearBackward dx");
            launchBlocks("linear_dgrad_f32_f32_f32", gemmBlocks(d[0], d[1]), BLOCK, gy, wt, gx, d[0], d[1], d[2]);
        }
        launchBlocks("linear_wgrad_f32_f32_f32", gemmBlocks(d[2], d[1]), BLOCK, xt, gy, gw, d[0], d[1], d[2]);
        if (db != null) launch("linear_bias_grad_f32_f64", d[2], gy, perChannel(db, d[2], "linearBackward db"), d[0], d[2]);
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        CudaTensor z = of(logits, DType.F32, "softmaxCrossEntropy"), dz = of(dlogits, DType.F32, "softmaxCrossEntropy");
        CudaTensor lab = of(labels, DType.I32, "softmaxCrossEntropy labels");
        sameElements(z, dz, "softmaxCrossEntropy");
        int n = (int) lab.elements();
        int classes = (int) (z.elements() / n);
        if ((long) n * classes != z.elements()) throw new IllegalArgumentException("softmaxCrossEntropy: " + z + " for " + n + " labels");
        try (Scratch sc = new Scratch(12L * n)) {
            CUdeviceptr loss = sc.at(0), hit = sc.at(8L * n);
            launch("softmax_xent_f32", n, z, lab, dz, n, classes, gradScale, loss, hit);
            launchBlocks("softmax_xent_total", 1, BLOCK, loss, hit, n, lossResult);
        }
        ByteBuffer r = ByteBuffer.allocate(16).order(java.nio.ByteOrder.nativeOrder());
        stagedDownload(lossResult, 16, (b, off, len) -> r.put(0, b, 0, 16));
        int bad = r.getInt(12);
        if (bad >= 0) {
            int[] label = new int[1];
            stagedDownload(lab.ptr().withByteOffset(4L * bad), 4, (b, off, len) -> label[0] = b.getInt(0));
            throw new IllegalArgumentException("label " + label[0] + " (sample " + bad + ") outside 0.." + (classes - 1));
        }
        return new LossResult(r.getDouble(0), r.getInt(8), n);
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        CudaTensor p = of(param, DType.F32, "sgdStep"), g = of(grad, DType.F32, "sgdStep"), v = of(velocity, DType.F32, "sgdStep");
        sameElements(p, g, "sgdStep");
        sameElements(p, v, "sgdStep");
        elementwise("sgd_momentum_f32", p.elements(), p, g, v, p.elements(), lr, momentum, weightDecay);
    }

    @Override
    public void close() {
        if (closed) return;
        rt.makeCurrent();
        try {
            rt.synchronize(stream);
        } finally {
            closed = true;
            List<CudaTensor> open;
            synchronized (live) {
                open = List.copyOf(live);
            }
            for (CudaTensor t : open) t.close();
            allocator.emptyCache();
            staging.close();
            cuMemFree(partials);
            cuMemFree(sumResult);
            cuMemFree(meanResult);
            cuMemFree(maxResult);
            cuMemFree(lossResult);
            cuStreamDestroy(stream);
        }
    }
}
