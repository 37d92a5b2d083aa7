package org.wrpn.train;

import java.nio.file.Path;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.quant.Quantizer;

/**
 * Everything that defines a training run. Validated on construction: a bad value is a
 * BadInputException naming the flag.
 *
 * @param limitTrain use only the first N training images (0 = all); for tests and quick runs
 * @param checkpointEvery also checkpoint every N steps within an epoch (0 = only at epoch ends)
 */
public record TrainConfig(
        String model,
        double width,
        int weightBits,
        int activationBits,
        String layerBits,
        String save,
        Path data,
        int batch,
        int epochs,
        double lr,
        double momentum,
        double weightDecay,
        String schedule,
        double warmupEpochs,
        long seed,
        Path out,
        int checkpointEvery,
        int limitTrain,
        int limitTest,
        String device) {

    public static final String DEFAULT_MODEL = "lenet";

    public TrainConfig {
        if (!Models.NAMES.contains(model)) {
            throw new BadInputException("unknown model '" + model + "'; choose one of " + String.join(", ", Models.NAMES));
        }
        if (!(width > 0) || Double.isInfinite(width) || width > 64) throw new BadInputException("--width must be a positive number up to 64, got " + width);
        if (!Quantizer.isValidWeightBits(weightBits)) throw new BadInputException("--wbits must be one of 1, 2, 4, 8, 32; got " + weightBits);
        if (!Quantizer.isValidActivationBits(activationBits)) throw new BadInputException("--abits must be one of 1, 2, 4, 8, 32; got " + activationBits);
        if (batch <= 0 || batch > 65536) throw new BadInputException("--batch must be between 1 and 65536, got " + batch);
        if (epochs <= 0 || epochs > 100000) throw new BadInputException("--epochs must be positive, got " + epochs);
        if (!(lr > 0) || Double.isInfinite(lr)) throw new BadInputException("--lr must be positive, got " + lr);
        if (!(momentum >= 0 && momentum < 1)) throw new BadInputException("--momentum must be in [0, 1), got " + momentum);
        if (!(weightDecay >= 0) || Double.isInfinite(weightDecay)) throw new BadInputException("--weight-decay must be >= 0, got " + weightDecay);
        if (!schedule.equals("cosine") && !schedule.equals("step") && !schedule.equals("constant")) {
            throw new BadInputException("--schedule must be cosine, step or constant; got " + schedule);
        }
        if (!(warmupEpochs >= 0) || warmupEpochs > epochs) throw new BadInputException("--warmup must be between 0 and --epochs, got " + warmupEpochs);
        if (checkpointEvery < 0) throw new BadInputException("--checkpoint-every must be >= 0, got " + checkpointEvery);
        if (limitTrain < 0 || limitTest < 0) throw new BadInputException("--limit-train/--limit-test must be >= 0");
        if (!device.equals("auto") && !device.equals("cpu") && !device.equals("cuda")) {
            throw new BadInputException("--device must be auto, cpu or cuda; got " + device);
        }
        layerBits = layerBits == null ? "" : layerBits;
        save = save == null ? "auto" : save;
        if (!save.equals("auto")) SavePolicy.parse(save);
        precisionPolicy(weightBits, activationBits, layerBits); // validates overrides early
    }

    private static PrecisionPolicy precisionPolicy(int w, int a, String layerBits) {
        Map<String, LayerPrecision> overrides = PrecisionPolicy.parseOverrides(layerBits);
        return new PrecisionPolicy(w, a, overrides);
    }

    /** --save auto: packed when activations are quantized, fp32 otherwise. */
    public SavePolicy savePolicy() {
        if (!save.equals("auto")) return SavePolicy.parse(save);
        return activationBits == Quantizer.FULL_PRECISION && PrecisionPolicy.parseOverrides(layerBits).isEmpty()
                ? SavePolicy.FP32 : SavePolicy.PACKED;
    }

    public PrecisionPolicy precisionPolicy() {
        return precisionPolicy(weightBits, activationBits, layerBits);
    }

    /** The defaults of `wrpn train`: lenet, width 2, w4/a4, one epoch on Fashion-MNIST. */
    public static TrainConfig defaults() {
        return new TrainConfig(DEFAULT_MODEL, 2.0, 4, 4, "", "auto", org.wrpn.data.DataSource.DEFAULT_DIR, 64, 1, 0.05, 0.9, 5e-4,
                "cosine", 0.1, 1, Path.of("runs/latest"), 0, 0, 0, "auto");
    }

    public TrainConfig withOut(Path o) {
        return new TrainConfig(model, width, weightBits, activationBits, layerBits, save, data, batch, epochs, lr, momentum,
                weightDecay, schedule, warmupEpochs, seed, o, checkpointEvery, limitTrain, limitTest, device);
    }

    public TrainConfig withSave(String s) {
        return new TrainConfig(model, width, weightBits, activationBits, layerBits, s, data, batch, epochs, lr, momentum,
                weightDecay, schedule, warmupEpochs, seed, out, checkpointEvery, limitTrain, limitTest, device);
    }

    public TrainConfig withEpochs(int e) {
        return new TrainConfig(model, width, weightBits, activationBits, layerBits, save, data, batch, e, lr, momentum,
                weightDecay, schedule, Math.min(warmupEpochs, e), seed, out, checkpointEvery, limitTrain, limitTest, device);
    }
}
