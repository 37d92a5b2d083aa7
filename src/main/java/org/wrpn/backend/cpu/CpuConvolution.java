package org.wrpn.backend.cpu;

import org.wrpn.backend.ConvGeometry;

/** The CPU convolution's scratch rule: pure Java, so the planner can ask it without loading ND4J. */
public final class CpuConvolution {
    /** Largest im2col buffer, in floats, before a convolution is split over image chunks. */
    static final int COL_BUDGET = 4 << 20;

    private CpuConvolution() {}

    static boolean isPointwise(ConvGeometry g) {
        return g.kh() == 1 && g.kw() == 1 && g.stride() == 1 && g.pad() == 0;
    }

    /** The im2col buffer one convolution uses: one chunk of images' patches. */
    public static long workspaceBytes(ConvGeometry g) {
        if (isPointwise(g)) return 0;
        return 4L * imagesPerChunk(g) * g.outH() * g.outW() * g.patch();
    }

    static int imagesPerChunk(ConvGeometry g) {
        long perImage = (long) g.outH() * g.outW() * g.patch();
        return (int) Math.max(1, Math.min(g.n(), COL_BUDGET / Math.max(1, perImage)));
    }
}
