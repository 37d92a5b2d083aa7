package org.wrpn.backend.cpu;

import org.wrpn.backend.ConvGeometry;

/** Patch matrices of a chunk of images: the layout change that turns a convolution into one GEMM. */
final class Im2col {
    private Im2col() {}

    /** Rows (image, oy, ox) x (ky, kx, ci) patches of images [first, first+count). */
    static void im2col(float[] x, ConvGeometry g, int first, int count, float[] out) {
        int oh = g.outH(), ow = g.outW(), cin = g.cin(), h = g.h(), w = g.w();
        int patch = g.patch();
        int row = 0;
        for (int n = first; n < first + count; n++) {
            int imageBase = n * h * w * cin;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++, row++) {
                    int dst = row * patch;
                    for (int ky = 0; ky < g.kh(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        for (int kx = 0; kx < g.kw(); kx++, dst += cin) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) {
                                for (int c = 0; c < cin; c++) out[dst + c] = 0f;
                            } else if (cin < 16) { // arraycopy's call overhead dominates tiny copies
                                int src = imageBase + (iy * w + ix) * cin;
                                for (int c = 0; c < cin; c++) out[dst + c] = x[src + c];
                            } else {
                                System.arraycopy(x, imageBase + (iy * w + ix) * cin, out, dst, cin);
                            }
                        }
                    }
                }
            }
        }
    }

    /** Scatter-adds patch gradients back into dx (which the caller zeroed). */
    static void col2im(float[] cols, ConvGeometry g, int first, int count, float[] dx) {
        int oh = g.outH(), ow = g.outW(), cin = g.cin(), h = g.h(), w = g.w();
        int patch = g.patch();
        int row = 0;
        for (int n = first; n < first + count; n++) {
            int imageBase = n * h * w * cin;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++, row++) {
                    int src = row * patch;
                    for (int ky = 0; ky < g.kh(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        for (int kx = 0; kx < g.kw(); kx++, src += cin) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
                            int dst = imageBase + (iy * w + ix) * cin;
                            for (int c = 0; c < cin; c++) dx[dst + c] += cols[src + c];
                        }
                    }
                }
            }
        }
    }
}
