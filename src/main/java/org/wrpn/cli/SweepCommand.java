package org.wrpn.cli;

import com.fasterxml.jackson.databind.JsonNode;
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
import org.wrpn.cli.TrainingOptions.Meaning;
import org.wrpn.job.JobSpec;
import org.wrpn.sweep.Sweep;
import org.wrpn.sweep.SweepReport;
import org.wrpn.sweep.SweepSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "sweep", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = SweepCommand.Settings.class,
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

    @Option(names = "--seeds", paramLabel = "S,...", description = "seeds (default: 1,2)")
    String seeds;

    @Option(names = "--report-only", description = "train nothing: write the CSV and plots from the cells on disk")
    boolean reportOnly;

    @Mixin
    GridOptions grid;

    /** The settings every cell shares (width, bits and seed are the grid's). */
    @Mixin
    TrainingOptions settings;

    @ParentCommand
    Main parent;

    @Spec
    CommandSpec command;

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
        Sweep sweep = new Sweep(spec, System.out, !grid.noProgress, parent != null && parent.ownsProcess());
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

    /** The keys the flags given on the command line set: the grid's by name, the rest as job-spec keys. */
    private ObjectNode flags() {
        ObjectNode o = grid.addTo(settings.specKeys(false));
        if (seeds != null) o.put("seeds", seeds);
        return o;
    }

    /** sweep takes the settings its cells share; OUT, the epochs and --save have the sweep's meaning. */
    public static final class Settings implements IModelTransformer {
        @Override
        public CommandSpec transform(CommandSpec spec) {
            return TrainingOptions.tailor(spec, key -> !SweepSpec.PER_CELL_KEYS.contains(key),
                    new Meaning("--epochs", "epochs per cell (default: ${DEFAULT-VALUE})", String.valueOf(SweepSpec.DEFAULT_EPOCHS)),
                    new Meaning("--out", "the sweep's directory; cell CELL trains in OUT/CELL (default: ${DEFAULT-VALUE})",
                            SweepSpec.DEFAULT_OUT.toString()),
                    new Meaning("--name", "file name prefix of the CSV and plots (default: " + SweepSpec.DEFAULT_NAME + ")", null),
                    new Meaning("--save", "what layers keep for backward while training: fp32, packed or auto; the results are the same"
                            + " bit for bit, the reported memory is always the auto policy's (default: ${DEFAULT-VALUE})", null));
        }
    }
}
