package org.wrpn.backend.cuda;

import jcuda.driver.CUdeviceptr;
import org.wrpn.backend.Device;
import org.wrpn.tensor.Tensor;

/**
 * Batch norm over the channels of a (rows, C) tensor: per-channel reductions over row chunks into
 * double partials (scratch from the allocator), then per-channel coefficients, then an element-wise apply.
 */
record BatchNormOps(CudaStream stream, Operands operands, DeviceMemory memory) {
    /** The rows of x over C channels, and the row chunks of its reductions (a function of rows alone). */
    private record Rows(long rows, int chunks) {}

    /** One op's channels: the count gamma gives, and the checks of its other per-channel tensors. */
    private record Channels(Operands operands, String op, CudaTensor gamma) {
        int count() {
            return (int) gamma.elements();
        }

        CudaTensor of(Tensor t, String name) {
            return operands.perChannel(t, count(), op + " " + name);
        }

        Rows rows(CudaTensor x) {
            long rows = x.elements() / count();
            if (rows * count() != x.elements()) {
                throw new IllegalArgumentException("batch norm over " + count() + " channels of " + x);
            }
            return new Rows(rows, CudaSupport.bnChunks(rows));
        }
    }

    private Channels channels(String op, Tensor gamma) {
        return new Channels(operands, op, operands.f32(gamma, op + " gamma"));
    }

    void batchNormTrain(Tensor x, Tensor gamma, Tensor beta, Tensor y, Tensor saveMean, Tensor saveInvStd,
            Tensor runningMean, Tensor runningVar, float momentum, float eps) {
        CudaTensor xt = operands.f32(x, "batchNormTrain");
        CudaTensor yt = y == null ? null : operands.sameSizeF32("batchNormTrain", x, y)[1];  // null: statistics only
        Channels ch = channels("batchNormTrain", gamma);
        CudaTensor bt = ch.of(beta, "beta"), mt = ch.of(saveMean, "mean"), it = ch.of(saveInvStd, "invStd");
        CudaTensor rm = ch.of(runningMean, "running mean"), rv = ch.of(runningVar, "running var");
        int c = ch.count();
        Rows s = ch.rows(xt);
        long partialBytes = 8L * s.chunks() * c;
        try (DeviceMemory.Scratch sc = memory.scratch(CudaSupport.batchNormScratchBytes(s.rows(), c, Device.BatchNormPass.TRAIN))) {
            CUdeviceptr partial = sc.at(0), mean = sc.at(partialBytes);
            stream.launch("bn_partial_sum_f32_f64").ptr(xt).i64(s.rows()).i32(c).i32(s.chunks()).ptr(partial)
                    .channelChunks(s.chunks(), c);
            stream.launch("bn_mean_f64").ptr(partial).i64(s.rows()).i32(c).i32(s.chunks()).ptr(mean).threads(c);
            stream.launch("bn_partial_sqdev_f32_f64").ptr(xt).ptr(mean).i64(s.rows()).i32(c).i32(s.chunks()).ptr(partial)
                    .channelChunks(s.chunks(), c);
            stream.launch("bn_train_stats_f32").ptr(partial).ptr(mean).i64(s.rows()).i32(c).i32(s.chunks())
                    .ptr(mt).ptr(it).ptr(rm).ptr(rv).f32(momentum).f32(eps).threads(c);
        }
        if (yt != null) apply(xt, ch.gamma(), bt, mt, it, yt, c);
    }

    void batchNormApply(Tensor x, Tensor gamma, Tensor beta, Tensor mean, Tensor invStd, Tensor y) {
        CudaTensor[] xy = operands.sameSizeF32("batchNormApply", x, y);
        Channels ch = channels("batchNormApply", gamma);
        ch.rows(xy[0]);
        apply(xy[0], ch.gamma(), ch.of(beta, "beta"), ch.of(mean, "mean"), ch.of(invStd, "invStd"), xy[1], ch.count());
    }

    /** y = gamma (x - mean) invStd + beta. */
    private void apply(CudaTensor x, CudaTensor gamma, CudaTensor beta, CudaTensor mean, CudaTensor invStd, CudaTensor y, int c) {
        stream.launch("bn_apply_f32").ptr(x).ptr(gamma).ptr(beta).ptr(mean).ptr(invStd).ptr(y).i64(x.elements()).i32(c)
                .threads(x.elements());
    }

    void batchNormInference(Tensor x, Tensor gamma, Tensor beta, Tensor runningMean, Tensor runningVar, float eps, Tensor y) {
        CudaTensor[] xy = operands.sameSizeF32("batchNormInference", x, y);
        Channels ch = channels("batchNormInference", gamma);
        CudaTensor xt = xy[0];
        int c = ch.count();
        ch.rows(xt);
        try (DeviceMemory.Scratch coef = memory.scratch(CudaSupport.batchNormScratchBytes(xt.elements() / c, c, Device.BatchNormPass.INFERENCE))) {
            // checked once the scratch is taken, so a failed check leaves the allocator as it always did
            CudaTensor bt = ch.of(beta, "beta"), rm = ch.of(runningMean, "running mean"), rv = ch.of(runningVar, "running var");
            stream.launch("bn_inference_coef_f32").ptr(ch.gamma()).ptr(bt).ptr(rm).ptr(rv).f32(eps).i32(c).ptr(coef.at(0))
                    .threads(c);
            stream.launch("bn_scale_shift_f32").ptr(xt).ptr(coef.at(0)).ptr(xy[1]).i64(xt.elements()).i32(c)
                    .threads(xt.elements());
        }
    }

    void batchNormBackward(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dx,
            Tensor dgamma, Tensor dbeta) {
        CudaTensor[] t = operands.sameSizeF32("batchNormBackward", x, dy, dx);
        Channels ch = channels("batchNormBackward", gamma);
        CudaTensor mt = ch.of(saveMean, "mean"), it = ch.of(saveInvStd, "invStd");
        CudaTensor dg = ch.of(dgamma, "dgamma"), db = ch.of(dbeta, "dbeta");
        CudaTensor xt = t[0], gy = t[1], gx = t[2];
        int c = ch.count();
        Rows s = ch.rows(xt);
        long partialBytes = 16L * s.chunks() * c;
        try (DeviceMemory.Scratch sc = memory.scratch(CudaSupport.batchNormScratchBytes(s.rows(), c, Device.BatchNormPass.BACKWARD))) {
            CUdeviceptr partial = sc.at(0), coef = sc.at(partialBytes);
            stream.launch("bn_partial_bwd_f32_f64").ptr(xt).ptr(gy).ptr(mt).ptr(it).i64(s.rows()).i32(c).i32(s.chunks())
                    .ptr(partial).channelChunks(s.chunks(), c);
            stream.launch("bn_bwd_coef_f32").ptr(partial).ptr(ch.gamma()).ptr(it).i64(s.rows()).i32(c).i32(s.chunks()).ptr(dg)
                    .ptr(db).ptr(coef).threads(c);
            stream.launch("bn_bwd_apply_f32").ptr(xt).ptr(gy).ptr(mt).ptr(it).ptr(coef).ptr(gx).i64(xt.elements()).i32(c)
                    .threads(xt.elements());
        }
    }

    void batchNormBackwardApply(Tensor x, Tensor dy, Tensor gamma, Tensor saveMean, Tensor saveInvStd, Tensor dgamma,
            Tensor dbeta, long rows, Tensor dx) {
        CudaTensor[] t = operands.sameSizeF32("batchNormBackwardApply", x, dy, dx);
        Channels ch = channels("batchNormBackwardApply", gamma);
        CudaTensor mt = ch.of(saveMean, "mean"), it = ch.of(saveInvStd, "invStd");
        CudaTensor dg = ch.of(dgamma, "dgamma"), db = ch.of(dbeta, "dbeta");
        int c = ch.count();
        ch.rows(t[0]);
        if (rows <= 0) throw new IllegalArgumentException("batchNormBackwardApply over " + rows + " rows");
        try (DeviceMemory.Scratch coef = memory.scratch(CudaSupport.batchNormScratchBytes(t[0].elements() / c, c,
                Device.BatchNormPass.BACKWARD_APPLY))) {
            stream.launch("bn_bwd_coef_sums_f32").ptr(dg).ptr(db).ptr(ch.gamma()).ptr(it).i64(rows).i32(c).ptr(coef.at(0)).threads(c);
            stream.launch("bn_bwd_apply_f32").ptr(t[0]).ptr(t[1]).ptr(mt).ptr(it).ptr(coef.at(0)).ptr(t[2]).i64(t[0].elements()).i32(c)
                    .threads(t[0].elements());
        }
    }
}
