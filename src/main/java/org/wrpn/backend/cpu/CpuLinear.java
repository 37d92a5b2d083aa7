package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.expectLength;

/** Linear layers: GEMMs on OpenBLAS, bias and its gradient in Java. */
final class CpuLinear {
    private final BlasGemm gemm;

    CpuLinear(BlasGemm gemm) {
        this.gemm = gemm;
    }

    /** y = x w^T (+ b); w is out x in, b may be null. */
    void forward(float[] x, float[] w, int out, int in, float[] b, float[] y) {
        int n = x.length / in;
        expectLength(x, (long) n * in, "linear input");
        expectLength(y, (long) n * out, "linear output");
        gemm.gemm(x, 0, false, w, 0, true, y, 0, n, out, in, false);
        if (b != null) {
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) y[i * out + o] += b[o];
            }
        }
    }

    /** dx = dy w (dx may be null), dw = dy^T x, db = column sums of dy in double (db may be null). */
    void backward(float[] x, float[] w, int out, int in, float[] dy, float[] dx, float[] dw, float[] db) {
        int n = x.length / in;
        if (dx != null) gemm.gemm(dy, 0, false, w, 0, false, dx, 0, n, in, out, false);
        gemm.gemm(dy, 0, true, x, 0, false, dw, 0, out, in, n, false);
        if (db != null) biasGradient(dy, n, out, db);
    }

    /** db = column sums of dy (n x out), in double, rows in order. */
    static void biasGradient(float[] dy, int n, int out, float[] db) {
        expectLength(dy, (long) n * out, "linear output gradient");
        expectLength(db, out, "linear bias gradient");
        double[] acc = new double[out];
        for (int i = 0; i < n; i++) {
            for (int o = 0; o < out; o++) acc[o] += dy[i * out + o];
        }
        for (int o = 0; o < out; o++) db[o] = (float) acc[o];
    }
}
