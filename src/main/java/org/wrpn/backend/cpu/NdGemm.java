package org.wrpn.backend.cpu;

import java.lang.foreign.MemorySegment;
import java.nio.FloatBuffer;
import java.util.HashMap;
import java.util.Map;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.factory.Nd4j;

/**
 * Single-precision GEMM on ND4J (OpenBLAS). Operands live in Java arrays; they are copied into
 * off-heap scratch matrices that are cached by shape and reused, because ND4J frees native memory
 * only when the GC collects its owners (DESIGN.md): allocating per call grows resident memory.
 */
final class NdGemm implements AutoCloseable {
    private final Map<Long, INDArray> scratch = new HashMap<>();
    private long scratchBytes;

    private INDArray matrix(int slot, int rows, int cols) {
        long key = ((long) slot << 58) ^ ((long) rows << 29) ^ cols;
        INDArray m = scratch.get(key);
        if (m == null) {
            m = Nd4j.createUninitialized(DataType.FLOAT, rows, cols);
            scratch.put(key, m);
            scratchBytes += 4L * rows * cols;
        }
        return m;
    }

    long scratchBytes() {
        return scratchBytes;
    }

    private static void load(INDArray m, float[] src, int off, int len) {
        FloatBuffer fb = m.data().asNioFloat();
        fb.put(src, off, len);
    }

    private static void store(INDArray m, float[] dst, int off, int len) {
        FloatBuffer fb = m.data().asNioFloat();
        fb.get(dst, off, len);
    }

    /**
     * c[m x n] = op(a) * op(b) (+ c when accumulate), all row-major. op(a) is m x k: a is stored
     * m x k, or k x m when transA. op(b) is k x n: b is stored k x n, or n x k when transB.
     */
    void gemm(float[] a, int aOff, boolean transA, float[] b, int bOff, boolean transB, float[] c, int cOff,
            int m, int n, int k, boolean accumulate) {
        INDArray am = transA ? matrix(0, k, m) : matrix(0, m, k);
        INDArray bm = transB ? matrix(1, n, k) : matrix(1, k, n);
        INDArray cm = matrix(2, m, n);
        load(am, a, aOff, m * k);
        load(bm, b, bOff, k * n);
        if (accumulate) load(cm, c, cOff, m * n);
        Nd4j.gemm(am, bm, cm, transA, transB, 1.0, accumulate ? 1.0 : 0.0);
        store(cm, c, cOff, m * n);
    }

    /**
     * c[m x n] = op(a) · op(b) with the operands staged by the caller straight into the GEMM's
     * matrices (row-major as stored: a is m x k, or k x m when transA; b is k x n, or n x k when
     * transB) and the result read by out. A null fill keeps what the previous call of this shape
     * staged there (repeated products over one staged operand).
     */
    void gemm(int m, int n, int k, boolean transA, CodeStaging.Fill a, boolean transB, CodeStaging.Fill b, CodeStaging.Drain out) {
        INDArray am = transA ? matrix(0, k, m) : matrix(0, m, k);
        INDArray bm = transB ? matrix(1, n, k) : matrix(1, k, n);
        INDArray cm = matrix(2, m, n);
        if (a != null) a.write(segment(am));
        if (b != null) b.write(segment(bm));
        Nd4j.gemm(am, bm, cm, transA, transB, 1.0, 0.0);
        out.read(segment(cm));
    }

    private static MemorySegment segment(INDArray m) {
        return MemorySegment.ofBuffer(m.data().asNioFloat()).asSlice(0, 4 * m.length());
    }

    @Override
    public void close() {
        for (INDArray m : scratch.values()) m.close();
        scratch.clear();
        scratchBytes = 0;
    }
}
