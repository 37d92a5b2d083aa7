package org.wrpn.backend.cuda;

import jcuda.driver.CUdeviceptr;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/**
 * Convolution and linear layers of quantized layers on codes (cuda/qconv.cu): x packed k-bit activation
 * codes or F32 values, w I8 weight codes or F32 values, one scale per op. A linear layer is the
 * convolution whose kernel covers its whole input, (n, p, 1, c) by a p x 1 kernel for p pixels a
 * sample, so packed codes are read in place (per-pixel word padding and all) and its (out, p*c)
 * weights are that kernel as they stand. The weight gradient splits over pixels as the fp32 one does
 * (the same scratch, {@link CudaSupport#wgradWorkspaceBytes}); the linear layers never split (no scratch).
 */
record QuantizedConvOps(CudaStream stream, Operands operands, DeviceMemory memory) {
    private CudaTensor activations(Tensor x, String op) {
        CudaTensor t = operands.any(x);
        if (t.dtype() != DType.PACKED && t.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": expected PACKED codes or F32 values, got " + t);
        }
        return t;
    }

    private CudaTensor weights(Tensor w, String op) {
        CudaTensor t = operands.any(w);
        if (t.dtype() != DType.I8 && t.dtype() != DType.F32) {
            throw new IllegalArgumentException(op + ": expected I8 codes or F32 weights, got " + t);
        }
        return t;
    }

    private static boolean packed(CudaTensor x) {
        return x.dtype() == DType.PACKED;
    }

    private static boolean codes(CudaTensor w) {
        return w.dtype() == DType.I8;
    }

    private static void checkConv(CudaTensor x, CudaTensor w, CudaTensor y, ConvGeometry g) {
        long xs = (long) g.n() * g.h() * g.w() * g.cin(), ws = (long) g.cout() * g.patch();
        long ys = (long) g.n() * g.outH() * g.outW() * g.cout();
        if (x.elements() != xs || w.elements() != ws || y.elements() != ys || (packed(x) && x.shape().channels() != g.cin())) {
            throw new IllegalArgumentException("quantized convolution " + g + ": input " + x + ", weights " + w + ", output " + y);
        }
    }

    void conv2dForwardQuantized(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {
        CudaTensor xt = activations(x, "conv2dForwardQuantized"), wt = weights(w, "conv2dForwardQuantized");
        CudaTensor yt = operands.f32(y, "conv2dForwardQuantized");
        checkConv(xt, wt, yt, g);
        forward(xt, wt, scale, null, yt, g);
    }

    /**
     * The fprop kernel for these operands: codes x codes on int8 tensor cores where cin is a multiple of
     * 32 ({@link CudaSupport#fpropTensorCores}), else dp4a on 4 codes at a time where a pixel's channels
     * come in whole groups of 4 (then int8 weight rows are whole words too), else one code at a time;
     * its channel tile sized to cout.
     */
    static String fpropKernel(boolean packedInput, boolean weightCodes, int cin, int cout) {
        return fpropKernel(packedInput, weightCodes, cin, cout, true);
    }

    /** The same, with the tensor-core kind left out when {@code tensorCores} is false (PackBenchmark). */
    static String fpropKernel(boolean packedInput, boolean weightCodes, int cin, int cout, boolean tensorCores) {
        String kind;
        if (packedInput && weightCodes) {
            kind = tensorCores && CudaSupport.fpropTensorCores(cin) ? "pk_s8_mma" : cin % 4 == 0 ? "pk_s8_dp4a" : "pk_s8_s32";
        } else if (packedInput) {
            kind = "pk_f32_f32";
        } else {
            kind = weightCodes ? "f32_s8_f32" : "f32_f32_f32";
        }
        return "qconv2d_fprop_" + kind + "_n" + CudaSupport.fpropChannelTile(cout);
    }

    static String dgradKernel(boolean weightCodes) {
        return "qconv2d_dgrad_f32_" + (weightCodes ? "s8" : "f32") + "_f32";
    }

    static String wgradKernel(boolean packedInput) {
        return "qconv2d_wgrad_" + (packedInput ? "pk" : "f32") + "_f32_f32";
    }

    private void forward(CudaTensor x, CudaTensor w, float scale, CudaTensor bias, CudaTensor y, ConvGeometry g) {
        forward(x, w, scale, bias, y, g, true);
    }

    private void forward(CudaTensor x, CudaTensor w, float scale, CudaTensor bias, CudaTensor y, ConvGeometry g,
            boolean tensorCores) {
        int bn = CudaSupport.fpropChannelTile(g.cout());
        String kernel = fpropKernel(packed(x), codes(w), g.cin(), g.cout(), tensorCores);
        int pixelTile = kernel.contains("_mma_") ? CudaSupport.MMA_PIXEL_TILE : CudaSupport.fpropPixelTile(bn);
        stream.launch(kernel).ptr(x).ptr(w).ptrOrNull(bias).ptr(y).f32(scale)
                .i32(packed(x) ? x.bits() : 0).conv(g).tiles((long) g.n() * g.outH() * g.outW(), g.cout(), pixelTile, bn);
    }

    /** conv2dForwardQuantized on the SIMT kernels even where tensor cores apply: PackBenchmark's comparison. */
    void conv2dForwardQuantizedSimt(Tensor x, Tensor w, float scale, Tensor y, ConvGeometry g) {
        CudaTensor xt = activations(x, "conv2dForwardQuantized"), wt = weights(w, "conv2dForwardQuantized");
        CudaTensor yt = operands.f32(y, "conv2dForwardQuantized");
        checkConv(xt, wt, yt, g);
        forward(xt, wt, scale, null, yt, g, false);
    }

    void conv2dBackwardDataQuantized(Tensor dy, Tensor w, float scale, Tensor dx, ConvGeometry g) {
        CudaTensor gy = operands.f32(dy, "conv2dBackwardDataQuantized"), wt = weights(w, "conv2dBackwardDataQuantized");
        CudaTensor gx = operands.f32(dx, "conv2dBackwardDataQuantized dx");
        checkConv(gx, wt, gy, g);
        backwardData(gy, wt, scale, gx, g);
    }

    private void backwardData(CudaTensor dy, CudaTensor w, float scale, CudaTensor dx, ConvGeometry g) {
        stream.launch(dgradKernel(codes(w))).ptr(dy).ptr(w).ptr(dx).f32(scale).conv(g)
                .gemm((long) g.n() * g.h() * g.w(), g.cin());
    }

    void conv2dBackwardFilterQuantized(Tensor x, float step, Tensor dy, Tensor dw, ConvGeometry g) {
        CudaTensor xt = activations(x, "conv2dBackwardFilterQuantized"), gy = operands.f32(dy, "conv2dBackwardFilterQuantized");
        CudaTensor gw = operands.f32(dw, "conv2dBackwardFilterQuantized dw");
        checkConv(xt, gw, gy, g);
        int splits = CudaSupport.wgradSplits(g);
        if (splits == 1) {
            backwardFilter(xt, step, gy, gw.ptr(), g, 1, 0);
            return;
        }
        int perSplit = (int) CudaSupport.wgradPixelsPerSplit((long) g.n() * g.outH() * g.outW(), splits);
        long mn = (long) g.cout() * g.patch();
        try (DeviceMemory.Scratch partial = memory.scratch(CudaSupport.wgradWorkspaceBytes(g))) {
            backwardFilter(xt, step, gy, partial.at(0), g, splits, perSplit);
            stream.launch("qconv2d_splitk_reduce_scaled_f32").ptr(partial.at(0)).ptr(gw).i64(mn).i32(splits).f32(step).threads(mn);
        }
    }

    /** One split (kPerSplit unused) writes step * sum into out; more write unscaled partials. */
    private void backwardFilter(CudaTensor x, float step, CudaTensor dy, CUdeviceptr out, ConvGeometry g,
            int splits, int perSplit) {
        stream.launch(wgradKernel(packed(x))).ptr(x).ptr(dy).ptr(out).f32(step)
                .i32(packed(x) ? x.bits() : 0).conv(g).i32(splits).i32(perSplit).gemm(g.cout(), g.patch(), splits);
    }

    /** The linear layer as a convolution over x's own layout: (n, p, 1, c) by a p x 1 kernel. */
    private static ConvGeometry linearGeometry(CudaTensor x, CudaTensor w, String op) {
        if (w.shape().rank() != 2) throw new IllegalArgumentException(op + ": weights " + w + " are not (out, in)");
        int out = w.shape().dim(0), in = w.shape().dim(1), n = x.shape().dim(0);
        if (x.elements() != (long) n * in) throw new IllegalArgumentException(op + ": input " + x + ", weights " + w);
        if (!packed(x)) return new ConvGeometry(n, 1, 1, in, out, 1, 1, 1, 0);
        int c = x.shape().channels(), p = (int) (x.shape().pixels() / n);
        return new ConvGeometry(n, p, 1, c, out, p, 1, 1, 0);
    }

    void linearForwardQuantized(Tensor x, Tensor w, float scale, Tensor b, Tensor y) {
        CudaTensor xt = activations(x, "linearForwardQuantized"), wt = weights(w, "linearForwardQuantized");
        CudaTensor yt = operands.f32(y, "linearForwardQuantized");
        ConvGeometry g = linearGeometry(xt, wt, "linearForwardQuantized");
        if (yt.elements() != (long) g.n() * g.cout()) throw new IllegalArgumentException("linearForwardQuantized output " + yt);
        CudaTensor bt = b == null ? null : operands.perChannel(b, g.cout(), "linearForwardQuantized bias");
        forward(xt, wt, scale, bt, yt, g);
    }

    void linearBackwardQuantized(Tensor x, float step, Tensor w, float scale, Tensor dy, Tensor dx, Tensor dw, Tensor db) {
        String op = "linearBackwardQuantized";
        CudaTensor xt = activations(x, op), wt = weights(w, op), gy = operands.f32(dy, op + " dy");
        CudaTensor gw = operands.f32(dw, op + " dw");
        ConvGeometry g = linearGeometry(xt, wt, op);
        int n = g.n(), in = g.patch(), out = g.cout();
        if (gy.elements() != (long) n * out) throw new IllegalArgumentException(op + ": dy " + gy);
        Operands.sameElements(op + " dw", wt, gw);
        if (dx != null) {
            CudaTensor gx = operands.f32(dx, op + " dx");
            Operands.sameElements(op + " dx", xt, gx);
            backwardData(gy, wt, scale, gx, new ConvGeometry(n, 1, 1, in, out, 1, 1, 1, 0));
        }
        backwardFilter(xt, step, gy, gw.ptr(), g, 1, 0);
        if (db != null) {
            CudaTensor gb = operands.perChannel(db, out, op + " db");
            stream.launch("linear_bias_grad_f32_f64").ptr(gy).ptr(gb).i32(n).i32(out).threads(out);
        }
    }
}
