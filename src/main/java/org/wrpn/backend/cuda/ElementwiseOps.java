package org.wrpn.backend.cuda;

import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/** Element-wise ops over same-sized F32 tensors, four elements per thread: ReLU, adds (of codes too) and the SGD step. */
record ElementwiseOps(CudaStream stream, Operands operands, QuantizeOps quantize) {
    /** kernel(tensors..., n): the common signature of the argument-free element-wise kernels. */
    private void map(String kernel, CudaTensor... t) {
        long n = t[0].elements();
        stream.launch(kernel).ptrs(t).i64(n).float4(n);
    }

    void addInPlace(Tensor dst, Tensor src) {
        map("add_inplace_f32", operands.sameSizeF32("addInPlace", dst, src));
    }

    /** out = a + b; b may be PACKED codes (read as their values); out may be a (or b when F32). */
    void add(Tensor a, Tensor b, Tensor out) {
        if (operands.any(b).dtype() == DType.PACKED) {
            CudaTensor[] t = operands.f32("add", a, out);
            quantize.addCodes(t[0], operands.packed(b, "add"), t[1]);
            return;
        }
        map("add_f32", operands.sameSizeF32("add", a, b, out));
    }

    void relu(Tensor x, Tensor y) {
        map("relu_f32", operands.sameSizeF32("relu", x, y));
    }

    void reluBackward(Tensor y, Tensor dy, Tensor dx) {
        map("relu_bwd_f32", operands.sameSizeF32("reluBackward", y, dy, dx));
    }

    void sgdStep(Tensor param, Tensor grad, Tensor velocity, float lr, float momentum, float weightDecay) {
        CudaTensor[] t = operands.sameSizeF32("sgdStep", param, grad, velocity);
        long n = t[0].elements();
        stream.launch("sgd_momentum_f32").ptrs(t).i64(n).f32(lr).f32(momentum).f32(weightDecay).float4(n);
    }

    void clampInPlace(Tensor x, float lo, float hi) {
        CudaTensor[] t = operands.sameSizeF32("clampInPlace", x);
        long n = t[0].elements();
        stream.launch("clamp_f32").ptrs(t).i64(n).f32(lo).f32(hi).float4(n);
    }
}
