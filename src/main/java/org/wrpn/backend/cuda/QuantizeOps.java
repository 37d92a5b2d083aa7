package org.wrpn.backend.cuda;

import jcuda.driver.CUdeviceptr;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/**
 * The quantizers: activation and weight values and codes, their straight-through backward, pack/unpack,
 * the fused batch-norm quantize-pack and the residual add of codes.
 */
record QuantizeOps(CudaStream stream, Operands operands, Transfers transfers, Reductions reductions) {
    void quantizeActivations(Tensor x, int bits, Tensor y) {
        CudaTensor[] t = operands.sameSizeF32("quantizeActivations", x, y);
        if (bits == Quantizer.FULL_PRECISION) throw new IllegalArgumentException("32-bit activations are a ReLU, not a quantizer");
        PackedLayout.checkBits(bits);
        long n = t[0].elements();
        stream.launch("quantize_act_f32").ptrs(t).i64(n).i32(bits).float4(n);
    }

    void quantizeActivationsBackward(Tensor x, Tensor dy, Tensor dx) {
        CudaTensor[] t = operands.sameSizeF32("quantizeActivationsBackward", x, dy, dx);
        long n = t[0].elements();
        stream.launch("quantize_act_bwd_f32").ptrs(t).i64(n).float4(n);
    }

    void maskGradient(Tensor packedMask, Tensor dy, Tensor dx) {
        CudaTensor m = operands.packed(packedMask, "maskGradient");
        CudaTensor[] t = operands.sameSizeF32("maskGradient", dy, dx);
        if (m.bits() != 1 || m.elements() != t[0].elements()) {
            throw new IllegalArgumentException("maskGradient: mask " + m + " for " + t[0].elements() + " values");
        }
        packedLaunch("mask_grad_f32", m, m, t[0], t[1]);
    }

    void quantizeWeights(Tensor w, int bits, Tensor wq) {
        CudaTensor[] t = operands.sameSizeF32("quantizeWeights", w, wq);
        if (!Quantizer.isValidWeightBits(bits)) throw new IllegalArgumentException("weight bits " + bits);
        long n = t[0].elements();
        if (bits == Quantizer.FULL_PRECISION) {
            transfers.copy(t[0], t[1]);
        } else if (bits == 1) {
            CUdeviceptr scale = reductions.meanAbsOnDevice(t[0]);
            stream.launch("binarize_weight_f32_f32").ptrs(t).i64(n).ptr(scale).float4(n);
        } else {
            stream.launch("quantize_weight_f32_f32").ptrs(t).i64(n).i32(bits).float4(n);
        }
    }

    float weightCodes(Tensor w, int bits, Tensor codes) {
        CudaTensor s = operands.f32(w, "weightCodes"), c = operands.of(codes, DType.I8, "weightCodes");
        Operands.sameElements("weightCodes", s, c);
        long n = s.elements();
        if (bits == 1) {
            stream.launch("binarize_weight_f32_s8").ptr(s).ptr(c).i64(n).float4(n);
            return transfers.download(reductions.meanAbsOnDevice(s), 4).getFloat(0);
        }
        if (bits != 2 && bits != 4 && bits != 8) throw new IllegalArgumentException("weight code bits " + bits);
        stream.launch("quantize_weight_f32_s8").ptr(s).ptr(c).i64(n).i32(bits).float4(n);
        return 1f / Quantizer.weightLevels(bits);
    }

    void quantizePack(Tensor x, int bits, Tensor packedCodes, Tensor packedMask) {
        CudaTensor s = operands.f32(x, "quantizePack");
        CudaTensor p = packedOutputs("quantizePack", s, bits, packedCodes);
        CudaTensor m = maskFor("quantizePack", p, packedMask);
        packedLaunch("quantize_act_pack_u" + bits, p, s, p, m);
    }

    /** bn_apply_f32 then quantize_act_pack in one kernel over x (the same bits), mask optional. */
    void batchNormQuantizePack(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, int bits, Tensor packedCodes,
            Tensor packedMask) {
        String op = "batchNormQuantizePack";
        CudaTensor s = operands.f32(x, op);
        CudaTensor p = packedOutputs(op, s, bits, packedCodes);
        CudaTensor m = maskFor(op, p, packedMask);
        int c = s.shape().channels();
        CudaTensor g = operands.perChannel(gamma, c, op + " gamma"), b = operands.perChannel(beta, c, op + " beta");
        CudaTensor mu = operands.perChannel(mean, c, op + " mean"), inv = operands.perChannel(invStd, c, op + " invStd");
        packedLaunch("bn_quantize_pack_f32_u" + bits, p, s, g, b, mu, inv, p, m);
    }

    /** The codes of x at bits, in x's shape. */
    private CudaTensor packedOutputs(String op, CudaTensor x, int bits, Tensor packedCodes) {
        CudaTensor p = operands.packed(packedCodes, op);
        if (p.bits() != bits || !p.shape().equals(x.shape())) throw new IllegalArgumentException(op + ": " + x + " into " + p);
        return p;
    }

    /** The 1-bit mask beside codes p, or null. */
    private CudaTensor maskFor(String op, CudaTensor p, Tensor packedMask) {
        if (packedMask == null) return null;
        CudaTensor m = operands.packed(packedMask, op + " mask");
        if (m.bits() != 1 || !m.shape().equals(p.shape())) throw new IllegalArgumentException("mask must be 1-bit " + p.shape());
        return m;
    }

    void unpackValues(Tensor packedCodes, Tensor y) {
        CudaTensor p = operands.packed(packedCodes, "unpackValues");
        CudaTensor d = operands.f32(y, "unpackValues");
        if (d.elements() != p.elements()) throw new IllegalArgumentException("unpackValues: expected " + p.elements() + " elements, got " + d.elements());
        packedLaunch("unpack_u" + p.bits() + "_f32", p, p, d);
    }

    void unpackCodes(Tensor packedCodes, Tensor codes) {
        CudaTensor p = operands.packed(packedCodes, "unpackCodes");
        CudaTensor d = operands.of(codes, DType.I32, "unpackCodes");
        if (d.elements() != p.elements()) throw new IllegalArgumentException("unpackCodes: wrong output size");
        packedLaunch("unpack_u" + p.bits() + "_s32", p, p, d);
    }

    /** out = a + the values of codes (out may be a): bit for bit unpackValues then add. */
    void addCodes(CudaTensor a, CudaTensor codes, CudaTensor out) {
        Operands.sameElements("add", a, codes, out);
        packedLaunch("add_packed_u" + codes.bits() + "_f32", codes, a, codes, out);
    }

    /** A kernel over the (pixels, channels) of a packed tensor: (tensors..., pixels, channels); a null tensor is NULL. */
    private void packedLaunch(String kernel, CudaTensor layout, CudaTensor... tensors) {
        long pixels = layout.shape().pixels();
        int channels = layout.shape().channels();
        KernelCall call = stream.launch(kernel);
        for (CudaTensor t : tensors) call.ptrOrNull(t);
        call.i64(pixels).i32(channels).packed(pixels, channels);
    }
}
