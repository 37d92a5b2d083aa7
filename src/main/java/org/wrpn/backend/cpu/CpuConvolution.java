package org.wrpn.backend.cpu;

import org.wrpn.backend.ConvGeometry;

/** The CPU's scratch rules for convolutions and quantized linears: pure Java, so the planner can ask them without loading oneDNN. */
public final class CpuConvolution {
    private CpuConvolution() {}

    /**
     * The off-heap staging one convolution pass uses ({@link DnnlConvolution}): copies of its input,
     * its output and its weights, whichever pass runs (each pass stages x or dx, y or dy, and w or
     * dw). oneDNN's own scratchpad and its blocked copy of the weights (kilobytes) are not counted.
     */
    public static long workspaceBytes(ConvGeometry g) {
        return 4L * ((long) g.n() * g.h() * g.w() * g.cin() + (long) g.n() * g.outH() * g.outW() * g.cout() + (long) g.cout() * g.patch());
    }

    /**
     * A quantized linear's staging, the rule of its 1x1 convolution over n one-pixel images (the int8
     * path): input, output and weights at 4 bytes each (the GEMM path stages input and weights as floats).
     */
    public static long quantizedLinearWorkspaceBytes(int n, int in, int out) {
        return workspaceBytes(new ConvGeometry(n, 1, 1, in, out, 1, 1, 1, 0));
    }
}
