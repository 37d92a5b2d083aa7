package org.wrpn.choose;

import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicLong;
import org.wrpn.backend.Bytes;
import org.wrpn.bench.Machine;
import org.wrpn.data.DataSource;
import org.wrpn.data.ImageSet;
import org.wrpn.job.ExitCode;
import org.wrpn.job.JobSpec;
import org.wrpn.job.OutOfMemoryFailure;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.plan.BudgetPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.sweep.Sweep;
import org.wrpn.sweep.SweepReport;
import org.wrpn.sweep.SweepSpec;
import org.wrpn.train.RunLock;
import org.wrpn.train.TrainConfig;

/**
 * Chooses width and bits for a memory budget: plans every candidate, drops those that do not fit at
 * the batch asked, times the rest with a few steps each, then ranks them by successive halving over
 * the time budget. Every proxy run is a normal sweep cell (OUT/proxy-IMAGES/CELL), so a stopped or
 * killed choose run again continues where it was, retraining nothing that finished.
 *
 * <pre>{@code
 * ChooseSpec spec = ChooseSpec.fromFlags(flags, 16L << 20, Device.CPU, Duration.ofMinutes(30));
 * Chooser.Outcome o = new Chooser(spec, System.out, false, false).run();
 * JobSpec job = o.recommendedSpec();      // ready for Jobs.start or `wrpn train --spec`
 * }</pre>
 */
public final class Chooser {
    /** One width x bits setting and its plan at the batch asked. */
    public record Candidate(int order, double widthMultiplier, SweepSpec.Bits bits, String name, BudgetPlanner.Fit fit) {
        public long plannedBytes() {
            return fit.plan().total();
        }

        public String label() {
            return SweepSpec.formatWidth(widthMultiplier) + "x " + bits;
        }
    }

    /**
     * A round: number 0 times the candidates, 1.. rank them. results holds each candidate's run (by
     * name); kept, the candidates that go on (all of them after the timing round).
     */
    public record Round(int number, Halving.Proxy proxy, List<Candidate> candidates, Map<String, SweepReport.CellResult> results,
            double seconds, List<Candidate> kept) {
        public double accuracy(Candidate c) {
            SweepReport.CellResult r = results.get(c.name());
            return r == null || r.state() != SweepReport.CellState.DONE ? Double.NaN : r.last().testAccuracy();
        }

        /** Training seconds per image of a candidate's run (NaN when it did not finish). */
        public double secondsPerImage(Candidate c) {
            SweepReport.CellResult r = results.get(c.name());
            return r == null || r.state() != SweepReport.CellState.DONE ? Double.NaN : r.trainSeconds() / proxy.images();
        }
    }

    /**
     * @param candidates every candidate planned, fitting or not
     * @param recommended the winner (null when stopped before it is known)
     * @param note why the halving ended early, or ""
     */
    public record Outcome(int exitCode, List<Candidate> candidates, List<Round> rounds, Candidate recommended, JobSpec recommendedSpec,
            String note, List<Path> files) {}

    /** How often the time spent is written to the state while a round runs. */
    private static final long CLOCK_MILLIS = 15_000;

    private final ChooseSpec spec;
    private final PrintStream out;
    private final boolean live;
    private final boolean handleSignals;
    private volatile boolean stopRequested;
    private volatile Sweep current;

    /**
     * @param live a live progress line for each round's runs (only on a terminal)
     * @param handleSignals SIGTERM/SIGINT checkpoint the running proxy runs and end the choose (143/130)
     */
    public Chooser(ChooseSpec spec, PrintStream out, boolean live, boolean handleSignals) {
        this.spec = spec;
        this.out = out;
        this.live = live;
        this.handleSignals = handleSignals;
    }

    /** Every candidate of the grid planned for images of the given shape, at the grid's batch, save setting and layer bits. */
    public static List<Candidate> plan(ChooseSpec spec, int channels, int height, int imageWidth, int classes) {
        TrainConfig base = spec.grid().base();
        PlanRequest shape = new PlanRequest(base.model(), 1, base.precisionPolicy(), base.savePolicy(), base.batch(), channels, height,
                imageWidth, classes, spec.rules());
        List<PrecisionPolicy> precisions = spec.grid().bits().stream()
                .map(b -> new PrecisionPolicy(b.weights(), b.activations(), base.precisionPolicy().overrides())).toList();
        List<BudgetPlanner.Fit> fits = BudgetPlanner.fit(shape, base.save(), spec.grid().widths(), precisions, spec.budgetBytes());
        List<Candidate> out = new ArrayList<>();
        long seed = spec.grid().seeds().get(0);
        for (int i = 0; i < fits.size(); i++) {
            double w = spec.grid().widths().get(i / precisions.size());
            SweepSpec.Bits b = spec.grid().bits().get(i % precisions.size());
            out.add(new Candidate(i, w, b, SweepSpec.cellName(base.model(), w, b, seed), fits.get(i)));
        }
        return out;
    }

    /** The candidates as a table: planned step, largest batch within the budget, and whether each fits. */
    public static String fitTable(ChooseSpec spec, List<Candidate> all) {
        return ChooseReport.fitTable(spec, all);
    }

    /** Stops as a signal would: running proxy runs checkpoint and stop, no new one starts. */
    public void stop() {
        stopRequested = true;
        Sweep s = current;
        if (s != null) s.stop();
    }

    public Outcome run() throws IOException, InterruptedException {
        try (RunLock lock = RunLock.acquire("choose directory", spec.out())) {
            return runLocked();
        }
    }

    private Outcome runLocked() throws IOException, InterruptedException {
        TrainConfig base = spec.grid().base();
        ImageSet train = DataSource.open(base.data()).train();
        List<Candidate> all = plan(spec, train.channels(), train.height(), train.width(), train.classes());
        println(ChooseReport.fitTable(spec, all));
        List<Candidate> fitting = fitting(spec, all);
        ChooseState state = ChooseState.open(spec.out(), spec.identity());
        int trainCount = base.limitTrain() > 0 ? Math.min(base.limitTrain(), train.count()) : train.count();
        List<Round> rounds = new ArrayList<>();
        String note = fitting.size() == 1 ? "only one candidate fits the budget: nothing to rank" : "";
        List<Candidate> alive = fitting;
        int total = Halving.rounds(fitting.size());
        double overhead = 0;
        for (int k = 0; k <= total && alive.size() > 1; k++) {
            Halving.Proxy proxy = k == 0
                    ? Halving.proxy(Halving.timingImages(base.batch()), trainCount, base.limitTrain(), base.batch(), base.epochs())
                    : proxyFor(state, k, total, alive, rounds.get(rounds.size() - 1), overhead, trainCount);
            if (proxy == null) {
                note = String.format(Locale.ROOT, "the time budget was spent after %s of %d", k == 1 ? "the timing round" : "round "
                        + (k - 1), total);
                break;
            }
            Trained t = round(state, k, total, proxy, alive);
            if (t.round() == null) {
                println("choose: stopped; running it again continues from the finished proxy runs");
                return new Outcome(t.exitCode(), all, rounds, null, null, "stopped", List.of());
            }
            Round r = t.round();
            if (r.kept().isEmpty()) {
                return new Outcome(t.exitCode() == 0 ? ExitCode.INTERNAL : t.exitCode(), all, rounds, null, null,
                        "every run of round " + k + " failed", List.of());
            }
            rounds.add(r);
            if (r.seconds() > 0) overhead = overhead(r); // its wall time over every process that worked on it
            alive = r.kept();
        }
        Candidate best = alive.get(0);
        JobSpec job = recommendedSpec(best);
        ChooseReport report = new ChooseReport(spec, all, rounds, best, job, note, Machine.describe(), state.load());
        List<Path> files = report.write();
        println(report.text());
        println("wrote " + String.join(", ", files.stream().map(Path::toString).toList()));
        return new Outcome(ExitCode.OK, all, rounds, best, job, note, files);
    }

    /** The next round's proxy: as decided when it started, else sized from the time left; null when none is left. */
    private Halving.Proxy proxyFor(ChooseState state, int k, int total, List<Candidate> alive, Round previous, double overhead,
            int trainCount) {
        TrainConfig base = spec.grid().base();
        ChooseState.Round started = state.round(k);
        if (started != null) return new Halving.Proxy(started.epochs(), started.limitTrain(), started.images());
        double left = spec.timeBudget().toMillis() / 1e3 - state.spentSeconds();
        if (left <= 0) return null;
        double[] perImage = alive.stream().mapToDouble(previous::secondsPerImage).map(s -> Double.isNaN(s) ? 0 : s).toArray();
        long images = Halving.nextImages(left / (total - k + 1), spec.grid().jobs(), perImage, overhead, previous.proxy().images(),
                base.batch());
        return Halving.proxy(images, trainCount, base.limitTrain(), base.batch(), base.epochs());
    }

    /** A round as trained now: null when stopped (exitCode then 130 or 143). */
    private record Trained(Round round, int exitCode) {}

    /** Trains a round's proxy runs (those not finished before). */
    private Trained round(ChooseState state, int k, int total, Halving.Proxy proxy, List<Candidate> candidates)
            throws IOException, InterruptedException {
        ChooseState.Round started = state.round(k);
        if (started == null) {
            state.start(new ChooseState.Round(k, proxy.images(), proxy.epochs(), proxy.limitTrain(),
                    candidates.stream().map(Candidate::name).toList(), 0));
        } else { // as decided then: the runs on disk are that round's
            Set<String> names = Set.copyOf(started.candidates());
            candidates = candidates.stream().filter(c -> names.contains(c.name())).toList();
        }
        SweepSpec grid = roundGrid(proxy, candidates);
        Set<String> names = new LinkedHashSet<>(candidates.stream().map(Candidate::name).toList());
        List<SweepSpec.Cell> cells = grid.cells().stream().filter(c -> names.contains(c.name())).toList();
        println(ChooseReport.roundHeader(spec, k, total, proxy, candidates.size(), grid.base().out(), state.spentSeconds()));
        long before = cells.stream().filter(c -> SweepReport.readCell(c).state() == SweepReport.CellState.DONE).count();
        Machine.Contention load = new Machine.Contention();
        Sweep sweep = new Sweep(grid, out, live, handleSignals);
        current = sweep;
        if (stopRequested) sweep.stop();
        AtomicLong accounted = new AtomicLong(System.nanoTime());
        Runnable account = () -> {
            long now = System.nanoTime();
            state.spent(k, (now - accounted.getAndSet(now)) / 1e9);
        };
        Thread clock = Thread.ofPlatform().daemon().name("wrpn-choose-clock").start(() -> { // so that a killed choose keeps its time
            try {
                while (true) {
                    Thread.sleep(CLOCK_MILLIS);
                    account.run();
                }
            } catch (InterruptedException e) {
                // the round is over
            }
        });
        Sweep.Outcome o;
        try {
            o = sweep.train(cells);
        } finally {
            current = null;
            clock.interrupt();
            clock.join();
            account.run();
            if (before < cells.size()) state.load(load.summary()); // only while something trained
        }
        if (o.exitCode() == ExitCode.INTERRUPTED || o.exitCode() == ExitCode.TERMINATED || stopRequested) {
            return new Trained(null, o.exitCode() == ExitCode.INTERRUPTED ? ExitCode.INTERRUPTED : ExitCode.TERMINATED);
        }
        Map<String, SweepReport.CellResult> results = new LinkedHashMap<>();
        for (SweepSpec.Cell c : cells) results.put(c.name(), SweepReport.readCell(c));
        double seconds = state.round(k).seconds();
        Round trained = new Round(k, proxy, candidates, results, seconds, List.of());
        Round r = new Round(k, proxy, candidates, results, seconds, keep(trained, k == 0 ? candidates.size() : Halving.survivors(candidates.size())));
        if (k > 0) println(ChooseReport.roundLine(r, total));
        return new Trained(r, o.exitCode());
    }

    /** The best {@code n} of a round's candidates, best first; failed runs never go on. */
    private static List<Candidate> keep(Round r, int n) {
        List<Halving.Scored<Candidate>> scored = r.candidates().stream()
                .map(c -> new Halving.Scored<>(c, r.accuracy(c), c.plannedBytes(), c.order())).toList();
        return Halving.rank(scored).stream().limit(n).filter(s -> !Double.isNaN(s.accuracy())).map(Halving.Scored::candidate).toList();
    }

    /** A run's fixed cost, from the round's wall time and the training time of its runs. */
    private double overhead(Round r) {
        double[] training = r.candidates().stream().mapToDouble(c -> r.secondsPerImage(c) * r.proxy().images())
                .filter(s -> !Double.isNaN(s)).toArray();
        return Halving.overhead(r.seconds(), spec.grid().jobs(), training);
    }

    /** The round's runs as a sweep in OUT/proxy-IMAGES: the shared settings at the proxy's length. */
    private SweepSpec roundGrid(Halving.Proxy proxy, List<Candidate> candidates) {
        TrainConfig base = spec.grid().base();
        TrainConfig b = base.toBuilder().epochs(proxy.epochs()).limitTrain(proxy.limitTrain())
                .warmupEpochs(Math.min(base.warmupEpochs(), proxy.epochs())).keepCheckpoints(1)
                .out(spec.out().resolve("proxy-" + proxy.images())).build();
        List<Candidate> inGridOrder = candidates.stream().sorted(java.util.Comparator.comparingInt(Candidate::order)).toList();
        List<Double> widths = inGridOrder.stream().map(Candidate::widthMultiplier).distinct().toList();
        List<SweepSpec.Bits> bits = inGridOrder.stream().map(Candidate::bits).distinct().toList();
        return new SweepSpec(b, widths, bits, spec.grid().seeds(), spec.grid().jobs(), b.out(), "proxy");
    }

    /** The winner as a job: the shared settings at its width and bits, its save policy spelled out, trained in OUT/recommended. */
    private JobSpec recommendedSpec(Candidate c) {
        TrainConfig base = spec.grid().base();
        TrainConfig t = base.toBuilder().widthMultiplier(c.widthMultiplier()).weightBits(c.bits().weights())
                .activationBits(c.bits().activations()).seed(spec.grid().seeds().get(0))
                .save(org.wrpn.nn.SaveChoice.parse(c.fit().request().save().flag())).out(spec.out().resolve("recommended")).build();
        return JobSpec.of(t);
    }

    /** The candidates that fit; none is an {@link OutOfMemoryFailure} naming the smallest and its largest batch. */
    public static List<Candidate> fitting(ChooseSpec spec, List<Candidate> all) {
        List<Candidate> fit = all.stream().filter(c -> c.fit().fits()).toList();
        if (!fit.isEmpty()) return fit;
        Candidate least = all.stream().min((a, b) -> Long.compare(a.plannedBytes(), b.plannedBytes())).orElseThrow();
        throw new OutOfMemoryFailure(String.format(Locale.ROOT,
                "no candidate fits %s at batch %d: the smallest, %s, needs %s (its largest batch within the budget is %d); raise --budget,"
                        + " lower --batch or add smaller widths or bits", Bytes.format(spec.budgetBytes()), spec.grid().base().batch(),
                least.label(), Bytes.format(least.plannedBytes()), least.fit().largestBatch()),
                least.plannedBytes(), spec.budgetBytes(), least.fit().largestBatch(), null);
    }

    private void println(String s) {
        synchronized (out) {
            out.println(s);
            out.flush();
        }
    }
}
