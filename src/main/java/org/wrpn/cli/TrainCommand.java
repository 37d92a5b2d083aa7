package org.wrpn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.data.DataSplit;
import org.wrpn.dist.LaunchEnvironment;
import org.wrpn.job.JobProcess;
import org.wrpn.job.LocalRanks;
import org.wrpn.job.JobSpec;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a WRPN network (defaults: lenet, width 2, w4/a4, 1 epoch on Fashion-MNIST).",
            "Exit codes: 0 done, 1 internal error, 2 bad input, 3 out of memory (with the largest batch that fits),",
            "4 numerical failure, 5 run directory busy (locked by another process), 6 storage failure (disk full, ...),",
            "7 a rank of a data-parallel job was lost (died, hung past --rank-timeout, unreachable),",
            "130/143 stopped by SIGINT/SIGTERM after a checkpoint."})
public final class TrainCommand implements Callable<Integer> {
    /** Every training setting. */
    @Mixin
    TrainingOptions settings;

    @Option(names = "--spec", paramLabel = "JOB.json",
            description = "read the job from a JSON spec (docs/job-spec.schema.json); flags given beside it override its keys")
    Path specFile;

    @Option(names = "--print-spec", description = "print the job spec these flags make, as JSON, and exit")
    boolean printSpec;

    @Option(names = "--status", paramLabel = "text|json",
            description = "json: status events as JSON lines on stdout instead of the summary line (default: ${DEFAULT-VALUE})")
    String status = "text";

    @Option(names = "--status-file", paramLabel = "FILE", description = "also append status events as JSON lines to FILE")
    Path statusFile;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @ParentCommand
    Main parent;

    @Spec
    CommandSpec command;

    @Override
    public Integer call() throws Exception {
        // Only rank 0 of a data-parallel job reports: the others' events would repeat its own.
        boolean follower = LaunchEnvironment.current().rank() > 0;
        JobProcess.Options options = new JobProcess.Options(status.equals("json") && !follower, follower ? null : statusFile,
                !noProgress && !follower, parent != null && parent.ownsProcess(), null);
        JobSpec job;
        try {
            if (!status.equals("text") && !status.equals("json")) throw new BadInputException("--status must be text or json; got " + status);
            JsonNode document = specFile == null ? null : JobSpec.readTree(specFile);
            String source = specFile == null ? null : specFile.toString();
            ObjectNode flags = settings.specKeys(specFile == null && !resumesAPath());
            if (specFile == null && resumesAPath()) {
                // --resume CKPT continues that run: unset settings are the checkpoint's; set ones must agree (JobRun checks)
                Checkpoint.Loaded from = Checkpoint.load(Checkpoint.resolve(Path.of(settings.resume)));
                ObjectNode run = JobSpec.of(from.config()).toJson();
                run.remove(List.of("out", "resume"));
                document = run;
                source = "checkpoint " + from.sidecar();
            }
            // Without --spec every setting counts (resume: never, as before specs existed); with it, only the flags given.
            job = JobSpec.fromJson(document, source, flags);
        } catch (BadInputException e) {
            JobProcess.refused(options, System.out, e);
            throw e;
        }
        if (printSpec) {
            System.out.println(job.toJsonString());
            return Main.EXIT_OK;
        }
        if (job.config().nproc() > 1 && !LaunchEnvironment.current().isDistributed()) { // this process launches the ranks
            return LocalRanks.run(job.config().nproc(), List.of(command.root().commandLine().getParseResult().originalArgs().toArray(String[]::new)),
                    job.config().rankTimeoutSeconds(), command.commandLine().getErr());
        }
        return JobProcess.run(job, options, System.out, command.commandLine().getErr());
    }

    private boolean resumesAPath() {
        return settings.resume != null && !settings.resume.equals(JobSpec.RESUME_AUTO) && !settings.resume.equals(JobSpec.RESUME_NEVER);
    }

    static void checkInput(Checkpoint.Loaded ckpt, DataSplit split) {
        Trainer.checkInput(ckpt, split);
    }
}
