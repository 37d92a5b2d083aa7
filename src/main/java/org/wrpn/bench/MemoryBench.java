package org.wrpn.bench;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.SplittableRandom;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.nn.Network;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;
import org.wrpn.train.AtomicFiles;
import org.wrpn.train.ProgressBar;

/**
 * Memory of one training step on the CPU across activation bit widths and save policies: bytes kept
 * for backward (measured by the ledger during a real step), the step's high-water mark (the CPU
 * backend's own accounting, beside the planner's prediction), the JVM heap high-water mark, and the
 * step time, so the cost of recomputation sits next to the memory it saves.
 */
public final class MemoryBench {
    private static final Logger LOG = LogManager.getLogger(MemoryBench.class);

    public record Row(String model, double widthMultiplier, int wbits, int abits, String policy, int batch, long savedBytes,
            long peakBytes, long plannedPeakBytes, long heapPeakBytes, double stepSeconds) {}

    private MemoryBench() {}

    public static List<Row> run(List<String> models, double[] widths, int[] bits, int batch, int repeats, boolean progress) {
        List<Row> rows = new ArrayList<>();
        int total = models.size() * widths.length * bits.length * 2;
        ProgressBar bar = new ProgressBar(System.err, "memory bench", total);
        if (!progress) bar.disabled();
        int done = 0;
        for (String model : models) {
            for (double width : widths) {
                for (int a : bits) {
                    for (SavePolicy policy : SavePolicy.values()) {
                        int w = a; // weights at the activation width (w1/a1 .. fp32)
                        rows.add(measure(model, width, w, a, policy, batch, repeats));
                        done++;
                        bar.update(done);
                    }
                }
            }
        }
        return rows;
    }

    static int[] inputFor(String model) {
        return Models.naturalInput(model);
    }

    public static Row measure(String model, double width, int wbits, int abits, SavePolicy policy, int batch, int repeats) {
        int[] chw = inputFor(model);
        try (CpuBackend backend = new CpuBackend();
                Network net = Models.build(model, width, PrecisionPolicy.uniform(wbits, abits), chw[1], chw[2], chw[0], 10)) {
            net.initialize(backend, policy, 1);
            net.prepare(batch);
            SplittableRandom r = new SplittableRandom(5);
            float[] images = new float[batch * chw[0] * chw[1] * chw[2]];
            for (int i = 0; i < images.length; i++) images[i] = (float) (r.nextDouble() * 2 - 1);
            int[] labels = new int[batch];
            for (int i = 0; i < batch; i++) labels[i] = r.nextInt(10);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            backend.upload(images, x);
            backend.upload(labels, y);
            net.forwardBackward(x, y, 1f / batch); // warm-up (JIT, scratch buffers)
            double[] times = new double[repeats];
            long heapPeak = 0;
            for (int i = 0; i < repeats; i++) {
                System.gc();
                Machine.resetHeapPeaks();
                backend.resetPeak();
                long t = System.nanoTime();
                net.forwardBackward(x, y, 1f / batch);
                times[i] = (System.nanoTime() - t) / 1e9;
                heapPeak = Math.max(heapPeak, Machine.heapPeakBytes());
            }
            Arrays.sort(times);
            long planned = MemoryPlanner.plan(new PlanRequest(model, width, PrecisionPolicy.uniform(wbits, abits), policy,
                    batch, chw[0], chw[1], chw[2], 10, Device.CPU)).total();
            Row row = new Row(model, width, wbits, abits, policy.flag(), batch, net.lastSavedBytes(),
                    backend.peakAllocatedBytes(), planned, heapPeak, times[times.length / 2]);
            net.ledger().free(x);
            net.ledger().free(y);
            LOG.debug("{}", row);
            return row;
        }
    }

    public static void write(List<Row> rows, Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        Map<String, Object> machine = Machine.describe();
        StringBuilder csv = new StringBuilder(
                "model,width,wbits,abits,policy,batch,saved_activation_bytes,step_peak_bytes,planned_peak_bytes,heap_peak_bytes,step_seconds,machine,commit\n");
        for (Row r : rows) {
            csv.append(String.format(Locale.ROOT, "%s,%s,%d,%d,%s,%d,%d,%d,%d,%d,%.4f,\"%s\",%s%n", r.model(),
                    r.widthMultiplier(), r.wbits(), r.abits(), r.policy(), r.batch(), r.savedBytes(), r.peakBytes(), r.plannedPeakBytes(),
                    r.heapPeakBytes(), r.stepSeconds(), machine.get("cpu"), machine.get("commit")));
        }
        AtomicFiles.writeString(dir.resolve(name + ".csv"), csv.toString());
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("machine", machine);
        json.put("rows", rows);
        AtomicFiles.writeString(dir.resolve(name + ".json"), new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(json));
        for (String model : rows.stream().map(Row::model).distinct().toList()) {
            plot(rows.stream().filter(r -> r.model().equals(model)).toList(), dir.resolve(name + "-" + model + ".png"),
                    model + ": bytes kept for backward per training step (batch " + rows.get(0).batch() + ", " + machine.get("cpu") + ")");
        }
    }

    static void plot(List<Row> rows, Path file, String title) throws IOException {
        XYChart chart = new XYChartBuilder().width(900).height(560).title(title).xAxisTitle("activation (and weight) bits")
                .yAxisTitle("saved activation bytes (log)").build();
        chart.getStyler().setYAxisLogarithmic(true);
        chart.getStyler().setXAxisLogarithmic(true);
        chart.getStyler().setLegendPosition(org.knowm.xchart.style.Styler.LegendPosition.OutsideE);
        chart.getStyler().setChartTitleFont(chart.getStyler().getChartTitleFont().deriveFont(13f));
        for (String policy : List.of("fp32", "packed")) {
            for (double width : rows.stream().mapToDouble(Row::widthMultiplier).distinct().toArray()) {
                List<Row> s = rows.stream().filter(r -> r.policy().equals(policy) && r.widthMultiplier() == width)
                        .sorted((a, b) -> Integer.compare(a.abits(), b.abits())).toList();
                if (s.isEmpty()) continue;
                double[] x = s.stream().mapToDouble(Row::abits).toArray();
                double[] y = s.stream().mapToDouble(r -> (double) r.savedBytes()).toArray();
                var series = chart.addSeries(policy + ", width " + width, x, y);
                series.setMarker(policy.equals("fp32") ? SeriesMarkers.SQUARE : SeriesMarkers.CIRCLE);
            }
        }
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        BitmapEncoder.saveBitmap(chart, tmp.toString(), BitmapEncoder.BitmapFormat.PNG);
        Files.move(Path.of(tmp + ".png"), file, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
    }
}
