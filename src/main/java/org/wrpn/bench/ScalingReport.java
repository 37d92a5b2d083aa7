package org.wrpn.bench;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import org.wrpn.dist.ScalingTable;
import org.wrpn.dist.ScalingTable.Crossover;
import org.wrpn.dist.ScalingTable.Row;
import org.wrpn.dist.Topology;
import org.wrpn.train.AtomicFiles;

/**
 * The scaling model's table as files (`wrpn plan scaling --out DIR`): NAME.csv and NAME.json (through
 * {@link BenchTable}, so every row names the machine and commit like the other results), NAME.md with
 * the assumptions, and NAME-gpu.png and NAME-cpu.png where plotting is possible. The numbers are a model's, not a
 * measurement's; the machine is only where they were computed.
 */
public final class ScalingReport {
    private ScalingReport() {}

    /** Writes the files; returns them. */
    public static List<Path> write(ScalingTable table, Path dir, String name) throws IOException {
        Map<String, Object> machine = Machine.describe();
        BenchTable t = new BenchTable("scaling-model", machine, settings(table));
        for (Row r : table.rows()) t.row().putAll(ScalingTable.values(r));
        for (Crossover c : table.crossovers()) t.notes.add(crossoverLine(table, c));
        t.notes.addAll(assumptions(table));
        t.write(dir, name);
        List<Path> files = new ArrayList<>(List.of(dir.resolve(name + ".csv"), dir.resolve(name + ".json")));
        Path md = dir.resolve(name + ".md");
        AtomicFiles.writeString(md, markdown(table, machine, name));
        files.add(md);
        if (BenchTable.canPlot()) files.addAll(ScalingPlot.plot(table, dir, name));
        return files;
    }

    /** What --json prints: the settings, each topology, every row and the crossovers. */
    public static Map<String, Object> json(ScalingTable table) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("settings", settings(table));
        List<Map<String, Object>> rows = new ArrayList<>();
        for (Row r : table.rows()) rows.add(ScalingTable.values(r));
        m.put("rows", rows);
        List<Map<String, Object>> cs = new ArrayList<>();
        for (Crossover c : table.crossovers()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("topology", c.topology().name());
            o.put("model", c.model());
            o.put("width", c.width());
            o.put("width_if_step_flat", c.widthIfStepFlat());
            cs.add(o);
        }
        m.put("crossovers", cs);
        m.put("assumptions", assumptions(table));
        return m;
    }

    static Map<String, Object> settings(ScalingTable table) {
        ScalingTable.Settings s = table.settings();
        Map<String, Object> m = new LinkedHashMap<>();
        List<Map<String, Object>> ts = new ArrayList<>();
        for (Topology t : s.topologies()) {
            Map<String, Object> o = new LinkedHashMap<>();
            o.put("name", t.name());
            o.put("device", t.device());
            o.put("nodes", t.nodes());
            o.put("ranks_per_node", t.ranksPerNode());
            o.put("bus_gbps", t.busGBps());
            o.put("link_gbps", t.linkGBps());
            o.put("nic_gbps", t.nicGBps());
            o.put("nics_per_node", t.nicsPerNode());
            o.put("base_us", t.baseUs());
            o.put("alpha_us", t.linkAlphaUs());
            o.put("net_alpha_us", t.netAlphaUs());
            o.put("latency_us", t.latencyUs());
            ts.add(o);
        }
        m.put("topologies", ts);
        m.put("widths", s.widths());
        m.put("backward_fraction", s.backwardFraction());
        m.put("buckets", s.buckets() > 0 ? s.buckets() : "bucket_mib");
        m.put("bucket_mib", s.bucketMiB());
        m.put("exposed_limit_pct", 100 * s.exposedLimit());
        m.put("step_ms_given", s.stepMs());
        return m;
    }

    /** "beyond 16 (...); 5.5 if the step stayed at width 1's". */
    public static String crossoverText(Crossover c) {
        String inForce = c.width() == null ? "none up to width " + fmt(ScalingTable.SEARCH_MAX_WIDTH) : "from width " + fmt(c.width());
        String flat = c.widthIfStepFlat() == null ? "none up to width " + fmt(ScalingTable.SEARCH_MAX_WIDTH)
                : "from width " + fmt(c.widthIfStepFlat());
        return inForce + " with the step times in force; " + flat + " if the step stayed at width 1's";
    }

    private static String crossoverLine(ScalingTable table, Crossover c) {
        return String.format(Locale.ROOT, "exposed > %s%% of the step: %s, %s: %s", fmt(100 * table.settings().exposedLimit()),
                c.topology().name(), c.model(), crossoverText(c));
    }

    static List<String> assumptions(ScalingTable table) {
        List<String> a = new ArrayList<>();
        a.add("A model, not a measurement: no multi-GPU or multi-node run has measured these numbers (docs/SCALING.md).");
        a.add("Gradient bytes: 4 x the trainable parameters of the real network at that width (MemoryPlanner.parameterCount).");
        a.add("All-reduce: latency + 2(N-1)/N x bytes / busBW per bucket, NCCL's bus-bandwidth convention"
                + " (nccl-tests doc/PERFORMANCE.md); latency = base + per-step hop latencies (NCCL src/graph/tuning.cc, ring, Simple protocol).");
        a.add("GPU links: NVLink 4 450 GB/s per direction per GPU (H100/H200 SXM, 18 links, 900 GB/s both ways); between nodes"
                + " 8 InfiniBand NDR NICs per node at 50 GB/s (400 Gb/s) each, one per GPU; peak figures, not measured busbw.");
        a.add("CPU loopback: bus bandwidth and step latency as given (--bus-gbps, --cpu-alpha-us); the defaults, "
                + fmt(org.wrpn.dist.Topology.LOOPBACK_GBPS_MEASURED) + " GB/s and " + fmt(org.wrpn.dist.Topology.LOOPBACK_ALPHA_US_MEASURED)
                + " us, are Gloo's, measured by `wrpn bench allreduce --nproc 2` on the 2-core EPYC at 541603a"
                + " (benchmarks/results/allreduce-cpu.csv); on one host the ranks share its cores, so these rows price communication only.");
        a.add("Overlap: buckets equal in size, ready at even intervals through backward (a fraction " + fmt(table.settings().backwardFraction())
                + " of the step), reduced in order; all but the last can hide under backward.");
        Set<String> sources = new LinkedHashSet<>();
        for (Row r : table.rows()) sources.add(r.step().source());
        for (String s : sources) a.add("Step times " + s);
        return a;
    }

    static String markdown(ScalingTable table, Map<String, Object> machine, String name) {
        StringBuilder sb = new StringBuilder();
        sb.append("# Scaling model: predicted data-parallel efficiency\n\n");
        sb.append("Computed by `wrpn plan scaling --out benchmarks/results` at commit ").append(machine.get("commit"))
                .append(" on ").append(Machine.label(machine)).append(" (where it was computed; nothing was timed). ")
                .append("Formula and discussion: [`docs/SCALING.md`](../../docs/SCALING.md). Files: `").append(name).append(".csv`, `")
                .append(name).append(".json`").append(BenchTable.canPlot() ? ", `" + name + "-gpu.png`, `" + name + "-cpu.png`" : "").append(".\n\n");
        sb.append("## Assumptions\n\n");
        for (String a : assumptions(table)) sb.append("- ").append(a).append('\n');
        sb.append("\n## Table\n\n");
        sb.append("| topology | model | width | parameters | gradient MB | buckets | step ms | step | all-reduce ms | exposed ms | exposed % |"
                + " efficiency % | min step ms for <= ").append(fmt(100 * table.settings().exposedLimit())).append("% |\n");
        sb.append("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n");
        for (Row r : table.rows()) {
            var p = r.prediction();
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %.3f | %d | %.3f | %s | %.4f | %.4f | %.2f | %.2f | %.3f |%n",
                    r.topology().name(), r.model(), fmt(r.width()), r.parameters(), p.gradientBytes() / 1e6, p.buckets(), p.stepMs(),
                    r.step().measured() ? "measured" : r.step().source().startsWith("given") ? "given" : "assumed", p.allReduceMs(),
                    p.exposedMs(), 100 * p.exposedShare(), 100 * p.efficiency(), r.minStepMs()));
        }
        sb.append("\n## Where widening stops paying\n\n");
        sb.append("First width (searched from 1 to ").append(fmt(ScalingTable.SEARCH_MAX_WIDTH)).append(" by ")
                .append(fmt(ScalingTable.SEARCH_STEP)).append(") whose exposed communication exceeds ")
                .append(fmt(100 * table.settings().exposedLimit())).append("% of the step:\n\n");
        for (Crossover c : table.crossovers()) {
            sb.append("- ").append(c.topology().name()).append(", ").append(c.model()).append(": ").append(crossoverText(c)).append('\n');
        }
        return sb.toString();
    }

    static String fmt(double w) {
        if (w == Math.rint(w)) return String.valueOf((long) w);
        return new java.math.BigDecimal(w).round(new java.math.MathContext(3)).stripTrailingZeros().toPlainString();
    }
}
