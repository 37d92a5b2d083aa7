package org.wrpn.backend.cuda;

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
import org.wrpn.backend.Op;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.backend.UnsupportedOperationError;
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
 * <p>Implemented so far: memory, copies, fill, add, the quantizers, pack/unpack and reductions.
 * Layer ops say so through {@link #supports} and throw {@link UnsupportedOperationError}.
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

    public CudaDevice device() {
        return rt.device();
    }

    @Override
    public boolean supports(Op op, int weightBits, int activationBits) {
        return CudaSupport.supports(op, weightBits, activationBits);
    }

    private UnsupportedOperationError notYet(String what) {
        return new UnsupportedOperationError("cuda backend does not implement " + what
                + " yet; use --device cpu (missing: " + CudaSupport.missingForTraining() + ")");
    }

    // ---- memory -------------------------------------------------------------------------------

    private CudaTensor track(DType dtype, Shape shape, int bits, long bytes) {
        ensureOpen();
        rt.makeCurrent();
        DeviceAllocator.Block<CUdeviceptr> b = allocator.allocate(bytes);
        CudaTensor t = new CudaTensor(this, dtype, shape, bits, bytes, b);
        synchronized (live) {
            live.add(t);
        }
        CudaRuntime.check(cuMemsetD8Async(b.pointer(), (byte) 0, bytes, stream), "cuMemsetD8Async");
        return t;
    }

    @Override
    public Tensor allocate(DType dtype, Shape shape) {
        long n = shape.elements();
        return switch (dtype) {
            case F32 -> track(dtype, shape, 32, 4L * n);
            case I32 -> track(dtype, shape, 32, 4L * n);
            case I8 -> track(dtype, shape, 8, n);
            case PACKED -> throw new IllegalArgumentException("use allocatePacked for packed tensors");
        };
    }

    @Override
    public Tensor allocatePacked(Shape logicalShape, int bits) {
        PackedLayout.checkBits(bits);
        return track(DType.PACKED, logicalShape, bits,
                PackedLayout.bytes(logicalShape.pixels(), logicalShape.channels(), bits));
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
        if (c.dtype != dtype) throw new IllegalArgumentException(what + ": expected " + dtype + " tensor, got " + c);
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
        switch (d.dtype) {
            case I32, PACKED -> {
                long words = d.bytes / 4;
                if (src.length < words) throw new IllegalArgumentException("upload: source too short");
                stagedUpload(d, d.bytes, (b, off, len) -> b.asIntBuffer().put(src, (int) (off / 4), (int) (len / 4)));
            }
            case I8 -> {
                if (src.length < d.bytes) throw new IllegalArgumentException("upload: source too short");
                stagedUpload(d, d.bytes, (b, off, len) -> {
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
        switch (s.dtype) {
            case I32, PACKED -> {
                if (dst.length < s.bytes / 4) throw new IllegalArgumentException("download: destination too short");
                stagedDownload(s.ptr(), s.bytes, (b, off, len) -> b.asIntBuffer().get(dst, (int) (off / 4), (int) (len / 4)));
            }
            case I8 -> {
                if (dst.length < s.bytes) throw new IllegalArgumentException("download: destination too short");
                stagedDownload(s.ptr(), s.bytes, (b, off, len) -> {
                    for (int i = 0; i < len; i++) dst[(int) off + i] = b.get(i);
                });
            }
            default -> throw new IllegalArgumentException("int download from " + s);
        }
    }

    @Override
    public void copy(Tensor src, Tensor dst) {
        CudaTensor s = t(src), d = t(dst);
        if (s.dtype != d.dtype || s.bytes != d.bytes) throw new IllegalArgumentException("copy " + s + " -> " + d);
        rt.makeCurrent();
        CudaRuntime.check(cuMemcpyDtoDAsync(d.ptr(), s.ptr(), s.bytes, stream), "cuMemcpyDtoDAsync");
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
        if (m.bits != 1 || m.elements() != g.elements()) {
            throw new IllegalArgumentException("maskGradient: mask " + m + " for " + g.elements() + " values");
        }
        long pixels = m.shape.pixels();
        int channels = m.shape.channels();
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
        if (p.bits != bits || !p.shape.equals(s.shape)) throw new IllegalArgumentException("quantizePack: " + x + " into " + p);
        CudaTensor m = null;
        if (packedMask != null) {
            m = packed(packedMask, "quantizePack mask");
            if (m.bits != 1 || !m.shape.equals(p.shape)) throw new IllegalArgumentException("mask must be 1-bit " + p.shape);
        }
        long pixels = p.shape.pixels();
        int channels = p.shape.channels();
        launch("quantize_act_pack_u" + bits, packThreads(pixels, channels), s, p, m, pixels, channels);
    }

    @Override
    public void unpackValues(Tensor packedCodes, Tensor y) {
        CudaTensor p = packed(packedCodes, "unpackValues");
        CudaTensor d = of(y, DType.F32, "unpackValues");
        if (d.elements() != p.elements()) throw new IllegalArgumentException("unpackValues: expected " + p.elements() + " elements, got " + d.elements());
        long pixels = p.shape.pixels();
        int channels = p.shape.channels();
        launch("unpack_u" + p.bits + "_f32", packThreads(pixels, channels), p, d, pixels, channels);
    }

    @Override
    public void unpackCodes(Tensor packedCodes, Tensor codes) {
        CudaTensor p = packed(packedCodes, "unpackCodes");
        CudaTensor d = of(codes, DType.I32, "unpackCodes");
        if (d.elements() != p.elements()) throw new IllegalArgumentException("unpackCodes: wrong output size");
        long pixels = p.shape.pixels();
        int channels = p.shape.channels();
        launch("unpack_u" + p.bits + "_s32", packThreads(pixels, channels), p, d, pixels, channels);
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

    // ---- layers (not yet on the GPU) ------------------------------------------------------------

    @Override
    public void relu(Tensor x, Tensor y) {
        throw notYet("relu");
    }

    @Override
    public void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        throw notYet("relu backward");
    }

    @Override
    public void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {
        throw notYet("conv2d");
    }

    @Override
    public void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {
        throw notYet("conv2d backward data");
    }

    @Override
    public void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {
        throw notYet("conv2d backward filter");
    }

    @Override
    public void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        throw notYet("batch norm");
    }

    @Override
    public void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {
        throw notYet("batch norm");
    }

    @Override
    public void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps,
            Tensor y) {
        throw notYet("batch norm");
    }

    @Override
    public void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        throw notYet("batch norm backward");
    }

    @Override
    public void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        throw notYet("max pool");
    }

    @Override
    public void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {
        throw notYet("max pool backward");
    }

    @Override
    public void globalAvgPoolForward(Tensor x, Tensor y) {
        throw notYet("global average pool");
    }

    @Override
    public void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        throw notYet("global average pool backward");
    }

    @Override
    public void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        throw notYet("linear");
    }

    @Override
    public void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        throw notYet("linear backward");
    }

    @Override
    public LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        throw notYet("softmax cross-entropy");
    }

    @Override
    public void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        throw notYet("SGD");
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
            cuStreamDestroy(stream);
        }
    }
}
