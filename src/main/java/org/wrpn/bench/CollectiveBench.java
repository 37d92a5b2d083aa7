package org.wrpn.bench;

import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.Styler;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.dist.Collective;
import org.wrpn.dist.Collectives;
import org.wrpn.dist.GradientBuckets;
import org.wrpn.dist.LaunchEnvironment;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The collective engine in use, measured from inside a data-parallel job (every rank runs this):
 * all-reduce time and bandwidth over message sizes, as training does it (the backend's tensors
 * staged through the engine's buffers: NCCL's bus-bandwidth convention, busbw = size / time x
 * 2(n - 1)/n), and training steps with and without their gradient sums, so the cost of
 * communication is a ratio measured in one run. Rank 0 returns the table; the others null.
 */
public final class CollectiveBench {
    static final long[] SIZES = {4L << 10, 64L << 10, 1L << 20, 4L << 20, 16L << 20, 64L << 20};

    /** A training case: model, width, weight = activation bits, batch per rank. */
    public record Case(String model, double width, int bits, int batch) {}

    private CollectiveBench() {}

    public static BenchTable run(LaunchEnvironment env, List<Case> cases, int repeats, Duration timeout) {
        try (Backend be = BackendSelector.select(Device.CPU); Collective c = Collectives.join(env, be, timeout)) {
            int n = c.worldSize();
            Map<String, Object> config = new LinkedHashMap<>();
            config.put("ranks", n);
            config.put("engine", c.describe());
            config.put("repeats", repeats);
            config.put("threads_per_rank", System.getenv().getOrDefault("OPENBLAS_NUM_THREADS", "all cores"));
            BenchTable t = new BenchTable("allreduce", Machine.describe(be), config);
            Machine.Contention load = new Machine.Contention();
            MemoryLedger ledger = new MemoryLedger(be);
            for (long bytes : SIZES) {
                Tensor x = ledger.allocate(Category.INPUT, "message", DType.F32, Shape.of((int) (bytes / Float.BYTES)));
                be.fill(x, 1f);
                Collective.Bucket b = c.bucket(List.of(x));
                double[] s = new double[repeats];
                for (int i = -2; i < repeats; i++) { // two warm-ups
                    c.barrier();
                    long t0 = System.nanoTime();
                    b.start();
                    b.await();
                    if (i >= 0) s[i] = (System.nanoTime() - t0) / 1e9;
                }
                ledger.free(x);
                double sec = BenchTable.median(s);
                Map<String, Object> r = t.row();
                r.put("kind", "allreduce");
                r.put("bytes", bytes);
                r.put("seconds", sec);
                r.put("algbw_gbps", bytes / sec / 1e9);
                r.put("busbw_gbps", bytes / sec / 1e9 * 2.0 * (n - 1) / n);
            }
            for (Case k : cases) step(be, c, k, repeats, t);
            t.contention.putAll(load.summary());
            return c.rank() == 0 ? t : null;
        }
    }

    /** Steps of one case alone and with the gradient sums (and synchronised statistics' sums, none here: per-rank BN). */
    private static void step(Backend be, Collective c, Case k, int repeats, BenchTable t) {
        int batch = k.batch();
        int[] chw = Models.naturalInput(k.model());
        try (Network net = Models.build(k.model(), k.width(), PrecisionPolicy.uniform(k.bits(), k.bits()), chw[1], chw[2], chw[0], 10)) {
            net.initialize(be, k.bits() < 32 ? SavePolicy.PACKED : SavePolicy.FP32, 1);
            net.prepare(batch);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            TrainBench.upload(be, x, y, batch, chw);
            GradientBuckets buckets = new GradientBuckets(c, net.trainableParameters(), List.of(), GradientBuckets.DEFAULT_BUCKET_BYTES, false);
            double[][] s = new double[2][repeats];
            for (int i = -2; i < repeats; i++) {
                for (int withSums = 0; withSums < 2; withSums++) { // alternating, so drift in the machine's load hits both alike
                    net.context().replicas(withSums == 1 ? buckets : null);
                    c.barrier();
                    long t0 = System.nanoTime();
                    net.forwardBackward(x, y, 1f / (batch * c.worldSize()));
                    if (withSums == 1) {
                        buckets.finish();
                        c.sum(new double[4]);
                    }
                    if (i >= 0) s[withSums][i] = (System.nanoTime() - t0) / 1e9;
                }
            }
            net.context().replicas(null);
            long gradientBytes = 0;
            for (Parameter p : net.trainableParameters()) gradientBytes += p.grad().bytes();
            double alone = BenchTable.median(s[0]), with = BenchTable.median(s[1]);
            Map<String, Object> r = t.row();
            r.put("kind", "step");
            r.put("model", k.model());
            r.put("width", k.width());
            r.put("bits", k.bits());
            r.put("batch_per_rank", batch);
            r.put("bytes", gradientBytes);
            r.put("buckets", buckets.bucketCount());
            r.put("step_seconds_without_sums", alone);
            r.put("step_seconds", with);
            r.put("communication_share", (with - alone) / with);
            net.ledger().free(x);
            net.ledger().free(y);
        }
    }

    /** Bus bandwidth against message size (log2 x). */
    public static List<Path> plot(BenchTable t, Path dir, String name) throws java.io.IOException {
        List<Map<String, Object>> rows = t.where("kind", "allreduce");
        XYChart chart = new XYChartBuilder().width(960).height(580)
                .title("all-reduce, " + t.config.get("ranks") + " ranks | " + Machine.label(t.machine))
                .xAxisTitle("message (log2 bytes)").yAxisTitle("bus bandwidth, GB/s").build();
        chart.getStyler().setLegendPosition(Styler.LegendPosition.InsideNW);
        double[] x = rows.stream().mapToDouble(r -> Math.log(BenchTable.num(r, "bytes")) / Math.log(2)).toArray();
        chart.addSeries("busbw (NCCL convention)", x, rows.stream().mapToDouble(r -> BenchTable.num(r, "busbw_gbps")).toArray());
        chart.addSeries("algbw (size / time)", x, rows.stream().mapToDouble(r -> BenchTable.num(r, "algbw_gbps")).toArray());
        return List.of(BenchPlots.save(chart, dir.resolve(name + ".png")));
    }

}
