package org.wrpn.backend.cpu;

import org.wrpn.backend.ConvGeometry;

/** Patch matrices of a chunk of images: the layout change that turns a convolution into one GEMM. */
final class Im2col {
    private Im2col() {}

    /** Rows (image, oy, ox) x (ky, kx, ci) patches of images [first, first+count) into cols. */
    static void im2col(float[] x, ConvGeometry g, int first, int count, float[] cols) {
        walk(x, g, first, count, cols, false);
    }

    /** Scatter-adds patch gradients cols back into dx (which the caller zeroed). */
    static void col2im(float[] cols, ConvGeometry g, int first, int count, float[] dx) {
        walk(dx, g, first, count, cols, true);
    }

    /** Every patch cell in row order: copies x into cols, or (scatter) adds cols into x in that order. */
    private static void walk(float[] x, ConvGeometry g, int first, int count, float[] cols, boolean scatter) {
        int oh = g.outH(), ow = g.outW(), cin = g.cin(), h = g.h(), w = g.w();
        int patch = g.patch();
        int row = 0;
        for (int n = first; n < first + count; n++) {
            int imageBase = n * h * w * cin;
            for (int oy = 0; oy < oh; oy++) {
                for (int ox = 0; ox < ow; ox++, row++) {
                    int cell = row * patch;
                    for (int ky = 0; ky < g.kh(); ky++) {
                        int iy = oy * g.stride() - g.pad() + ky;
                        for (int kx = 0; kx < g.kw(); kx++, cell += cin) {
                            int ix = ox * g.stride() - g.pad() + kx;
                            boolean padding = iy < 0 || iy >= h || ix < 0 || ix >= w;
                            int at = imageBase + (iy * w + ix) * cin;
                            if (scatter) {
                                if (!padding) for (int c = 0; c < cin; c++) x[at + c] += cols[cell + c];
                            } else if (padding) {
                                for (int c = 0; c < cin; c++) cols[cell + c] = 0f;
                            } else if (cin < 16) { // arraycopy's call overhead dominates tiny copies
                                for (int c = 0; c < cin; c++) cols[cell + c] = x[at + c];
                            } else {
                                System.arraycopy(x, at, cols, cell, cin);
                            }
                        }
                    }
                }
            }
        }
    }
}
