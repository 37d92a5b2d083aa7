package org.wrpn.dist;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.dist.ScalingModel.Prediction;
import org.wrpn.dist.StepTimes.StepTime;
import org.wrpn.nn.models.Models;

/**
 * The scaling model over a grid: every topology x model x width, and for each topology and model the
 * width where widening stops paying (exposed communication above a share of the step), computed on a
 * fine grid of widths under two step-time rules. `wrpn plan scaling` prints it; docs/SCALING.md
 * explains it.
 */
public final class ScalingTable {
    /** Widths the crossover search walks: 1 to {@link #SEARCH_MAX_WIDTH} by {@link #SEARCH_STEP}. */
    public static final double SEARCH_STEP = 0.25;
    public static final double SEARCH_MAX_WIDTH = 16;

    /**
     * What the table is computed for.
     *
     * @param gpuModels models of the GPU topologies' rows
     * @param cpuModels models of the CPU topologies' rows
     * @param stepMs --step-ms, parsed ({@link StepTimes#parse}); empty for the defaults
     * @param buckets a fixed bucket count, or 0 for buckets of bucketMiB
     * @param exposedLimit the share of the step above which widening stops paying
     */
    public record Settings(List<Topology> topologies, List<String> gpuModels, List<String> cpuModels, List<Double> widths,
            Map<String, Double> stepMs, double backwardFraction, int buckets, double bucketMiB, double exposedLimit) {
        public Settings {
            if (topologies.isEmpty()) throw new BadInputException("no topology to model");
            for (String m : gpuModels) checkModel(m);
            for (String m : cpuModels) checkModel(m);
            for (double w : widths) {
                if (!(w > 0) || w > 64) throw new BadInputException("--widths must be positive numbers up to 64, got " + w);
            }
            ScalingModel.checkFraction(backwardFraction);
            if (buckets < 0) throw new BadInputException("--buckets must be at least 1, got " + buckets);
            ScalingModel.buckets(1, bucketMiB);
            if (!(exposedLimit > 0) || exposedLimit >= 10) {
                throw new BadInputException("--exposed-limit must be a percentage above 0 and below 1000, got " + exposedLimit * 100);
            }
        }

        List<String> models(Topology t) {
            return t.device().equals("cpu") ? cpuModels : gpuModels;
        }

        int bucketsFor(long bytes) {
            return buckets > 0 ? buckets : ScalingModel.buckets(bytes, bucketMiB);
        }
    }

    /** One (topology, model, width). */
    public record Row(Topology topology, String model, double width, long parameters, StepTime step, Prediction prediction,
            double minStepMs) {}

    /**
     * Where widening stops paying for one topology and model: the first searched width whose exposed
     * communication exceeds the limit, under the step times in force, and if the step stayed at width
     * 1's (the launch-bound extreme); null where no width up to {@link #SEARCH_MAX_WIDTH} does.
     */
    public record Crossover(Topology topology, String model, Double width, Double widthIfStepFlat) {}

    private final Settings settings;
    private final List<Row> rows = new ArrayList<>();
    private final List<Crossover> crossovers = new ArrayList<>();

    public ScalingTable(Settings s) {
        this.settings = s;
        for (Topology t : s.topologies()) {
            for (String model : s.models(t)) {
                for (double w : s.widths()) rows.add(row(t, model, w));
                crossovers.add(crossover(t, model));
            }
        }
    }

    public Settings settings() {
        return settings;
    }

    public List<Row> rows() {
        return rows;
    }

    public List<Crossover> crossovers() {
        return crossovers;
    }

    private Row row(Topology t, String model, double w) {
        StepTime step = StepTimes.choose(settings.stepMs(), t.device(), model, w);
        return row(t, model, w, step);
    }

    private Row row(Topology t, String model, double w, StepTime step) {
        long bytes = ScalingModel.gradientBytes(model, w);
        int k = settings.bucketsFor(bytes);
        Prediction p = ScalingModel.predict(step.ms(), bytes, k, settings.backwardFraction(), t);
        double min = ScalingModel.minStepMs(bytes, k, settings.backwardFraction(), t, settings.exposedLimit());
        return new Row(t, model, w, ScalingModel.parameters(model, w), step, p, min);
    }

    /** Rows for one topology and model at every searched width, 1 to {@link #SEARCH_MAX_WIDTH}, under the step times in force. */
    public List<Row> curve(Topology t, String model) {
        List<Row> c = new ArrayList<>();
        for (double w : searchWidths()) c.add(row(t, model, w));
        return c;
    }

    static List<Double> searchWidths() {
        List<Double> ws = new ArrayList<>();
        for (int i = 0; 1 + i * SEARCH_STEP <= SEARCH_MAX_WIDTH; i++) ws.add(1 + i * SEARCH_STEP);
        return ws;
    }

    private Crossover crossover(Topology t, String model) {
        StepTime flat = StepTimes.choose(settings.stepMs(), t.device(), model, 1);
        Double inForce = null;
        Double ifFlat = null;
        for (Row r : curve(t, model)) {
            if (inForce == null && r.prediction().exposedShare() > settings.exposedLimit()) inForce = r.width();
            if (ifFlat == null && row(t, model, r.width(), flat).prediction().exposedShare() > settings.exposedLimit()) ifFlat = r.width();
        }
        return new Crossover(t, model, inForce, ifFlat);
    }

    /** Row i as named values, the columns of the CSV and JSON. */
    public static Map<String, Object> values(Row r) {
        Prediction p = r.prediction();
        Topology t = r.topology();
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("topology", t.name());
        m.put("nodes", t.nodes());
        m.put("ranks_per_node", t.ranksPerNode());
        m.put("ranks", t.ranks());
        m.put("bus_gbps", t.busGBps());
        m.put("latency_us", t.latencyUs());
        m.put("model", r.model());
        m.put("width", r.width());
        m.put("parameters", r.parameters());
        m.put("gradient_mb", p.gradientBytes() / 1e6);
        m.put("buckets", p.buckets());
        m.put("step_ms", p.stepMs());
        m.put("step_source", r.step().source());
        m.put("allreduce_ms", p.allReduceMs());
        m.put("exposed_ms", p.exposedMs());
        m.put("exposed_pct", 100 * p.exposedShare());
        m.put("efficiency_pct", 100 * p.efficiency());
        m.put("min_step_ms", r.minStepMs());
        return m;
    }

    private static void checkModel(String m) {
        if (!Models.NAMES.contains(m)) throw new BadInputException("unknown model '" + m + "'; choose one of " + String.join(", ", Models.NAMES));
    }
}
