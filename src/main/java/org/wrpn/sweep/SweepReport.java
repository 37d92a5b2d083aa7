package org.wrpn.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;
import org.wrpn.backend.Device;
import org.wrpn.bench.BenchTable;
import org.wrpn.bench.Machine;
import org.wrpn.job.JobSpec;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.SavePolicy;
import org.wrpn.plan.MemoryPlan;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer.EpochResult;

/**
 * The results of a sweep, read from its cells' directories (so a report can be made at any time,
 * also of a sweep still running): per cell its epochs from metrics.jsonl, per configuration the test
 * accuracy over seeds beside the memory the memory planner (the training step's own ledger) gives for
 * it. Writes NAME.csv/json (one row per configuration), NAME-cells.csv/json and the plots.
 */
public final class SweepReport {
    private static final ObjectMapper JSON = new ObjectMapper();

    /** Where a cell stands. FOREIGN: its directory holds a checkpoint of another run. */
    public enum CellState { DONE, PARTIAL, NOT_STARTED, FOREIGN }

    /**
     * @param epochs the epochs evaluated so far, in order (the last record of each epoch number)
     * @param input height, width, channels and classes of the data, from the checkpoint; null without one
     */
    public record CellResult(SweepSpec.Cell cell, CellState state, List<EpochResult> epochs, int[] input) {
        public EpochResult last() {
            return epochs.isEmpty() ? null : epochs.get(epochs.size() - 1);
        }

        public double trainSeconds() {
            return epochs.stream().mapToDouble(EpochResult::seconds).sum();
        }
    }

    /** One configuration (width and bits) over the seeds that finished. */
    public record ConfigResult(double widthMultiplier, SweepSpec.Bits bits, List<CellResult> done, MemoryPlan defaultPlan,
            MemoryPlan fp32Plan, SavePolicy defaultPolicy) {
        public double[] accuracies() {
            return done.stream().mapToDouble(c -> c.last().testAccuracy()).toArray();
        }

        public double mean() {
            return mean(accuracies());
        }

        public double min() {
            return java.util.Arrays.stream(accuracies()).min().orElse(Double.NaN);
        }

        public double max() {
            return java.util.Arrays.stream(accuracies()).max().orElse(Double.NaN);
        }

        /** Sample standard deviation over seeds (NaN with one seed). */
        public double std() {
            double[] a = accuracies();
            if (a.length < 2) return Double.NaN;
            double m = mean(a), s = 0;
            for (double x : a) s += (x - m) * (x - m);
            return Math.sqrt(s / (a.length - 1));
        }

        public double savedBytesPerImage() {
            return (double) defaultPlan.savedActivations() / defaultPlan.request().batch();
        }

        public double fp32SavedBytesPerImage() {
            return (double) fp32Plan.savedActivations() / fp32Plan.request().batch();
        }

        static double mean(double[] a) {
            double s = 0;
            for (double x : a) s += x;
            return a.length == 0 ? Double.NaN : s / a.length;
        }
    }

    private final SweepSpec spec;
    private final List<CellResult> cells;
    private final List<ConfigResult> configs;

    private SweepReport(SweepSpec spec, List<CellResult> cells, List<ConfigResult> configs) {
        this.spec = spec;
        this.cells = cells;
        this.configs = configs;
    }

    public List<CellResult> cells() {
        return cells;
    }

    public List<ConfigResult> configs() {
        return configs;
    }

    /** Reads every cell of the sweep from disk. */
    public static SweepReport read(SweepSpec spec) {
        List<CellResult> cells = new ArrayList<>();
        for (SweepSpec.Cell c : spec.cells()) cells.add(readCell(c));
        Map<String, List<CellResult>> byConfig = new LinkedHashMap<>();
        for (CellResult r : cells) {
            byConfig.computeIfAbsent(r.cell().widthMultiplier() + "|" + r.cell().bits(), k -> new ArrayList<>()).add(r);
        }
        List<ConfigResult> configs = new ArrayList<>();
        for (List<CellResult> group : byConfig.values()) {
            List<CellResult> done = group.stream().filter(r -> r.state() == CellState.DONE).toList();
            if (done.isEmpty()) continue;
            SweepSpec.Cell first = done.get(0).cell();
            TrainConfig c = first.job().config();
            int[] in = done.get(0).input();
            SavePolicy policy = SaveChoice.AUTO.resolve(c.precisionPolicy()); // what a cell saves under --save auto
            PlanRequest req = new PlanRequest(c.model(), c.widthMultiplier(), c.precisionPolicy(), policy, c.batch(), in[2], in[0],
                    in[1], in[3], Device.CPU);
            MemoryPlan plan = MemoryPlanner.plan(req);
            MemoryPlan fp32 = policy == SavePolicy.FP32 ? plan : MemoryPlanner.plan(new PlanRequest(c.model(), c.widthMultiplier(),
                    c.precisionPolicy(), SavePolicy.FP32, c.batch(), in[2], in[0], in[1], in[3], Device.CPU));
            configs.add(new ConfigResult(first.widthMultiplier(), first.bits(), done, plan, fp32, policy));
        }
        return new SweepReport(spec, cells, configs);
    }

    /** Where one cell stands, from its directory: its newest checkpoint and its metrics. */
    public static CellResult readCell(SweepSpec.Cell cell) {
        TrainConfig config = cell.job().config();
        Path dir = config.out();
        Path ckpts = cell.job().checkpoints();
        Path newest = Files.isDirectory(ckpts) ? Checkpoint.newestIn(ckpts) : null;
        if (newest == null) return new CellResult(cell, CellState.NOT_STARTED, List.of(), null);
        Checkpoint.Loaded l = Checkpoint.load(newest);
        if (!JobSpec.sameRunDifferences(l.config(), config).isEmpty()) return new CellResult(cell, CellState.FOREIGN, List.of(), null);
        List<EpochResult> epochs = epochs(dir.resolve("metrics.jsonl"), l.progress().epoch());
        boolean done = l.progress().epoch() >= config.epochs() && epochs.size() == config.epochs();
        return new CellResult(cell, done ? CellState.DONE : CellState.PARTIAL, epochs,
                new int[] {l.height(), l.imageWidth(), l.channels(), l.classes()});
    }

    /** Epochs 1..upTo from a metrics log: a resumed run may have logged an epoch twice; the last record counts. */
    static List<EpochResult> epochs(Path metrics, int upTo) {
        TreeMap<Integer, EpochResult> byEpoch = new TreeMap<>();
        if (!Files.exists(metrics)) return List.of();
        try {
            for (String line : Files.readAllLines(metrics)) {
                if (line.isBlank()) continue;
                JsonNode n;
                try {
                    n = JSON.readTree(line);
                } catch (IOException e) {
                    continue; // a line cut short by a crash
                }
                if (!"epoch".equals(n.path("type").asText())) continue;
                int e = n.path("epoch").asInt();
                if (e < 1 || e > upTo) continue;
                byEpoch.put(e, new EpochResult(e, n.path("train_loss").asDouble(), n.path("train_accuracy").asDouble(),
                        n.path("test_loss").asDouble(), n.path("test_accuracy").asDouble(), n.path("seconds").asDouble(),
                        n.path("images_per_second").asDouble()));
            }
        } catch (IOException e) {
            throw new java.io.UncheckedIOException(e);
        }
        List<EpochResult> out = new ArrayList<>();
        for (int e = 1; e <= upTo; e++) {
            EpochResult r = byEpoch.get(e);
            if (r == null) break;
            out.add(r);
        }
        return out;
    }

    /** The per-configuration table (NAME.csv). */
    public BenchTable configTable(Map<String, Object> machine) {
        BenchTable t = new BenchTable("sweep", machine, settings());
        for (ConfigResult c : configs) {
            Map<String, Object> r = t.row();
            TrainConfig cfg = c.done().get(0).cell().job().config();
            r.put("model", cfg.model());
            r.put("width", c.widthMultiplier());
            r.put("wbits", c.bits().weights());
            r.put("abits", c.bits().activations());
            r.put("seeds", c.done().size());
            r.put("epochs", cfg.epochs());
            r.put("test_accuracy_mean", c.mean());
            r.put("test_accuracy_std", c.std());
            r.put("test_accuracy_min", c.min());
            r.put("test_accuracy_max", c.max());
            r.put("test_accuracy_by_seed", c.done().stream()
                    .map(x -> "s" + x.cell().seed() + "=" + String.format(java.util.Locale.ROOT, "%.4f", x.last().testAccuracy()))
                    .collect(Collectors.joining(" ")));
            r.put("train_accuracy_mean", ConfigResult.mean(c.done().stream().mapToDouble(x -> x.last().trainAccuracy()).toArray()));
            r.put("train_seconds_mean", ConfigResult.mean(c.done().stream().mapToDouble(CellResult::trainSeconds).toArray()));
            r.put("saved_activation_bytes_per_image", c.savedBytesPerImage());
            r.put("saved_policy", c.defaultPolicy().flag());
            r.put("saved_activation_bytes_per_image_fp32", c.fp32SavedBytesPerImage());
            r.put("weight_bytes", c.defaultPlan().storedWeightBytes());
            r.put("trained_with_save", cfg.save().flag());
            r.put("batch", cfg.batch());
        }
        return t;
    }

    /** One row per cell (NAME-cells.csv), with its accuracy after each epoch. */
    public BenchTable cellTable(Map<String, Object> machine) {
        BenchTable t = new BenchTable("sweep-cells", machine, settings());
        for (CellResult c : cells) {
            Map<String, Object> r = t.row();
            r.put("cell", c.cell().name());
            r.put("width", c.cell().widthMultiplier());
            r.put("wbits", c.cell().bits().weights());
            r.put("abits", c.cell().bits().activations());
            r.put("seed", c.cell().seed());
            r.put("state", c.state().name().toLowerCase(java.util.Locale.ROOT));
            r.put("epochs_done", c.epochs().size());
            EpochResult last = c.last();
            r.put("test_accuracy", last == null ? null : last.testAccuracy());
            r.put("test_loss", last == null ? null : last.testLoss());
            r.put("train_accuracy", last == null ? null : last.trainAccuracy());
            r.put("train_loss", last == null ? null : last.trainLoss());
            r.put("train_seconds", c.epochs().isEmpty() ? null : c.trainSeconds());
            r.put("test_accuracy_by_epoch", c.epochs().stream()
                    .map(e -> String.format(java.util.Locale.ROOT, "%.4f", e.testAccuracy())).collect(Collectors.joining(" ")));
        }
        return t;
    }

    private Map<String, Object> settings() {
        return settings(spec.toJson());
    }

    /** Settings as result files record them: out, results and data as {@link #portable} paths. */
    public static Map<String, Object> settings(com.fasterxml.jackson.databind.node.ObjectNode json) {
        Map<String, Object> s = new LinkedHashMap<>();
        JSON.convertValue(json, Map.class).forEach((k, v) -> s.put(String.valueOf(k), v));
        for (String key : List.of("out", "results", "data")) {
            if (s.get(key) instanceof String p) s.put(key, portable(Path.of(p), !key.equals("data")));
        }
        return s;
    }

    /**
     * A path as committed result files record it: relative to the working directory (the repository
     * when run as ./wrpn from it), not this machine's absolute path; a data directory outside it
     * (a system location such as /usr/share/datasets) stays as it is.
     */
    public static String portable(Path p, boolean evenOutside) {
        Path cwd = Path.of("").toAbsolutePath();
        Path abs = p.toAbsolutePath().normalize();
        if (!abs.startsWith(cwd) && !evenOutside) return p.toString();
        String r = cwd.relativize(abs).toString();
        return r.isEmpty() ? "." : r;
    }

    /**
     * The per-configuration table as Markdown, each configuration against the full-precision baseline
     * (the smallest width at 32/32): accuracy difference and how many times less activation memory.
     */
    public String markdown(String machine, String commit) {
        ConfigResult base = SweepPlots.baseline(this);
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.ROOT, "%s, %d epoch(s), batch %d; %s; commit %s%n%n", spec.base().model(), spec.base().epochs(),
                spec.base().batch(), machine, commit));
        sb.append("| width | w/a bits | seeds | test accuracy: mean ± s.d. (min–max) | vs baseline | kept for backward per image |"
                + " less than baseline | model bytes |\n|---|---|---|---|---|---|---|---|\n");
        for (ConfigResult c : configs) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %d | %.4f ± %s (%.4f–%.4f) | %s | %s (%s) | %s | %s |%n",
                    SweepSpec.formatWidth(c.widthMultiplier()), c.bits(), c.done().size(), c.mean(),
                    Double.isNaN(c.std()) ? "–" : String.format(Locale.ROOT, "%.4f", c.std()),
                    c.min(), c.max(),
                    base == null ? "–" : String.format(Locale.ROOT, "%+.4f", c.mean() - base.mean()),
                    org.wrpn.backend.Bytes.format(Math.round(c.savedBytesPerImage())), c.defaultPolicy().flag(),
                    base == null ? "–" : lessThan(base.savedBytesPerImage(), c.savedBytesPerImage()),
                    org.wrpn.backend.Bytes.format(c.defaultPlan().storedWeightBytes())));
        }
        return sb.toString();
    }

    private static String lessThan(double baseline, double bytes) {
        double r = baseline / bytes;
        return r >= 1 ? String.format(Locale.ROOT, "%.1f×", r) : String.format(Locale.ROOT, "%.1f× more", 1 / r);
    }

    /** Writes the tables and the plots into the sweep's results directory; returns the files. */
    public List<Path> write(Map<String, Object> machine) throws IOException {
        Path dir = spec.results();
        List<Path> files = new ArrayList<>();
        configTable(machine).write(dir, spec.name());
        cellTable(machine).write(dir, spec.name() + "-cells");
        for (String n : List.of(spec.name(), spec.name() + "-cells")) {
            files.add(dir.resolve(n + ".csv"));
            files.add(dir.resolve(n + ".json"));
        }
        Path md = dir.resolve(spec.name() + ".md");
        org.wrpn.train.AtomicFiles.writeString(md, markdown(Machine.label(machine), String.valueOf(machine.get("commit"))));
        files.add(md);
        if (BenchTable.canPlot() && !configs.isEmpty()) files.addAll(SweepPlots.plot(this, spec, dir, Machine.label(machine)));
        return files;
    }
}
