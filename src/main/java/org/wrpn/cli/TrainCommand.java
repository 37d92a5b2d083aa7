package org.wrpn.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "train", mixinStandardHelpOptions = true,
        description = "Train a WRPN network (defaults: lenet, width 2, w4/a4, 1 epoch on Fashion-MNIST).")
public final class TrainCommand implements Callable<Integer> {
    private static final Logger LOG = LogManager.getLogger(TrainCommand.class);
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

    @Option(names = "--resume", arity = "0..1", fallbackValue = "",
            description = "resume from a checkpoint (file or directory; without a value: the newest in --out)")
    String resume;

    @Option(names = "--no-progress", description = "no progress bar")
    boolean noProgress;

    @Override
    public Integer call() throws Exception {
        TrainConfig config = new TrainConfig(model, width, wbits, abits, layerBits, save, data, batch, epochs, lr, momentum,
                weightDecay, schedule, warmup, seed, out, checkpointEvery, limitTrain, limitTest, device);
        Checkpoint.Loaded resumeFrom = null;
        if (resume != null) {
            Path where = resume.isEmpty() ? out : Path.of(resume);
            resumeFrom = Checkpoint.load(Checkpoint.resolve(where));
            // The run continues as it was configured; only the output directory follows the command line.
            config = resumeFrom.config().withOut(out);
        }
        DataSplit split = DataSource.open(config.data());
        if (resumeFrom != null) checkInput(resumeFrom, split);
        try (Backend backend = BackendSelector.select(config.device());
                Trainer trainer = new Trainer(config, backend, split, resumeFrom == null ? null : resumeFrom.normalization())) {
            if (noProgress) trainer.quiet();
            Trainer.Result r = trainer.run(resumeFrom);
            Trainer.EpochResult last = r.last();
            if (last != null) {
                System.out.printf(Locale.ROOT, "test accuracy %.4f (loss %.4f) after %d epoch(s); %.0f img/s; checkpoint %s%n",
                        last.testAccuracy(), last.testLoss(), last.epoch(), last.imagesPerSecond(), r.lastCheckpoint());
            } else {
                System.out.println("nothing left to train; checkpoint " + r.lastCheckpoint());
            }
        }
        return Main.EXIT_OK;
    }

    static void checkInput(Checkpoint.Loaded ckpt, DataSplit split) {
        var t = split.train();
        if (t.height() != ckpt.height() || t.width() != ckpt.width() || t.channels() != ckpt.channels()) {
            throw new org.wrpn.BadInputException(String.format(Locale.ROOT,
                    "checkpoint %s expects %dx%dx%d images, the data has %dx%dx%d", ckpt.sidecar(), ckpt.height(),
                    ckpt.width(), ckpt.channels(), t.height(), t.width(), t.channels()));
        }
        if (t.classes() != ckpt.classes()) {
            throw new org.wrpn.BadInputException("checkpoint " + ckpt.sidecar() + " has " + ckpt.classes()
                    + " classes, the data has " + t.classes());
        }
        LOG.debug("checkpoint input matches the data");
    }
}
