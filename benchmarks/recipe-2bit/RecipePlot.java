import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.lines.SeriesLines;
import org.knowm.xchart.style.markers.SeriesMarkers;
import org.wrpn.bench.BenchPlots;

/**
 * The 2-bit recipe study's plot: lenet 2/2 test accuracy against the learning-rate multiple of the
 * quantized layers' masters (clipped, no decay on them), one line per width, with the 1x fp32 level
 * and today's recipe dashed. Reads the screens' cell CSVs.
 *
 * <pre>java -cp target/wrpn-*-all.jar benchmarks/recipe-2bit/RecipePlot.java benchmarks/results/recipe-2bit</pre>
 */
public class RecipePlot {
    /** Today's recipe (weight decay 5e-4 on every weight) and 1x fp32, seed 1, from sweep-fashion-before-recipe-cpu-cells.csv. */
    static final Map<Integer, Double> TODAY = Map.of(1, 0.8565, 2, 0.8677);
    static final double FP32_1X = 0.9176;

    public static void main(String[] args) throws Exception {
        Path dir = Path.of(args[0]);
        // learning-rate multiple -> screen (1: clipped, no decay, the same learning rate as the rest)
        Map<Double, String> screens = new TreeMap<>(Map.of(1.0, "screen-clip-qwd0-lr0.05", 4.0, "screen-clip-qwd0-qlr4",
                16.0, "screen-clip-qwd0-qlr16", 64.0, "screen-clip-qwd0-qlr64"));
        XYChart c = new XYChartBuilder().width(900).height(560)
                .title("lenet 2/2, 3 epochs, seed 1: masters clipped, no decay on them (AMD EPYC x2)")
                .xAxisTitle("learning rate of the quantized layers' masters / --lr (log)").yAxisTitle("test accuracy").build();
        c.getStyler().setXAxisLogarithmic(true);
        for (int width : new int[] {1, 2}) {
            List<Double> xs = new ArrayList<>(), ys = new ArrayList<>();
            for (var e : screens.entrySet()) {
                Double acc = accuracy(dir.resolve(e.getValue() + "-cells.csv"), width);
                if (acc == null) continue;
                xs.add(e.getKey());
                ys.add(acc);
            }
            c.addSeries("width " + width, xs, ys);
            XYSeries today = c.addSeries("width " + width + ", today's recipe", List.of(1.0, 64.0), List.of(TODAY.get(width), TODAY.get(width)));
            today.setLineStyle(SeriesLines.DOT_DOT);
            today.setMarker(SeriesMarkers.NONE);
        }
        XYSeries fp32 = c.addSeries("width 1, fp32", List.of(1.0, 64.0), List.of(FP32_1X, FP32_1X));
        fp32.setLineStyle(SeriesLines.DASH_DASH);
        fp32.setMarker(SeriesMarkers.NONE);
        System.out.println("wrote " + BenchPlots.save(c, dir.resolve("recipe-2bit-lr-scale.png")));
    }

    static Double accuracy(Path cells, int width) throws Exception {
        if (!Files.exists(cells)) return null;
        List<String> lines = Files.readAllLines(cells);
        List<String> head = List.of(lines.get(0).split(","));
        for (String line : lines.subList(1, lines.size())) {
            String[] v = line.split(",");
            if (Double.parseDouble(v[head.indexOf("width")]) == width && v[head.indexOf("state")].equals("done")) {
                return Double.parseDouble(v[head.indexOf("test_accuracy")]);
            }
        }
        return null;
    }
}
