package org.wrpn.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.wrpn.BadInputException;
import org.wrpn.job.JobSpec;
import org.wrpn.quant.Quantizer;
import org.wrpn.train.TrainConfig;

/**
 * A grid of training runs: every width x (weight, activation) bits x seed, each a normal job whose
 * other settings come from {@code base}. The JSON form is a job spec (docs/job-spec.schema.json)
 * plus the grid keys; {@code out} is the sweep's directory, each cell trains in OUT/CELL.
 *
 * @param base the settings every cell shares; its width, bits and seed are replaced per cell
 * @param jobs cells trained at once in this JVM
 * @param results where the CSV and plots go
 * @param name the file prefix of the CSV and plots
 */
public record SweepSpec(TrainConfig base, List<Double> widths, List<Bits> bits, List<Long> seeds, int jobs, Path results,
        String name) {

    /** Weight and activation bits of one grid point. */
    public record Bits(int weights, int activations) {
        public Bits {
            if (!Quantizer.isValidWeightBits(weights)) throw new BadInputException("weight bits must be one of 1, 2, 4, 8, 32; got " + weights);
            if (!Quantizer.isValidActivationBits(activations)) {
                throw new BadInputException("activation bits must be one of 1, 2, 4, 8, 32; got " + activations);
            }
        }

        /** "W/A", e.g. "4/2". */
        public static Bits parse(String s, String where) {
            String[] p = s.trim().split("/");
            try {
                if (p.length == 2) return new Bits(Integer.parseInt(p[0].trim()), Integer.parseInt(p[1].trim()));
            } catch (NumberFormatException e) {
                // falls through to the message below
            } catch (BadInputException e) {
                throw new BadInputException(where + ": " + e.getMessage());
            }
            throw new BadInputException(where + ": bits must be WEIGHT/ACTIVATION such as 4/2, got '" + s + "'");
        }

        public boolean fullPrecision() {
            return weights == Quantizer.FULL_PRECISION && activations == Quantizer.FULL_PRECISION;
        }

        @Override
        public String toString() {
            return weights + "/" + activations;
        }
    }

    /** One training run of the grid; its job trains in OUT/name and resumes from there. */
    public record Cell(int index, double widthMultiplier, Bits bits, long seed, String name, JobSpec job) {}

    public static final List<Double> DEFAULT_WIDTHS = List.of(1.0, 2.0, 3.0);
    public static final List<Bits> DEFAULT_BITS = List.of(new Bits(32, 32), new Bits(8, 8), new Bits(4, 4), new Bits(4, 2),
            new Bits(2, 2), new Bits(1, 1));
    public static final List<Long> DEFAULT_SEEDS = List.of(1L, 2L);
    public static final int DEFAULT_EPOCHS = 3;
    public static final Path DEFAULT_OUT = Path.of("runs/sweep");
    public static final String DEFAULT_NAME = "sweep";

    /** Sweep keys beside the job spec's. */
    static final List<String> GRID_KEYS = List.of("widths", "bits", "seeds", "jobs", "results", "name");
    /** Job-spec keys the grid sets for each cell (so `wrpn sweep` has no flag for them). */
    public static final Set<String> PER_CELL_KEYS = Set.of("width", "wbits", "abits", "seed", "resume", "checkpoint_dir", "overwrite");
    private static final String SCHEMA_KEY = "$schema";

    public SweepSpec {
        widths = List.copyOf(new LinkedHashSet<>(widths));
        bits = List.copyOf(new LinkedHashSet<>(bits));
        seeds = List.copyOf(new LinkedHashSet<>(seeds));
        if (widths.isEmpty() || bits.isEmpty() || seeds.isEmpty()) throw new BadInputException("the sweep needs at least one width, bits setting and seed");
        for (double w : widths) {
            if (!(w > 0) || w > 64) throw new BadInputException("widths must be positive numbers up to 64, got " + w);
        }
        if (jobs < 1 || jobs > 64) throw new BadInputException("jobs must be between 1 and 64, got " + jobs);
        if (name == null || !name.matches("[A-Za-z0-9._-]+")) throw new BadInputException("name must be letters, digits, '.', '_' or '-'; got '" + name + "'");
        if (results == null) results = base.out();
    }

    /** The cells in grid order: width, then bits, then seed. */
    public List<Cell> cells() {
        List<Cell> cells = new ArrayList<>();
        for (double w : widths) {
            for (Bits b : bits) {
                for (long s : seeds) {
                    String cellName = cellName(base.model(), w, b, s);
                    TrainConfig c = base.toBuilder().widthMultiplier(w).weightBits(b.weights()).activationBits(b.activations())
                            .seed(s).out(base.out().resolve(cellName)).build();
                    cells.add(new Cell(cells.size(), w, b, s, cellName, new JobSpec(c, null, JobSpec.RESUME_AUTO)));
                }
            }
        }
        return cells;
    }

    /** e.g. lenet-w2-w4a2-s1: the directory a cell trains in. */
    public static String cellName(String model, double widthMultiplier, Bits b, long seed) {
        return model + "-w" + formatWidth(widthMultiplier) + "-w" + b.weights() + "a" + b.activations() + "-s" + seed;
    }

    public static String formatWidth(double w) {
        return w == Math.rint(w) ? String.valueOf((long) w) : String.format(Locale.ROOT, "%s", w);
    }

    /**
     * A sweep from a parsed JSON document and flags given beside it (either may be null); flags
     * override the document's keys. Keys missing from both take the sweep's defaults (the lenet grid
     * of the WRPN reproduction, 3 epochs, out runs/sweep) or else `wrpn train`'s.
     */
    public static SweepSpec fromJson(JsonNode document, String source, ObjectNode fromFlags) {
        ObjectNode grid = JsonNodeFactory.instance.objectNode();
        ObjectNode fileJob = JsonNodeFactory.instance.objectNode();
        if (document != null) {
            if (!document.isObject()) throw new BadInputException(source + ": $: the sweep spec must be a JSON object");
            for (Map.Entry<String, JsonNode> e : document.properties()) {
                String key = e.getKey();
                if (key.equals(SCHEMA_KEY)) continue;
                if (PER_CELL_KEYS.contains(key)) throw perCell(source + ": $." + key, key);
                (GRID_KEYS.contains(key) ? grid : fileJob).set(key, e.getValue());
            }
        }
        Map<String, String> where = new LinkedHashMap<>();
        for (String k : GRID_KEYS) where.put(k, source + ": $." + k);
        ObjectNode flagJob = JsonNodeFactory.instance.objectNode();
        if (fromFlags != null) {
            for (Map.Entry<String, JsonNode> e : fromFlags.properties()) {
                String key = e.getKey();
                if (GRID_KEYS.contains(key)) {
                    grid.set(key, e.getValue());
                    where.put(key, "--" + key);
                } else {
                    if (PER_CELL_KEYS.contains(key)) throw perCell("--" + key.replace('_', '-'), key);
                    flagJob.set(key, e.getValue());
                }
            }
        }
        if (!fileJob.has("epochs") && !flagJob.has("epochs")) flagJob.put("epochs", DEFAULT_EPOCHS);
        if (!fileJob.has("out") && !flagJob.has("out")) flagJob.put("out", DEFAULT_OUT.toString());
        TrainConfig base = JobSpec.fromJson(fileJob, source, flagJob).config();

        List<Double> widths = grid.has("widths") ? numbers(grid.get("widths"), where.get("widths")) : DEFAULT_WIDTHS;
        List<Bits> bits = grid.has("bits") ? bits(grid.get("bits"), where.get("bits")) : DEFAULT_BITS;
        List<Long> seeds = grid.has("seeds") ? numbers(grid.get("seeds"), where.get("seeds")).stream().map(d -> {
            if (d != Math.rint(d)) throw new BadInputException(where.get("seeds") + ": seeds must be integers, got " + d);
            return (long) d.doubleValue();
        }).toList() : DEFAULT_SEEDS;
        int jobs = 1;
        if (grid.has("jobs")) {
            JsonNode j = grid.get("jobs");
            if (!j.canConvertToInt() || !j.isIntegralNumber()) throw new BadInputException(where.get("jobs") + " must be an integer, got " + j);
            jobs = j.intValue();
        }
        Path results = grid.has("results") ? Path.of(text(grid.get("results"), where.get("results"))) : null;
        String name = grid.has("name") ? text(grid.get("name"), where.get("name")) : DEFAULT_NAME;
        try {
            return new SweepSpec(base, widths, bits, seeds, jobs, results, name);
        } catch (BadInputException e) {
            throw new BadInputException((document != null ? source + ": " : "") + e.getMessage());
        }
    }

    private static BadInputException perCell(String where, String key) {
        return new BadInputException(where + " is set per cell by the grid; use "
                + (key.equals("width") ? "widths" : key.equals("seed") ? "seeds" : key.endsWith("bits") ? "bits (WEIGHT/ACTIVATION)"
                        : "the sweep's out (each cell resumes automatically from OUT/CELL)")
                + " instead");
    }

    private static String text(JsonNode n, String where) {
        if (!n.isTextual() || n.asText().isBlank()) throw new BadInputException(where + " must be a non-empty string, got " + n);
        return n.asText();
    }

    /** A JSON array of numbers, or a comma-separated string (the flag form). */
    private static List<Double> numbers(JsonNode n, String where) {
        List<Double> out = new ArrayList<>();
        for (JsonNode e : elements(n, where)) {
            if (e.isNumber()) {
                out.add(e.doubleValue());
            } else {
                try {
                    out.add(Double.parseDouble(e.asText().trim()));
                } catch (NumberFormatException x) {
                    throw new BadInputException(where + ": '" + e.asText() + "' is not a number");
                }
            }
        }
        return out;
    }

    /** ["4/2", ...] or [[4, 2], ...], or the flag form "4/2,2/2". */
    private static List<Bits> bits(JsonNode n, String where) {
        List<Bits> out = new ArrayList<>();
        for (JsonNode e : elements(n, where)) {
            if (e.isArray() && e.size() == 2 && e.get(0).isIntegralNumber() && e.get(1).isIntegralNumber()) {
                try {
                    out.add(new Bits(e.get(0).intValue(), e.get(1).intValue()));
                } catch (BadInputException x) {
                    throw new BadInputException(where + ": " + x.getMessage());
                }
            } else if (e.isTextual()) {
                out.add(Bits.parse(e.asText(), where));
            } else {
                throw new BadInputException(where + ": each entry must be \"W/A\" or [W, A], got " + e);
            }
        }
        return out;
    }

    private static List<JsonNode> elements(JsonNode n, String where) {
        List<JsonNode> out = new ArrayList<>();
        if (n.isTextual()) {
            for (String s : n.asText().split(",")) {
                if (!s.isBlank()) out.add(JsonNodeFactory.instance.textNode(s.trim()));
            }
        } else if (n.isArray()) {
            n.forEach(out::add);
        } else {
            throw new BadInputException(where + " must be a list, got " + n);
        }
        if (out.isEmpty()) throw new BadInputException(where + " must not be empty");
        return out;
    }

    /** The resolved sweep as JSON (written beside the cells so a rerun can be compared with it). */
    public ObjectNode toJson() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ArrayNode w = o.putArray("widths");
        widths.forEach(w::add);
        ArrayNode b = o.putArray("bits");
        bits.forEach(x -> b.add(x.toString()));
        ArrayNode s = o.putArray("seeds");
        seeds.forEach(s::add);
        o.put("jobs", jobs);
        o.put("results", results.toString());
        o.put("name", name);
        ObjectNode job = JobSpec.of(base).toJson();
        for (Map.Entry<String, JsonNode> e : job.properties()) {
            if (!PER_CELL_KEYS.contains(e.getKey())) o.set(e.getKey(), e.getValue());
        }
        return o;
    }
}
