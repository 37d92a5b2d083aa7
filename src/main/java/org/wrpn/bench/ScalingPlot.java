package org.wrpn.bench;

import java.awt.BasicStroke;
import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.wrpn.dist.ScalingTable;
import org.wrpn.dist.ScalingTable.Row;
import org.wrpn.dist.Topology;

/**
 * The scaling model against width, one plot per device (GPU, CPU): per topology and model the
 * shortest single-rank step that keeps exposed communication within the limit (solid, dotted, ...:
 * one stroke per topology), and per model the step time in force (dashed, same colour). Where a
 * model's dashed line runs below one of its other lines, widening has stopped paying on that
 * topology. Loaded only when {@link BenchTable#canPlot} (XChart).
 */
final class ScalingPlot {
    private ScalingPlot() {}

    private static final Color[] COLORS = {new Color(0x1f77b4), new Color(0xd62728), new Color(0x2ca02c), new Color(0x9467bd),
        new Color(0xff7f0e), new Color(0x8c564b)};
    private static final BasicStroke[] NEEDED = {
        new BasicStroke(2f), new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {2f, 3f}, 0f),
        new BasicStroke(2f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f, new float[] {10f, 3f, 2f, 3f}, 0f)};
    private static final BasicStroke STEP = new BasicStroke(1.5f, BasicStroke.CAP_BUTT, BasicStroke.JOIN_MITER, 10f,
            new float[] {8f, 5f}, 0f);

    /** Writes NAME-gpu.png and NAME-cpu.png (each only when the table has that device's topologies). */
    static List<Path> plot(ScalingTable table, Path dir, String name) throws IOException {
        List<Path> files = new ArrayList<>();
        for (String device : List.of("cuda", "cpu")) {
            List<Topology> ts = table.settings().topologies().stream().filter(t -> t.device().equals(device) && t.ranks() > 1).toList();
            if (ts.isEmpty()) continue;
            String label = device.equals("cpu") ? "cpu" : "gpu";
            files.add(BenchPlots.save(chart(table, ts, label), dir.resolve(name + "-" + label + ".png")));
        }
        return files;
    }

    private static XYChart chart(ScalingTable table, List<Topology> ts, String label) {
        String limit = ScalingReport.fmt(100 * table.settings().exposedLimit());
        XYChart c = new XYChartBuilder().width(1100).height(620)
                .title("Scaling model, " + label.toUpperCase() + " (not measured): shortest step with exposed all-reduce <= " + limit
                        + "% of it, per topology; dashed: the step time in force")
                .xAxisTitle("width multiplier").yAxisTitle("ms per step, one rank (log)").build();
        Styler s = c.getStyler();
        s.setLegendPosition(Styler.LegendPosition.OutsideE);
        s.setChartTitleFont(s.getChartTitleFont().deriveFont(12f));
        c.getStyler().setYAxisLogarithmic(true);
        List<String> models = table.rows().stream().filter(r -> ts.contains(r.topology())).map(Row::model).distinct().toList();
        for (int m = 0; m < models.size(); m++) {
            Color color = COLORS[m % COLORS.length];
            List<Row> curve = null;
            for (int i = 0; i < ts.size(); i++) {
                curve = table.curve(ts.get(i), models.get(m));
                XYSeries need = c.addSeries(models.get(m) + ", " + ts.get(i).name(), x(curve), curve.stream().mapToDouble(Row::minStepMs).toArray());
                need.setLineColor(color);
                need.setLineStyle(NEEDED[i % NEEDED.length]);
                need.setMarker(SeriesMarkers.NONE);
            }
            XYSeries step = c.addSeries(models.get(m) + ": step time", x(curve), curve.stream().mapToDouble(r -> r.prediction().stepMs()).toArray());
            step.setLineColor(color);
            step.setLineStyle(STEP);
            step.setMarker(SeriesMarkers.NONE);
        }
        return c;
    }

    private static double[] x(List<Row> curve) {
        return curve.stream().mapToDouble(Row::width).toArray();
    }
}
