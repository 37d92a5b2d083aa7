package org.wrpn.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
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
import org.wrpn.data.ImageSet;
import org.wrpn.data.Normalization;
import org.wrpn.dist.Collective;
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

    /** Why a checkpoint was written. */
    public enum CheckpointReason { PERIODIC, EPOCH, STOP }

    /** Callbacks from {@link #run}, on the training thread. An exception thrown here ends the run. */
    public interface Listener {
        /** Training starts at {@code at} (not zero when resumed); the whole run is {@code totalSteps} steps. */
        default void started(Checkpoint.Progress at, long totalSteps, int batchesPerEpoch) {}

        /** A step finished: stepInEpoch steps of epoch (0-based) are done, globalStep in all. */
        default void stepEnded(int epoch, int stepInEpoch, long globalStep) {}

        default void epochEnded(EpochResult result, long globalStep) {}

        default void checkpointWritten(Path sidecar, Checkpoint.Progress progress, CheckpointReason reason) {}
    }

    /** Sees, and may change, each normalized training batch (N, H, W, C) before it is uploaded. */
    @FunctionalInterface
    public interface BatchHook {
        void accept(long globalStep, float[] images);
    }

    /** peakBytes: the memory ledger's high-water mark; savedBytes: what one forward pass kept for backward. */
    public record Result(List<EpochResult> epochs, Path lastCheckpoint, long peakBytes, long savedBytes) {
        public EpochResult last() {
            return epochs.isEmpty() ? null : epochs.get(epochs.size() - 1);
        }
    }

    private final TrainConfig config;
    private final Backend backend;
    private final ImageSet train;
    private final ImageSet test;
    private final Normalization norm;
    private final DataSplit split;
    private final Network net;
    private boolean showProgress = true;
    private volatile boolean stopRequested;
    private volatile boolean stoppedEarly;
    private Listener listener = new Listener() {};
    private BatchHook batchHook;
    private Path checkpointDir;
    private RunFiles.Previous replacing;
    private Path resumedFrom;
    private Path kept;
    private Ranks ranks = Ranks.alone();

    public Trainer(TrainConfig config, Backend backend, DataSplit split) {
        this(config, backend, split, null);
    }

    /** With a fixed normalization (from a checkpoint) instead of fitting one on the training set. */
    public Trainer(TrainConfig config, Backend backend, DataSplit split, Normalization normalization) {
        this.config = config;
        this.backend = backend;
        this.split = split;
        this.train = config.limitTrain() > 0 ? split.train().first(config.limitTrain()) : split.train();
        this.test = config.limitTest() > 0 ? split.test().first(config.limitTest()) : split.test();
        if (train.count() < config.batch()) {
            throw new BadInputException("--batch " + config.batch() + " is larger than the " + train.count() + " training images");
        }
        this.norm = normalization != null ? normalization : train.fitNormalization();
        this.net = Models.build(config.model(), config.widthMultiplier(), config.precisionPolicy(), train.height(), train.width(),
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

    public Trainer listener(Listener l) {
        listener = l;
        return this;
    }

    public Trainer batchHook(BatchHook hook) {
        batchHook = hook;
        return this;
    }

    /** Where checkpoints go; default OUT/checkpoints. */
    public Trainer checkpointDir(Path dir) {
        checkpointDir = dir;
        return this;
    }

    /**
     * Trains as one rank of a data-parallel job: this rank's share of every global batch of
     * batch x ranks images, gradients summed over the ranks during backward, batch norm over each
     * rank's batch or (synchronizeBatchNorm) over the global batch. Only rank 0 writes metrics and
     * checkpoints; every rank starts from rank 0's weights.
     */
    public Trainer dataParallel(Collective c, boolean synchronizeBatchNorm) {
        ranks = Ranks.of(c, synchronizeBatchNorm);
        return this;
    }

    /** Overwrite another run's files: deleted, and its metrics replaced, once this run's first checkpoint is durable. */
    public Trainer replacing(RunFiles.Previous old) {
        replacing = old;
        return this;
    }

    /**
     * Ask the run to stop after the current step (it writes a checkpoint first). A request during the
     * last step of an epoch lets the epoch end, evaluate and checkpoint as usual, then stops.
     */
    public void requestStop() {
        stopRequested = true;
    }

    /** Whether the last {@link #run} returned early because of {@link #requestStop}. */
    public boolean stoppedEarly() {
        return stoppedEarly;
    }

    public Result run() {
        return run(null);
    }

    /** Trains from scratch, or from a loaded checkpoint when resume is not null. */
    public Result run(Checkpoint.Loaded resume) {
        int globalBatch = config.batch() * ranks.count();
        boolean lead = ranks.lead();
        if (globalBatch > train.count()) {
            throw new BadInputException("--batch " + config.batch() + " on " + ranks.count() + " ranks is a global batch of " + globalBatch
                    + ", larger than the " + train.count() + " training images");
        }
        int batchesPerEpoch = train.count() / globalBatch;
        long totalSteps = (long) batchesPerEpoch * config.epochs();
        LrSchedule schedule = new LrSchedule(config.schedule(), config.lr(),
                Math.round(config.warmupEpochs() * batchesPerEpoch), totalSteps);
        Path out = config.out();
        Path ckptDir = checkpointDir != null ? checkpointDir : out.resolve("checkpoints");
        int startEpoch = 0;
        int startStep = 0;
        long globalStep = 0;
        resumedFrom = resume == null ? null : resume.sidecar();
        kept = resumedFrom;
        if (resume != null) {
            Checkpoint.apply(resume, net, true);
            startEpoch = resume.progress().epoch();
            startStep = resume.progress().stepInEpoch();
            globalStep = resume.progress().globalStep();
            LOG.info("resumed from {} at epoch {} step {} (global step {})", resume.sidecar(), startEpoch + 1, startStep, globalStep);
        }
        Checkpoint.Progress start = ranks.start(net, new Checkpoint.Progress(startEpoch, startStep, globalStep), config.batch());
        startEpoch = start.epoch();
        startStep = start.stepInEpoch();
        globalStep = start.globalStep();
        LOG.info("model {} width {} ({} parameters), {}", config.model(), config.widthMultiplier(), net.parameterCount(),
                Models.describePrecision(net));
        LOG.info("backend {}; {} training and {} test images of {}x{}x{}; batch {} per rank, {} steps per epoch",
                backend.describe(), train.count(), test.count(), train.height(), train.width(), train.channels(),
                config.batch(), batchesPerEpoch);

        List<Parameter> params = net.trainableParameters();
        // each parameter's recipe (null: not quantized), resolved once for the run
        QuantizedWeightRecipe[] recipes = params.stream()
                .map(p -> p.isQuantizedWeight() ? config.quantizedWeightRecipe(p.weightBits()) : null).toArray(QuantizedWeightRecipe[]::new);
        params.stream().filter(Parameter::isQuantizedWeight).mapToInt(Parameter::weightBits).distinct().sorted()
                .forEach(bits -> LOG.info("{}-bit weights' masters: {}", bits, config.quantizedWeightRecipe(bits).describe()));
        List<EpochResult> results = new ArrayList<>();
        Path lastCheckpoint = null;
        Shape inShape = net.inputShape(config.batch());
        MemoryLedger ledger = net.ledger();
        Tensor images = ledger.allocate(Category.INPUT, "images", DType.F32, inShape);
        Tensor labels = ledger.allocate(Category.INPUT, "labels", DType.I32, Shape.of(config.batch()));
        ledger.resetPeaks();
        backend.resetPeak();
        boolean memoryLogged = false;
        stoppedEarly = false;
        listener.started(new Checkpoint.Progress(startEpoch, startStep, globalStep), totalSteps, batchesPerEpoch);
        boolean stopAgreed = false; // every rank's stop request, as the ranks agreed at the last step
        try (MetricsLog metrics = lead ? new MetricsLog(out.resolve(replacing != null ? RunFiles.PENDING_METRICS : RunFiles.METRICS),
                replacing != null) : null) {
            for (int epoch = startEpoch; epoch < config.epochs(); epoch++) {
                if ((ranks.distributed() ? stopAgreed : stopRequested) && epoch > startEpoch) { // the previous epoch's checkpoint is the resume point
                    ranks.barrier();
                    LOG.info("stopped after epoch {}; checkpoint {}", epoch, lastCheckpoint);
                    stoppedEarly = true;
                    return new Result(results, lastCheckpoint, ledger.peakTotal(), net.lastSavedBytes());
                }
                net.prepare(config.batch());
                double lossSum = 0;
                long correct = 0;
                long seen = 0;
                long t0 = System.nanoTime();
                ProgressBar bar = new ProgressBar(System.err, String.format("epoch %d/%d", epoch + 1, config.epochs()),
                        batchesPerEpoch);
                if (!showProgress || !lead) bar.disabled();
                int firstStep = epoch == startEpoch ? startStep : 0;
                try (BatchLoader loader = new BatchLoader(train.samples(norm, true), config.batch(), true, config.seed(), epoch,
                        true, train.loaderThreads(), ranks.rank(), ranks.count())) {
                    loader.startAt(firstStep);
                    for (int step = firstStep; step < batchesPerEpoch; step++) {
                        BatchLoader.Batch batch = loader.next();
                        if (batchHook != null) batchHook.accept(globalStep, batch.images());
                        double lr = schedule.at(globalStep);
                        backend.upload(batch.images(), images);
                        backend.upload(batch.labels(), labels);
                        // the global batch's gradient, loss and accuracy, and whether any rank stops
                        Ranks.StepSums sums = ranks.finishStep(net.forwardBackward(images, labels, 1f / globalBatch), stopRequested);
                        LossResult r = sums.loss();
                        boolean stopNow = sums.stop();
                        stopAgreed = stopNow;
                        // Checked before the update, so the weights (and the last checkpoint) stay finite. A NaN
                        // that a quantizer hides from the loss still reaches the first layer's gradient through
                        // backward, so one reduction per step suffices; all layers are searched only on failure.
                        // Across ranks both are sums, so every rank sees a failure of any.
                        if (!Double.isFinite(r.lossSum()) || !Double.isFinite(backend.sumSquares(params.get(0).grad()))) {
                            throw NonFiniteSearch.failure(net, r.lossSum(), images, params, batch.images(), epoch, step, globalStep);
                        }
                        if (!memoryLogged) {
                            memoryLogged = true;
                            LOG.info("memory ledger after one step ({} policy): saved activations {}, high-water mark {} ({} measured by the backend)",
                                    net.savePolicy().flag(), Bytes.format(net.lastSavedBytes()), Bytes.format(ledger.peakTotal()),
                                    Bytes.format(backend.peakAllocatedBytes()));
                        }
                        for (int i = 0; i < params.size(); i++) {
                            Parameter p = params.get(i);
                            QuantizedWeightRecipe recipe = recipes[i];
                            double decay = !p.hasWeightDecay() ? 0 : recipe != null ? recipe.weightDecay() : config.weightDecay();
                            double rate = recipe != null ? recipe.learningRate(lr, p.fanIn()) : lr;
                            backend.sgdStep(p.value(), p.grad(), p.velocity(), (float) rate, (float) config.momentum(), (float) decay);
                            if (recipe != null && recipe.clip()) backend.clampInPlace(p.value(), -1f, 1f);
                        }
                        globalStep++;
                        listener.stepEnded(epoch, step + 1, globalStep);
                        lossSum += r.lossSum();
                        correct += r.correct();
                        seen += r.count();
                        double seconds = (System.nanoTime() - t0) / 1e9;
                        bar.update(step + 1 - firstStep, seen / seconds, "img", lossSum / seen, correct / (double) seen,
                                loaderNote(loader, seconds));
                        if (metrics != null && globalStep % METRICS_EVERY == 0) {
                            metrics.write(record("step", epoch + 1, globalStep, Map.of("loss", r.meanLoss(), "accuracy",
                                    r.correct() / (double) r.count(), "lr", lr, "images_per_second", seen / seconds)), kept);
                        }
                        boolean lastStep = step + 1 == batchesPerEpoch;
                        boolean periodic = config.checkpointEvery() > 0 && globalStep % config.checkpointEvery() == 0 && !lastStep;
                        boolean stop = stopNow && !lastStep;
                        if (periodic || stop) {
                            Checkpoint.Progress at = new Checkpoint.Progress(epoch, step + 1, globalStep);
                            if (lead) {
                                lastCheckpoint = save(ckptDir, at, Map.of("train_loss", lossSum / seen));
                                listener.checkpointWritten(lastCheckpoint, at, stop ? CheckpointReason.STOP : CheckpointReason.PERIODIC);
                            }
                            if (stop) {
                                ranks.barrier(); // rank 0's checkpoint is durable before any rank ends
                                LOG.info("stopped at epoch {} step {}; checkpoint {}", epoch + 1, step + 1, lastCheckpoint);
                                stoppedEarly = true;
                                return new Result(results, lastCheckpoint, ledger.peakTotal(), net.lastSavedBytes());
                            }
                        }
                    }
                }
                double seconds = (System.nanoTime() - t0) / 1e9;
                double trainLoss = seen == 0 ? Double.NaN : lossSum / seen;
                double trainAcc = seen == 0 ? Double.NaN : correct / (double) seen;
                // Evaluating at the training batch size keeps the memory high-water mark that of a training step.
                Evaluator.Result eval = ranks.evaluate(net, test, norm, Math.min(config.batch(), test.count()));
                EpochResult er = new EpochResult(epoch + 1, trainLoss, trainAcc, eval.loss(), eval.accuracy(), seconds,
                        seen / seconds);
                results.add(er);
                LOG.info(String.format(java.util.Locale.ROOT,
                        "epoch %d/%d: train loss %.4f acc %.4f | test loss %.4f acc %.4f | %.1f s, %.1f img/s",
                        epoch + 1, config.epochs(), trainLoss, trainAcc, eval.loss(), eval.accuracy(), seconds, seen / seconds));
                Map<String, Object> m = new LinkedHashMap<>();
                m.put("train_loss", trainLoss);
                m.put("train_accuracy", trainAcc);
                m.put("test_loss", eval.loss());
                m.put("test_accuracy", eval.accuracy());
                m.put("seconds", seconds);
                m.put("images_per_second", seen / seconds);
                m.put("global_batch", globalBatch); // --batch is per rank
                m.put("ranks", ranks.count());
                if (metrics != null) metrics.write(record("epoch", epoch + 1, globalStep, m), kept);
                listener.epochEnded(er, globalStep);
                Checkpoint.Progress at = new Checkpoint.Progress(epoch + 1, 0, globalStep);
                if (lead) {
                    lastCheckpoint = save(ckptDir, at, m);
                    listener.checkpointWritten(lastCheckpoint, at, CheckpointReason.EPOCH);
                }
            }
            ranks.barrier(); // no rank leaves while another may still need it
        } finally {
            ledger.free(images);
            ledger.free(labels);
        }
        return new Result(results, lastCheckpoint, ledger.peakTotal(), net.lastSavedBytes());
    }

    /** What the progress bar says of a decoding loader: what it can deliver, and the share of the time training waited for it. */
    private String loaderNote(BatchLoader loader, double seconds) {
        if (train instanceof org.wrpn.data.Dataset) return ""; // bytes in memory: the loader is never the bottleneck
        String skipped = train.skipped() == 0 ? "" : ", " + train.skipped() + " skipped";
        return String.format(java.util.Locale.ROOT, " | data %.0f img/s (%d threads), waited %.0f%%%s",
                loader.capacityImagesPerSecond(), train.loaderThreads(), 100 * loader.waitSeconds() / seconds, skipped);
    }

    /** Refuses a checkpoint made for images of another shape or class count than the data. */
    public static void checkInput(Checkpoint.Loaded ckpt, DataSplit split) {
        ImageSet t = split.train();
        if (t.height() != ckpt.height() || t.width() != ckpt.imageWidth() || t.channels() != ckpt.channels()) {
            throw new BadInputException(String.format(java.util.Locale.ROOT,
                    "checkpoint %s expects %dx%dx%d images, the data has %dx%dx%d", ckpt.sidecar(), ckpt.height(),
                    ckpt.imageWidth(), ckpt.channels(), t.height(), t.width(), t.channels()));
        }
        if (t.classes() != ckpt.classes()) {
            throw new BadInputException("checkpoint " + ckpt.sidecar() + " has " + ckpt.classes() + " classes, the data has "
                    + t.classes());
        }
        if (!ckpt.classNames().isEmpty() && !t.classNames().isEmpty() && !ckpt.classNames().equals(t.classNames())) {
            int i = 0;
            while (ckpt.classNames().get(i).equals(t.classNames().get(i))) i++;
            throw new BadInputException("checkpoint " + ckpt.sidecar() + " has class " + i + " '" + ckpt.classNames().get(i)
                    + "', the data's class " + i + " is '" + t.classNames().get(i) + "'");
        }
    }

    private Path save(Path dir, Checkpoint.Progress progress, Map<String, Object> metrics) {
        // A quantizer maps a NaN master weight to a finite code, hiding it from the loss: never checkpoint one.
        for (Parameter p : net.parameters()) {
            if (!Double.isFinite(backend.sumSquares(p.value()))) {
                throw new NumericalFailureException("parameter " + p.name() + " is not finite at global step "
                        + progress.globalStep() + "; the checkpoint was not written", NonFiniteSearch.layerOf(p.name()), progress.globalStep());
            }
        }
        Path sidecar;
        try {
            // A vanished run directory is an error, not something to recreate behind the lock's back.
            if (!Files.isDirectory(config.out())) throw new NoSuchFileException(config.out().toString());
            sidecar = Checkpoint.save(dir, net, config, progress, norm, train.classNames(), metrics,
                    ranks.count());
        } catch (IOException e) {
            throw StorageException.of("cannot write checkpoint to " + dir, dir, e, kept);
        }
        kept = sidecar;
        try { // only now, with the new checkpoint durable, may older files go
            if (replacing != null) {
                RunFiles.retire(replacing, sidecar, config.out().resolve(RunFiles.PENDING_METRICS), config.out());
                LOG.info("overwrote the previous run: deleted {}", replacing.describe());
                replacing = null;
            }
            RunFiles.prune(dir, config.keepCheckpoints(), resumedFrom);
        } catch (IOException e) {
            throw StorageException.of("cannot delete older checkpoints in " + dir, dir, e, sidecar);
        }
        return sidecar;
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
