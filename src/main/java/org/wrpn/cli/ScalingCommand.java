package org.wrpn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.bench.ScalingReport;
import org.wrpn.dist.ScalingModel;
import org.wrpn.dist.ScalingTable;
import org.wrpn.dist.ScalingTable.Crossover;
import org.wrpn.dist.ScalingTable.Row;
import org.wrpn.dist.StepTimes;
import org.wrpn.dist.Topology;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "scaling", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Predicted scaling efficiency of data-parallel training (a model, not a measurement; docs/SCALING.md):",
            "fp32 gradients (4 bytes x trainable parameters) averaged by ring all-reduce, in buckets that start during backward.",
            "Default table: resnet20 and resnet18 at widths 1,2,3 on 8 GPUs in one node and on 4 nodes x 8 GPUs, and lenet and",
            "resnet20 on a CPU loopback of 2 ranks. Any of --nodes, --gpus-per-node, --cpu-ranks: just the topologies asked for.",
            "Step times: measured single-GPU/CPU steps where they exist, else a labelled assumption, or --step-ms.",
            "Exit codes: 0 done, 2 bad input."})
public final class ScalingCommand implements Callable<Integer> {
    @Option(names = "--nodes", description = "GPU nodes (with --gpus-per-node, default 8)")
    Integer nodes;

    @Option(names = "--gpus-per-node", description = "GPUs (ranks) per node (with --nodes, default 1)")
    Integer gpusPerNode;

    @Option(names = "--cpu-ranks", description = "ranks of a CPU loopback topology on this host (default table: 2)")
    Integer cpuRanks;

    @Option(names = "--models", paramLabel = "M,...", description = "models of the GPU rows (default: resnet20,resnet18)")
    String models;

    @Option(names = "--cpu-models", paramLabel = "M,...", description = "models of the CPU rows (default: lenet,resnet20)")
    String cpuModels;

    @Option(names = "--widths", paramLabel = "W,...", description = "width multipliers (default: 1,2,3)")
    String widths;

    @Option(names = "--step-ms", paramLabel = "MS|M:W=MS,...",
            description = "single-rank step time, ms: one number for every row, or per model and width, e.g. resnet18:2=40,resnet18:3=80"
                    + " (default: measured where measured, else the assumption of docs/SCALING.md)")
    String stepMs;

    @Option(names = "--link-gbps", description = "intra-node bus bandwidth, GB/s (default: 450, NVLink 4 per direction)")
    double linkGBps = Topology.NVLINK4_GBPS;

    @Option(names = "--nic-gbps", description = "one NIC's bandwidth, GB/s (default: 50, InfiniBand NDR 400 Gb/s)")
    double nicGBps = Topology.NDR_NIC_GBPS;

    @Option(names = "--nics-per-node", description = "NICs per node the rings use (default: 8, one per GPU)")
    int nicsPerNode = Topology.NICS_PER_NODE;

    @Option(names = "--gpu-bus-gbps", description = "a measured GPU all-reduce busbw, GB/s (nccl-tests), in place of the link and NIC figures")
    Double gpuBusGBps;

    @Option(names = "--bus-gbps", description = "the CPU loopback's bus bandwidth, GB/s (default: ${DEFAULT-VALUE}, Gloo measured by wrpn bench allreduce on a 2-core EPYC)")
    double busGBps = Topology.LOOPBACK_GBPS_MEASURED;

    @Option(names = "--base-us", description = "GPU all-reduce base latency, us (default: 8.4, NCCL ring/Simple)")
    double baseUs = Topology.NCCL_BASE_US;

    @Option(names = "--alpha-us", description = "GPU ring step latency inside a node, us (default: 3.4, NCCL NVLink ring/Simple)")
    double alphaUs = Topology.NCCL_NVLINK_ALPHA_US;

    @Option(names = "--net-alpha-us", description = "GPU ring step latency across nodes, us (default: 14, NCCL network ring/Simple)")
    double netAlphaUs = Topology.NCCL_NET_ALPHA_US;

    @Option(names = "--cpu-alpha-us", description = "CPU loopback ring step latency, us (default: ${DEFAULT-VALUE}, measured likewise)")
    double cpuAlphaUs = Topology.LOOPBACK_ALPHA_US_MEASURED;

    @Option(names = "--backward-fraction", description = "share of the step the backward pass takes (default: 0.667)")
    double backwardFraction = ScalingModel.DEFAULT_BACKWARD_FRACTION;

    @Option(names = "--buckets", description = "gradient buckets per step (default: as many as --bucket-mb makes)")
    Integer buckets;

    @Option(names = "--bucket-mb", description = "bucket size, MiB (default: 25, PyTorch DDP's bucket_cap_mb)")
    double bucketMiB = ScalingModel.DEFAULT_BUCKET_MIB;

    @Option(names = "--exposed-limit", paramLabel = "PERCENT",
            description = "widening stops paying where exposed communication exceeds this share of the step (default: 10)")
    double exposedLimitPct = 100 * ScalingModel.DEFAULT_EXPOSED_LIMIT;

    @Option(names = "--json", description = "machine-readable output")
    boolean json;

    @Option(names = "--out", paramLabel = "DIR", description = "also write DIR/NAME.csv, .json, .md and plots (NAME-gpu.png, NAME-cpu.png)")
    Path out;

    @Option(names = "--name", description = "file name of --out's files (default: scaling-model)")
    String name = "scaling-model";

    @Override
    public Integer call() throws Exception {
        if (buckets != null && buckets < 1) throw new BadInputException("--buckets must be at least 1, got " + buckets);
        ScalingTable table = new ScalingTable(new ScalingTable.Settings(topologies(),
                list(models, "resnet20,resnet18"), list(cpuModels, "lenet,resnet20"), widths(),
                StepTimes.parse(stepMs), backwardFraction, buckets == null ? 0 : buckets, bucketMiB, exposedLimitPct / 100));
        if (json) {
            System.out.println(new ObjectMapper().writeValueAsString(ScalingReport.json(table)));
        } else {
            print(table);
        }
        if (out != null) {
            for (Path p : ScalingReport.write(table, out, name)) System.err.println("wrote " + p);
        }
        return Main.EXIT_OK;
    }

    List<Topology> topologies() {
        List<Topology> ts = new ArrayList<>();
        boolean chosen = nodes != null || gpusPerNode != null || cpuRanks != null;
        if (nodes != null || gpusPerNode != null || !chosen) {
            int n = nodes != null ? nodes : 1;
            int g = gpusPerNode != null ? gpusPerNode : 8;
            if (n < 1 || g < 1) throw new BadInputException("--nodes and --gpus-per-node must be at least 1, got " + n + " and " + g);
            if (chosen) ts.add(gpu(n, g));
            else {
                ts.add(gpu(1, 8));
                ts.add(gpu(4, 8));
            }
        }
        if (cpuRanks != null || !chosen) {
            int r = cpuRanks != null ? cpuRanks : 2;
            if (r < 1) throw new BadInputException("--cpu-ranks must be at least 1, got " + r);
            ts.add(Topology.cpuLoopback(r, busGBps, cpuAlphaUs));
        }
        return ts;
    }

    private Topology gpu(int n, int g) {
        Topology t = Topology.gpus(n, g, linkGBps, nicGBps, nicsPerNode, baseUs, alphaUs, netAlphaUs);
        return gpuBusGBps != null ? t.withBusGBps(gpuBusGBps, "--gpu-bus-gbps") : t;
    }

    private List<Double> widths() {
        List<Double> ws = new ArrayList<>();
        for (String p : list(widths, "1,2,3")) {
            try {
                ws.add(Double.parseDouble(p));
            } catch (NumberFormatException e) {
                throw new BadInputException("--widths must be numbers separated by commas, got " + widths);
            }
        }
        return ws;
    }

    private static List<String> list(String s, String dflt) {
        List<String> l = new ArrayList<>();
        for (String p : (s == null ? dflt : s).split(",")) if (!p.isBlank()) l.add(p.strip());
        if (l.isEmpty()) throw new BadInputException("an empty list: " + s);
        return l;
    }

    private static void print(ScalingTable table) {
        ScalingTable.Settings s = table.settings();
        double limitPct = 100 * s.exposedLimit();
        System.out.printf(Locale.ROOT, "Scaling model (docs/SCALING.md): ring all-reduce of fp32 gradients in buckets, backward %.3g of the step%n",
                s.backwardFraction());
        Map<String, String> sources = new LinkedHashMap<>();
        Object current = null;
        for (Row r : table.rows()) {
            if (r.topology() != current) {
                current = r.topology();
                System.out.println();
                System.out.println(r.topology().describe());
                System.out.printf(Locale.ROOT, "  %-9s %5s %12s %9s %7s %10s %-3s %10s %10s %9s %11s %13s%n", "model", "width", "parameters",
                        "grad MB", "buckets", "step ms", "", "allred ms", "exposed ms", "exposed %", "efficiency %",
                        "min step ms*");
            }
            String tag = tag(r.step(), sources);
            var p = r.prediction();
            System.out.printf(Locale.ROOT, "  %-9s %5s %12d %9.3f %7d %10.3f %-3s %10.4f %10.4f %9.2f %11.2f %13.3f%n", r.model(),
                    fmt(r.width()), r.parameters(), p.gradientBytes() / 1e6, p.buckets(), p.stepMs(), tag, p.allReduceMs(),
                    p.exposedMs(), 100 * p.exposedShare(), 100 * p.efficiency(), r.minStepMs());
        }
        System.out.println();
        System.out.printf(Locale.ROOT, "* min step ms: the shortest single-rank step whose exposed communication stays within %s%% of it.%n",
                fmt(limitPct));
        for (Map.Entry<String, String> e : sources.entrySet()) System.out.println(e.getValue() + " " + e.getKey());
        System.out.println();
        System.out.printf(Locale.ROOT, "Where widening stops paying (exposed > %s%% of the step), widths %s to %s by %s:%n", fmt(limitPct),
                fmt(1), fmt(ScalingTable.SEARCH_MAX_WIDTH), fmt(ScalingTable.SEARCH_STEP));
        for (Crossover c : table.crossovers()) {
            System.out.printf(Locale.ROOT, "  %-40s %-9s %s%n", c.topology().name(), c.model(), ScalingReport.crossoverText(c));
        }
    }

    /** A short tag per step-time source, listed once under the table. */
    private static String tag(StepTimes.StepTime st, Map<String, String> sources) {
        return sources.computeIfAbsent(st.source(), k -> (k.startsWith("measured") ? "m" : k.startsWith("given") ? "g" : "a")
                + (sources.size() + 1));
    }

    static String fmt(double w) {
        return w == Math.rint(w) ? String.valueOf((long) w) : String.valueOf(w);
    }
}
