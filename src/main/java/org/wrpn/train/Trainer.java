package org.wrpn.train;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;
import org.wrpn.backend.Backend;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.Bytes;
import org.wrpn.data.BatchLoader;
import org.wrpn.data.DataSplit;
import org.wrpn.data.Dataset;
import org.wrpn.data.Normalization;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Runs a training job: SGD with momentum on the fp32 master weights, an LR schedule driven by the
 * global step, evaluation and a checkpoint after every epoch. Everything random is a function of the
 * seed, the epoch and the position, so a run resumed from a checkpoint ends where an uninterrupted
 * run ends, bit for bit on the CPU.
 */
public final class Trainer implements AutoCloseable {
    private static final Logger LOG = LogManager.getLogger(Trainer.class);
    private static final int METRICS_EVERY = 50;

    public record EpochResult(int epoch, double trainLoss, double trainAccuracy, double testLoss, double testAccuracy,
            double seconds, double imagesPerSecond) {}

    /** peakBytes: the memory ledger's high-water mark; savedBytes: what one forward pass kept for backward. */
    public record Result(List<EpochResult> epochs, Path lastCheckpoint, long peakBytes, long savedBytes) {
        public EpochResult last() {
            return epochs.isEmpty() ? null : epochs.get(epochs.size() - 1);
        }
    }

    private final TrainConfig config;
    private final Backend backend;
    private final Dataset train;
    private final Dataset test;
    private final Normalization norm;
    private final DataSplit split;
    private final Network net;
    private boolean showProgress = true;
    private volatile boolean stopRequested;

    public Trainer(TrainConfig config, Backend backend, DataSplit split) {
        this(config, backend, split, null);
    }

    /** With a fixed normalization (from a checkpoint) instead of fitting one on the training set. */
    public Trainer(TrainConfig config, Backend backend, DataSplit split, Normalization normalization) {
        this.config = config;
        this.backend = backend;
        this.split = split;
        this.train = config.limitTrain() > 0 && config.limitTrain() < split.train().count()
                ? split.train().slice(0, config.limitTrain()) : split.train();
        this.test = config.limitTest() > 0 && config.limitTest() < split.test().count()
                ? split.test().slice(0, config.limitTest()) : split.test();
        if (train.count() < config.batch()) {
            throw new BadInputException("--batch " + config.batch() + " is larger than the " + train.count() + " training images");
        }
        this.norm = normalization != null ? normalization : Normalization.fit(train);
        this.net = Models.build(config.model(), config.width(), config.precisionPolicy(), train.height(), train.width(),
                train.channels(), train.classes());
        net.initialize(backend, config.savePolicy(), config.seed());
    }

    public Network network() {
        return net;
    }

    public Normalization normalization() {
        return norm;
    }

    public Trainer quiet() {
        showProgress = false;
        return this;
    }

    /** Ask the run to stop after the current step (it writes a checkpoint first). */
    public void requestStop() {
        stopRequested = true;
    }

    public Result run() {
        return run(null);
    }

    /** Trains from scratch, or from a loaded checkpoint when resume is not null. */
    public Result run(Checkpoint.Loaded resume) {
        int batchesPerEpoch = train.count() / config.batch();
        long totalSteps = (long) batchesPerEpoch * config.epochs();
        LrSchedule schedule = new LrSchedule(config.schedule(), config.lr(),
                Math.round(config.warmupEpochs() * batchesPerEpoch), totalSteps);
        Path out = config.out();
        Path ckptDir = out.resolve("checkpoints");
        int startEpoch = 0;
        int startStep = 0;
        long globalStep = 0;
        if (resume != null) {
            Checkpoint.apply(resume, net, true);
            startEpoch = resume.progress().epoch();
            startStep = resume.progress().stepInEpoch();
            globalStep = resume.progress().globalStep();
            LOG.info("resumed from {} at epoch {} step {} (global step {})", resume.sidecar(), startEpoch + 1, startStep, globalStep);
        }
        LOG.info("model {} width {} ({} parameters), {}", config.model(), config.width(), net.parameterCount(),
                Models.describePrecision(net));
        LOG.info("backend {}; {} training and {} test images of {}x{}x{}; batch {}, {} steps per epoch",
                backend.describe(), train.count(), test.count(), train.height(), train.width(), train.channels(),
                config.batch(), batchesPerEpoch);

        List<Parameter> params = net.trainableParameters();
        List<EpochResult> results = new ArrayList<>();
        Path lastCheckpoint = null;
        Shape inShape = net.inputShape(config.batch());
        MemoryLedger ledger = net.ledger();
        Tensor images = ledger.allocate(Category.INPUT, "images", DType.F32, inShape);
        Tensor labels = ledger.allocate(Category.INPUT, "labels", DType.I32, Shape.of(config.batch()));
        ledger.resetPeaks();
        backend.resetPeak();
        boolean memoryLogged = false;
        try (MetricsLog metrics = new MetricsLog(out.resolve("metrics.jsonl"))) {
            for (int epoch = startEpoch; epoch < config.epochs(); epoch++) {
                net.prepare(config.batch());
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                long t0 = System.nanoTime();
                ProgressBar bar = new ProgressBar(System.err, String.format("epoch %d/%d", epoch + 1, config.epochs()),
                        batchesPerEpoch);
                if (!showProgress) bar.disabled();
                int firstStep = epoch == startEpoch ? startStep : 0;
                try (BatchLoader loader = new BatchLoader(train, norm, config.batch(), true, split.defaultAugmentation(),
                        config.seed(), epoch, true)) {
                    loader.startAt(firstStep);
                    for (int step = firstStep; step < batchesPerEpoch; step++) {
                        BatchLoader.Batch batch = loader.next();
                        double lr = schedule.at(globalStep);
                        backend.upload(batch.images(), images);
                        backend.upload(batch.labels(), labels);
                        LossResult r = net.forwardBackward(images, labels, 1f / config.batch());
                        if (!Double.isFinite(r.lossSum())) {
                            throw new NumericalFailureException("loss is " + r.lossSum() + " at epoch " + (epoch + 1)
                                    + " step " + step + " (global step " + globalStep + ")");
                        }
                        if (!memoryLogged) {
                            memoryLogged = true;
                            LOG.info("memory ledger after one step ({} policy): saved activations {}, high-water mark {} ({} measured by the backend)",
                                    net.savePolicy().flag(), Bytes.format(net.lastSavedBytes()), Bytes.format(ledger.peakTotal()),
                                    Bytes.format(backend.peakAllocatedBytes()));
                        }
                        for (Parameter p : params) {
                            backend.sgdStep(p.value(), p.grad(), p.velocity(), (float) lr, (float) config.momentum(),
                                    p.hasWeightDecay() ? (float) config.weightDecay() : 0f);
                        }
                        globalStep++;
                        lossSum += r.lossSum();
                        correct += r.correct();
                        seen += r.count();
                        double seconds = (System.nanoTime() - t0) / 1e9;
                        bar.update(step + 1 - firstStep, seen / seconds, "img", lossSum / seen, correct / (double) seen);
                        if (globalStep % METRICS_EVERY == 0) {
                            metrics.write(record("step", epoch + 1, globalStep, Map.of("loss", r.meanLoss(), "accuracy",
                                    r.correct() / (double) r.count(), "lr", lr, "images_per_second", seen / seconds)));
                        }
                        boolean periodic = config.checkpointEvery() > 0 && globalStep % config.checkpointEvery() == 0
                                && step + 1 < batchesPerEpoch;
                        if (periodic || stopRequested) {
                            lastCheckpoint = save(ckptDir, new Checkpoint.Progress(epoch, step + 1, globalStep),
                                    Map.of("train_loss", lossSum / seen));
                            if (stopRequested) {
                                LOG.info("stopped at epoch {} step {}; checkpoint {}", epoch + 1, step + 1, lastCheckpoint);
                                return new Result(results, lastCheckpoint, ledger.peakTotal(), net.lastSavedBytes());
                            }
                        }
                    }
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                double trainLoss = seen == 0 ? Double.NaN : lossSum / seen;
                double trainAcc = seen == 0 ? Double.NaN : correct / (double) seen;
                // Evaluating at the training batch size keeps the memory high-water mark that of a training step.
                Evaluator.Result eval = Evaluator.evaluate(net, test, norm, Math.min(config.batch(), test.count()));
                EpochResult er = new EpochResult(epoch + 1, trainLoss, trainAcc, eval.loss(), eval.accuracy(), seconds,
                        seen / seconds);
                results.add(er);
                LOG.info(String.format(java.util.Locale.ROOT,
                        "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s, %.0f img/s",
                        epoch + 1, config.epochs(), trainLoss, trainAcc, eval.loss(), eval.accuracy(), seconds, seen / seconds));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("train_loss", trainLoss);
                m.put("train_accuracy", trainAcc);
                m.put("test_loss", eval.loss());
                m.put("test_accuracy", eval.accuracy());
                m.put("seconds", seconds);
                m.put("images_per_second", seen / seconds);
                metrics.write(record("epoch", epoch + 1, globalStep, m));
                lastCheckpoint = save(ckptDir, new Checkpoint.Progress(epoch + 1, 0, globalStep), m);
            }
        } finally {
            ledger.free(images);
            ledger.free(labels);
        }
        return new Result(results, lastCheckpoint, ledger.peakTotal(), net.lastSavedBytes());
    }

    private Path save(Path dir, Checkpoint.Progress progress, Map<String, Object> metrics) {
        try {
            return Checkpoint.save(dir, net, config, progress, norm, metrics);
        } catch (IOException e) {
            throw new UncheckedIOException("cannot write checkpoint to " + dir + ": " + e.getMessage(), e);
        }
    }

    private static Map<String, Object> record(String type, int epoch, long step, Map<String, Object> values) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", type);
        m.put("time", java.time.Instant.now().toString());
        m.put("epoch", epoch);
        m.put("step", step);
        m.putAll(values);
        return m;
    }

    @Override
    public void close() {
        net.close();
    }
}
