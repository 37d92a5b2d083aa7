package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.expectLength;

import java.util.Arrays;
import org.wrpn.backend.ConvGeometry;

/**
 * The layers that are GEMMs on the CPU: convolution (im2col over chunks of images, within the
 * workspace rule of {@link CpuConvolution}; 1x1 convolutions directly) and linear layers.
 */
final class CpuGemmLayers {
    private final CpuMemory memory;
    private final NdGemm gemm;
    private float[] col = new float[0];
    private float[] col2 = new float[0];

    CpuGemmLayers(CpuMemory memory, NdGemm gemm) {
        this.memory = memory;
        this.gemm = gemm;
    }

    private interface ChunkBody {
        /** rows = images * output pixels per image; outOffset = the first of those rows times cout. */
        void run(int firstImage, int images, int rows, int outOffset);
    }

    /**
     * One pass of a convolution: a 1x1 stride-1 unpadded one is a single GEMM over all pixels;
     * any other runs body over chunks of images that fit the im2col budget, that scratch counted
     * as allocated meanwhile.
     */
    private void pass(ConvGeometry g, Runnable pointwise, ChunkBody body) {
        if (CpuConvolution.isPointwise(g)) {
            pointwise.run();
            return;
        }
        long workspace = CpuConvolution.workspaceBytes(g);
        memory.workspaceInUse(workspace);
        try {
            int chunk = CpuConvolution.imagesPerChunk(g);
            int rowsPerImage = g.outH() * g.outW();
            for (int first = 0; first < g.n(); first += chunk) {
                int count = Math.min(chunk, g.n() - first);
                body.run(first, count, count * rowsPerImage, first * rowsPerImage * g.cout());
            }
        } finally {
            memory.workspaceInUse(-workspace);
        }
    }

    private float[] colBuffer(int n) {
        if (col.length < n) col = new float[n];
        return col;
    }

    private float[] col2Buffer(int n) {
        if (col2.length < n) col2 = new float[n];
        return col2;
    }

    /** Drops the im2col buffers (the backend closes). */
    void releaseBuffers() {
        col = new float[0];
        col2 = new float[0];
    }

    private static void checkConv(float[] x, float[] w, float[] y, ConvGeometry g) {
        expectLength(x, (long) g.n() * g.h() * g.w() * g.cin(), "conv input");
        expectLength(w, (long) g.cout() * g.patch(), "conv weights");
        expectLength(y, (long) g.n() * g.outH() * g.outW() * g.cout(), "conv output");
    }

    void conv2dForward(float[] x, float[] w, float[] y, ConvGeometry g) {
        checkConv(x, w, y, g);
        pass(g, () -> gemm.gemm(x, 0, false, w, 0, true, y, 0, pixels(g), g.cout(), g.cin(), false),
                (first, count, rows, yOffset) -> {
                    float[] cols = colBuffer(rows * g.patch());
                    Im2col.im2col(x, g, first, count, cols);
                    gemm.gemm(cols, 0, false, w, 0, true, y, yOffset, rows, g.cout(), g.patch(), false);
                });
    }

    void conv2dBackwardData(float[] dy, float[] w, float[] dx, ConvGeometry g) {
        checkConv(dx, w, dy, g);
        pass(g, () -> gemm.gemm(dy, 0, false, w, 0, false, dx, 0, pixels(g), g.cin(), g.cout(), false),
                (first, count, rows, dyOffset) -> {
                    float[] cols = colBuffer(rows * g.patch());
                    gemm.gemm(dy, dyOffset, false, w, 0, false, cols, 0, rows, g.patch(), g.cout(), false);
                    int image = g.h() * g.w() * g.cin();
                    Arrays.fill(dx, first * image, (first + count) * image, 0f); // col2im adds into these images
                    Im2col.col2im(cols, g, first, count, dx);
                });
    }

    void conv2dBackwardFilter(float[] x, float[] dy, float[] dw, ConvGeometry g) {
        checkConv(x, dw, dy, g);
        pass(g, () -> gemm.gemm(dy, 0, true, x, 0, false, dw, 0, g.cout(), g.cin(), pixels(g), false),
                (first, count, rows, dyOffset) -> {
                    float[] cols = col2Buffer(rows * g.patch());
                    Im2col.im2col(x, g, first, count, cols);
                    gemm.gemm(dy, dyOffset, true, cols, 0, false, dw, 0, g.cout(), g.patch(), rows, first > 0);
                });
    }

    /** Output pixels of the whole batch: the rows of a 1x1 convolution's single GEMM. */
    private static int pixels(ConvGeometry g) {
        return g.n() * g.outH() * g.outW();
    }

    /** y = x w^T (+ b); w is out x in, b may be null. */
    void linearForward(float[] x, float[] w, int out, int in, float[] b, float[] y) {
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
    void linearBackward(float[] x, float[] w, int out, int in, float[] dy, float[] dx, float[] dw, float[] db) {
        int n = x.length / in;
        if (dx != null) gemm.gemm(dy, 0, false, w, 0, false, dx, 0, n, in, out, false);
        gemm.gemm(dy, 0, true, x, 0, false, dw, 0, out, in, n, false);
        if (db != null) {
            double[] acc = new double[out];
            for (int i = 0; i < n; i++) {
                for (int o = 0; o < out; o++) acc[o] += dy[i * out + o];
            }
            for (int o = 0; o < out; o++) db[o] = (float) acc[o];
        }
    }
}
