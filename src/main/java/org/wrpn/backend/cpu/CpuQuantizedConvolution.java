package org.wrpn.backend.cpu;

import static org.wrpn.backend.cpu.ArrayChecks.expectLength;

import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.cpu.DnnlConvolution.Pass;
import org.wrpn.tensor.DType;

/**
 * Convolutions of quantized layers on codes: packed activation codes and int8 weight codes are
 * written as floats straight into oneDNN's staging ({@link CodeStaging}) and run through the same
 * f32 direct convolutions as the fp32 layers (never Winograd: it would leave the integers). With
 * codes on both sides the forward sum is exact ({@link ExactSplit}), so y = (float) acc · scale has
 * the bits of an int32 sum, the CUDA backend's. The gradients sum in float and then scale.
 * Everything runs within the convolution's workspace rule ({@link CpuConvolution#workspaceBytes}):
 * the staged input, output and weights, each operand staged once per sum.
 */
final class CpuQuantizedConvolution {
    private final DnnlConvolution conv;
    private final CpuMemory memory;

    CpuQuantizedConvolution(DnnlConvolution conv, CpuMemory memory) {
        this.conv = conv;
        this.memory = memory;
    }

    /** y = scale · Σ x·w; x PACKED codes or F32, w I8 codes or F32; exact in int32 for codes on both sides. */
    void forward(CpuTensor x, CpuTensor w, float scale, float[] y, ConvGeometry g) {
        checkInput(x, g, "conv input");
        checkWeights(w, g);
        expectLength(y, outputs(g), "conv output");
        long workspace = CpuConvolution.workspaceBytes(g);
        memory.workspaceInUse(workspace);
        try {
            if (CodeStaging.integer(x, w) && DnnlConvolution.int8Exact(x.bits(), CodeStaging.maxAbs(w.b))) {
                // oneDNN's int8 kernels: u8 codes x s8 codes into exact s32 sums
                conv.execute(g, Pass.FORWARD_INT8, CodeStaging.codeBytes(x), CodeStaging.bytes(w.b), CodeStaging.integerSums(y, scale));
            } else if (CodeStaging.integer(x, w)) {
                ExactSplit.Plan plan = ExactSplit.plan(g.patch(), x.bits(), CodeStaging.maxAbs(w.b));
                CodeStaging.exactSums(plan, x, w, y, scale, offset -> insideTaps(w.b, g, offset),
                        (fx, fw, out) -> conv.execute(g, Pass.FORWARD, fx, fw, out));
            } else {
                conv.execute(g, Pass.FORWARD, CodeStaging.operand(x, ExactSplit.WHOLE), CodeStaging.operand(w, ExactSplit.WHOLE),
                        CodeStaging.scaled(y, scale));
            }
        } finally {
            memory.workspaceInUse(-workspace);
        }
    }

    /** dx = scale · Σ dy·w; w I8 codes or F32; in float. */
    void backwardData(float[] dy, CpuTensor w, float scale, float[] dx, ConvGeometry g) {
        checkWeights(w, g);
        expectLength(dy, outputs(g), "conv output gradient");
        expectLength(dx, inputs(g), "conv input gradient");
        long workspace = CpuConvolution.workspaceBytes(g);
        memory.workspaceInUse(workspace);
        try {
            conv.execute(g, Pass.BACKWARD_DATA, CodeStaging.from(dy), CodeStaging.operand(w, ExactSplit.WHOLE),
                    CodeStaging.scaled(dx, scale));
        } finally {
            memory.workspaceInUse(-workspace);
        }
    }

    /** dw = step · Σ x·dy; x PACKED codes or F32; in float. */
    void backwardFilter(CpuTensor x, float step, float[] dy, float[] dw, ConvGeometry g) {
        checkInput(x, g, "conv input");
        expectLength(dy, outputs(g), "conv output gradient");
        expectLength(dw, (long) g.cout() * g.patch(), "conv weight gradient");
        long workspace = CpuConvolution.workspaceBytes(g);
        memory.workspaceInUse(workspace);
        try {
            conv.execute(g, Pass.BACKWARD_WEIGHTS, CodeStaging.operand(x, ExactSplit.WHOLE), CodeStaging.from(dy),
                    CodeStaging.scaled(dw, step));
        } finally {
            memory.workspaceInUse(-workspace);
        }
    }

    /**
     * The correction of offset activations: offset · the sum of the weights over the taps that fall
     * inside the image, per output pixel of an image and output channel (zero padding contributes
     * nothing, staged offset or not). Laid out (outH, outW, cout): y repeats it per image.
     */
    static int[] insideTaps(byte[] w, ConvGeometry g, int offset) {
        int cout = g.cout(), kh = g.kh(), kw = g.kw(), cin = g.cin(), oh = g.outH(), ow = g.outW();
        int[] tap = new int[kh * kw * cout]; // Σ over cin, laid out (kh, kw, cout)
        for (int co = 0; co < cout; co++) {
            for (int t = 0; t < kh * kw; t++) {
                int s = 0;
                for (int ci = 0, base = (co * kh * kw + t) * cin; ci < cin; ci++) s += w[base + ci];
                tap[t * cout + co] = s;
            }
        }
        int[] c = new int[oh * ow * cout];
        for (int y = 0; y < oh; y++) {
            for (int x = 0; x < ow; x++) {
                int dst = (y * ow + x) * cout;
                for (int i = 0; i < kh; i++) {
                    int ih = y * g.stride() - g.pad() + i;
                    if (ih < 0 || ih >= g.h()) continue;
                    for (int j = 0; j < kw; j++) {
                        int iw = x * g.stride() - g.pad() + j;
                        if (iw < 0 || iw >= g.w()) continue;
                        for (int co = 0, src = (i * kw + j) * cout; co < cout; co++) c[dst + co] += tap[src + co];
                    }
                }
                for (int co = 0; co < cout; co++) c[dst + co] *= offset;
            }
        }
        return c;
    }

    private static long inputs(ConvGeometry g) {
        return (long) g.n() * g.h() * g.w() * g.cin();
    }

    private static long outputs(ConvGeometry g) {
        return (long) g.n() * g.outH() * g.outW() * g.cout();
    }

    private static void checkInput(CpuTensor x, ConvGeometry g, String what) {
        boolean ok = switch (x.dtype()) {
            case PACKED -> x.shape().channels() == g.cin() && x.shape().elements() == inputs(g);
            case F32 -> x.f.length == inputs(g);
            default -> false;
        };
        if (!ok) throw new IllegalArgumentException(what + ": expected PACKED or F32 (" + g.n() + ", " + g.h() + ", " + g.w() + ", "
                + g.cin() + "), got " + x);
    }

    private static void checkWeights(CpuTensor w, ConvGeometry g) {
        long n = (long) g.cout() * g.patch();
        boolean ok = w.dtype() == DType.I8 ? w.b.length == n : w.dtype() == DType.F32 && w.f.length == n;
        if (!ok) throw new IllegalArgumentException("conv weights: expected I8 or F32 of " + n + " elements, got " + w);
    }
}
