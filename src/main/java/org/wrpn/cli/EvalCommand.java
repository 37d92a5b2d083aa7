package org.wrpn.cli;

import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.data.ImageSet;
import org.wrpn.export.PackedModel;
import org.wrpn.nn.Network;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.Evaluator;
import org.wrpn.train.TrainConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "eval", mixinStandardHelpOptions = true, description = "Report the test accuracy of a checkpoint.")
public final class EvalCommand implements Callable<Integer> {
    @Option(names = "--checkpoint", required = true,
            description = "checkpoint sidecar (.json), weights (.safetensors), a run directory, or a packed export (wrpn export --format packed)")
    Path checkpoint;

    @Option(names = "--data", description = "data directory (default: the one the checkpoint was trained on)")
    Path data;

    @Option(names = "--batch", description = "evaluation batch size (default: ${DEFAULT-VALUE})")
    int batch = 500;

    @Option(names = "--device", description = "auto, cpu or cuda (default: ${DEFAULT-VALUE})")
    String device = "auto";

    @Override
    public Integer call() {
        if (batch <= 0) throw new org.wrpn.BadInputException("--batch must be positive, got " + batch);
        PackedModel packed = PackedModel.isPacked(checkpoint) ? PackedModel.read(checkpoint) : null;
        Checkpoint.Loaded ckpt = packed != null ? packed.checkpoint() : Checkpoint.load(Checkpoint.resolve(checkpoint));
        TrainConfig config = ckpt.config();
        DataSplit split = DataSource.open(data != null ? data : config.data(), config.imageSize(), config.decodeThreads());
        TrainCommand.checkInput(ckpt, split);
        ImageSet test = split.test();
        try (Backend backend = BackendSelector.select(device);
                Network net = ckpt.network()) { // from the sidecar's architecture when it has one
            net.initialize(backend, config.savePolicy(), config.seed());
            if (packed != null) packed.apply(net);
            else Checkpoint.apply(ckpt, net, false);
            Evaluator.Result r = Evaluator.evaluate(net, test, ckpt.normalization(), Math.min(batch, test.count()));
            System.out.printf(Locale.ROOT, "test accuracy %.4f loss %.4f on %d images (%s, %s width %s w%d/a%d)%n",
                    r.accuracy(), r.loss(), r.count(), ckpt.sidecar().getFileName(), config.model(),
                    config.widthMultiplier(), config.weightBits(), config.activationBits());
        }
        return Main.EXIT_OK;
    }
}
