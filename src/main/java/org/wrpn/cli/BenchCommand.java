package org.wrpn.cli;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.bench.CollectiveBench;
import org.wrpn.dist.LaunchEnvironment;
import org.wrpn.job.LocalRanks;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.Bytes;
import org.wrpn.bench.BenchPlots;
import org.wrpn.bench.BenchTable;
import org.wrpn.bench.KernelBench;
import org.wrpn.bench.LoaderBench;
import org.wrpn.bench.Machine;
import org.wrpn.bench.MemoryBench;
import org.wrpn.bench.TrainBench;
import org.wrpn.nn.models.Models;
import org.wrpn.quant.Quantizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "bench", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Benchmarks; writes CSV and JSON (machine, commit, config) and PNG plots into --out.",
            "Suites: all (kernels, then train; the default), kernels, train, memory, loader (image decoding),",
            "allreduce (the collective engine between --nproc ranks: bandwidth, and steps with and without the gradient sums),",
            "and plot FILE.json...",
            "(redraws the PNGs of written results).",
            "See benchmarks/README.md."})
public final class BenchCommand implements Callable<Integer> {
    @Spec
    CommandSpec spec;

    @Parameters(index = "0", arity = "0..1", paramLabel = "SUITE", defaultValue = "all",
            description = "all | kernels | train | memory | loader | allreduce | plot (default: ${DEFAULT-VALUE})")
    String suite;

    @Parameters(index = "1..*", arity = "0..*", paramLabel = "FILE", description = "for plot: result JSON files (PNGs are written beside them)")
    List<Path> files = new ArrayList<>();

    @Option(names = "--device", description = "cpu | cuda (default: ${DEFAULT-VALUE})")
    String device = "cpu";

    @Option(names = "--quick", description = "a small subset (widths 1 and 2, batch 32, fewer repeats; under 2 minutes on a CPU)")
    boolean quick;

    @Option(names = "--out", description = "results directory (default: ${DEFAULT-VALUE})")
    Path out = Path.of("benchmarks/results");

    @Option(names = "--models", split = ",", description = "models (default: lenet,resnet20)")
    List<String> models;

    @Option(names = "--widths", split = ",", description = "width multipliers (default: 1,2,3; quick: 1,2)")
    double[] widths;

    @Option(names = "--bits", split = ",", description = "bit widths, weights = activations (default: 32,8,4,2,1; quick train: 32,4,1)")
    int[] bits;

    @Option(names = "--batch", description = "batch (default: kernels 128 on cpu and 256 on cuda, train 64, memory 128; quick: 32)")
    Integer batch;

    @Option(names = "--repeats", description = "timed repeats after warm-up (default: kernels 7 on cpu and 20 on cuda, train 3; quick: 5 and 2)")
    Integer repeats;

    @Option(names = "--budget", paramLabel = "BYTES", description = "train: memory budget for the largest batch (default: 128M on cpu, 1G on cuda; quick: 32M)")
    String budget;

    @Option(names = "--no-confirm", description = "train: do not confirm the planner's largest batch by running it")
    boolean noConfirm;

    @Option(names = "--time-budget", paramLabel = "SECONDS",
            description = "stop starting new configurations after this long (train rows left get planned figures only)")
    Double timeBudget;

    @Option(names = "--peer", paramLabel = "pytorch",
            description = "train on cpu: time PyTorch (Debian's python3-torch) in the same run, alternating steps with wrpn's, and add ratio columns")
    String peer;

    @Option(names = "--images", paramLabel = "DIR",
            description = "loader: an image folder (train/CLASS/*.jpg, val/CLASS/*.jpg) instead of generated 500x375 photos")
    Path images;

    @Option(names = "--nproc", paramLabel = "N", description = "allreduce: ranks on this host (default: 2)")
    Integer nproc;

    @Option(names = "--name", description = "output name prefix instead of SUITE-DEVICE[-quick]")
    String name;

    @Option(names = "--no-plots", description = "write CSV and JSON only")
    boolean noPlots;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        if (batch != null && batch <= 0) throw new BadInputException("--batch must be positive, got " + batch);
        if (repeats != null && repeats <= 0) throw new BadInputException("--repeats must be positive, got " + repeats);
        if (!device.equals("cpu") && !device.equals("cuda")) throw new BadInputException("--device must be cpu or cuda, got " + device);
        if (peer != null && !peer.equals("pytorch")) throw new BadInputException("--peer must be pytorch, got " + peer);
        if (models != null) {
            for (String m : models) {
                if (!Models.NAMES.contains(m)) throw new BadInputException("unknown model '" + m + "'; choose from " + Models.NAMES);
            }
        }
        if (bits != null) {
            for (int k : bits) {
                if (!Quantizer.isValidActivationBits(k)) throw new BadInputException("--bits must be among 1, 2, 4, 8, 32; got " + k);
            }
        }
        if (widths != null) {
            for (double w : widths) if (!(w > 0 && w <= 64)) throw new BadInputException("--widths must be in (0, 64], got " + w);
        }
        return switch (suite) {
            case "memory" -> memory();
            case "kernels" -> suites(true, false);
            case "train" -> suites(false, true);
            case "all" -> suites(true, true);
            case "plot" -> plot();
            case "loader" -> loader();
            case "allreduce" -> allreduce();
            default -> throw new BadInputException("unknown bench suite '" + suite
                    + "'; available: all, kernels, train, memory, loader, allreduce, plot");
        };
    }

    /**
     * Starts --nproc ranks of this command (each then measures as a rank of the job), or, in a rank,
     * measures; rank 0 writes the results.
     */
    private int allreduce() throws Exception {
        LaunchEnvironment env = LaunchEnvironment.current();
        if (!env.isDistributed()) {
            int n = nproc == null ? 2 : nproc;
            if (n < 2 || n > 1024) throw new BadInputException("--nproc must be between 2 and 1024 for allreduce, got " + n);
            return LocalRanks.run(n, List.of(spec.root().commandLine().getParseResult().originalArgs().toArray(String[]::new)), 120,
                    spec.commandLine().getErr());
        }
        List<String> ms = models != null ? models : List.of("lenet", "resnet20");
        double[] ws = widths != null ? widths : quick ? new double[] {1} : new double[] {1, 2, 3};
        int reps = repeats != null ? repeats : quick ? 5 : 15;
        List<CollectiveBench.Case> cases = new ArrayList<>();
        for (String m : ms) {
            for (double w : ws) {
                int k = bits != null ? bits[0] : 4;
                cases.add(new CollectiveBench.Case(m, w, k, batch != null ? batch : 64));
            }
        }
        BenchTable t = CollectiveBench.run(env, cases, reps, java.time.Duration.ofSeconds(120));
        if (t == null) return Main.EXIT_OK; // not rank 0
        String n = name != null ? name : "allreduce-cpu" + (quick ? "-quick" : "");
        t.write(out, n);
        if (!noPlots && BenchTable.canPlot()) CollectiveBench.plot(t, out, n);
        for (Map<String, Object> r : t.rows) System.out.println(r);
        System.out.println("wrote " + out.resolve(n + ".csv"));
        return Main.EXIT_OK;
    }

    /** Decode threads 1 up to the cores; the trainer on decoded vs pre-decoded images. */
    private int loader() throws Exception {
        int cores = Runtime.getRuntime().availableProcessors();
        int[] threads = java.util.stream.IntStream.rangeClosed(1, cores).toArray();
        List<String> ms = models != null ? models : List.of("lenet", "resnet18");
        Path work = Files.createTempDirectory("wrpn-bench-loader");
        try {
            BenchTable t = LoaderBench.run(images, quick ? 60 : 300, threads, ms, quick ? 64 : 128, work);
            String n = name != null ? name : "loader-" + device + (quick ? "-quick" : "");
            t.write(out, n);
            if (!noPlots && BenchTable.canPlot()) BenchPlots.loader(t, out, n);
            LoaderBench.describe(t).forEach(System.out::println);
            System.out.println("wrote " + out.resolve(n + ".csv"));
        } finally {
            try (var s = Files.walk(work)) {
                s.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
            }
        }
        return Main.EXIT_OK;
    }

    private int memory() throws Exception {
        List<String> ms = quick ? List.of("lenet") : List.of("resnet20", "lenet");
        double[] ws = quick ? new double[] {1} : new double[] {1, 2};
        int b = quick ? 32 : batch == null ? 128 : batch;
        int reps = repeats == null ? 3 : repeats;
        var rows = MemoryBench.run(ms, ws, new int[] {32, 8, 4, 2, 1}, b, reps, !noProgress);
        String n = name != null ? name : quick ? "memory-cpu-quick" : "memory-cpu";
        MemoryBench.write(rows, out, n);
        for (var r : rows) {
            System.out.printf(Locale.ROOT, "%-8s w%-3s w%-2d a%-2d %-6s saved %12d  peak %12d  planned %12d  heap %12d  step %.3f s%n",
                    r.model(), r.widthMultiplier(), r.wbits(), r.abits(), r.policy(), r.savedBytes(), r.peakBytes(),
                    r.plannedPeakBytes(), r.heapPeakBytes(), r.stepSeconds());
        }
        System.out.println("wrote " + out.resolve(n + ".csv"));
        return Main.EXIT_OK;
    }

    private int suites(boolean kernels, boolean train) throws Exception {
        boolean cuda = device.equals("cuda");
        if (timeBudget != null && !(timeBudget > 0)) throw new BadInputException("--time-budget must be positive, got " + timeBudget);
        long deadline = timeBudget == null ? Long.MAX_VALUE : System.nanoTime() + (long) (timeBudget * 1e9);
        String suffix = device + (quick ? "-quick" : "");
        int failures = 0;
        if (kernels) {
            List<String> ms = models != null ? models : List.of("lenet", "resnet20");
            double[] ws = widths != null ? widths : quick ? new double[] {1, 2} : new double[] {1, 2, 3};
            int[] ks = bits != null ? bits : new int[] {32, 8, 4, 2, 1};
            int b = batch != null ? batch : quick ? 32 : cuda ? 256 : 128;
            int reps = repeats != null ? repeats : quick ? 5 : cuda ? 20 : 7;
            var cfg = new KernelBench.Config(ms, ws, ks, b, 3, reps);
            try (Backend be = BackendSelector.select(device)) {
                BenchTable t = new BenchTable("kernels", Machine.describe(be), config(cfg.models(), ws, ks, b, reps));
                Machine.Contention load = new Machine.Contention();
                KernelBench.run(be, cfg, t, !noProgress, deadline);
                t.contention.putAll(load.summary());
                finish(t, name != null ? name + "-kernels" : "kernels-" + suffix);
                printKernels(t);
                failures += (int) t.notes.stream().filter(n -> n.startsWith("failed")).count();
            }
        }
        if (train) {
            List<String> ms = models != null ? models : List.of("lenet", "resnet20");
            double[] ws = widths != null ? widths : quick ? new double[] {1, 2} : new double[] {1, 2, 3};
            int[] ks = bits != null ? bits : quick ? new int[] {32, 4, 1} : new int[] {32, 8, 4, 2, 1};
            int b = batch != null ? batch : quick ? 32 : 64; // 64: wrpn train's default batch
            int reps = repeats != null ? repeats : quick ? 2 : 3;
            long budgetBytes = PlanCommand.parseBytes(budget != null ? budget : quick ? "32M" : cuda ? "1G" : "128M");
            var cfg = new TrainBench.Config(ms, ws, ks, b, reps, budgetBytes, !noConfirm);
            Map<String, Object> machine;
            try (Backend probe = BackendSelector.select(device)) {
                machine = Machine.describe(probe);
            }
            Map<String, Object> c = config(ms, ws, ks, b, reps);
            c.put("budget_bytes", budgetBytes);
            c.put("confirm_largest_batch", !noConfirm);
            c.put("step", "forward, softmax cross-entropy, backward, SGD with momentum 0.9; random data already on the device");
            BenchTable t = new BenchTable("train", machine, c);
            Machine.Contention load = new Machine.Contention();
            try (org.wrpn.bench.TorchPeer p = startPeer(cuda)) {
                if (p != null) c.put("peer", p.describe());
                TrainBench.run(() -> BackendSelector.select(device), cfg, t, !noProgress, deadline, p);
            }
            t.contention.putAll(load.summary());
            finish(t, name != null ? name + "-train" : "train-" + suffix);
            printTrain(t);
            if (t.rows.stream().anyMatch(r -> Boolean.FALSE.equals(r.get("largest_batch_confirmed")))) {
                System.out.println("warning: the planner's largest batch was not confirmed by a real step for some rows (largest_batch_confirmed=false)");
            }
            failures += (int) t.rows.stream().filter(r -> String.valueOf(r.get("status")).startsWith("failed")).count();
        }
        if (failures > 0) {
            System.err.println("error: " + failures + " configurations failed (their status and notes say why); the other results were written");
            return Main.EXIT_INTERNAL;
        }
        return Main.EXIT_OK;
    }

    /** The PyTorch peer with as many threads as wrpn's CPU backend uses, or null without --peer. */
    private org.wrpn.bench.TorchPeer startPeer(boolean cuda) throws Exception {
        if (peer == null) return null;
        if (cuda) throw new BadInputException("--peer pytorch times PyTorch on the CPU: use it with --device cpu");
        return org.wrpn.bench.TorchPeer.start(org.wrpn.backend.Device.cpuThreads());
    }

    private Map<String, Object> config(List<String> ms, double[] ws, int[] ks, int b, int reps) {
        Map<String, Object> c = new LinkedHashMap<>();
        c.put("device", device);
        c.put("quick", quick);
        c.put("models", ms);
        c.put("widths", ws);
        c.put("bits", ks);
        c.put("batch", b);
        c.put("repeats", reps);
        c.put("command", "wrpn " + String.join(" ", spec.commandLine().getParseResult().originalArgs()));
        return c;
    }

    private void finish(BenchTable t, String n) throws Exception {
        t.write(out, n);
        System.out.println("wrote " + out.resolve(n + ".csv") + " and .json");
        if (noPlots) return;
        if (!BenchTable.canPlot()) {
            System.out.println("no plots: this Java runtime has no java.desktop; run 'wrpn bench plot " + out.resolve(n + ".json")
                    + "' where it has");
            return;
        }
        for (Path p : BenchPlots.plot(t, out, n)) System.out.println("wrote " + p);
    }

    private int plot() throws Exception {
        if (files.isEmpty()) throw new BadInputException("bench plot needs result JSON files (written by wrpn bench kernels|train)");
        if (!BenchTable.canPlot()) throw new BadInputException("this Java runtime has no java.desktop: it cannot draw plots");
        for (Path f : files) {
            if (!f.toFile().isFile()) throw new BadInputException("no such file: " + f);
            String n = f.getFileName().toString().replaceFirst("\\.json$", "");
            Path dir = f.toAbsolutePath().getParent();
            BenchTable t;
            try {
                t = BenchTable.read(f);
            } catch (java.io.IOException e) {
                throw new BadInputException("cannot read " + f + " as bench results: " + e.getMessage());
            }
            for (Path p : BenchPlots.plot(t, dir, n)) {
                System.out.println("wrote " + p);
            }
        }
        return Main.EXIT_OK;
    }

    private static void printKernels(BenchTable t) {
        System.out.printf(Locale.ROOT, "%-9s %5s %-14s %4s %10s %9s %8s %12s%n", "model", "width", "op", "k", "median ms", "GB/s",
                "% copy", "elements/s");
        for (Map<String, Object> r : t.where("site", "all")) {
            System.out.printf(Locale.ROOT, "%-9s %5s %-14s %4s %10.4f %9.2f %7.1f%% %12.3g%n", r.get("model"), r.get("width"),
                    r.get("op"), r.get("bits"), 1e3 * (Double) r.get("median_s"), (Double) r.get("gbps"), (Double) r.get("pct_of_copy"),
                    (Double) r.get("elements_per_s"));
        }
    }

    private static void printTrain(BenchTable t) {
        System.out.printf(Locale.ROOT, "%-9s %5s %4s %4s %-6s %9s %9s %10s %10s %10s %8s %s%n", "model", "width", "w", "a", "save",
                "step s", "img/s", "saved", "peak", "planned", "largest", "confirmed");
        boolean withPeer = t.rows.stream().anyMatch(r -> r.containsKey("torch_step_s"));
        for (Map<String, Object> r : t.rows) {
            boolean ok = "ok".equals(r.get("status"));
            System.out.printf(Locale.ROOT, "%-9s %5s %4s %4s %-6s %9s %9s %10s %10s %10s %8s %s%n", r.get("model"), r.get("width"),
                    r.get("wbits"), r.get("abits"), r.get("policy"),
                    ok ? String.format(Locale.ROOT, "%.4f", (Double) r.get("step_s")) : "-",
                    ok ? String.format(Locale.ROOT, "%.1f", (Double) r.get("images_per_s")) : "-",
                    ok ? Bytes.format((Long) r.get("saved_activation_bytes")) : "-",
                    ok ? Bytes.format((Long) r.get("backend_peak_bytes")) : "-",
                    Bytes.format(((Number) r.get("planned_peak_bytes")).longValue()),
                    r.get("largest_batch_planned"), r.getOrDefault("largest_batch_confirmed", ok ? "-" : r.get("status")));
        }
        if (!withPeer) return;
        System.out.printf(Locale.ROOT, "%nPyTorch peer (same run, alternating steps):%n%-9s %5s %4s %-6s %-5s %9s %9s %9s %10s %10s%n", "model", "width",
                "bits", "save", "torch", "wrpn s", "torch s", "wrpn/torch", "wrpn saved", "torch saved");
        for (Map<String, Object> r : t.rows) {
            if (!r.containsKey("torch_step_s")) continue;
            System.out.printf(Locale.ROOT, "%-9s %5s %4s %-6s %-5s %9.4f %9.4f %9.2f %10s %10s%n", r.get("model"), r.get("width"), r.get("abits"),
                    r.get("policy"), r.get("torch_mode"), (Double) r.get("step_s"), (Double) r.get("torch_step_s"),
                    (Double) r.get("wrpn_over_torch_step"), Bytes.format((Long) r.get("saved_activation_bytes")),
                    Bytes.format(((Number) r.get("torch_saved_activation_bytes")).longValue()));
        }
    }
}
