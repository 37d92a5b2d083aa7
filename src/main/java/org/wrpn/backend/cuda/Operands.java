package org.wrpn.backend.cuda;

import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/** Checks the tensors handed to an op: this backend's, still open, of the expected type and size. */
final class Operands {
    private final DeviceMemory owner;

    Operands(DeviceMemory owner) {
        this.owner = owner;
    }

    /** Any open tensor of this backend. */
    CudaTensor any(Tensor x) {
        if (!(x instanceof CudaTensor c) || c.owner != owner) {
            throw new IllegalArgumentException("tensor " + x + " does not belong to this CUDA backend");
        }
        if (c.isClosed()) throw new IllegalStateException("tensor " + x + " was closed");
        return c;
    }

    CudaTensor of(Tensor x, DType dtype, String what) {
        CudaTensor c = any(x);
        if (c.dtype() != dtype) throw new IllegalArgumentException(what + ": expected " + dtype + " tensor, got " + c);
        return c;
    }

    CudaTensor f32(Tensor x, String what) {
        return of(x, DType.F32, what);
    }

    CudaTensor packed(Tensor x, String what) {
        return of(x, DType.PACKED, what);
    }

    /** An F32 tensor of one value per channel. */
    CudaTensor perChannel(Tensor t, int channels, String what) {
        CudaTensor c = f32(t, what);
        if (c.elements() != channels) throw new IllegalArgumentException(what + ": expected " + channels + " values, got " + c);
        return c;
    }

    /** F32 tensors, checked in order. */
    CudaTensor[] f32(String what, Tensor... xs) {
        CudaTensor[] c = new CudaTensor[xs.length];
        for (int i = 0; i < xs.length; i++) c[i] = f32(xs[i], what);
        return c;
    }

    /** F32 tensors of as many elements as the first (element-wise ops). */
    CudaTensor[] sameSizeF32(String what, Tensor... xs) {
        CudaTensor[] c = f32(what, xs);
        sameElements(what, c);
        return c;
    }

    static void sameElements(String what, CudaTensor... c) {
        for (int i = 1; i < c.length; i++) {
            if (c[0].elements() != c[i].elements()) {
                throw new IllegalArgumentException(what + ": " + c[0].elements() + " elements != " + c[i].elements());
            }
        }
    }
}
