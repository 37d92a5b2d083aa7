package org.wrpn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.bench.Machine;
import org.wrpn.job.JobSpec;
import org.wrpn.sweep.Sweep;
import org.wrpn.sweep.SweepReport;
import org.wrpn.sweep.SweepSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

@Command(name = "sweep", mixinStandardHelpOptions = true, sortOptions = false,
        description = {"Train a grid of configurations (widths x weight/activation bits x seeds) and report accuracy against memory.",
            "Each cell is a normal training run in OUT/CELL with its own metrics and checkpoints; running the same sweep again",
            "skips finished cells and resumes interrupted ones. Writes RESULTS/NAME.csv (mean and spread over seeds, saved",
            "activation bytes per image from the memory ledger, weight bytes at their bit width), NAME-cells.csv and two plots.",
            "Defaults: lenet, widths 1,2,3, bits 32/32,8/8,4/4,4/2,2/2,1/1, seeds 1,2, 3 epochs, out runs/sweep.",
            "Exit codes: 0 all cells done, 2 bad input, else the first failed cell's code; 130/143 stopped by a signal."})
public final class SweepCommand implements Callable<Integer> {

    @Option(names = "--spec", paramLabel = "SWEEP.json",
            description = "read the sweep from JSON: a job spec (docs/job-spec.schema.json) plus widths, bits, seeds, jobs, results, name;"
                    + " flags given beside it override its keys")
    Path specFile;

    @Option(names = "--widths", paramLabel = "W,...", description = "width multipliers (default: 1,2,3)")
    String widths;

    @Option(names = "--bits", paramLabel = "W/A,...", description = "weight/activation bits (default: 32/32,8/8,4/4,4/2,2/2,1/1)")
    String bits;

    @Option(names = "--seeds", paramLabel = "S,...", description = "seeds (default: 1,2)")
    String seeds;

    @Option(names = "--jobs", description = "cells trained at once; on the CPU each gets cores/jobs GEMM threads (default: 1)")
    Integer jobs;

    @Option(names = "--results", description = "where the CSV and plots go (default: OUT)")
    Path results;

    @Option(names = "--name", description = "file name prefix of the CSV and plots (default: sweep)")
    String name;

    @Option(names = "--report-only", description = "train nothing: write the CSV and plots from the cells on disk")
    boolean reportOnly;

    @Option(names = "--no-progress", description = "no live progress line (the per-cell lines stay)")
    boolean noProgress;

    @Option(names = "--model", description = "lenet, resnet20, resnet32, resnet56, resnet18 (default: lenet)")
    String model;

    @Option(names = "--epochs", description = "epochs per cell (default: 3)")
    Integer epochs;

    @Option(names = "--out", description = "the sweep's directory; cell CELL trains in OUT/CELL (default: runs/sweep)")
    Path out;

    @Option(names = "--save", description = "what layers keep for backward while training: fp32, packed or auto; the results are the same"
            + " bit for bit, the reported memory is always the auto policy's (default: auto)")
    String save;

    @Option(names = "--layer-bits", paramLabel = "LAYER=W/A,...", description = "per-layer overrides for every cell")
    String layerBits;

    @Option(names = "--data", description = "data directory (default: the Fashion-MNIST package's)")
    Path data;

    @Option(names = "--batch", description = "batch size (default: 64)")
    Integer batch;

    @Option(names = "--lr", description = "peak learning rate (default: 0.05)")
    Double lr;

    @Option(names = "--momentum", description = "SGD momentum (default: 0.9)")
    Double momentum;

    @Option(names = "--weight-decay", description = "weight decay (default: 5e-4)")
    Double weightDecay;

    @Option(names = "--schedule", description = "cosine, step or constant (default: cosine)")
    String schedule;

    @Option(names = "--warmup", description = "warm-up in epochs (default: 0.1)")
    Double warmup;

    @Option(names = "--checkpoint-every", description = "also checkpoint every N steps (default: only at epoch ends)")
    Integer checkpointEvery;

    @Option(names = "--limit-train", description = "train on the first N images only (0 = all)")
    Integer limitTrain;

    @Option(names = "--limit-test", description = "evaluate on the first N test images only (0 = all)")
    Integer limitTest;

    @Option(names = "--device", description = "auto, cpu or cuda (default: auto)")
    String device;

    @ParentCommand
    Main parent;

    @Spec
    CommandSpec command;

    private static final List<String> GRID_FLAGS = List.of("--widths", "--bits", "--seeds", "--jobs", "--results", "--name");

    @Override
    public Integer call() throws Exception {
        JsonNode document = specFile == null ? null : read(specFile);
        SweepSpec spec = SweepSpec.fromJson(document, specFile == null ? "flags" : specFile.toString(), flags());
        if (reportOnly) {
            SweepReport report = SweepReport.read(spec);
            List<Path> files = report.write(Machine.describe());
            long done = report.cells().stream().filter(c -> c.state() == SweepReport.CellState.DONE).count();
            System.out.println(String.format(Locale.ROOT, "sweep report: %d of %d cells done; wrote %s", done, report.cells().size(),
                    String.join(", ", files.stream().map(Path::toString).toList())));
            return Main.EXIT_OK;
        }
        Sweep sweep = new Sweep(spec, System.out, !noProgress, parent != null && parent.ownsProcess());
        return sweep.run().exitCode();
    }

    private static JsonNode read(Path file) {
        try {
            return JobSpec.tree(Files.readString(file), file.toString());
        } catch (NoSuchFileException e) {
            throw new BadInputException("sweep spec " + file + " does not exist");
        } catch (IOException e) {
            throw new BadInputException("sweep spec " + file + " cannot be read: " + Main.oneLine(e.getMessage()));
        }
    }

    /** The keys the flags given on the command line set (grid keys by name, the rest as job-spec keys). */
    private ObjectNode flags() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ParseResult given = command.commandLine().getParseResult();
        for (OptionSpec opt : command.options()) {
            if (given == null || !given.hasMatchedOption(opt)) continue;
            String flag = opt.longestName();
            String key = GRID_FLAGS.contains(flag) ? flag.substring(2) : JobSpec.keyOfFlag(flag);
            if (key == null) continue;
            switch ((Object) opt.getValue()) {
                case Integer i -> o.put(key, i);
                case Double d -> o.put(key, d);
                case Object v -> o.put(key, v.toString());
            }
        }
        return o;
    }
}
