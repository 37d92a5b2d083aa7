package org.wrpn.backend.cuda;

import java.util.ArrayList;
import java.util.List;
import jcuda.Pointer;
import jcuda.driver.CUdeviceptr;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.PoolGeometry;

/**
 * One kernel launch, built as typed arguments in the kernel's parameter order and queued by a grid
 * rule: {@code stream.launch("relu_f32").ptr(x).ptr(y).i64(n).float4(n)}. Every grid the backend
 * launches is derived here, so no op computes one by hand.
 */
final class KernelCall {
    /** Threads per block of every launch. */
    static final int BLOCK = 256;
    /** Stage-1 blocks of a reduction at most; the count depends on n only, so results are reproducible. */
    static final int REDUCE_MAX_BLOCKS = 1024;

    private final CudaStream stream;
    private final String kernel;
    private final List<Pointer> args = new ArrayList<>();

    KernelCall(CudaStream stream, String kernel) {
        this.stream = stream;
        this.kernel = kernel;
    }

    // ---- arguments, in the kernel's order -------------------------------------------------------

    KernelCall ptr(CudaTensor t) {
        return ptr(t.ptr());
    }

    KernelCall ptr(CUdeviceptr p) {
        args.add(Pointer.to(p));
        return this;
    }

    /** Tensors in this order. */
    KernelCall ptrs(CudaTensor... ts) {
        for (CudaTensor t : ts) ptr(t);
        return this;
    }

    /** An optional input (bias, mask): NULL when absent. */
    KernelCall ptrOrNull(CudaTensor t) {
        return ptr(t == null ? new CUdeviceptr() : t.ptr());
    }

    KernelCall ptrOrNull(CUdeviceptr p) {
        return ptr(p == null ? new CUdeviceptr() : p);
    }

    KernelCall i32(int v) {
        args.add(Pointer.to(new int[] {v}));
        return this;
    }

    KernelCall i64(long v) {
        args.add(Pointer.to(new long[] {v}));
        return this;
    }

    KernelCall f32(float v) {
        args.add(Pointer.to(new float[] {v}));
        return this;
    }

    /** n, h, w, cin, cout, kh, kw, stride, pad, outH, outW. */
    KernelCall conv(ConvGeometry g) {
        return i32(g.n()).i32(g.h()).i32(g.w()).i32(g.cin()).i32(g.cout()).i32(g.kh()).i32(g.kw()).i32(g.stride())
                .i32(g.pad()).i32(g.outH()).i32(g.outW());
    }

    /** n, h, w, c, window, stride, pad, outH, outW. */
    KernelCall pool(PoolGeometry g) {
        return i32(g.n()).i32(g.h()).i32(g.w()).i32(g.c()).i32(g.window()).i32(g.stride()).i32(g.pad()).i32(g.outH())
                .i32(g.outW());
    }

    // ---- grid rules: each queues the launch -----------------------------------------------------

    /** A grid-stride kernel over this many threads: no more blocks than are resident at once (one wave). */
    void threads(long threads) {
        queue(Math.min(Math.max(1, (threads + BLOCK - 1) / BLOCK), stream.fullGrid(kernel, BLOCK)));
    }

    /** An element-wise kernel over n elements, four per thread (float4). */
    void float4(long n) {
        threads((n + 3) / 4);
    }

    /** A pack/unpack kernel over (pixels, channels): a warp per 32-channel unit, or per 4 units on the vector path. */
    void packed(long pixels, int channels) {
        threads(packThreads(pixels, channels));
    }

    /** A tiled GEMM kernel: one block per output tile of an (m x n) product. */
    void gemm(long m, long n) {
        gemm(m, n, 1);
    }

    /** A split-K GEMM kernel: one block per output tile and k-range. */
    void gemm(long m, long n, int splits) {
        long t = CudaSupport.GEMM_TILE;
        queue(((m + t - 1) / t) * ((n + t - 1) / t) * splits);
    }

    /** A GEMM kernel of (tm x tn) tiles: one block per output tile of an (m x n) product. */
    void tiles(long m, long n, int tm, int tn) {
        queue(((m + tm - 1) / tm) * ((n + tn - 1) / tn));
    }

    /** A per-channel reduction over (rows, channels): one block per row chunk and 32 channels. */
    void channelChunks(int chunks, int channels) {
        queue((long) chunks * ((channels + 31) / 32));
    }

    /** Stage 1 of a reduction over n values; returns its block count (stage 2's partials). */
    int reduce(long n) {
        int blocks = (int) Math.max(1, Math.min(REDUCE_MAX_BLOCKS, (n + BLOCK * 16L - 1) / (BLOCK * 16L)));
        queue(blocks);
        return blocks;
    }

    /** One block (the final stage of a reduction). */
    void single() {
        queue(1);
    }

    static long packThreads(long pixels, int channels) {
        long units = pixels * ((channels + 31) / 32);
        long warps = channels % 4 == 0 ? (units + 3) / 4 : units;
        return warps * 32;
    }

    private void queue(long grid) {
        stream.run(kernel, grid, BLOCK, Pointer.to(args.toArray(new Pointer[0])));
    }
}
