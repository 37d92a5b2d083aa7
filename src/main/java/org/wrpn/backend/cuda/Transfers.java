package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemcpyDtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyDtoHAsync;
import static jcuda.driver.JCudaDriver.cuMemcpyHtoDAsync;
import static jcuda.driver.JCudaDriver.cuMemsetD32Async;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import jcuda.driver.CUdeviceptr;
import org.wrpn.backend.ImageSlices;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/**
 * Moves data on one backend's stream: uploads and downloads through pinned staging slots (Java
 * arrays cannot be pinned), scalar results, device copies and fills.
 */
final class Transfers implements AutoCloseable {
    static final int STAGING_SLOTS = 4;
    static final long STAGING_SLOT_BYTES = 4L << 20;

    private final CudaStream stream;
    private final Operands operands;
    private final PinnedStaging staging;

    Transfers(CudaStream stream, Operands operands) {
        this.stream = stream;
        this.operands = operands;
        this.staging = new PinnedStaging(STAGING_SLOTS, STAGING_SLOT_BYTES);
    }

    /** Moves one staging slot's worth of data: bytes [fromByte, fromByte + bytes) of the whole copy. */
    private interface Chunk {
        void move(ByteBuffer slot, long fromByte, long bytes);
    }

    /** Queues the copy slot by slot; returns once the last slot is queued, not when it has landed. */
    private void stagedUpload(CudaTensor dst, long bytes, Chunk fill) {
        stream.makeCurrent();
        for (long off = 0; off < bytes; off += staging.slotBytes()) {
            long len = Math.min(staging.slotBytes(), bytes - off);
            int slot = staging.acquire();
            fill.move(staging.view(slot), off, len);
            CudaRuntime.check(cuMemcpyHtoDAsync(dst.ptr().withByteOffset(off), staging.pointer(slot), len, stream.handle()),
                    "cuMemcpyHtoDAsync");
            staging.inFlight(slot, stream.handle());
        }
    }

    /** Waits for each slot's copy before draining it. */
    private void stagedDownload(CUdeviceptr src, long bytes, Chunk drain) {
        stream.makeCurrent();
        for (long off = 0; off < bytes; off += staging.slotBytes()) {
            long len = Math.min(staging.slotBytes(), bytes - off);
            int slot = staging.acquire();
            CudaRuntime.check(cuMemcpyDtoHAsync(staging.pointer(slot), src.withByteOffset(off), len, stream.handle()),
                    "cuMemcpyDtoHAsync");
            stream.synchronize();
            drain.move(staging.view(slot), off, len);
        }
    }

    /** A few bytes of device results, in native order (waits for the stream). */
    ByteBuffer download(CUdeviceptr src, int bytes) {
        ByteBuffer r = ByteBuffer.allocate(bytes).order(ByteOrder.nativeOrder());
        stagedDownload(src, bytes, (b, off, len) -> r.put(0, b, 0, bytes));
        return r;
    }

    void upload(float[] src, Tensor dst) {
        CudaTensor d = operands.of(dst, DType.F32, "upload");
        long n = d.elements();
        if (src.length < n) throw new IllegalArgumentException("upload: source has " + src.length + " < " + n);
        stagedUpload(d, 4 * n, (b, off, len) -> b.asFloatBuffer().put(src, (int) (off / 4), (int) (len / 4)));
    }

    void upload(int[] src, Tensor dst) {
        CudaTensor d = operands.any(dst);
        if (src.length < intsOf(d, "int upload into")) throw new IllegalArgumentException("upload: source too short");
        stagedUpload(d, d.bytes(), d.dtype() == DType.I8
                ? (b, off, len) -> {
                    for (int i = 0; i < len; i++) b.put(i, (byte) src[(int) off + i]);
                }
                : (b, off, len) -> b.asIntBuffer().put(src, (int) (off / 4), (int) (len / 4)));
    }

    void download(Tensor src, float[] dst) {
        CudaTensor s = operands.of(src, DType.F32, "download");
        long n = s.elements();
        if (dst.length < n) throw new IllegalArgumentException("download: destination has " + dst.length + " < " + n);
        stagedDownload(s.ptr(), 4 * n, (b, off, len) -> b.asFloatBuffer().get(dst, (int) (off / 4), (int) (len / 4)));
    }

    void download(Tensor src, int[] dst) {
        CudaTensor s = operands.any(src);
        if (dst.length < intsOf(s, "int download from")) throw new IllegalArgumentException("download: destination too short");
        stagedDownload(s.ptr(), s.bytes(), s.dtype() == DType.I8
                ? (b, off, len) -> {
                    for (int i = 0; i < len; i++) dst[(int) off + i] = b.get(i);
                }
                : (b, off, len) -> b.asIntBuffer().get(dst, (int) (off / 4), (int) (len / 4)));
    }

    /** Java ints an int[] copy of t takes: a word of I32/PACKED, or a byte of I8, each. */
    private static long intsOf(CudaTensor t, String what) {
        return switch (t.dtype()) {
            case I32, PACKED -> t.bytes() / 4;
            case I8 -> t.bytes();
            default -> throw new IllegalArgumentException(what + " " + t);
        };
    }

    void copy(Tensor src, Tensor dst) {
        CudaTensor s = operands.any(src), d = operands.any(dst);
        if (s.dtype() != d.dtype() || s.bytes() != d.bytes()) throw new IllegalArgumentException("copy " + s + " -> " + d);
        stream.makeCurrent();
        CudaRuntime.check(cuMemcpyDtoDAsync(d.ptr(), s.ptr(), s.bytes(), stream.handle()), "cuMemcpyDtoDAsync");
    }

    void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images) {
        CudaTensor s = operands.any(src), d = operands.any(dst);
        long bytes = 4 * ImageSlices.wordsPerImage(s, d, srcFirst, dstFirst, images);
        if (images == 0) return;
        stream.makeCurrent();
        CudaRuntime.check(cuMemcpyDtoDAsync(d.ptr().withByteOffset(dstFirst * bytes), s.ptr().withByteOffset(srcFirst * bytes),
                images * bytes, stream.handle()), "cuMemcpyDtoDAsync");
    }

    void fill(Tensor dst, float value) {
        CudaTensor d = operands.of(dst, DType.F32, "fill");
        stream.makeCurrent();
        CudaRuntime.check(cuMemsetD32Async(d.ptr(), Float.floatToRawIntBits(value), d.elements(), stream.handle()),
                "cuMemsetD32Async");
    }

    @Override
    public void close() {
        staging.close();
    }
}
