package org.wrpn.cli;

import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.function.Predicate;
import org.wrpn.job.JobSpec;
import org.wrpn.train.QuantizedWeightRecipe;
import org.wrpn.train.TrainConfig;
import picocli.CommandLine.ITypeConverter;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParseResult;
import picocli.CommandLine.Spec;
import picocli.CommandLine.TypeConversionException;

/**
 * The training settings as flags, each declared once: one option per job-spec key
 * (docs/job-spec.schema.json, {@link JobSpec#keyOfFlag}), defaulting to {@link TrainConfig#defaults()}.
 * `wrpn train` takes them all; `wrpn sweep` and `wrpn plan` take some, through {@link #tailor}.
 * {@link #specKeys} turns the flags into job-spec keys. Options are declared in the order sweep lists them.
 */
public final class TrainingOptions {
    private static final TrainConfig D = TrainConfig.defaults();

    @Option(names = "--model", description = "lenet, resnet20, resnet32, resnet56, resnet18, alexnet, resnet34 (default: ${DEFAULT-VALUE})")
    String model = D.model();

    @Option(names = "--epochs", description = "epochs (default: ${DEFAULT-VALUE})")
    int epochs = D.epochs();

    @Option(names = "--out", description = "output directory for metrics.jsonl and checkpoints/ (default: ${DEFAULT-VALUE})")
    Path out = D.out();

    @Option(names = "--save", description = "what layers keep for backward: fp32, packed, or auto = packed when activations are quantized (default: ${DEFAULT-VALUE})")
    String save = D.save().flag();

    @Option(names = "--layer-bits", paramLabel = "LAYER=W/A,...",
            description = "per-layer overrides, e.g. conv1=8/32,fc2=8/8 (first conv and last linear default to 32/32)")
    String layerBits = D.layerBits();

    @Option(names = "--data", description = "data directory: Fashion-MNIST/MNIST IDX, CIFAR-10 binary, or an image folder (train/CLASS/*.jpg, val/CLASS/*.jpg) (default: ${DEFAULT-VALUE})")
    Path data = D.data();

    @Option(names = "--batch", description = "batch size (default: ${DEFAULT-VALUE})")
    int batch = D.batch();

    @Option(names = "--lr", description = "peak learning rate (default: ${DEFAULT-VALUE})")
    double lr = D.lr();

    @Option(names = "--momentum", description = "SGD momentum (default: ${DEFAULT-VALUE})")
    double momentum = D.momentum();

    @Option(names = "--weight-decay",
            description = "weight decay on full-precision layers' weights, not on BN parameters or biases (default: ${DEFAULT-VALUE})")
    double weightDecay = D.weightDecay();

    @Option(names = "--quantized-weight-decay", paramLabel = "auto|X", converter = AutoNumber.class,
            description = "weight decay on the weights of quantized layers (default: auto = 0 for 2-bit weights, else --weight-decay)")
    Double quantizedWeightDecay = D.quantizedWeightDecay();

    @Option(names = "--clip-weights", arity = "1", paramLabel = "auto|true|false", converter = AutoBoolean.class,
            description = "clamp the fp32 masters of quantized layers' weights to [-1, 1] after every update (default: auto = true for 2-bit weights only)")
    Boolean clipWeights = D.clipWeights();

    @Option(names = "--quantized-lr-scale", paramLabel = "auto|X", converter = AutoNumber.class,
            description = "multiplies the learning rate of quantized layers' weights (default: auto = 64 for 2-bit weights, else 1)")
    Double quantizedLrScale = D.quantizedLrScale();

    @Option(names = "--quantized-lr-fan-in", arity = "1", paramLabel = "true|false",
            description = "also multiply each quantized layer's learning rate by the square root of its fan-in (default: ${DEFAULT-VALUE})")
    boolean quantizedLrFanIn = D.quantizedLrFanIn();

    @Option(names = "--schedule", description = "cosine, step or constant (default: ${DEFAULT-VALUE})")
    String schedule = D.schedule().flag();

    @Option(names = "--warmup", description = "warm-up length in epochs (default: ${DEFAULT-VALUE})")
    double warmup = D.warmupEpochs();

    @Option(names = "--checkpoint-every", description = "also checkpoint every N steps (default: only at epoch ends)")
    int checkpointEvery = D.checkpointEvery();

    @Option(names = "--keep-checkpoints", paramLabel = "N",
            description = "keep the newest N checkpoints (and the one resumed from); older ones are deleted once a newer one is durable; 0 keeps all (default: ${DEFAULT-VALUE})")
    int keepCheckpoints = D.keepCheckpoints();

    @Option(names = "--limit-train", description = "train on the first N images only (0 = all)")
    int limitTrain = D.limitTrain();

    @Option(names = "--limit-test", description = "evaluate on the first N test images only (0 = all)")
    int limitTest = D.limitTest();

    @Option(names = "--image-size", paramLabel = "PX",
            description = "side of the square images an image folder is decoded to (default: ${DEFAULT-VALUE})")
    int imageSize = D.imageSize();

    @Option(names = "--decode-threads", paramLabel = "N",
            description = "threads decoding an image folder; 0 = one per core (default: ${DEFAULT-VALUE}); results do not depend on it")
    int decodeThreads = D.decodeThreads();

    @Option(names = "--nproc", paramLabel = "N",
            description = "start N local ranks, each training its share of every global batch of --batch x ranks images, gradients summed over them (default: ${DEFAULT-VALUE}; ranks from torchrun or srun need none)")
    int nproc = D.nproc();

    @Option(names = "--sync-batch-norm", arity = "0..1", fallbackValue = "true", paramLabel = "true|false",
            description = "batch norm over the global batch of a data-parallel job, not each rank's batch (default: ${DEFAULT-VALUE})")
    boolean syncBatchNorm = D.syncBatchNorm();

    @Option(names = "--rank-timeout", paramLabel = "SECONDS",
            description = "how long a rank waits for the others before the job stops with exit code 7 (default: ${DEFAULT-VALUE})")
    int rankTimeout = D.rankTimeoutSeconds();

    @Option(names = "--device", description = "auto, cpu or cuda (default: ${DEFAULT-VALUE})")
    String device = D.device().flag();

    @Option(names = "--width", paramLabel = "<width>", description = "width multiplier on every hidden layer (default: ${DEFAULT-VALUE})")
    double widthMultiplier = D.widthMultiplier();

    @Option(names = "--wbits", description = "weight bits: 1, 2, 4, 8 or 32 (default: ${DEFAULT-VALUE})")
    int wbits = D.weightBits();

    @Option(names = "--abits", description = "activation bits: 1, 2, 4, 8 or 32 (default: ${DEFAULT-VALUE})")
    int abits = D.activationBits();

    @Option(names = "--seed", description = "random seed; a CPU run is reproducible bit for bit (default: ${DEFAULT-VALUE})")
    long seed = D.seed();

    @Option(names = "--checkpoint-dir", description = "where checkpoints are written and resumed from (default: OUT/checkpoints)")
    Path checkpointDir;

    @Option(names = "--resume", arity = "0..1", fallbackValue = JobSpec.RESUME_AUTO, paramLabel = "auto|never|CKPT|DIR",
            description = "auto (alone: the same): continue from the newest good checkpoint of this run, if any; never: start over;"
                    + " a checkpoint or run directory: continue that run. Default: never, or auto with --spec")
    String resume;

    @Option(names = "--overwrite",
            description = "start a new run where another run's checkpoints or metrics are (refused otherwise, unless --resume applies);"
                    + " they are deleted once the new run's first checkpoint is durable")
    boolean overwrite;

    /** A number, or "auto" (null): the default for the layer's weight bits. */
    static final class AutoNumber implements ITypeConverter<Double> {
        @Override
        public Double convert(String v) {
            if (v.equals(QuantizedWeightRecipe.AUTO)) return null;
            try {
                return Double.valueOf(v);
            } catch (NumberFormatException e) {
                throw new TypeConversionException("'" + v + "' is not a number or auto");
            }
        }
    }

    /** true, false, or "auto" (null): the default for the layer's weight bits. */
    static final class AutoBoolean implements ITypeConverter<Boolean> {
        @Override
        public Boolean convert(String v) {
            if (v.equals(QuantizedWeightRecipe.AUTO)) return null;
            return switch (v) {
                case "true" -> true;
                case "false" -> false;
                default -> throw new TypeConversionException("'" + v + "' is not true, false or auto");
            };
        }
    }

    /** The command these options are mixed into. */
    @Spec(Spec.Target.MIXEE)
    CommandSpec mixee;

    /**
     * The job-spec keys the flags set: only those given on the command line, or with {@code all}
     * every setting the command has, an unset one at its default (resume at never: flags alone start over).
     */
    ObjectNode specKeys(boolean all) {
        ObjectNode o = JsonNodeFactory.instance.objectNode();
        ParseResult given = mixee.commandLine().getParseResult();
        for (OptionSpec opt : mixee.options()) {
            String key = JobSpec.keyOfFlag(opt.longestName());
            if (key == null) continue;
            boolean matched = given != null && given.hasMatchedOption(opt.longestName());
            if (!all && !matched) continue;
            Object v = key.equals("resume") && !matched ? JobSpec.RESUME_NEVER : opt.getValue();
            switch (v) {
                case null -> {
                    if (takesAuto(opt)) o.put(key, QuantizedWeightRecipe.AUTO);
                }
                case Integer i -> o.put(key, i);
                case Boolean b -> o.put(key, b);
                case Long l -> o.put(key, l);
                case Double d -> o.put(key, d);
                default -> o.put(key, v.toString());
            }
        }
        return o;
    }

    private static boolean takesAuto(OptionSpec opt) {
        for (ITypeConverter<?> c : opt.converters()) {
            if (c instanceof AutoNumber || c instanceof AutoBoolean) return true;
        }
        return false;
    }

    /** What a setting's flag means in one command: its description there and, if not null, its default. */
    record Meaning(String flag, String description, String defaultValue) {}

    /**
     * For a command's model transformer: drops the settings whose job-spec keys {@code keep} refuses
     * (the command's own options stay) and gives flags the command's meanings; the order is kept.
     */
    static CommandSpec tailor(CommandSpec spec, Predicate<String> keep, Meaning... meanings) {
        List<OptionSpec> options = new ArrayList<>(spec.options());
        options.forEach(spec::remove);
        for (OptionSpec o : options) {
            String key = JobSpec.keyOfFlag(o.longestName());
            if (key != null && !keep.test(key)) continue;
            for (Meaning m : meanings) {
                if (!m.flag().equals(o.longestName())) continue;
                OptionSpec.Builder b = o.toBuilder().description(m.description());
                o = (m.defaultValue() == null ? b : b.defaultValue(m.defaultValue())).build();
            }
            spec.addOption(o);
        }
        return spec;
    }
}
