package org.wrpn.sweep;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.wrpn.bench.BenchPlots;
import org.wrpn.train.TrainConfig;

/**
 * The sweep's two plots: test accuracy against the bit setting, one line per width (bars: one
 * standard deviation over seeds); and test accuracy against the activation bytes kept for backward
 * per image (log x), one point per configuration, with the full-precision baseline marked.
 */
final class SweepPlots {
    private SweepPlots() {}

    static List<Path> plot(SweepReport report, SweepSpec spec, Path dir, String machine) throws IOException {
        TrainConfig base = spec.base();
        String what = String.format(Locale.ROOT, "%s, %d epoch(s), batch %d, mean of up to %d seeds", base.model(), base.epochs(),
                base.batch(), spec.seeds().size());
        SweepReport.ConfigResult baseline = baseline(report);
        return List.of(byBits(report, spec, dir.resolve(spec.name() + "-accuracy-vs-bits.png"), what, machine, baseline),
                byMemory(report, spec, dir.resolve(spec.name() + "-accuracy-vs-memory.png"), what, machine, baseline));
    }

    /** Full precision at the smallest width that has it, or null. */
    static SweepReport.ConfigResult baseline(SweepReport report) {
        SweepReport.ConfigResult best = null;
        for (SweepReport.ConfigResult c : report.configs()) {
            if (c.bits().fullPrecision() && (best == null || c.widthMultiplier() < best.widthMultiplier())) best = c;
        }
        return best;
    }

    private static Path byBits(SweepReport report, SweepSpec spec, Path file, String what, String machine,
            SweepReport.ConfigResult baseline) throws IOException {
        XYChart c = new XYChartBuilder().width(960).height(580).title("Test accuracy by bits: " + what + " | " + machine)
                .xAxisTitle("weight / activation bits").yAxisTitle("test accuracy (bars: +-1 s.d. over seeds)").build();
        style(c.getStyler());
        List<String> labels = spec.bits().stream().map(SweepSpec.Bits::toString).toList();
        // the bit settings sit at x = 0, 1, 2, ...; XChart drops every label when two are equal, so others stay distinct numbers
        c.setCustomXAxisTickLabelsFormatter(v -> {
            long i = Math.round(v);
            return Math.abs(v - i) < 1e-9 && i >= 0 && i < labels.size() ? labels.get((int) i) : String.format(Locale.ROOT, "%.2f", v);
        });
        c.getStyler().setXAxisMin(-0.3);
        c.getStyler().setXAxisMax(labels.size() - 0.7);
        c.getStyler().setXAxisTickMarkSpacingHint((int) (0.75 * 860 / Math.max(1, labels.size() - 0.4))); // one tick per setting
        c.getStyler().setErrorBarsColorSeriesColor(true);
        double lo = 1, hi = 0;
        for (double w : spec.widths()) {
            List<Double> xs = new ArrayList<>(), ys = new ArrayList<>(), err = new ArrayList<>();
            for (int i = 0; i < spec.bits().size(); i++) {
                SweepReport.ConfigResult r = find(report, w, spec.bits().get(i));
                if (r == null) continue; // a missing configuration is left out of its line
                double sd = Double.isNaN(r.std()) ? 0 : r.std();
                xs.add((double) i);
                ys.add(r.mean());
                err.add(sd);
                lo = Math.min(lo, r.mean() - sd);
                hi = Math.max(hi, r.mean() + sd);
            }
            if (xs.isEmpty()) continue;
            XYSeries s = c.addSeries("width " + SweepSpec.formatWidth(w), xs, ys, err);
            s.setMarker(SeriesMarkers.CIRCLE);
        }
        if (baseline != null) {
            XYSeries s = c.addSeries("full precision, width " + SweepSpec.formatWidth(baseline.widthMultiplier()) + " (baseline)",
                    new double[] {-0.3, labels.size() - 0.7}, new double[] {baseline.mean(), baseline.mean()});
            s.setMarker(SeriesMarkers.NONE);
            s.setLineStyle(SeriesLines.DASH_DASH);
            s.setLineColor(Color.DARK_GRAY);
        }
        yRange(c.getStyler(), lo, hi);
        return BenchPlots.save(c, file);
    }

    private static Path byMemory(SweepReport report, SweepSpec spec, Path file, String what, String machine,
            SweepReport.ConfigResult baseline) throws IOException {
        XYChart c = new XYChartBuilder().width(960).height(580).title("Test accuracy by activation memory: " + what + " | " + machine)
                .xAxisTitle("activation bytes kept for backward per image (wrpn default: packed when quantized; log)")
                .yAxisTitle("test accuracy (mean over seeds)").build();
        style(c.getStyler());
        c.getStyler().setDefaultSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
        c.getStyler().setXAxisLogarithmic(true);
        c.getStyler().setXAxisDecimalPattern("#,##0");
        c.getStyler().setMarkerSize(10);
        double lo = 1, hi = 0, xmin = Double.MAX_VALUE, xmax = 0;
        for (double w : spec.widths()) {
            List<SweepReport.ConfigResult> rs = report.configs().stream().filter(r -> r.widthMultiplier() == w).toList();
            if (rs.isEmpty()) continue;
            double[] x = rs.stream().mapToDouble(SweepReport.ConfigResult::savedBytesPerImage).toArray();
            double[] y = rs.stream().mapToDouble(SweepReport.ConfigResult::mean).toArray();
            c.addSeries("width " + SweepSpec.formatWidth(w), x, y).setMarker(SeriesMarkers.CIRCLE);
            for (SweepReport.ConfigResult r : rs) {
                lo = Math.min(lo, r.mean());
                hi = Math.max(hi, r.mean());
                xmin = Math.min(xmin, r.savedBytesPerImage());
                xmax = Math.max(xmax, r.savedBytesPerImage());
            }
        }
        yRange(c.getStyler(), lo, hi);
        c.getStyler().setAnnotationTextFontColor(Color.DARK_GRAY);
        double above = Math.max(0.005, (hi - lo) * 0.08) * 0.45; // labels sit just above their points
        for (SweepReport.ConfigResult r : report.configs()) {
            c.addAnnotation(new AnnotationText(r.bits().toString(), r.savedBytesPerImage(), r.mean() + above, false));
        }
        if (xmax > 0) {
            c.getStyler().setXAxisMin(xmin / 1.6);
            c.getStyler().setXAxisMax(xmax * 1.6);
        }
        if (baseline != null) {
            String label = "full precision, width " + SweepSpec.formatWidth(baseline.widthMultiplier()) + " (baseline)";
            XYSeries b = c.addSeries(label, new double[] {baseline.savedBytesPerImage()}, new double[] {baseline.mean()});
            b.setMarker(SeriesMarkers.DIAMOND);
            b.setMarkerColor(Color.BLACK);
            XYSeries level = c.addSeries(label + " level", new double[] {xmin / 1.6, xmax * 1.6},
                    new double[] {baseline.mean(), baseline.mean()});
            level.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            level.setLineStyle(SeriesLines.DASH_DASH);
            level.setLineColor(Color.DARK_GRAY);
            level.setMarker(SeriesMarkers.NONE);
            level.setShowInLegend(false);
        }
        return BenchPlots.save(c, file);
    }

    private static SweepReport.ConfigResult find(SweepReport report, double widthMultiplier, SweepSpec.Bits bits) {
        for (SweepReport.ConfigResult r : report.configs()) if (r.widthMultiplier() == widthMultiplier && r.bits().equals(bits)) return r;
        return null;
    }

    private static void style(Styler s) {
        s.setLegendPosition(Styler.LegendPosition.OutsideS);
        s.setLegendLayout(Styler.LegendLayout.Horizontal);
        s.setChartTitleFont(s.getChartTitleFont().deriveFont(13f));
    }

    private static void yRange(org.knowm.xchart.style.AxesChartStyler s, double lo, double hi) {
        if (hi < lo) return;
        double pad = Math.max(0.005, (hi - lo) * 0.08);
        s.setYAxisMin(Math.max(0, lo - pad));
        s.setYAxisMax(Math.min(1, hi + pad));
        s.setYAxisDecimalPattern("0.000");
    }
}
