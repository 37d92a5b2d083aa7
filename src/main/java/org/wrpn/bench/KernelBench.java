package org.wrpn.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.backend.Backend;
import org.wrpn.quant.PackedActivations;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;
import org.wrpn.train.ProgressBar;

/**
 * The `kernels` suite: the activation kernels of a training step at the layer shapes of real models,
 * against a copy of the same fp32 tensor timed in the same run on the same backend.
 *
 * <p>Ops, for a tensor of E fp32 elements, P pixels and C channels (bytes moved = each input read
 * once plus each output written once, from the packed layout of DESIGN.md):
 * <ul>
 *   <li>copy_f32 (the peer): 4E read + 4E written;
 *   <li>relu_f32 (k = 32, what a full-precision activation does instead): 4E + 4E;
 *   <li>quantize_pack (k &lt; 32, as the training forward runs it: an activation also writes its 1-bit
 *       STE mask, a max pool re-packing its output does not): 4E + P·words(C, k)·4 [+ P·words(C, 1)·4];
 *   <li>unpack (k &lt; 32, packed codes to fp32 values, as recomputation in backward does): P·words(C, k)·4 + 4E.
 * </ul>
 * Then the fused ops of quantized layers against what they replace ({@link FusedOpsBench}).
 * Each row: median and minimum over repeats after warm-up (at least the configured count, more for short ops, see
 * {@link KernelClock#timeAlternating}), GB/s (bytes / median), % of the GB/s of a
 * copy of the same shape timed in turns with the op (`copy_median_s`), elements/s. Rows with site
 * "all" sum a network's sites (each shape counted as many times as the network uses it).
 */
public final class KernelBench {
    private static final Logger LOG = LogManager.getLogger(KernelBench.class);

    public record Config(List<String> models, double[] widths, int[] bits, int batch, int warmup, int repeats) {}

    private KernelBench() {}

    public static long copyBytes(long elements) {
        return 8L * elements;
    }

    public static long quantizePackBytes(Shape s, int k, boolean mask) {
        return 4L * s.elements() + PackedLayout.bytes(s.pixels(), s.channels(), k)
                + (mask ? PackedLayout.bytes(s.pixels(), s.channels(), 1) : 0);
    }

    public static long unpackBytes(Shape s, int k) {
        return PackedLayout.bytes(s.pixels(), s.channels(), k) + 4L * s.elements();
    }

    /** Model-widths not started by `deadlineNanos` (System.nanoTime; Long.MAX_VALUE for none) are left out, with a note. */
    public static void run(Backend be, Config cfg, BenchTable table, boolean progress, long deadlineNanos) {
        List<Object[]> work = new ArrayList<>();
        for (String model : cfg.models()) {
            for (double width : cfg.widths()) work.add(new Object[] {model, width});
        }
        ProgressBar bar = new ProgressBar(System.err, "kernels", work.size());
        if (!progress) bar.disabled();
        try (KernelClock clock = KernelClock.of(be)) {
            table.config.put("timing", clock.method());
            table.config.put("warmup_runs", cfg.warmup());
            if (be.name().equals("cpu")) table.config.put("cpu_pack", PackedActivations.implementation());
            int done = 0;
            for (Object[] w : work) {
                String model = (String) w[0];
                double width = (Double) w[1];
                if (BenchTable.past(deadlineNanos)) {
                    table.notes.add("not run (time budget): " + model + " width " + width);
                    continue;
                }
                ShapeProbe.Shapes shapes = ShapeProbe.probe(model, width, cfg.batch());
                List<Map<String, Object>> siteRows = new ArrayList<>();
                try {
                    for (ShapeProbe.Site site : shapes.packSites()) {
                        siteRows.addAll(measureSite(be, clock, cfg, model, width, site));
                    }
                } catch (RuntimeException e) { // keep what the other models and widths measured
                    LOG.warn("{} width {} failed: {}", model, width, e.toString());
                    table.notes.add("failed: " + model + " width " + width + ": " + e);
                    siteRows.clear();
                }
                table.rows.addAll(siteRows);
                table.rows.addAll(networkRows(siteRows, model, width, cfg.batch()));
                if (!siteRows.isEmpty()) {
                    try {
                        table.rows.addAll(FusedOpsBench.measure(be, clock, cfg, model, width, shapes));
                    } catch (RuntimeException e) {
                        LOG.warn("{} width {}: fused ops failed: {}", model, width, e.toString());
                        table.notes.add("failed (fused ops): " + model + " width " + width + ": " + e);
                    }
                }
                done++;
                bar.update(done);
            }
        }
    }

    private static List<Map<String, Object>> measureSite(Backend be, KernelClock clock, Config cfg, String model, double width,
            ShapeProbe.Site site) {
        Shape s = site.shape();
        long e = s.elements();
        List<Map<String, Object>> rows = new ArrayList<>();
        try (Tensor x = be.allocate(DType.F32, s); Tensor copy = be.allocate(DType.F32, s); Tensor y = be.allocate(DType.F32, s);
                Tensor mask = be.allocatePacked(s, 1)) {
            be.upload(randomActivations(e), x);
            double[] copyTimes = clock.time(() -> be.copy(x, copy), cfg.warmup(), cfg.repeats());
            double copyGbps = copyBytes(e) / BenchTable.median(copyTimes) / 1e9;
            rows.add(row(model, width, cfg.batch(), site, "copy_f32", 32, copyBytes(e), copyTimes, copyGbps));
            Runnable copyOp = () -> be.copy(x, copy);
            for (int k : cfg.bits()) {
                if (k == 32) {
                    rows.add(paired(be, clock, cfg, model, width, site, "relu_f32", 32, copyBytes(e), copyOp, () -> be.relu(x, y)));
                    continue;
                }
                try (Tensor p = be.allocatePacked(s, k)) {
                    Tensor m = site.mask() ? mask : null;
                    rows.add(paired(be, clock, cfg, model, width, site, "quantize_pack", k, quantizePackBytes(s, k, site.mask()), copyOp,
                            () -> be.quantizePack(x, k, p, m)));
                    rows.add(paired(be, clock, cfg, model, width, site, "unpack", k, unpackBytes(s, k), copyOp,
                            () -> be.unpackValues(p, y)));
                }
            }
        }
        return rows;
    }

    /** A row of op, its % of copy taken against the copy timed in turns with it (`copy_median_s`). */
    private static Map<String, Object> paired(Backend be, KernelClock clock, Config cfg, String model, double width,
            ShapeProbe.Site site, String op, int bits, long bytes, Runnable copyOp, Runnable timed) {
        double[][] t = clock.timeAlternating(cfg.warmup(), cfg.repeats(), copyOp, timed);
        double copyMedian = BenchTable.median(t[0]);
        Map<String, Object> r = row(model, width, cfg.batch(), site, op, bits, bytes, t[1],
                copyBytes(site.shape().elements()) / copyMedian / 1e9);
        r.put("copy_median_s", copyMedian);
        return r;
    }

    static Map<String, Object> row(String model, double width, int batch, ShapeProbe.Site site, String op, int bits,
            long bytes, double[] seconds, double copyGbps) {
        double med = BenchTable.median(seconds);
        double gbps = bytes / med / 1e9;
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", model);
        r.put("width", width);
        r.put("batch", batch);
        r.put("site", site.name());
        r.put("shape", shapeString(site.shape()));
        r.put("mask", site.mask());
        r.put("sites", site.count());
        r.put("elements", site.shape().elements());
        r.put("op", op);
        r.put("bits", bits);
        r.put("bytes_moved", bytes);
        r.put("repeats", seconds.length);
        r.put("median_s", med);
        r.put("min_s", BenchTable.min(seconds));
        r.put("gbps", gbps);
        r.put("pct_of_copy", 100 * gbps / copyGbps);
        r.put("elements_per_s", site.shape().elements() / med);
        return r;
    }

    /** Network totals per (op, bits): time and bytes summed over sites, each weighted by its use count. */
    static List<Map<String, Object>> networkRows(List<Map<String, Object>> siteRows, String model, double width, int batch) {
        // op/bits -> bytes, seconds, min seconds, elements, and the seconds and bytes of the copy the op is compared with
        // (timed in turns with it; a copy row is its own)
        Map<String, double[]> sums = new LinkedHashMap<>();
        for (Map<String, Object> r : siteRows) {
            String key = r.get("op") + "/" + r.get("bits");
            double n = BenchTable.num(r, "sites");
            double[] acc = sums.computeIfAbsent(key, k -> new double[6]);
            acc[0] += n * BenchTable.num(r, "bytes_moved");
            acc[1] += n * BenchTable.num(r, "median_s");
            acc[2] += n * BenchTable.num(r, "min_s");
            acc[3] += n * BenchTable.num(r, "elements");
            boolean paired = r.containsKey("copy_median_s");
            acc[4] += n * BenchTable.num(r, paired ? "copy_median_s" : "median_s");
            acc[5] += n * (paired ? copyBytes((long) BenchTable.num(r, "elements")) : BenchTable.num(r, "bytes_moved"));
        }
        List<Map<String, Object>> rows = new ArrayList<>();
        for (var en : sums.entrySet()) {
            String[] k = en.getKey().split("/");
            double[] acc = en.getValue();
            Map<String, Object> r = new LinkedHashMap<>();
            r.put("model", model);
            r.put("width", width);
            r.put("batch", batch);
            r.put("site", "all");
            r.put("shape", "");
            r.put("mask", "");
            r.put("sites", (int) siteRows.stream().filter(x -> x.get("op").equals("copy_f32"))
                    .mapToDouble(x -> BenchTable.num(x, "sites")).sum());
            r.put("elements", (long) acc[3]);
            r.put("op", k[0]);
            r.put("bits", Integer.parseInt(k[1]));
            r.put("bytes_moved", (long) acc[0]);
            r.put("repeats", siteRows.stream().mapToInt(x -> ((Number) x.get("repeats")).intValue()).min().orElse(0));
            r.put("median_s", acc[1]);
            r.put("min_s", acc[2]);
            double gbps = acc[0] / acc[1] / 1e9;
            r.put("gbps", gbps);
            r.put("pct_of_copy", 100 * gbps / (acc[5] / acc[4] / 1e9));
            r.put("elements_per_s", acc[3] / acc[1]);
            rows.add(r);
        }
        return rows;
    }

    static String shapeString(Shape s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.rank(); i++) b.append(i == 0 ? "" : "x").append(s.dim(i));
        return b.toString();
    }

    /** Values in [-0.25, 1.25): every code, both clamps and the mask see use (the values do not change the traffic). */
    static float[] randomActivations(long n) {
        SplittableRandom r = new SplittableRandom(42);
        float[] a = new float[Math.toIntExact(n)];
        for (int i = 0; i < a.length; i++) a[i] = (float) (r.nextDouble() * 1.5 - 0.25);
        return a;
    }
}
