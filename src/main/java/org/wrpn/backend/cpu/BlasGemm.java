package org.wrpn.backend.cpu;

import static java.lang.foreign.ValueLayout.JAVA_FLOAT;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasNoTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasRowMajor;
import static org.bytedeco.openblas.global.openblas_nolapack.CblasTrans;
import static org.bytedeco.openblas.global.openblas_nolapack.cblas_sgemm;

import java.lang.foreign.MemorySegment;
import java.util.HashMap;
import java.util.Map;
import org.bytedeco.javacpp.FloatPointer;

/**
 * Single-precision GEMM: OpenBLAS's cblas_sgemm ({@link OpenBlas}), row-major. Operands live in
 * Java arrays; they are copied into off-heap scratch matrices that are cached by shape and reused
 * (allocating per call would churn native memory), and the result is copied back. Nothing native
 * loads before the first product: a CPU backend that is only made and closed (the GPU bundle's
 * fallback of --device auto) needs no JavaCPP.
 */
final class BlasGemm implements AutoCloseable {
    private final Map<Long, FloatPointer> scratch = new HashMap<>();

    private FloatPointer matrix(int slot, int rows, int cols) {
        long key = ((long) slot << 58) ^ ((long) rows << 29) ^ cols;
        FloatPointer m = scratch.get(key);
        if (m == null) {
            m = new FloatPointer(Math.max(1L, (long) rows * cols));
            scratch.put(key, m);
        }
        return m;
    }

    /**
     * c[m x n] = op(a) * op(b) (+ c when accumulate), all row-major. op(a) is m x k: a is stored
     * m x k, or k x m when transA. op(b) is k x n: b is stored k x n, or n x k when transB.
     */
    void gemm(float[] a, int aOff, boolean transA, float[] b, int bOff, boolean transB, float[] c, int cOff,
            int m, int n, int k, boolean accumulate) {
        FloatPointer am = transA ? matrix(0, k, m) : matrix(0, m, k);
        FloatPointer bm = transB ? matrix(1, n, k) : matrix(1, k, n);
        FloatPointer cm = matrix(2, m, n);
        MemorySegment.copy(a, aOff, segment(am), JAVA_FLOAT, 0, m * k);
        MemorySegment.copy(b, bOff, segment(bm), JAVA_FLOAT, 0, k * n);
        if (accumulate) MemorySegment.copy(c, cOff, segment(cm), JAVA_FLOAT, 0, m * n);
        sgemm(m, n, k, transA, am, transB, bm, accumulate ? 1f : 0f, cm);
        MemorySegment.copy(segment(cm), JAVA_FLOAT, 0, c, cOff, m * n);
    }

    /**
     * c[m x n] = op(a) · op(b) with the operands staged by the caller straight into the GEMM's
     * matrices (row-major as stored: a is m x k, or k x m when transA; b is k x n, or n x k when
     * transB) and the result read by out. A null fill keeps what the previous call of this shape
     * staged there (repeated products over one staged operand).
     */
    void gemm(int m, int n, int k, boolean transA, CodeStaging.Fill a, boolean transB, CodeStaging.Fill b, CodeStaging.Drain out) {
        FloatPointer am = transA ? matrix(0, k, m) : matrix(0, m, k);
        FloatPointer bm = transB ? matrix(1, n, k) : matrix(1, k, n);
        FloatPointer cm = matrix(2, m, n);
        if (a != null) a.write(segment(am));
        if (b != null) b.write(segment(bm));
        sgemm(m, n, k, transA, am, transB, bm, 0f, cm);
        out.read(segment(cm));
    }

    /** c = op(a) op(b) + beta c on OpenBLAS's threads ({@link CpuThreads#get}). */
    private static void sgemm(int m, int n, int k, boolean transA, FloatPointer a, boolean transB, FloatPointer b, float beta,
            FloatPointer c) {
        OpenBlas.load(); // after quietWorkers, before the preset's class loads the library on its own
        cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, m, n, k, 1f,
                a, transA ? m : k, b, transB ? k : n, beta, c, n);
    }

    /** A scratch matrix as a segment of its bytes, for the Java code that fills and drains it. */
    private static MemorySegment segment(FloatPointer m) {
        return MemorySegment.ofAddress(m.address()).reinterpret(4 * m.capacity());
    }

    @Override
    public void close() {
        for (FloatPointer m : scratch.values()) m.close();
        scratch.clear();
    }
}
