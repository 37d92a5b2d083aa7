package org.wrpn.choose;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.stream.Collectors;
import org.wrpn.backend.Bytes;
import org.wrpn.bench.BenchTable;
import org.wrpn.bench.Machine;
import org.wrpn.job.JobSpec;
import org.wrpn.sweep.SweepReport;
import org.wrpn.sweep.SweepSpec;
import org.wrpn.train.AtomicFiles;
import org.wrpn.train.ProgressBar;
import org.wrpn.train.TrainConfig;

/**
 * What a choose found, as text and files in RESULTS: NAME.csv/json (every candidate: planned
 * memory, largest batch, step time, proxy accuracy per round), NAME-rounds.csv/json (every proxy
 * run, with the Pareto fronts of its round), NAME.md, the two front plots and NAME-recommended.json,
 * the winner as a job spec.
 */
final class ChooseReport {
    private final ChooseSpec spec;
    private final List<Chooser.Candidate> candidates;
    private final List<Chooser.Round> rounds;
    private final Chooser.Candidate recommended;
    private final JobSpec job;
    private final String note;
    private final Map<String, Object> machine;
    private final Map<String, Object> load;

    ChooseReport(ChooseSpec spec, List<Chooser.Candidate> candidates, List<Chooser.Round> rounds, Chooser.Candidate recommended,
            JobSpec job, String note, Map<String, Object> machine, Map<String, Object> load) {
        this.spec = spec;
        this.candidates = candidates;
        this.rounds = rounds;
        this.recommended = recommended;
        this.job = job;
        this.note = note;
        this.machine = machine;
        this.load = load;
    }

    // ---- lines printed while it runs ----

    static String fitTable(ChooseSpec spec, List<Chooser.Candidate> all) {
        TrainConfig base = spec.grid().base();
        long fit = all.stream().filter(c -> c.fit().fits()).count();
        StringBuilder sb = new StringBuilder(String.format(Locale.ROOT,
                "choose: %s, budget %s at batch %d (%s rules): %d of %d candidates fit%n  %-6s %-6s %-7s %-14s %s%n", base.model(),
                Bytes.format(spec.budgetBytes()), base.batch(), spec.rules().flag(), fit, all.size(), "width", "w/a", "save",
                "planned step", "largest batch"));
        for (Chooser.Candidate c : all) {
            sb.append(String.format(Locale.ROOT, "  %-6s %-6s %-7s %-14s %-6d%s%n", SweepSpec.formatWidth(c.widthMultiplier()), c.bits(),
                    c.fit().request().save().flag(), Bytes.format(c.plannedBytes()), c.fit().largestBatch(),
                    c.fit().fits() ? "" : "  does not fit"));
        }
        return sb.toString().stripTrailing();
    }

    static String roundHeader(ChooseSpec spec, int k, int total, Halving.Proxy proxy, int n, Path dir, double spent) {
        double left = Math.max(0, spec.timeBudget().toMillis() / 1e3 - spent);
        return String.format(Locale.ROOT, "%s: %d candidate(s) x %,d images (%d epoch(s) of %s) in %s | choose: %s of %s spent, %s left",
                name(k, total), n, proxy.images(), proxy.epochs(),
                proxy.limitTrain() == 0 ? "the training set" : String.format(Locale.ROOT, "%,d", proxy.limitTrain()), dir,
                ProgressBar.clock(spent), ChooseSpec.formatDuration(spec.timeBudget()), ProgressBar.clock(left));
    }

    static String roundLine(Chooser.Round r, int total) {
        String ranked = r.candidates().stream().sorted(Comparator.comparingDouble((Chooser.Candidate c) -> {
            double a = r.accuracy(c);
            return Double.isNaN(a) ? 1 : -a;
        })).map(c -> String.format(Locale.ROOT, "%s %s%s", c.label(), accuracy(r.accuracy(c)), r.kept().contains(c) ? " (kept)" : ""))
                .collect(Collectors.joining(", "));
        return String.format(Locale.ROOT, "%s done in %s: %s", name(r.number(), total), ProgressBar.clock(r.seconds()), ranked);
    }

    private static String name(int k, int total) {
        return k == 0 ? "timing round" : "round " + k + "/" + total;
    }

    private static String accuracy(double a) {
        return Double.isNaN(a) ? "failed" : String.format(Locale.ROOT, "%.4f", a);
    }

    // ---- the summary ----

    /** Milliseconds per training step in a candidate's longest proxy run (NaN without one). */
    double stepMillis(Chooser.Candidate c) {
        for (int i = rounds.size() - 1; i >= 0; i--) {
            double s = rounds.get(i).secondsPerImage(c);
            if (!Double.isNaN(s)) return s * spec.grid().base().batch() * 1e3;
        }
        return Double.NaN;
    }

    private int ranked() {
        return (int) rounds.stream().filter(r -> r.number() > 0).count();
    }

    String text() {
        StringBuilder sb = new StringBuilder("halving rounds:\n");
        sb.append(String.format(Locale.ROOT, "  %-13s %12s %7s %11s %5s %9s  %s%n", "round", "images", "epochs", "candidates", "kept",
                "time", "best"));
        for (Chooser.Round r : rounds) {
            Chooser.Candidate best = r.number() == 0 || r.kept().isEmpty() ? null : r.kept().get(0);
            sb.append(String.format(Locale.ROOT, "  %-13s %,12d %7d %11d %5d %9s  %s%n", name(r.number(), ranked()), r.proxy().images(),
                    r.proxy().epochs(), r.candidates().size(), r.kept().size(), ProgressBar.clock(r.seconds()),
                    best == null ? "-" : best.label() + " " + accuracy(r.accuracy(best))));
        }
        if (!note.isEmpty()) sb.append("  ").append(note).append('\n');
        sb.append("candidates that fit (test accuracy of the proxy run in each round; m: on that round's front of accuracy against"
                + " planned memory, t: against step time):\n");
        sb.append(String.format(Locale.ROOT, "  %-6s %-6s %-11s %-8s %-8s", "width", "w/a", "planned", "largest", "step ms"));
        for (Chooser.Round r : rounds) if (r.number() > 0) sb.append(String.format(Locale.ROOT, " %-11s", "round " + r.number()));
        sb.append('\n');
        for (Chooser.Candidate c : fitting()) {
            sb.append(String.format(Locale.ROOT, "  %-6s %-6s %-11s %-8d %-8s", SweepSpec.formatWidth(c.widthMultiplier()), c.bits(),
                    Bytes.format(c.plannedBytes()), c.fit().largestBatch(), fixed(stepMillis(c), 1)));
            for (Chooser.Round r : rounds) {
                if (r.number() == 0) continue;
                String a = r.candidates().contains(c) ? accuracy(r.accuracy(c)) + marks(r, c) : "";
                sb.append(String.format(Locale.ROOT, " %-11s", a));
            }
            sb.append(c == recommended ? "  <- recommended" : "").append('\n');
        }
        sb.append(recommendation()).append('\n').append(loadLine());
        return sb.toString();
    }

    private List<Chooser.Candidate> fitting() {
        return candidates.stream().filter(c -> c.fit().fits()).sorted(Comparator.comparingLong(Chooser.Candidate::plannedBytes)).toList();
    }

    String recommendation() {
        TrainConfig t = job.config();
        return String.format(Locale.ROOT, "recommended: %s width %s w%d/a%d (save %s) at batch %d: planned %s of %s (%s rules);"
                + " largest batch within the budget %d; spec %s (wrpn train --spec %s)", t.model(), SweepSpec.formatWidth(t.widthMultiplier()),
                t.weightBits(), t.activationBits(), t.save().flag(), t.batch(), Bytes.format(recommended.plannedBytes()),
                Bytes.format(spec.budgetBytes()), spec.rules().flag(), recommended.fit().largestBatch(), specFile(), specFile());
    }

    private String loadLine() {
        if (load.isEmpty()) return "machine: " + Machine.label(machine);
        return String.format(Locale.ROOT, "machine: %s; while the proxy runs trained (%s), other processes kept %s of %s cores busy on"
                + " average (load average %s at the start, %s at the end)", Machine.label(machine),
                ProgressBar.clock(((Number) load.get("wall_seconds")).doubleValue()), load.get("other_processes_avg_cores_busy"),
                load.get("cores"), load.get("load_average_1m_start"), load.get("load_average_1m_end"));
    }

    private static String marks(Chooser.Round r, Chooser.Candidate c) {
        int i = r.candidates().indexOf(c);
        String m = front(r, true)[i] ? "m" : "";
        return m + (front(r, false)[i] ? "t" : "");
    }

    /** Which of a round's candidates are on its front of accuracy against planned memory (or step time). */
    static boolean[] front(Chooser.Round r, boolean memory) {
        double[] cost = r.candidates().stream().mapToDouble(c -> memory ? c.plannedBytes() : r.secondsPerImage(c)).toArray();
        return Halving.front(cost, r.candidates().stream().mapToDouble(r::accuracy).toArray());
    }

    private static String fixed(double v, int decimals) {
        return Double.isNaN(v) ? "-" : String.format(Locale.ROOT, "%." + decimals + "f", v);
    }

    Path specFile() {
        return spec.grid().results().resolve(spec.grid().name() + "-recommended.json");
    }

    // ---- files ----

    List<Path> write() throws IOException {
        Path dir = spec.grid().results();
        String name = spec.grid().name();
        List<Path> files = new ArrayList<>();
        candidateTable().write(dir, name);
        roundTable().write(dir, name + "-rounds");
        for (String n : List.of(name, name + "-rounds")) {
            files.add(dir.resolve(n + ".csv"));
            files.add(dir.resolve(n + ".json"));
        }
        AtomicFiles.writeString(specFile(), job.toJsonString() + "\n");
        files.add(specFile());
        Path md = dir.resolve(name + ".md");
        AtomicFiles.writeString(md, markdown());
        files.add(md);
        if (BenchTable.canPlot() && !rounds.isEmpty()) files.addAll(ChoosePlots.plot(this, dir, name));
        return files;
    }

    private Map<String, Object> settings() {
        ObjectNode o = spec.grid().toJson();
        o.put("budget_bytes", spec.budgetBytes());
        o.put("rules", spec.rules().flag());
        o.put("time_budget_seconds", spec.timeBudget().toSeconds());
        return SweepReport.settings(o);
    }

    private BenchTable table(String suite) {
        BenchTable t = new BenchTable(suite, machine, settings());
        t.contention.putAll(load);
        if (!note.isEmpty()) t.notes.add(note);
        return t;
    }

    BenchTable candidateTable() {
        BenchTable t = table("choose");
        for (Chooser.Candidate c : candidates) {
            Map<String, Object> r = t.row();
            r.put("model", spec.grid().base().model());
            r.put("width", c.widthMultiplier());
            r.put("wbits", c.bits().weights());
            r.put("abits", c.bits().activations());
            r.put("save", c.fit().request().save().flag());
            r.put("batch", spec.grid().base().batch());
            r.put("planned_bytes", c.plannedBytes());
            r.put("saved_activation_bytes", c.fit().plan().savedActivations());
            r.put("budget_bytes", spec.budgetBytes());
            r.put("fits", c.fit().fits());
            r.put("largest_batch", c.fit().largestBatch());
            r.put("step_ms", stepMillis(c));
            int reached = 0;
            for (Chooser.Round round : rounds) {
                if (round.number() == 0) continue;
                boolean in = round.candidates().contains(c);
                r.put("accuracy_round_" + round.number(), in ? round.accuracy(c) : null);
                if (in) reached = round.number();
            }
            r.put("rounds_reached", reached);
            r.put("recommended", c == recommended);
        }
        return t;
    }

    BenchTable roundTable() {
        BenchTable t = table("choose-rounds");
        for (Chooser.Round round : rounds) {
            boolean[] byMemory = front(round, true), byTime = front(round, false);
            for (int i = 0; i < round.candidates().size(); i++) {
                Chooser.Candidate c = round.candidates().get(i);
                SweepReport.CellResult cell = round.results().get(c.name());
                Map<String, Object> r = t.row();
                r.put("round", round.number());
                r.put("images", round.proxy().images());
                r.put("epochs", round.proxy().epochs());
                r.put("limit_train", round.proxy().limitTrain());
                r.put("round_seconds", round.seconds());
                r.put("cell", c.name());
                r.put("width", c.widthMultiplier());
                r.put("wbits", c.bits().weights());
                r.put("abits", c.bits().activations());
                r.put("planned_bytes", c.plannedBytes());
                r.put("state", cell == null ? "missing" : cell.state().name().toLowerCase(Locale.ROOT));
                r.put("test_accuracy", round.accuracy(c));
                r.put("step_ms", round.secondsPerImage(c) * spec.grid().base().batch() * 1e3);
                r.put("train_seconds", cell == null || cell.epochs().isEmpty() ? null : cell.trainSeconds());
                r.put("kept", round.number() > 0 && round.kept().contains(c));
                r.put("front_memory", byMemory[i]);
                r.put("front_step_time", byTime[i]);
            }
        }
        return t;
    }

    String markdown() {
        StringBuilder sb = new StringBuilder();
        TrainConfig base = spec.grid().base();
        sb.append(String.format(Locale.ROOT, "%s on %s, budget %s at batch %d (%s rules), time budget %s, seed %d; %s; commit %s%n%n",
                base.model(), SweepReport.portable(base.data(), false), Bytes.format(spec.budgetBytes()), base.batch(), spec.rules().flag(),
                ChooseSpec.formatDuration(spec.timeBudget()), spec.grid().seeds().get(0), Machine.label(machine), machine.get("commit")));
        sb.append("| round | images per run | epochs | candidates | kept | time | best |\n|---|---|---|---|---|---|---|\n");
        for (Chooser.Round r : rounds) {
            Chooser.Candidate best = r.number() == 0 ? null : r.kept().get(0);
            sb.append(String.format(Locale.ROOT, "| %s | %,d | %d | %d | %d | %s | %s |%n", r.number() == 0 ? "timing" : r.number(),
                    r.proxy().images(), r.proxy().epochs(), r.candidates().size(), r.kept().size(), ProgressBar.clock(r.seconds()),
                    best == null ? "–" : best.label() + " " + accuracy(r.accuracy(best))));
        }
        sb.append("\n| width | w/a bits | planned step | largest batch | step ms |");
        for (Chooser.Round r : rounds) if (r.number() > 0) sb.append(" round ").append(r.number()).append(" |");
        sb.append("\n|---|---|---|---|---|").append("---|".repeat(ranked())).append('\n');
        for (Chooser.Candidate c : fitting()) {
            sb.append(String.format(Locale.ROOT, "| %s | %s | %s | %d | %s |", SweepSpec.formatWidth(c.widthMultiplier()), c.bits(),
                    Bytes.format(c.plannedBytes()), c.fit().largestBatch(), fixed(stepMillis(c), 1)));
            for (Chooser.Round r : rounds) {
                if (r.number() == 0) continue;
                String a = r.candidates().contains(c) ? accuracy(r.accuracy(c)) + (marks(r, c).isEmpty() ? "" : " " + marks(r, c)) : "";
                sb.append(' ').append(c == recommended && a.length() > 0 && r == rounds.get(rounds.size() - 1) ? "**" + a + "**" : a)
                        .append(" |");
            }
            sb.append('\n');
        }
        long notFit = candidates.size() - fitting().size();
        sb.append(String.format(Locale.ROOT, "%n%d of %d candidates do not fit the budget at batch %d. m / t: on the round's front of"
                + " accuracy against planned memory / against step time.%n%n", notFit, candidates.size(), base.batch()));
        if (!note.isEmpty()) sb.append(note).append(".\n\n");
        sb.append(recommendation().replace(specFile().toString(), SweepReport.portable(specFile(), false))).append("\n\n")
                .append(loadLine()).append('\n');
        return sb.toString();
    }

    List<Chooser.Round> rounds() {
        return rounds;
    }

    ChooseSpec spec() {
        return spec;
    }

    Chooser.Candidate recommended() {
        return recommended;
    }

    String machineLabel() {
        return Machine.label(machine);
    }
}
