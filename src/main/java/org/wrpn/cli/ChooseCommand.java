package org.wrpn.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.util.List;
import java.util.Set;
import java.util.concurrent.Callable;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.Device;
import org.wrpn.choose.ChooseSpec;
import org.wrpn.choose.Chooser;
import org.wrpn.cli.TrainingOptions.Meaning;
import org.wrpn.data.DataSource;
import org.wrpn.data.ImageSet;
import org.wrpn.plan.PlanRequest;
import org.wrpn.sweep.SweepSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;

@Command(name = "choose", mixinStandardHelpOptions = true, sortOptions = false, modelTransformer = ChooseCommand.Settings.class,
        description = {"Choose width and weight/activation bits for a memory budget: plan every candidate, drop those whose training step",
            "does not fit the budget at --batch, then rank the rest by test accuracy after short proxy runs, spending --time-budget by",
            "successive halving (all candidates briefly, the better half twice as long, ...). Every proxy run is a normal resumable",
            "sweep cell in OUT/proxy-IMAGES/CELL: running the same choose again continues it without retraining finished runs.",
            "Writes RESULTS/NAME.csv/json (candidates), NAME-rounds.csv/json (every proxy run, with each round's fronts), NAME.md,",
            "NAME-vs-memory.png, NAME-vs-step-time.png and NAME-recommended.json, the winner as a job spec for `wrpn train --spec`.",
            "Exit codes: 0 done, 2 bad input, 3 nothing fits the budget, 130/143 stopped by a signal (run it again to continue)."})
public final class ChooseCommand implements Callable<Integer> {

    @Option(names = "--budget", required = true, paramLabel = "BYTES",
            description = "memory for one training step, e.g. 16G, 512M or 1000000 (the memory planner's high-water mark)")
    String budget;

    @Option(names = "--time-budget", paramLabel = "DURATION",
            description = "wall time for the proxy runs, e.g. 30m, 2h, 1h30m or 90s (default: 30m)")
    String timeBudget;

    @Option(names = "--plan-device", paramLabel = "cpu|cuda",
            description = "whose workspace rules the budget is planned with (default: the training device's)")
    String planDevice;

    @Option(names = "--plan-only", description = "train nothing: print which candidates fit and their largest batches")
    boolean planOnly;

    @Mixin
    GridOptions grid;

    /** The settings every candidate shares (width and bits are the grid's). */
    @Mixin
    TrainingOptions settings;

    @ParentCommand
    Main parent;

    @Override
    public Integer call() throws Exception {
        long budgetBytes = PlanCommand.parseBytes(budget);
        ObjectNode flags = grid.addTo(settings.specKeys(false));
        Device rules = planDevice != null ? PlanRequest.parseDevice(planDevice) : BackendSelector.resolve(Device.parse(settings.device));
        ChooseSpec spec = ChooseSpec.fromFlags(flags, budgetBytes, rules,
                timeBudget == null ? ChooseSpec.DEFAULT_TIME_BUDGET : ChooseSpec.parseDuration(timeBudget));
        if (planOnly) {
            ImageSet train = DataSource.open(spec.grid().base().data()).train();
            List<Chooser.Candidate> all = Chooser.plan(spec, train.channels(), train.height(), train.width(), train.classes());
            System.out.println(Chooser.fitTable(spec, all));
            Chooser.fitting(spec, all);
            return Main.EXIT_OK;
        }
        Chooser chooser = new Chooser(spec, System.out, !grid.noProgress, parent != null && parent.ownsProcess());
        return chooser.run().exitCode();
    }

    /** choose takes the settings its candidates share; OUT and the epochs have choose's meaning. */
    public static final class Settings implements IModelTransformer {
        private static final Set<String> PER_CANDIDATE = Set.of("width", "wbits", "abits", "resume", "checkpoint_dir", "overwrite");

        @Override
        public CommandSpec transform(CommandSpec spec) {
            return TrainingOptions.tailor(spec, key -> !PER_CANDIDATE.contains(key),
                    new Meaning("--epochs", "epochs of the recommended job, the longest a proxy run trains (default: ${DEFAULT-VALUE})",
                            String.valueOf(SweepSpec.DEFAULT_EPOCHS)),
                    new Meaning("--out", "the choose directory: proxy runs in OUT/proxy-IMAGES/CELL, the recommended job's run in"
                            + " OUT/recommended (default: ${DEFAULT-VALUE})", ChooseSpec.DEFAULT_OUT.toString()),
                    new Meaning("--widths", "width multipliers (default: 1,1.5,2,2.5,3)", null),
                    new Meaning("--results", "where the report and the recommended job spec go (default: OUT)", null),
                    new Meaning("--name", "file name prefix of the report (default: " + ChooseSpec.DEFAULT_NAME + ")", null),
                    new Meaning("--seed", "the seed of every proxy run and of the recommended job (default: ${DEFAULT-VALUE})", null));
        }
    }
}
