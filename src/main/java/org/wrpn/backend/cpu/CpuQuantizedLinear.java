package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.expectLength;

import java.util.function.Supplier;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.cpu.DnnlConvolution.Pass;
import org.wrpn.tensor.DType;

/**
 * Linear layers of quantized layers on codes: packed activation codes (any shape (n, ..., c), the
 * features of a row in (..., c) order) and int8 weight codes. With codes on both sides the forward
 * sum is exact: y = ((float) acc · scale) + b, the bits of an int32 sum. It runs as oneDNN's int8
 * 1x1 convolution of n one-pixel images with `in` channels (u8 codes x s8 codes into s32, as the
 * quantized convolutions) where that is exact, else as codes written as floats straight into the
 * GEMM's matrices ({@link CodeStaging}) through OpenBLAS's f32 GEMM ({@link ExactSplit}).
 * The staged operands are the workspace of {@link CpuConvolution#quantizedLinearWorkspaceBytes},
 * counted while the op runs.
 */
final class CpuQuantizedLinear {
    private final BlasGemm gemm;
    private final Supplier<DnnlConvolution> conv;
    private final CpuMemory memory;

    CpuQuantizedLinear(BlasGemm gemm, Supplier<DnnlConvolution> conv, CpuMemory memory) {
        this.gemm = gemm;
        this.conv = conv;
        this.memory = memory;
    }

    /** y = scale · x w^T + b; w is out x in (I8 codes or F32), b may be null. */
    void forward(CpuTensor x, CpuTensor w, float scale, float[] b, float[] y) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        int n = rows(x, in);
        checkWeights(w, out, in);
        expectLength(y, (long) n * out, "linear output");
        if (b != null) expectLength(b, out, "linear bias");
        long workspace = CpuConvolution.quantizedLinearWorkspaceBytes(n, in, out);
        memory.workspaceInUse(workspace);
        try {
            if (CodeStaging.integer(x, w) && DnnlConvolution.int8Exact(x.bits(), CodeStaging.maxAbs(w.b))) {
                ConvGeometry rows = new ConvGeometry(n, 1, 1, in, out, 1, 1, 1, 0); // w (out, in) is a 1x1 kernel
                conv.get().execute(rows, Pass.FORWARD_INT8, CodeStaging.codeBytes(x), CodeStaging.bytes(w.b),
                        CodeStaging.integerSums(y, scale));
            } else if (CodeStaging.integer(x, w)) {
                ExactSplit.Plan plan = ExactSplit.plan(in, x.bits(), CodeStaging.maxAbs(w.b));
                CodeStaging.exactSums(plan, x, w, y, scale, offset -> rowSums(w.b, out, in, offset),
                        (fx, fw, o) -> gemm.gemm(n, out, in, false, fx, true, fw, o));
            } else {
                gemm.gemm(n, out, in, false, CodeStaging.operand(x, ExactSplit.WHOLE), true, CodeStaging.operand(w, ExactSplit.WHOLE),
                        CodeStaging.scaled(y, scale));
            }
        } finally {
            memory.workspaceInUse(-workspace);
        }
        if (b != null) {
            CpuThreads.forRange(n, Math.max(1, CpuElementwise.GRAIN / out), (r0, r1) -> {
                for (int r = r0; r < r1; r++) {
                    for (int o = 0, k = r * out; o < out; o++, k++) y[k] += b[o];
                }
            });
        }
    }

    /** dx (may be null) = scale · dy w; dw = step · dy^T x; db (may be null) = column sums of dy. */
    void backward(CpuTensor x, float step, CpuTensor w, float scale, float[] dy, float[] dx, float[] dw, float[] db) {
        int out = w.shape().dim(0), in = w.shape().dim(1);
        int n = rows(x, in);
        checkWeights(w, out, in);
        expectLength(dy, (long) n * out, "linear output gradient");
        expectLength(dw, (long) out * in, "linear weight gradient");
        if (dx != null) expectLength(dx, (long) n * in, "linear input gradient");
        long workspace = CpuConvolution.quantizedLinearWorkspaceBytes(n, in, out);
        memory.workspaceInUse(workspace);
        try {
            if (dx != null) {
                gemm.gemm(n, in, out, false, CodeStaging.from(dy), false, CodeStaging.operand(w, ExactSplit.WHOLE),
                        CodeStaging.scaled(dx, scale));
            }
            gemm.gemm(out, in, n, true, CodeStaging.from(dy), false, CodeStaging.operand(x, ExactSplit.WHOLE), CodeStaging.scaled(dw, step));
        } finally {
            memory.workspaceInUse(-workspace);
        }
        if (db != null) CpuLinear.biasGradient(dy, n, out, db);
    }

    /** The correction of offset activations: offset · Σ of each output's weights (y repeats it per row). */
    private static int[] rowSums(byte[] w, int out, int in, int offset) {
        int[] c = new int[out];
        for (int o = 0; o < out; o++) {
            int s = 0;
            for (int i = 0, base = o * in; i < in; i++) s += w[base + i];
            c[o] = offset * s;
        }
        return c;
    }

    /** Rows of x: its elements over the features per row (PACKED of any shape, or F32). */
    private static int rows(CpuTensor x, int in) {
        long elements = x.shape().elements();
        boolean ok = (x.dtype() == DType.PACKED || x.dtype() == DType.F32) && elements % in == 0
                && (x.dtype() != DType.PACKED || in % x.shape().channels() == 0);
        if (!ok) throw new IllegalArgumentException("linear input: expected PACKED or F32 rows of " + in + " features, got " + x);
        return Math.toIntExact(elements / in);
    }

    private static void checkWeights(CpuTensor w, int out, int in) {
        long n = (long) out * in;
        boolean ok = w.shape().rank() == 2 && (w.dtype() == DType.I8 ? w.b.length == n : w.dtype() == DType.F32 && w.f.length == n);
        if (!ok) throw new IllegalArgumentException("linear weights: expected I8 or F32 (out, in), got " + w);
    }
}
