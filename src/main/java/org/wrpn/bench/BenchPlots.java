package org.wrpn.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.function.ToDoubleFunction;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * PNG plots of a suite's table, x = bits, one line per width: kernels (GB/s of quantize+pack and
 * unpack over a network's activation sites, with the copy peer dashed), train (bytes kept for
 * backward per step, step time, and with the PyTorch peer wrpn/PyTorch step time). Needs java.desktop, which the GPU bundle's runtime leaves out:
 * there the tables are written alone and plotted here later with `wrpn bench plot FILE.json`
 * (callers ask {@link BenchTable#canPlot} first: loading this class needs XChart).
 */
public final class BenchPlots {
    private BenchPlots() {}

    /** Draws the suite's plots beside NAME.json; returns the files written. */
    public static List<Path> plot(BenchTable t, Path dir, String name) throws IOException {
        return switch (t.suite) {
            case "kernels" -> kernels(t, dir, name);
            case "train" -> train(t, dir, name);
            case "loader" -> loader(t, dir, name);
            default -> List.of();
        };
    }

    private static String machine(BenchTable t) {
        return Machine.label(t.machine);
    }

    static List<Path> kernels(BenchTable t, Path dir, String name) throws IOException {
        List<Path> files = new ArrayList<>();
        List<Map<String, Object>> all = t.where("site", "all");
        for (String model : distinct(all, "model")) {
            for (String op : List.of("quantize_pack", "unpack")) {
                XYChart c = chart(model + ": " + op.replace('_', '+') + " over all activation sites, batch " + all.get(0).get("batch"),
                        machine(t), op.equals("unpack") ? "bits" : "bits (32: the fp32 ReLU a full-precision activation runs instead)",
                        "GB/s (bytes read + written / median time; log)");
                c.getStyler().setYAxisLogarithmic(true);
                for (double w : widths(all, model)) {
                    List<Map<String, Object>> s = rows(all, model, w, r -> op.equals(r.get("op"))
                            || (op.equals("quantize_pack") && "relu_f32".equals(r.get("op"))));
                    if (s.isEmpty()) continue;
                    series(c, op.replace('_', '+') + ", width " + fmt(w), s, r -> BenchTable.num(r, "bits"), r -> BenchTable.num(r, "gbps"),
                            false);
                    List<Map<String, Object>> copy = rows(all, model, w, r -> "copy_f32".equals(r.get("op")));
                    if (!copy.isEmpty()) {
                        double g = BenchTable.num(copy.get(0), "gbps");
                        double[] xs = s.stream().mapToDouble(r -> log2(BenchTable.num(r, "bits"))).toArray();
                        double[] ys = new double[xs.length];
                        java.util.Arrays.fill(ys, g);
                        XYSeries cs = c.addSeries("fp32 copy (peer), width " + fmt(w), xs, ys);
                        cs.setLineStyle(SeriesLines.DASH_DASH);
                        cs.setMarker(SeriesMarkers.NONE);
                    }
                }
                files.add(save(c, dir.resolve(name + "-" + model + "-" + op + ".png")));
            }
        }
        return files;
    }

    static List<Path> train(BenchTable t, Path dir, String name) throws IOException {
        List<Path> files = new ArrayList<>();
        List<Map<String, Object>> ok = t.rows.stream().filter(r -> "ok".equals(r.get("status"))).toList();
        boolean measured = !ok.isEmpty();
        List<Map<String, Object>> rows = measured ? ok : t.rows;
        for (String model : distinct(rows, "model")) {
            Object batch = rows.get(0).get("batch");
            XYChart saved = chart(model + ": bytes kept for backward per training step, batch " + batch
                    + (measured ? "" : " (planned: not run on this backend)"), machine(t), "weight and activation bits",
                    "saved activation bytes (log)");
            saved.getStyler().setYAxisLogarithmic(true);
            for (String policy : List.of("fp32", "packed")) {
                for (double w : widths(rows, model)) {
                    List<Map<String, Object>> s = rows(rows, model, w, r -> policy.equals(r.get("policy")));
                    if (s.isEmpty()) continue;
                    series(saved, policy + ", width " + fmt(w), s, r -> BenchTable.num(r, "abits"),
                            r -> BenchTable.num(r, measured ? "saved_activation_bytes" : "planned_saved_bytes"), policy.equals("fp32"));
                }
            }
            files.add(save(saved, dir.resolve(name + "-" + model + "-saved.png")));
            if (!measured) continue;
            XYChart time = chart(model + ": training step time (forward, backward, SGD), batch " + batch, machine(t),
                    "weight and activation bits", "median step time (s)");
            for (String policy : List.of("fp32", "packed")) {
                for (double w : widths(rows, model)) {
                    List<Map<String, Object>> s = rows(rows, model, w, r -> policy.equals(r.get("policy")));
                    if (s.isEmpty()) continue;
                    series(time, policy + ", width " + fmt(w), s, r -> BenchTable.num(r, "abits"), r -> BenchTable.num(r, "step_s"),
                            policy.equals("fp32"));
                }
            }
            files.add(save(time, dir.resolve(name + "-" + model + "-step-time.png")));
            if (rows.stream().noneMatch(r -> model.equals(r.get("model")) && r.containsKey("wrpn_over_torch_step"))) continue;
            XYChart vs = chart(model + ": wrpn step time / PyTorch step time (same run, alternating; < 1: wrpn faster), batch " + batch,
                    machine(t), "weight and activation bits (PyTorch: fp32 at 32, fake quantization below)", "wrpn / PyTorch median step time");
            for (String policy : List.of("fp32", "packed")) {
                for (double w : widths(rows, model)) {
                    List<Map<String, Object>> s = rows(rows, model, w, r -> policy.equals(r.get("policy")) && r.containsKey("wrpn_over_torch_step"));
                    if (s.isEmpty()) continue;
                    series(vs, policy + ", width " + fmt(w), s, r -> BenchTable.num(r, "abits"), r -> BenchTable.num(r, "wrpn_over_torch_step"),
                            policy.equals("fp32"));
                }
            }
            XYSeries parity = vs.addSeries("parity", new double[] {-0.5, 5.5}, new double[] {1, 1});
            parity.setLineStyle(SeriesLines.DASH_DASH);
            parity.setMarker(SeriesMarkers.NONE);
            files.add(save(vs, dir.resolve(name + "-" + model + "-vs-pytorch.png")));
        }
        return files;
    }

    /** Loader images/s against decode threads, per transform, with perfect scaling from one thread dashed. */
    public static List<Path> loader(BenchTable t, Path dir, String name) throws IOException {
        XYChart c = new XYChartBuilder().width(960).height(580).title("image loader: ImageNet-size JPEG to 224x224 | " + machine(t))
                .xAxisTitle("decode threads").yAxisTitle("images/s").build();
        c.getStyler().setLegendPosition(Styler.LegendPosition.OutsideE);
        c.getStyler().setChartTitleFont(c.getStyler().getChartTitleFont().deriveFont(13f));
        for (String transform : List.of("train", "eval")) {
            List<Map<String, Object>> s = t.where("transform", transform);
            if (s.isEmpty()) continue;
            double[] x = s.stream().mapToDouble(r -> BenchTable.num(r, "threads")).toArray();
            c.addSeries(transform + " transform", x, s.stream().mapToDouble(r -> BenchTable.num(r, "images_per_second")).toArray());
            double one = BenchTable.num(s.get(0), "images_per_second_per_thread");
            XYSeries ideal = c.addSeries(transform + ": threads x one thread's rate", x,
                    java.util.Arrays.stream(x).map(n -> n * one).toArray());
            ideal.setLineStyle(SeriesLines.DASH_DASH);
            ideal.setMarker(SeriesMarkers.NONE);
        }
        return List.of(save(c, dir.resolve(name + ".png")));
    }

    private static XYChart chart(String title, String machine, String x, String y) {
        XYChart c = new XYChartBuilder().width(960).height(580).title(title + " | " + machine).xAxisTitle(x).yAxisTitle(y).build();
        var s = c.getStyler();
        s.setLegendPosition(Styler.LegendPosition.OutsideE);
        s.setChartTitleFont(s.getChartTitleFont().deriveFont(13f));
        // bits on a log2 axis, labelled with bit widths (XChart drops all labels when two are equal: keep them distinct)
        c.setCustomXAxisTickLabelsFormatter(v -> Math.abs(v - Math.rint(v)) < 1e-9 ? String.valueOf(Math.pow(2, Math.rint(v))).replaceAll("\\.0$", "")
                : String.format(java.util.Locale.ROOT, "%.2g", Math.pow(2, v)));
        s.setXAxisMin(-0.5);
        s.setXAxisMax(5.5);
        s.setXAxisTickMarkSpacingHint(110);
        return c;
    }

    private static void series(XYChart c, String label, List<Map<String, Object>> rows, ToDoubleFunction<Map<String, Object>> x,
            ToDoubleFunction<Map<String, Object>> y, boolean square) {
        List<Map<String, Object>> s = new ArrayList<>(rows);
        s.sort(Comparator.comparingDouble(x));
        XYSeries series = c.addSeries(label, s.stream().mapToDouble(r -> log2(x.applyAsDouble(r))).toArray(),
                s.stream().mapToDouble(y).toArray());
        series.setMarker(square ? SeriesMarkers.SQUARE : SeriesMarkers.CIRCLE);
    }

    private static List<Map<String, Object>> rows(List<Map<String, Object>> rows, String model, double width,
            java.util.function.Predicate<Map<String, Object>> p) {
        return rows.stream().filter(r -> model.equals(r.get("model")) && BenchTable.num(r, "width") == width && p.test(r)).toList();
    }

    private static List<String> distinct(List<Map<String, Object>> rows, String key) {
        return rows.stream().map(r -> String.valueOf(r.get(key))).distinct().toList();
    }

    private static double[] widths(List<Map<String, Object>> rows, String model) {
        return rows.stream().filter(r -> model.equals(r.get("model"))).mapToDouble(r -> BenchTable.num(r, "width")).distinct().sorted()
                .toArray();
    }

    private static String fmt(double w) {
        return w == Math.rint(w) ? String.valueOf((long) w) : String.valueOf(w);
    }

    private static double log2(double v) {
        return Math.log(v) / Math.log(2);
    }

    /** Writes a chart as PNG atomically (temporary file, then rename). */
    public static Path save(org.knowm.xchart.internal.chartpart.Chart<?, ?> c, Path file) throws IOException {
        Files.createDirectories(file.getParent());
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        BitmapEncoder.saveBitmap(c, tmp.toString(), BitmapEncoder.BitmapFormat.PNG);
        Files.move(Path.of(tmp + ".png"), file, StandardCopyOption.REPLACE_EXISTING);
        return file;
    }
}
