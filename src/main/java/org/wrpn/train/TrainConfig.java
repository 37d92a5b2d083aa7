package org.wrpn.train;

import java.nio.file.Path;
import java.util.Objects;
import org.wrpn.BadInputException;
import org.wrpn.backend.Device;
import org.wrpn.data.DataSource;
import org.wrpn.data.ImageFolder;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.quant.Quantizer;

/**
 * Everything that defines a training run. Validated on construction: a bad value is a
 * BadInputException naming the flag. Made with {@link #builder()} (which starts at the defaults of
 * `wrpn train`) or {@link #toBuilder()}.
 *
 * @param widthMultiplier scales every hidden layer's channels (the --width flag; not the image width)
 * @param layerBits per-layer overrides in the flag's form, "conv2=8/4,..." ("" for none)
 * @param limitTrain use only the first N training images (0 = all); for tests and quick runs
 * @param checkpointEvery also checkpoint every N steps within an epoch (0 = only at epoch ends)
 * @param keepCheckpoints keep the newest N checkpoints, deleting older ones once a newer one is durable (0 = all)
 * @param quantizedWeightDecay weight decay on the masters of quantized layers' weights (weightDecay is the rest's);
 *     null = the default for the layer's weight bits ({@link QuantizedWeightRecipe#defaultFor}), as for the next two
 * @param clipWeights clamp those masters to [-1, 1] after every update (the paper's "hard constraint"); null = default
 * @param quantizedLrScale multiplies the learning rate of those masters; null = default
 * @param quantizedLrFanIn also multiplies it by sqrt(fan-in) of each layer: a ternary master's gradient shrinks
 *     with the layer's fan-in (batch norm divides by the output's spread), its flip threshold does not
 * @param imageSize the side of the square images an image folder is decoded to
 * @param decodeThreads threads decoding an image folder (0 = one per core); results do not depend on it
 * @param nproc local ranks `wrpn train` starts, each a process training a share of every global batch
 *     (--batch per rank); ranks from the environment (torchrun, Slurm) need none
 * @param syncBatchNorm batch norm over the global batch of a data-parallel job, not each rank's batch
 * @param rankTimeoutSeconds how long a rank waits for the others in any collective before the job stops
 */
public record TrainConfig(
        String model,
        double widthMultiplier,
        int weightBits,
        int activationBits,
        String layerBits,
        SaveChoice save,
        Path data,
        int batch,
        int epochs,
        double lr,
        double momentum,
        double weightDecay,
        LrSchedule.Kind schedule,
        double warmupEpochs,
        long seed,
        Path out,
        int checkpointEvery,
        int limitTrain,
        int limitTest,
        Device device,
        int keepCheckpoints,
        Double quantizedWeightDecay,
        Boolean clipWeights,
        Double quantizedLrScale,
        boolean quantizedLrFanIn,
        int imageSize,
        int decodeThreads,
        int nproc,
        boolean syncBatchNorm,
        int rankTimeoutSeconds) {

    public static final String DEFAULT_MODEL = "lenet";
    public static final int DEFAULT_KEEP_CHECKPOINTS = 3;
    public static final int DEFAULT_RANK_TIMEOUT_SECONDS = 30;

    public TrainConfig {
        if (!Models.NAMES.contains(model)) {
            throw new BadInputException("unknown model '" + model + "'; choose one of " + String.join(", ", Models.NAMES));
        }
        double w = widthMultiplier;
        if (!(w > 0) || Double.isInfinite(w) || w > 64) throw new BadInputException("--width must be a positive number up to 64, got " + w);
        if (!Quantizer.isValidWeightBits(weightBits)) throw new BadInputException("--wbits must be one of 1, 2, 4, 8, 32; got " + weightBits);
        if (!Quantizer.isValidActivationBits(activationBits)) throw new BadInputException("--abits must be one of 1, 2, 4, 8, 32; got " + activationBits);
        if (batch <= 0 || batch > 65536) throw new BadInputException("--batch must be between 1 and 65536, got " + batch);
        if (epochs <= 0 || epochs > 100000) throw new BadInputException("--epochs must be positive, got " + epochs);
        if (!(lr > 0) || Double.isInfinite(lr)) throw new BadInputException("--lr must be positive, got " + lr);
        if (!(momentum >= 0 && momentum < 1)) throw new BadInputException("--momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) throw new BadInputException("--weight-decay must be >= 0, got " + weightDecay);
        if (quantizedLrScale != null && (!(quantizedLrScale > 0) || Double.isInfinite(quantizedLrScale))) {
            throw new BadInputException("--quantized-lr-scale must be positive, got " + quantizedLrScale);
        }
        if (quantizedWeightDecay != null && (!(quantizedWeightDecay >= 0) || Double.isInfinite(quantizedWeightDecay))) {
            throw new BadInputException("--quantized-weight-decay must be >= 0, got " + quantizedWeightDecay);
        }
        Objects.requireNonNull(schedule, "schedule");
        if (!(warmupEpochs >= 0) || warmupEpochs > epochs) throw new BadInputException("--warmup must be between 0 and --epochs, got " + warmupEpochs);
        if (checkpointEvery < 0) throw new BadInputException("--checkpoint-every must be >= 0, got " + checkpointEvery);
        if (keepCheckpoints < 0) throw new BadInputException("--keep-checkpoints must be >= 0 (0 keeps all), got " + keepCheckpoints);
        if (limitTrain < 0 || limitTest < 0) throw new BadInputException("--limit-train/--limit-test must be >= 0");
        Objects.requireNonNull(device, "device");
        if (imageSize < 8 || imageSize > 4096) throw new BadInputException("--image-size must be between 8 and 4096, got " + imageSize);
        if (decodeThreads < 0 || decodeThreads > 1024) throw new BadInputException("--decode-threads must be between 0 (one per core) and 1024, got " + decodeThreads);
        if (nproc < 1 || nproc > 1024) throw new BadInputException("--nproc must be between 1 and 1024, got " + nproc);
        if (rankTimeoutSeconds < 1 || rankTimeoutSeconds > 86400) {
            throw new BadInputException("--rank-timeout must be between 1 and 86400 seconds, got " + rankTimeoutSeconds);
        }
        layerBits = layerBits == null ? "" : layerBits;
        save = save == null ? SaveChoice.AUTO : save;
        precisionPolicy(weightBits, activationBits, layerBits); // validates overrides early
    }

    private static PrecisionPolicy precisionPolicy(int w, int a, String layerBits) {
        return new PrecisionPolicy(w, a, PrecisionPolicy.parseOverrides(layerBits));
    }

    /** How SGD treats the masters of weights quantized to weightBits: the settings given, defaults for the rest. */
    public QuantizedWeightRecipe quantizedWeightRecipe(int weightBits) {
        QuantizedWeightRecipe d = QuantizedWeightRecipe.defaultFor(weightBits, weightDecay);
        return new QuantizedWeightRecipe(quantizedWeightDecay != null ? quantizedWeightDecay : d.weightDecay(),
                clipWeights != null ? clipWeights : d.clip(), quantizedLrScale != null ? quantizedLrScale : d.lrScale(),
                quantizedLrFanIn);
    }

    public PrecisionPolicy precisionPolicy() {
        return precisionPolicy(weightBits, activationBits, layerBits);
    }

    /** What layers keep for backward, with --save auto resolved ({@link SaveChoice#resolve}). */
    public SavePolicy savePolicy() {
        return save.resolve(precisionPolicy());
    }

    /** The defaults of `wrpn train`: lenet, width 2, w4/a4, one epoch on Fashion-MNIST. */
    public static TrainConfig defaults() {
        return builder().build();
    }

    /** A builder at the defaults. */
    public static Builder builder() {
        return new Builder();
    }

    /** A builder at this config's values. */
    public Builder toBuilder() {
        return new Builder().model(model).widthMultiplier(widthMultiplier).weightBits(weightBits).activationBits(activationBits)
                .layerBits(layerBits).save(save).data(data).batch(batch).epochs(epochs).lr(lr).momentum(momentum)
                .weightDecay(weightDecay).schedule(schedule).warmupEpochs(warmupEpochs).seed(seed).out(out)
                .checkpointEvery(checkpointEvery).limitTrain(limitTrain).limitTest(limitTest).device(device).keepCheckpoints(keepCheckpoints)
                .quantizedWeightDecay(quantizedWeightDecay).clipWeights(clipWeights).quantizedLrScale(quantizedLrScale)
                .quantizedLrFanIn(quantizedLrFanIn)
                .imageSize(imageSize).decodeThreads(decodeThreads).nproc(nproc).syncBatchNorm(syncBatchNorm)
                .rankTimeoutSeconds(rankTimeoutSeconds);
    }

    /** Sets any of the components; {@link #build()} validates them together. */
    public static final class Builder {
        private String model = DEFAULT_MODEL;
        private double widthMultiplier = 2.0;
        private int weightBits = 4;
        private int activationBits = 4;
        private String layerBits = "";
        private SaveChoice save = SaveChoice.AUTO;
        private Path data = DataSource.DEFAULT_DIR;
        private int batch = 64;
        private int epochs = 1;
        private double lr = 0.05;
        private double momentum = 0.9;
        private double weightDecay = 5e-4;
        private LrSchedule.Kind schedule = LrSchedule.Kind.COSINE;
        private double warmupEpochs = 0.1;
        private long seed = 1;
        private Path out = Path.of("runs/latest");
        private int checkpointEvery;
        private int limitTrain;
        private int limitTest;
        private Device device = Device.AUTO;
        private int keepCheckpoints = DEFAULT_KEEP_CHECKPOINTS;
        private Double quantizedWeightDecay;
        private Boolean clipWeights;
        private Double quantizedLrScale;
        private boolean quantizedLrFanIn;
        private int imageSize = ImageFolder.DEFAULT_SIZE;
        private int decodeThreads;
        private int nproc = 1;
        private boolean syncBatchNorm;
        private int rankTimeoutSeconds = DEFAULT_RANK_TIMEOUT_SECONDS;

        private Builder() {}

        public Builder model(String v) { model = v; return this; }
        public Builder widthMultiplier(double v) { widthMultiplier = v; return this; }
        public Builder weightBits(int v) { weightBits = v; return this; }
        public Builder activationBits(int v) { activationBits = v; return this; }
        public Builder layerBits(String v) { layerBits = v; return this; }
        public Builder save(SaveChoice v) { save = v; return this; }
        public Builder data(Path v) { data = v; return this; }
        public Builder batch(int v) { batch = v; return this; }
        public Builder epochs(int v) { epochs = v; return this; }
        public Builder lr(double v) { lr = v; return this; }
        public Builder momentum(double v) { momentum = v; return this; }
        public Builder weightDecay(double v) { weightDecay = v; return this; }
        public Builder schedule(LrSchedule.Kind v) { schedule = v; return this; }
        public Builder warmupEpochs(double v) { warmupEpochs = v; return this; }
        public Builder seed(long v) { seed = v; return this; }
        public Builder out(Path v) { out = v; return this; }
        public Builder checkpointEvery(int v) { checkpointEvery = v; return this; }
        public Builder limitTrain(int v) { limitTrain = v; return this; }
        public Builder limitTest(int v) { limitTest = v; return this; }
        public Builder device(Device v) { device = v; return this; }
        public Builder keepCheckpoints(int v) { keepCheckpoints = v; return this; }
        /** null: the default for the layer's weight bits. */
        public Builder quantizedWeightDecay(Double v) { quantizedWeightDecay = v; return this; }
        /** null: the default for the layer's weight bits. */
        public Builder clipWeights(Boolean v) { clipWeights = v; return this; }
        /** null: the default for the layer's weight bits. */
        public Builder quantizedLrScale(Double v) { quantizedLrScale = v; return this; }
        public Builder quantizedLrFanIn(boolean v) { quantizedLrFanIn = v; return this; }
        public Builder imageSize(int v) { imageSize = v; return this; }
        public Builder decodeThreads(int v) { decodeThreads = v; return this; }
        public Builder nproc(int v) { nproc = v; return this; }
        public Builder syncBatchNorm(boolean v) { syncBatchNorm = v; return this; }
        public Builder rankTimeoutSeconds(int v) { rankTimeoutSeconds = v; return this; }

        public TrainConfig build() {
            return new TrainConfig(model, widthMultiplier, weightBits, activationBits, layerBits, save, data, batch, epochs, lr,
                    momentum, weightDecay, schedule, warmupEpochs, seed, out, checkpointEvery, limitTrain, limitTest, device,
                    keepCheckpoints, quantizedWeightDecay, clipWeights, quantizedLrScale, quantizedLrFanIn, imageSize,
                    decodeThreads, nproc, syncBatchNorm, rankTimeoutSeconds);
        }
    }
}
