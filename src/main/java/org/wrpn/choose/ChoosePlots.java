package org.wrpn.choose;

import java.awt.Color;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleBiFunction;
import org.knowm.xchart.AnnotationText;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.wrpn.backend.Bytes;
import org.wrpn.bench.BenchPlots;

/**
 * The two front plots of a choose: proxy accuracy against planned memory and against measured step
 * time, one colour per ranking round (its runs as points, its Pareto front as a line), each
 * candidate labelled at its longest run, the recommendation as a black diamond.
 */
final class ChoosePlots {
    private ChoosePlots() {}

    private static final Color[] COLOURS = {new Color(0x4C72B0), new Color(0xDD8452), new Color(0x55A868), new Color(0xC44E52),
        new Color(0x8172B3), new Color(0x937860), new Color(0xDA8BC3), new Color(0x8C8C8C)};

    static List<Path> plot(ChooseReport report, Path dir, String name) throws IOException {
        return List.of(
                chart(report, dir.resolve(name + "-vs-memory.png"), true, (r, c) -> c.plannedBytes() / 1048576.0,
                        "planned memory of one training step (MiB, memory ledger)"),
                chart(report, dir.resolve(name + "-vs-step-time.png"), false, (r, c) -> r.secondsPerImage(c)
                        * report.spec().grid().base().batch() * 1e3, "measured step time (ms, in the proxy run)"));
    }

    private static Path chart(ChooseReport report, Path file, boolean memory, ToDoubleBiFunction<Chooser.Round, Chooser.Candidate> x,
            String xTitle) throws IOException {
        var base = report.spec().grid().base();
        String title = String.format(Locale.ROOT, "%s: proxy accuracy by %s, budget %s at batch %d | %s", base.model(),
                memory ? "memory" : "step time", Bytes.format(report.spec().budgetBytes()), base.batch(), report.machineLabel());
        XYChart c = new XYChartBuilder().width(1100).height(600).title(title).xAxisTitle(xTitle)
                .yAxisTitle("test accuracy after the proxy run").build();
        Styler s = c.getStyler();
        s.setLegendPosition(Styler.LegendPosition.OutsideE);
        s.setChartTitleFont(s.getChartTitleFont().deriveFont(13f));
        c.getStyler().setYAxisDecimalPattern("0.000");
        c.getStyler().setAnnotationTextFontColor(Color.DARK_GRAY);
        double lo = 1, hi = 0;
        for (Chooser.Round r : report.rounds()) {
            for (Chooser.Candidate cand : r.candidates()) {
                if (r.number() == 0 || Double.isNaN(r.accuracy(cand))) continue;
                lo = Math.min(lo, r.accuracy(cand));
                hi = Math.max(hi, r.accuracy(cand));
            }
        }
        double above = Math.max(0.005, (hi - lo) * 0.08) * 0.4; // labels sit just above their points
        List<Chooser.Candidate> labelled = new ArrayList<>();
        List<Chooser.Round> rounds = report.rounds();
        for (int k = rounds.size() - 1; k >= 0; k--) {
            Chooser.Round r = rounds.get(k);
            if (r.number() == 0) continue;
            Color colour = COLOURS[(r.number() - 1) % COLOURS.length];
            List<double[]> points = new ArrayList<>(), front = new ArrayList<>();
            boolean[] on = ChooseReport.front(r, memory);
            for (int i = 0; i < r.candidates().size(); i++) {
                Chooser.Candidate cand = r.candidates().get(i);
                double px = x.applyAsDouble(r, cand), py = r.accuracy(cand);
                if (Double.isNaN(px) || Double.isNaN(py)) continue;
                points.add(new double[] {px, py});
                if (on[i]) front.add(new double[] {px, py});
                if (!labelled.contains(cand)) { // labelled once, at its longest run
                    labelled.add(cand);
                    c.addAnnotation(new AnnotationText(cand.label(), px, py + above, false));
                }
            }
            if (points.isEmpty()) continue;
            String label = String.format(Locale.ROOT, "round %d: %,d images", r.number(), r.proxy().images());
            XYSeries dots = c.addSeries(label, col(points, 0), col(points, 1));
            dots.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            dots.setMarker(SeriesMarkers.CIRCLE);
            dots.setMarkerColor(colour);
            front.sort(Comparator.comparingDouble(p -> p[0]));
            XYSeries line = c.addSeries(label + " front", col(front, 0), col(front, 1));
            line.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
            line.setMarker(SeriesMarkers.NONE);
            line.setLineColor(colour);
            line.setShowInLegend(false);
        }
        Chooser.Round last = rounds.get(rounds.size() - 1);
        Chooser.Candidate rec = report.recommended();
        double rx = x.applyAsDouble(last, rec), ry = last.accuracy(rec);
        if (!Double.isNaN(rx) && !Double.isNaN(ry)) {
            XYSeries star = c.addSeries("recommended " + rec.label(), new double[] {rx}, new double[] {ry});
            star.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Scatter);
            star.setMarker(SeriesMarkers.DIAMOND);
            star.setMarkerColor(Color.BLACK);
        }
        if (hi >= lo) {
            double pad = Math.max(0.005, (hi - lo) * 0.08);
            c.getStyler().setYAxisMin(Math.max(0, lo - pad));
            c.getStyler().setYAxisMax(Math.min(1, hi + pad));
            if (memory) { // the budget, where the x axis reaches it
                double budget = report.spec().budgetBytes() / 1048576.0;
                XYSeries b = c.addSeries("budget " + Bytes.format(report.spec().budgetBytes()), new double[] {budget, budget},
                        new double[] {Math.max(0, lo - pad), Math.min(1, hi + pad)});
                b.setXYSeriesRenderStyle(XYSeries.XYSeriesRenderStyle.Line);
                b.setMarker(SeriesMarkers.NONE);
                b.setLineColor(Color.GRAY);
                b.setLineStyle(org.knowm.xchart.style.lines.SeriesLines.DASH_DASH);
            }
        }
        c.getStyler().setMarkerSize(9);
        return BenchPlots.save(c, file);
    }

    private static double[] col(List<double[]> points, int i) {
        return points.stream().mapToDouble(p -> p[i]).toArray();
    }
}
