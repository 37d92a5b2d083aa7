package org.wrpn.backend.cuda;

import org.wrpn.backend.ConvGeometry;
import org.wrpn.tensor.Tensor;

/**
 * Convolution and linear layers on the tiled GEMM kernels (implicit GEMM for convolution); the
 * convolution's weight gradient splits its pixel sum over scratch partials when the tiles alone are few.
 */
record ConvLinearOps(CudaStream stream, Operands operands, DeviceMemory memory) {
    private static void checkConv(CudaTensor x, CudaTensor w, CudaTensor y, ConvGeometry g) {
        long xs = (long) g.n() * g.h() * g.w() * g.cin(), ws = (long) g.cout() * g.patch();
        long ys = (long) g.n() * g.outH() * g.outW() * g.cout();
        if (x.elements() != xs || w.elements() != ws || y.elements() != ys) {
            throw new IllegalArgumentException("convolution " + g + ": input " + x + ", weights " + w + ", output " + y);
        }
    }

    // The conv kernels take their three tensors in the op's argument order, then the geometry.

    void conv2dForward(Tensor x, Tensor w, Tensor y, ConvGeometry g) {
        CudaTensor[] t = operands.f32("conv2dForward", x, w, y);
        checkConv(t[0], t[1], t[2], g);
        stream.launch("conv2d_fprop_f32_f32_f32").ptrs(t).conv(g).gemm((long) g.n() * g.outH() * g.outW(), g.cout());
    }

    void conv2dBackwardData(Tensor dy, Tensor w, Tensor dx, ConvGeometry g) {
        CudaTensor[] t = operands.f32("conv2dBackwardData", dy, w, dx);
        checkConv(t[2], t[1], t[0], g);
        stream.launch("conv2d_dgrad_f32_f32_f32").ptrs(t).conv(g).gemm((long) g.n() * g.h() * g.w(), g.cin());
    }

    void conv2dBackwardFilter(Tensor x, Tensor dy, Tensor dw, ConvGeometry g) {
        CudaTensor xt = operands.f32(x, "conv2dBackwardFilter"), dyt = operands.f32(dy, "conv2dBackwardFilter");
        CudaTensor dwt = operands.f32(dw, "conv2dBackwardFilter");
        checkConv(xt, dwt, dyt, g);
        int splits = CudaSupport.wgradSplits(g);
        if (splits == 1) {
            // one split over all pixels (kPerSplit unused)
            stream.launch("conv2d_wgrad_f32_f32_f32").ptr(xt).ptr(dyt).ptr(dwt).conv(g).i32(1).i32(0).gemm(g.cout(), g.patch());
            return;
        }
        int perSplit = (int) CudaSupport.wgradPixelsPerSplit((long) g.n() * g.outH() * g.outW(), splits);
        long mn = (long) g.cout() * g.patch();
        try (DeviceMemory.Scratch partial = memory.scratch(CudaSupport.wgradWorkspaceBytes(g))) {
            stream.launch("conv2d_wgrad_f32_f32_f32").ptr(xt).ptr(dyt).ptr(partial.at(0)).conv(g).i32(splits).i32(perSplit)
                    .gemm(g.cout(), g.patch(), splits);
            stream.launch("conv2d_splitk_reduce_f32").ptr(partial.at(0)).ptr(dwt).i64(mn).i32(splits).threads(mn);
        }
    }

    /** (n, in, out) of a linear layer with weights (out, in). */
    private static int[] linearDims(CudaTensor x, CudaTensor w) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        long n = x.elements() / in;
        if (w.shape().rank() != 2 || n * in != x.elements()) throw new IllegalArgumentException("linear: input " + x + ", weights " + w);
        return new int[] {(int) n, in, out};
    }

    void linearForward(Tensor x, Tensor w, Tensor b, Tensor y) {
        CudaTensor xt = operands.f32(x, "linearForward"), wt = operands.f32(w, "linearForward");
        CudaTensor yt = operands.f32(y, "linearForward");
        int[] d = linearDims(xt, wt);
        if (yt.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("linear output " + yt);
        CudaTensor bt = b == null ? null : operands.perChannel(b, d[2], "linearForward bias");
        stream.launch("linear_fprop_f32_f32_f32").ptr(xt).ptr(wt).ptrOrNull(bt).ptr(yt).i32(d[0]).i32(d[1]).i32(d[2])
                .gemm(d[0], d[2]);
    }

    void linearBackward(Tensor x, Tensor w, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        CudaTensor xt = operands.f32(x, "linearBackward"), wt = operands.f32(w, "linearBackward");
        CudaTensor gy = operands.f32(dy, "linearBackward"), gw = operands.f32(dw, "linearBackward dw");
        int[] d = linearDims(xt, wt);
        if (gy.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("linear dy " + gy);
        Operands.sameElements("linearBackward dw", wt, gw);
        if (dx != null) {
            CudaTensor gx = operands.f32(dx, "linearBackward dx");
            Operands.sameElements("linearBackward dx", xt, gx);
            stream.launch("linear_dgrad_f32_f32_f32").ptr(gy).ptr(wt).ptr(gx).i32(d[0]).i32(d[1]).i32(d[2]).gemm(d[0], d[1]);
        }
        stream.launch("linear_wgrad_f32_f32_f32").ptr(xt).ptr(gy).ptr(gw).i32(d[0]).i32(d[1]).i32(d[2]).gemm(d[2], d[1]);
        if (db != null) {
            CudaTensor gb = operands.perChannel(db, d[2], "linearBackward db");
            stream.launch("linear_bias_grad_f32_f64").ptr(gy).ptr(gb).i32(d[0]).i32(d[2]).threads(d[2]);
        }
    }
}
