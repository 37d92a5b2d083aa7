package org.wrpn.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The fused ops of a quantized layer against what they replace, in the `kernels` suite, at each k:
 * <ul>
 *   <li>conv_codes: the convolution on packed codes and int8 weight codes (conv2dForwardQuantized),
 *       bytes = packed x + int8 w + 4·outputs; against unpack+conv_f32, the path before it (unpack the
 *       codes to an fp32 tensor, then the fp32 convolution): packed x + 4E written + 4E read + 4·weights + 4·outputs;
 *   <li>bn_quantize_pack: batch-norm apply, quantize, pack and STE mask in one pass: 4E + packed + mask;
 *       against bn_apply+quantize_pack: 4E + 4E written + 4E read + packed + mask.
 * </ul>
 * Sites are the model's convs that read codes (conv1, conv2, ... in forward order) and its masked
 * activation sites; % of copy is against the fp32 copy of the conv's input (of the site) in the same run.
 */
final class FusedOpsBench {
    private FusedOpsBench() {}

    static List<Map<String, Object>> measure(Backend be, KernelClock clock, KernelBench.Config cfg, String model, double width,
            ShapeProbe.Shapes shapes) {
        List<Map<String, Object>> rows = new ArrayList<>();
        int i = 0;
        for (ConvGeometry g : shapes.codeConvs()) rows.addAll(conv(be, clock, cfg, model, width, g, "conv" + (++i)));
        for (ShapeProbe.Site site : shapes.packSites()) {
            if (site.mask()) rows.addAll(batchNorm(be, clock, cfg, model, width, site));
        }
        return rows;
    }

    private static List<Map<String, Object>> conv(Backend be, KernelClock clock, KernelBench.Config cfg, String model, double width,
            ConvGeometry g, String name) {
        Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.cin()), ys = Shape.nhwc(g.n(), g.outH(), g.outW(), g.cout());
        Shape ws = Shape.of(g.cout(), g.kh(), g.kw(), g.cin());
        long e = xs.elements(), wn = ws.elements(), yn = ys.elements();
        ShapeProbe.Site site = new ShapeProbe.Site(name, xs, false, 1);
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Tensor x = be.allocate(DType.F32, xs); Tensor copy = be.allocate(DType.F32, xs); Tensor w = be.allocate(DType.F32, ws);
                Tensor wq = be.allocate(DType.F32, ws); Tensor w8 = be.allocate(DType.I8, ws); Tensor y = be.allocate(DType.F32, ys)) {
            be.upload(KernelBench.randomActivations(e), x);
            be.upload(weights(wn), w);
            double[] copyTimes = clock.time(() -> be.copy(x, copy), cfg.warmup(), cfg.repeats());
            double copyGbps = KernelBench.copyBytes(e) / BenchTable.median(copyTimes) / 1e9;
            for (int k : cfg.bits()) {
                if (k == 32) continue;
                long packed = PackedLayout.bytes(xs.pixels(), xs.channels(), k);
                try (Tensor p = be.allocatePacked(xs, k)) {
                    be.quantizePack(x, k, p, null);
                    float scale = be.weightCodes(w, k, w8) * Quantizer.activationStep(k);
                    be.quantizeWeights(w, k, wq);
                    double[] tc = clock.time(() -> be.conv2dForwardQuantized(p, w8, scale, y, g), cfg.warmup(), cfg.repeats());
                    rows.add(KernelBench.row(model, width, cfg.batch(), site, "conv_codes", k, packed + wn + 4 * yn, tc, copyGbps));
                    double[] tu = clock.time(() -> {
                        be.unpackValues(p, copy);
                        be.conv2dForward(copy, wq, y, g);
                    }, cfg.warmup(), cfg.repeats());
                    rows.add(KernelBench.row(model, width, cfg.batch(), site, "unpack+conv_f32", k,
                            packed + 8 * e + 4 * wn + 4 * yn, tu, copyGbps));
                }
            }
        }
        return rows;
    }

    private static List<Map<String, Object>> batchNorm(Backend be, KernelClock clock, KernelBench.Config cfg, String model,
            double width, ShapeProbe.Site site) {
        Shape s = site.shape();
        int c = s.channels();
        long e = s.elements();
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Tensor x = be.allocate(DType.F32, s); Tensor copy = be.allocate(DType.F32, s); Tensor y = be.allocate(DType.F32, s);
                Tensor mask = be.allocatePacked(s, 1); Tensor gamma = be.allocate(DType.F32, Shape.of(c));
                Tensor beta = be.allocate(DType.F32, Shape.of(c)); Tensor mean = be.allocate(DType.F32, Shape.of(c));
                Tensor invStd = be.allocate(DType.F32, Shape.of(c))) {
            be.upload(KernelBench.randomActivations(e), x);
            be.fill(gamma, 1f);
            be.fill(invStd, 1f);
            double[] copyTimes = clock.time(() -> be.copy(x, copy), cfg.warmup(), cfg.repeats());
            double copyGbps = KernelBench.copyBytes(e) / BenchTable.median(copyTimes) / 1e9;
            long maskBytes = PackedLayout.bytes(s.pixels(), c, 1);
            for (int k : cfg.bits()) {
                if (k == 32) continue;
                long packed = PackedLayout.bytes(s.pixels(), c, k);
                try (Tensor p = be.allocatePacked(s, k)) {
                    double[] tf = clock.time(() -> be.batchNormQuantizePack(x, gamma, beta, mean, invStd, k, p, mask), cfg.warmup(),
                            cfg.repeats());
                    rows.add(KernelBench.row(model, width, cfg.batch(), site, "bn_quantize_pack", k, 4 * e + packed + maskBytes, tf, copyGbps));
                    double[] tu = clock.time(() -> {
                        be.batchNormApply(x, gamma, beta, mean, invStd, y);
                        be.quantizePack(y, k, p, mask);
                    }, cfg.warmup(), cfg.repeats());
                    rows.add(KernelBench.row(model, width, cfg.batch(), site, "bn_apply+quantize_pack", k,
                            12 * e + packed + maskBytes, tu, copyGbps));
                }
            }
        }
        return rows;
    }

    private static float[] weights(long n) {
        SplittableRandom r = new SplittableRandom(7);
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 2 - 1);
        return a;
    }
}
