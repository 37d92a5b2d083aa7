package org.wrpn.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.data.DataSplit;
import org.wrpn.job.JobProcess;
import org.wrpn.job.JobSpec;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParentCommand;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = {"Train a WRPN network (defaults: lenet, width 2, w4/a4, 1 epoch on Fashion-MNIST).",
            "Exit codes: 0 done, 1 internal error, 2 bad input, 3 out of memory (with the largest batch that fits),",
            "4 numerical failure, 130/143 stopped by SIGINT/SIGTERM after a checkpoint."})
public final class TrainCommand implements Callable<Integer> {
    private static final TrainConfig D = TrainConfig.defaults();

    @Option(names = "--model", description = "lenet, resnet20, resnet32, resnet56, resnet18 (default: ${DEFAULT-VALUE})")
    String model = D.model();

    @Option(names = "--width", description = "width multiplier on every hidden layer (default: ${DEFAULT-VALUE})")
    double width = D.width();

    @Option(names = "--wbits", description = "weight bits: 1, 2, 4, 8 or 32 (default: ${DEFAULT-VALUE})")
    int wbits = D.weightBits();

    @Option(names = "--abits", description = "activation bits: 1, 2, 4, 8 or 32 (default: ${DEFAULT-VALUE})")
    int abits = D.activationBits();

    @Option(names = "--layer-bits", paramLabel = "LAYER=W/A,...",
            description = "per-layer overrides, e.g. conv1=8/32,fc2=8/8 (first conv and last linear default to 32/32)")
    String layerBits = "";

    @Option(names = "--save", description = "what layers keep for backward: fp32, packed, or auto = packed when activations are quantized (default: ${DEFAULT-VALUE})")
    String save = D.save();

    @Option(names = "--data", description = "data directory: Fashion-MNIST/MNIST IDX or CIFAR-10 binary (default: ${DEFAULT-VALUE})")
    Path data = D.data();

    @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})")
    int batch = D.batch();

    @Option(names = "--epochs", description = "epochs (default: ${DEFAULT-VALUE})")
    int epochs = D.epochs();

    @Option(names = "--lr", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr = D.lr();

    @Option(names = "--momentum", description = "SGD momentum (default: ${DEFAULT-VALUE})")
    double momentum = D.momentum();

    @Option(names = "--weight-decay", description = "weight decay, not applied to BN parameters or biases (default: ${DEFAULT-VALUE})")
    double weightDecay = D.weightDecay();

    @Option(names = "--schedule", description = "cosine, step or constant (default: ${DEFAULT-VALUE})")
    String schedule = D.schedule();

    @Option(names = "--warmup", description = "warm-up length in epochs (default: ${DEFAULT-VALUE})")
    double warmup = D.warmupEpochs();

    @Option(names = "--seed", description = "random seed; a CPU run is reproducible bit for bit (default: ${DEFAULT-VALUE})")
    long seed = D.seed();

    @Option(names = "--out", description = "output directory for metrics.jsonl and checkpoints/ (default: ${DEFAULT-VALUE})")
    Path out = D.out();

    @Option(names = "--checkpoint-every", description = "also checkpoint every N steps (default: only at epoch ends)")
    int checkpointEvery = 0;

    @Option(names = "--limit-train", description = "train on the first N images only (0 = all)")
    int limitTrain = 0;

    @Option(names = "--limit-test", description = "evaluate on the first N test images only (0 = all)")
    int limitTest = 0;

    @Option(names = "--device", description = "auto, cpu or cuda (default: ${DEFAULT-VALUE})")
    String device = D.device();

    @Option(names = "--checkpoint-dir", description = "where checkpoints are written and resumed from (default: OUT/checkpoints)")
    Path checkpointDir;

    @Option(names = "--resume", arity = "0..1", fallbackValue = JobSpec.RESUME_AUTO, paramLabel = "auto|never|CKPT|DIR",
            description = "auto (alone: the same): continue from the newest good checkpoint of this run, if any; never: start over;"
                    + " a checkpoint or run directory: continue that run. Default: never, or auto with --spec")
    String resume;

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
        JobProcess.Options options = new JobProcess.Options(status.equals("json"), statusFile, !noProgress,
                parent != null && parent.ownsProcess(), null);
        JobSpec job;
        try {
            if (!status.equals("text") && !status.equals("json")) throw new BadInputException("--status must be text or json; got " + status);
            JsonNode document = specFile == null ? null : JobSpec.readTree(specFile);
            job = JobSpec.fromJson(document, specFile == null ? null : specFile.toString(), flags());
        } catch (BadInputException e) {
            JobProcess.refused(options, System.out, e);
            throw e;
        }
        if (printSpec) {
            System.out.println(job.toJsonString());
            return Main.EXIT_OK;
        }
        return JobProcess.run(job, options, System.out, command.commandLine().getErr());
    }

    /**
     * The spec keys the flags set: all of them without --spec (resume defaulting to never, as before
     * specs existed), only those given on the command line with it.
     */
    private ObjectNode flags() {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ParseResult given = command.commandLine().getParseResult();
        for (OptionSpec opt : command.options()) {
            String key = JobSpec.keyOfFlag(opt.longestName());
            if (key == null) continue;
            boolean matched = given != null && given.hasMatchedOption(opt);
            if (specFile != null && !matched) continue;
            Object v = opt.getValue();
            if (key.equals("resume") && !matched) v = JobSpec.RESUME_NEVER;
            if (v == null) continue;
            switch (v) {
                case Integer i -> o.put(key, i);
                case Long l -> o.put(key, l);
                case Double d -> o.put(key, d);
                default -> o.put(key, v.toString());
            }
        }
        return o;
    }

    static void checkInput(Checkpoint.Loaded ckpt, DataSplit split) {
        Trainer.checkInput(ckpt, split);
    }
}
