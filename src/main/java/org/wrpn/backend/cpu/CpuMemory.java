package org.wrpn.backend.cpu;

import java.util.Arrays;
import java.util.concurrent.atomic.AtomicLong;
import org.wrpn.backend.ImageSlices;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The CPU backend's memory: the byte ledger (live tensors plus op scratch, which the peak must
 * include), the array pool, and the checked way from a Tensor to its Java array.
 */
final class CpuMemory {
    final ArrayPool pool = new ArrayPool();
    private final AtomicLong allocated = new AtomicLong();
    private final AtomicLong peak = new AtomicLong();

    Tensor allocate(DType dtype, Shape shape, boolean zeroed) {
        if (dtype == DType.PACKED) throw new IllegalArgumentException("use allocatePacked for packed tensors");
        return track(new CpuTensor(this, dtype, shape, dtype == DType.I8 ? 8 : 32, zeroed));
    }

    Tensor allocatePacked(Shape logicalShape, int bits, boolean zeroed) {
        PackedLayout.checkBits(bits);
        return track(new CpuTensor(this, DType.PACKED, logicalShape, bits, zeroed));
    }

    private Tensor track(CpuTensor t) {
        long now = allocated.addAndGet(t.bytes());
        peak.accumulateAndGet(now, Math::max);
        return t;
    }

    void released(CpuTensor t) {
        allocated.addAndGet(-t.bytes());
    }

    /** Counts op scratch (convolution staging) as allocated while an op uses it, so the peak includes it. */
    void workspaceInUse(long bytes) {
        long now = allocated.addAndGet(bytes);
        if (bytes > 0) peak.accumulateAndGet(now, Math::max);
    }

    long allocatedBytes() {
        return allocated.get();
    }

    long peakAllocatedBytes() {
        return peak.get();
    }

    void resetPeak() {
        peak.set(allocated.get());
    }

    // ---- from Tensor to array ------------------------------------------------------------------

    CpuTensor tensor(Tensor x) {
        if (!(x instanceof CpuTensor c) || c.owner != this) {
            throw new IllegalArgumentException("tensor " + x + " does not belong to this CPU backend");
        }
        if (c.isClosed()) throw new IllegalStateException("tensor " + x + " was closed");
        return c;
    }

    float[] f(Tensor x) {
        CpuTensor c = tensor(x);
        if (c.dtype() != DType.F32) throw new IllegalArgumentException("expected F32 tensor, got " + c);
        return c.f;
    }

    int[] ints(Tensor x) {
        CpuTensor c = tensor(x);
        if (c.dtype() != DType.I32) throw new IllegalArgumentException("expected I32 tensor, got " + c);
        return c.i;
    }

    CpuTensor packed(Tensor x) {
        CpuTensor c = tensor(x);
        if (c.dtype() != DType.PACKED) throw new IllegalArgumentException("expected packed tensor, got " + c);
        return c;
    }

    // ---- copies in, out and between -------------------------------------------------------------

    void upload(float[] src, Tensor dst) {
        float[] d = f(dst);
        if (src.length < d.length) throw new IllegalArgumentException("upload: source has " + src.length + " < " + d.length);
        System.arraycopy(src, 0, d, 0, d.length);
    }

    void upload(int[] src, Tensor dst) {
        CpuTensor c = tensor(dst);
        switch (c.dtype()) {
            case I32, PACKED -> {
                if (src.length < c.i.length) throw new IllegalArgumentException("upload: source too short");
                System.arraycopy(src, 0, c.i, 0, c.i.length);
            }
            case I8 -> {
                if (src.length < c.b.length) throw new IllegalArgumentException("upload: source too short");
                for (int k = 0; k < c.b.length; k++) c.b[k] = (byte) src[k];
            }
            default -> throw new IllegalArgumentException("int upload into " + c);
        }
    }

    void download(Tensor src, float[] dst) {
        float[] s = f(src);
        System.arraycopy(s, 0, dst, 0, s.length);
    }

    void download(Tensor src, int[] dst) {
        CpuTensor c = tensor(src);
        switch (c.dtype()) {
            case I32, PACKED -> System.arraycopy(c.i, 0, dst, 0, c.i.length);
            case I8 -> {
                for (int k = 0; k < c.b.length; k++) dst[k] = c.b[k];
            }
            default -> throw new IllegalArgumentException("int download from " + c);
        }
    }

    void copy(Tensor src, Tensor dst) {
        CpuTensor s = tensor(src), d = tensor(dst);
        if (s.dtype() != d.dtype() || s.bytes() != d.bytes()) throw new IllegalArgumentException("copy " + s + " -> " + d);
        switch (s.dtype()) {
            case F32 -> System.arraycopy(s.f, 0, d.f, 0, s.f.length);
            case I8 -> System.arraycopy(s.b, 0, d.b, 0, s.b.length);
            default -> System.arraycopy(s.i, 0, d.i, 0, s.i.length);
        }
    }

    void copyImages(Tensor src, int srcFirst, Tensor dst, int dstFirst, int images) {
        CpuTensor s = tensor(src), d = tensor(dst);
        long per = ImageSlices.wordsPerImage(s, d, srcFirst, dstFirst, images);
        switch (s.dtype()) {
            case F32 -> System.arraycopy(s.f, Math.toIntExact(srcFirst * per), d.f, Math.toIntExact(dstFirst * per), Math.toIntExact(images * per));
            default -> System.arraycopy(s.i, Math.toIntExact(srcFirst * per), d.i, Math.toIntExact(dstFirst * per), Math.toIntExact(images * per));
        }
    }

    void fill(Tensor dst, float value) {
        Arrays.fill(f(dst), value);
    }

    /** Drops the pooled arrays (the backend closes). */
    void clearPool() {
        pool.clear();
    }
}
