package org.wrpn.backend.cuda;

import static jcuda.driver.JCudaDriver.cuMemAlloc;
import static jcuda.driver.JCudaDriver.cuMemFree;

import java.nio.ByteBuffer;
import jcuda.driver.CUdeviceptr;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.PoolGeometry;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** Max and global-average pooling, and the softmax cross-entropy loss whose totals are a step's only download. */
final class PoolLossOps implements AutoCloseable {
    private final CudaStream stream;
    private final Operands operands;
    private final DeviceMemory memory;
    private final Transfers transfers;
    /** The loss kernel's totals: double loss sum, int correct count, int first bad label (or -1). */
    private final CUdeviceptr lossResult = new CUdeviceptr();

    PoolLossOps(CudaStream stream, Operands operands, DeviceMemory memory, Transfers transfers) {
        this.stream = stream;
        this.operands = operands;
        this.memory = memory;
        this.transfers = transfers;
        CudaRuntime.check(cuMemAlloc(lossResult, 16), "cuMemAlloc(loss result)");
    }

    private static void checkPool(CudaTensor x, CudaTensor y, PoolGeometry g, String what) {
        long xs = (long) g.n() * g.h() * g.w() * g.c(), ys = (long) g.n() * g.outH() * g.outW() * g.c();
        if (x.elements() != xs || y.elements() != ys) throw new IllegalArgumentException(what + " " + g + ": " + x + " -> " + y);
    }

    void maxPoolForward(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        CudaTensor xt = operands.f32(x, "maxPoolForward"), yt = operands.f32(y, "maxPoolForward");
        CudaTensor at = operands.of(argmax, DType.I32, "maxPoolForward argmax");
        checkPool(xt, yt, g, "maxPoolForward");
        Operands.sameElements("maxPoolForward argmax", yt, at);
        stream.launch("maxpool_fwd_f32").ptr(xt).ptr(yt).ptr(at).pool(g).threads(yt.elements());
    }

    void maxPoolPacked(Tensor x, Tensor y, Tensor argmax, PoolGeometry g) {
        CudaTensor xt = operands.any(x), yt = operands.any(y);
        CudaTensor at = operands.of(argmax, DType.I32, "maxPoolPacked argmax");
        int k = xt.bits();
        boolean ok = xt.dtype() == DType.PACKED && yt.dtype() == DType.PACKED && yt.bits() == k
                && xt.shape().equals(Shape.nhwc(g.n(), g.h(), g.w(), g.c())) && yt.shape().equals(Shape.nhwc(g.n(), g.outH(), g.outW(), g.c()))
                && at.elements() == yt.shape().elements();
        if (!ok) throw new IllegalArgumentException("maxPoolPacked: " + xt + " into " + yt + " and " + at + " for " + g);
        long words = (long) g.n() * g.outH() * g.outW() * PackedLayout.wordsPerPixel(g.c(), k);
        stream.launch("maxpool_fwd_packed").ptr(xt).ptr(yt).ptr(at).pool(g).i32(k).threads(words);
    }

    void maxPoolBackward(Tensor dy, Tensor argmax, Tensor dx, PoolGeometry g) {
        CudaTensor gy = operands.f32(dy, "maxPoolBackward"), at = operands.of(argmax, DType.I32, "maxPoolBackward argmax");
        CudaTensor gx = operands.f32(dx, "maxPoolBackward");
        checkPool(gx, gy, g, "maxPoolBackward");
        Operands.sameElements("maxPoolBackward argmax", gy, at);
        stream.launch("maxpool_bwd_f32").ptr(gy).ptr(at).ptr(gx).pool(g).threads(gx.elements());
    }

    /** (n, hw, c) of a (n, h, w, c) tensor. */
    private static int[] gapDims(CudaTensor t) {
        Shape s = t.shape();
        int n = s.dim(0), c = s.channels();
        return new int[] {n, (int) (s.elements() / ((long) n * c)), c};
    }

    void globalAvgPoolForward(Tensor x, Tensor y) {
        CudaTensor xt = operands.f32(x, "globalAvgPoolForward"), yt = operands.f32(y, "globalAvgPoolForward");
        int[] d = gapDims(xt);
        if (yt.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("globalAvgPool " + xt + " -> " + yt);
        stream.launch("gap_fwd_f32").ptr(xt).ptr(yt).i32(d[0]).i32(d[1]).i32(d[2]).threads(yt.elements());
    }

    void globalAvgPoolBackward(Tensor dy, Tensor dx) {
        CudaTensor gy = operands.f32(dy, "globalAvgPoolBackward"), gx = operands.f32(dx, "globalAvgPoolBackward");
        int[] d = gapDims(gx);
        if (gy.elements() != (long) d[0] * d[2]) throw new IllegalArgumentException("globalAvgPool backward " + gy + " -> " + gx);
        stream.launch("gap_bwd_f32").ptr(gy).ptr(gx).i32(d[0]).i32(d[1]).i32(d[2]).f32(1f / d[1]).threads(gx.elements());
    }

    LossResult softmaxCrossEntropy(Tensor logits, Tensor labels, Tensor dlogits, float gradScale) {
        CudaTensor z = operands.f32(logits, "softmaxCrossEntropy"), dz = operands.f32(dlogits, "softmaxCrossEntropy");
        CudaTensor lab = operands.of(labels, DType.I32, "softmaxCrossEntropy labels");
        Operands.sameElements("softmaxCrossEntropy", z, dz);
        int n = (int) lab.elements();
        int classes = (int) (z.elements() / n);
        if ((long) n * classes != z.elements()) throw new IllegalArgumentException("softmaxCrossEntropy: " + z + " for " + n + " labels");
        try (DeviceMemory.Scratch sc = memory.scratch(CudaSupport.lossScratchBytes(n))) {
            CUdeviceptr loss = sc.at(0), hit = sc.at(8L * n);
            stream.launch("softmax_xent_f32").ptr(z).ptr(lab).ptr(dz).i32(n).i32(classes).f32(gradScale).ptr(loss).ptr(hit)
                    .threads(n);
            stream.launch("softmax_xent_total").ptr(loss).ptr(hit).i32(n).ptr(lossResult).single();
        }
        ByteBuffer r = transfers.download(lossResult, 16);
        int bad = r.getInt(12);
        if (bad >= 0) {
            int label = transfers.download(lab.ptr().withByteOffset(4L * bad), 4).getInt(0);
            throw new IllegalArgumentException("label " + label + " (sample " + bad + ") outside 0.." + (classes - 1));
        }
        return new LossResult(r.getDouble(0), r.getInt(8), n);
    }

    @Override
    public void close() {
        cuMemFree(lossResult);
    }
}
