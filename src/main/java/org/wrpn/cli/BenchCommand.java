package org.wrpn.cli;

import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.bench.MemoryBench;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

@Command(name = "bench", mixinStandardHelpOptions = true, description = "Benchmarks; writes CSV, JSON and PNG plots.")
public final class BenchCommand implements Callable<Integer> {
    @Parameters(index = "0", paramLabel = "SUITE", description = "memory: saved activations, peak memory and step time across bit widths and save policies")
    String suite;

    @Option(names = "--out", description = "results directory (default: ${DEFAULT-VALUE})")
    Path out = Path.of("benchmarks/results");

    @Option(names = "--batch", description = "(default: ${DEFAULT-VALUE})")
    int batch = 128;

    @Option(names = "--repeats", description = "timed steps per configuration, after one warm-up (default: ${DEFAULT-VALUE})")
    int repeats = 3;

    @Option(names = "--quick", description = "a small subset (lenet, width 1, batch 32)")
    boolean quick;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        if (!suite.equals("memory")) throw new BadInputException("unknown bench suite '" + suite + "'; available: memory");
        if (batch <= 0 || repeats <= 0) throw new BadInputException("--batch and --repeats must be positive");
        List<String> models = quick ? List.of("lenet") : List.of("resnet20", "lenet");
        double[] widths = quick ? new double[] {1} : new double[] {1, 2};
        int b = quick ? 32 : batch;
        var rows = MemoryBench.run(models, widths, new int[] {32, 8, 4, 2, 1}, b, repeats, !noProgress);
        String name = quick ? "memory-cpu-quick" : "memory-cpu";
        MemoryBench.write(rows, out, name);
        for (var r : rows) {
            System.out.printf(Locale.ROOT, "%-8s w%-3s w%-2d a%-2d %-6s saved %12d  peak %12d  planned %12d  heap %12d  step %.3f s%n",
                    r.model(), r.width(), r.wbits(), r.abits(), r.policy(), r.savedBytes(), r.peakBytes(),
                    r.plannedPeakBytes(), r.heapPeakBytes(), r.stepSeconds());
        }
        System.out.println("wrote " + out.resolve(name + ".csv"));
        return Main.EXIT_OK;
    }
}
