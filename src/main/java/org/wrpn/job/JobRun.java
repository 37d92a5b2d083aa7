package org.wrpn.job;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.Bytes;
import org.wrpn.backend.Device;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.data.ImageSet;
import org.wrpn.dist.Collective;
import org.wrpn.dist.Collectives;
import org.wrpn.dist.LaunchEnvironment;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.RunFiles;
import org.wrpn.train.RunLock;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;

/**
 * One job from spec to result, on the calling thread: the resume decision, a memory check against
 * the plan, the trainer with its own backend, events, and the mapping of every failure to an exit
 * code. Nothing here is shared between jobs.
 */
final class JobRun {
    private static final Logger LOG = LogManager.getLogger(JobRun.class);

    private final JobSpec spec;
    private final JobListener listener;
    private final Trainer.BatchHook batchHook;
    private final boolean progressBar;
    private JobStatus status = JobStatus.starting();
    private volatile JobResult result;
    private Trainer trainer;
    private int stopCode;
    private PlanRequest planRequest;
    private long budgetBytes;
    /** This process's place in a data-parallel job (one process unless the environment says otherwise). */
    private LaunchEnvironment launch = LaunchEnvironment.single();
    /** What rank 0 tells the other ranks once all have joined. */
    private static final long VERDICT_TRAIN = 0, VERDICT_NOTHING_LEFT = 1;

    JobRun(JobSpec spec, JobListener listener, Trainer.BatchHook batchHook, boolean progressBar) {
        this.spec = spec;
        this.listener = listener == null ? JobListener.NONE : listener;
        this.batchHook = batchHook;
        this.progressBar = progressBar;
    }

    JobSpec spec() {
        return spec;
    }

    synchronized JobStatus status() {
        return status;
    }

    JobResult result() {
        return result;
    }

    /** The first request wins; its exit code is the job's if it stops early. */
    synchronized void requestStop(int exitCode) {
        if (status.state().isFinal()) return;
        if (stopCode == 0) stopCode = exitCode;
        status = status.withState(JobState.STOPPING);
        if (trainer != null) trainer.requestStop();
    }

    synchronized boolean stopRequested() {
        return stopCode != 0;
    }

    private synchronized void attach(Trainer t) {
        trainer = t;
        if (stopCode != 0) t.requestStop();
    }

    private synchronized void detach() {
        trainer = null;
    }

    private synchronized int stopCode() {
        return stopCode;
    }

    private synchronized void update(java.util.function.UnaryOperator<JobStatus> f) {
        status = f.apply(status);
    }

    JobResult run() {
        try {
            return execute();
        } catch (Throwable t) { // every failure becomes an exit code and a "failed" event
            return fail(t);
        }
    }

    /**
     * Holds the run's lock for the whole job: nothing in its directories is touched before it. An
     * explicit checkpoint of another run is refused first, before the run directory is even made.
     */
    private JobResult execute() {
        LaunchEnvironment launch = LaunchEnvironment.current();
        if (launch.isDistributed() && spec.config().nproc() > 1) {
            throw new BadInputException("--nproc " + spec.config().nproc() + " in a job whose ranks come from the environment ("
                    + launch.source().description() + "): use one or the other");
        }
        if (!launch.isDistributed() && spec.config().nproc() > 1) {
            throw new BadInputException("nproc " + spec.config().nproc() + " needs a process per rank: run the job with `wrpn train`,"
                    + " which starts them, or start the ranks with RANK/WORLD_SIZE (torchrun) or srun");
        }
        this.launch = launch;
        if (launch.isDistributed() && System.getProperty("wrpn.cudaDevice") == null) {
            // one GPU per rank: the LOCAL_RANK-th, unless the launcher left this process only one to see
            String visible = System.getenv("CUDA_VISIBLE_DEVICES");
            boolean oneVisible = visible != null && !visible.isBlank() && !visible.contains(",");
            System.setProperty("wrpn.cudaDevice", Integer.toString(oneVisible ? 0 : launch.localRank()));
        }
        if (launch.rank() > 0) return executeFollower();
        Checkpoint.Loaded explicit = isAutoOrNever(spec.resume()) ? null : resumePoint();
        if (explicit != null) checkSameRun(explicit); // an explicit checkpoint continues its own run: the settings given must be its
        try (RunLock lock = lockRun(spec)) {
            return executeLocked(explicit);
        }
    }

    /** Locks OUT and, when it lies outside OUT, the checkpoint directory too. */
    static RunLock lockRun(JobSpec spec) {
        Path out = spec.config().out().toAbsolutePath().normalize();
        Path ckpt = spec.checkpoints().toAbsolutePath().normalize();
        return ckpt.startsWith(out) ? RunLock.acquire("run directory", out) : RunLock.acquire("run directory", out, ckpt);
    }

    private JobResult executeLocked(Checkpoint.Loaded explicit) {
        Checkpoint.Loaded resume = explicit != null ? explicit : resumePoint();
        TrainConfig config = spec.config();
        if (resume != null) {
            Path sidecar = resume.sidecar();
            update(s -> s.withCheckpoint(sidecar));
        }
        RunFiles.Previous old = otherRun(resume);
        if (resume != null) checkRanks(resume);
        if (resume != null && resume.progress().epoch() >= config.epochs()) {
            if (launch.isDistributed()) {
                try (Backend backend = BackendSelector.select(config.device()); Collective c = join(backend)) {
                    c.broadcast(new long[] {VERDICT_NOTHING_LEFT}, 0);
                    c.barrier();
                }
            }
            Checkpoint.Progress p = resume.progress();
            update(s -> s.withState(JobState.RUNNING).at(p.epoch(), p.stepInEpoch(), p.globalStep()).withTotalSteps(p.globalStep()));
            emit(new JobEvent.Started(spec, "none", resume.sidecar(), p.epoch(), p.stepInEpoch(), p.globalStep(), p.globalStep()));
            return finish(JobState.COMPLETED, ExitCode.OK, List.of(), null, "nothing left to train");
        }
        DataSplit split = DataSource.open(config.data(), config.imageSize(), config.decodeThreads());
        if (resume != null) Trainer.checkInput(resume, split);
        checkMemory(config, split.train());
        try (Backend backend = BackendSelector.select(config.device());
                Collective collective = launch.isDistributed() ? join(backend) : null;
                Trainer t = new Trainer(config, backend, split, resume == null ? null : resume.normalization())) {
            if (collective != null) {
                collective.broadcast(new long[] {VERDICT_TRAIN}, 0);
                t.dataParallel(collective, config.syncBatchNorm());
            }
            if (!progressBar) t.quiet();
            t.checkpointDir(spec.checkpoints()).batchHook(batchHook).listener(events(backend.describe(), resume)).replacing(old);
            return train(t, resume, "stopped; restart the same spec to resume");
        }
    }

    /** Runs the trainer as this job's, from resume (or the start); the result says completed or, if asked to stop, stopped. */
    private JobResult train(Trainer t, Checkpoint.Loaded resume, String whenStopped) {
        attach(t);
        Trainer.Result r;
        try {
            r = t.run(resume);
        } finally {
            detach();
        }
        boolean stopped = t.stoppedEarly();
        return finish(stopped ? JobState.STOPPED : JobState.COMPLETED, stopped ? stopCode() : ExitCode.OK, r.epochs(), r.last(),
                stopped ? whenStopped : "completed");
    }

    /**
     * A rank other than 0: it trains what rank 0 decides (start point and weights come from rank 0 by
     * broadcast) and writes nothing into the run's directories, so it takes no lock.
     */
    private JobResult executeFollower() {
        TrainConfig config = spec.config();
        DataSplit split = DataSource.open(config.data(), config.imageSize(), config.decodeThreads());
        checkMemory(config, split.train());
        try (Backend backend = BackendSelector.select(config.device()); Collective collective = join(backend)) {
            long[] verdict = new long[1];
            collective.broadcast(verdict, 0);
            if (verdict[0] == VERDICT_NOTHING_LEFT) {
                collective.barrier();
                emit(new JobEvent.Started(spec, "none", null, config.epochs(), 0, 0, 0));
                return finish(JobState.COMPLETED, ExitCode.OK, List.of(), null, "nothing left to train");
            }
            try (Trainer t = new Trainer(config, backend, split, null)) {
                t.quiet().dataParallel(collective, config.syncBatchNorm()).listener(events(backend.describe(), null));
                return train(t, null, "stopped with the other ranks");
            }
        }
    }

    private Collective join(Backend backend) {
        LOG.info("joining the data-parallel job: {}", launch.describe());
        return Collectives.join(launch, backend, Duration.ofSeconds(spec.config().rankTimeoutSeconds()));
    }

    /** Refuses to resume with another global batch: the steps, the data order and the schedule would not be the run's. */
    private void checkRanks(Checkpoint.Loaded resume) {
        int ranks = launch.worldSize();
        long theirs = (long) resume.ranks() * resume.config().batch(), ours = (long) ranks * spec.config().batch();
        if (theirs != ours) {
            throw new BadInputException(String.format(Locale.ROOT,
                    "checkpoint %s was trained with a global batch of %d (%d rank(s) x %d); this run's is %d (%d x %d):"
                            + " resume with ranks x --batch = %d", resume.sidecar(), theirs, resume.ranks(), resume.config().batch(), ours,
                    ranks, spec.config().batch(), theirs));
        }
    }

    private static boolean isAutoOrNever(String resume) {
        return resume.equals(JobSpec.RESUME_AUTO) || resume.equals(JobSpec.RESUME_NEVER);
    }

    /**
     * Another run's files where this run writes, to be replaced (overwrite), or null. Refuses them
     * unless this run continues from its own checkpoint directory or overwrites; an automatic resume
     * that found no checkpoint appends to the metrics of an earlier attempt that died before its first.
     */
    private RunFiles.Previous otherRun(Checkpoint.Loaded resume) {
        Path ckpts = spec.checkpoints();
        if (resume != null && resume.sidecar().toAbsolutePath().normalize().getParent().equals(ckpts.toAbsolutePath().normalize())) return null;
        RunFiles.Previous old = RunFiles.find(spec.config().out(), ckpts);
        if (old == null || spec.overwrite()) return old;
        if (spec.resume().equals(JobSpec.RESUME_AUTO) && old.checkpoints().isEmpty()) return null;
        throw new BadInputException(spec.config().out() + " holds another run (" + old.describe()
                + "); use --resume to continue it or --overwrite to replace it (spec: \"resume\": \"auto\" or \"overwrite\": true)");
    }

    /** The checkpoint this start continues, per the spec's resume setting; null to start fresh. */
    private Checkpoint.Loaded resumePoint() {
        String r = spec.resume();
        if (r.equals(JobSpec.RESUME_NEVER)) return null;
        if (!r.equals(JobSpec.RESUME_AUTO)) return Checkpoint.load(Checkpoint.resolve(Path.of(r)));
        Path dir = spec.checkpoints();
        if (!Files.isDirectory(dir)) return null;
        Path newest = Checkpoint.newestIn(dir); // skips damaged checkpoints
        if (newest == null) return null;
        if (spec.overwrite() && !JobSpec.sameRunDifferences(Checkpoint.load(newest).config(), spec.config()).isEmpty()) return null; // replaced
        Checkpoint.Loaded l = Checkpoint.load(newest);
        checkSameRun(l);
        LOG.info("resuming automatically from {}", newest);
        return l;
    }

    /** Refuses to resume (auto or explicitly) a checkpoint of another run: its weights would not be this spec's. */
    private void checkSameRun(Checkpoint.Loaded l) {
        List<String> diffs = JobSpec.sameRunDifferences(l.config(), spec.config());
        if (!diffs.isEmpty()) {
            throw new BadInputException("checkpoint " + l.sidecar() + " belongs to another run (" + String.join(", ", diffs)
                    + "); use another out or checkpoint_dir, or overwrite (--overwrite) to replace it");
        }
    }

    /** Fails fast, with the planner's suggestion, when one step cannot fit the device or the heap. */
    private void checkMemory(TrainConfig config, ImageSet train) {
        Device device = BackendSelector.resolve(config.device());
        planRequest = planRequest(config, train, device);
        budgetBytes = memoryBudget(device);
        long needed = MemoryPlanner.plan(planRequest).total();
        if (needed > budgetBytes) throw outOfMemory(needed, null);
    }

    private OutOfMemoryFailure outOfMemory(long needed, Throwable cause) {
        int largest = MemoryPlanner.largestBatch(planRequest, budgetBytes);
        int batch = planRequest.batch();
        String what = planRequest.device() == Device.CUDA ? "GPU memory" : "the JVM heap (-Xmx)";
        StringBuilder m = new StringBuilder();
        if (cause == null) {
            m.append(String.format(Locale.ROOT, "batch %d needs %s for one training step (memory plan), more than the %s of %s",
                    batch, Bytes.format(needed), Bytes.format(budgetBytes), what));
        } else {
            m.append("batch ").append(batch).append(" ran out of ").append(what).append(" (").append(ExitCode.oneLine(cause.getMessage()))
                    .append(')');
            // The plan fitted but the run did not (other allocations): suggest less than the plan allows.
            if (largest >= batch) largest = batch / 2;
        }
        if (largest > 0) m.append("; the largest batch that fits is ").append(largest).append(" (--batch ").append(largest).append(')');
        else m.append("; not even a batch of 1 fits: lower --width or the bits");
        return new OutOfMemoryFailure(m.toString(), needed, budgetBytes, largest, cause);
    }

    /** Device memory on a GPU; on the CPU the tensors are Java arrays, so the heap limit. */
    static long memoryBudget(Device device) {
        if (device == Device.CUDA) {
            var d = BackendSelector.cudaStatus().device();
            if (d != null) return d.totalMemoryBytes();
        }
        return Runtime.getRuntime().maxMemory();
    }

    /** The plan of one training step of c on train's images, under the rules of device (CPU or CUDA). */
    static PlanRequest planRequest(TrainConfig c, ImageSet train, Device device) {
        return new PlanRequest(c.model(), c.widthMultiplier(), c.precisionPolicy(), c.savePolicy(), c.batch(), train.channels(),
                train.height(), train.width(), train.classes(), device);
    }

    private Trainer.Listener events(String backend, Checkpoint.Loaded resume) {
        Path resumedFrom = resume == null ? null : resume.sidecar();
        return new Trainer.Listener() {
            @Override
            public void started(Checkpoint.Progress at, long totalSteps, int batchesPerEpoch) {
                update(s -> (s.state() == JobState.STARTING ? s.withState(JobState.RUNNING) : s)
                        .at(at.epoch(), at.stepInEpoch(), at.globalStep()).withTotalSteps(totalSteps));
                emit(new JobEvent.Started(spec, backend, resumedFrom, at.epoch(), at.stepInEpoch(), at.globalStep(), totalSteps));
            }

            @Override
            public void stepEnded(int epoch, int stepInEpoch, long globalStep) {
                update(s -> s.at(epoch, stepInEpoch, globalStep));
            }

            @Override
            public void epochEnded(Trainer.EpochResult result, long globalStep) {
                update(s -> s.at(result.epoch(), 0, globalStep));
                emit(new JobEvent.EpochEnded(result, globalStep));
            }

            @Override
            public void checkpointWritten(Path sidecar, Checkpoint.Progress p, Trainer.CheckpointReason reason) {
                update(s -> s.withCheckpoint(sidecar));
                emit(new JobEvent.CheckpointWritten(sidecar, p.epoch(), p.stepInEpoch(), p.globalStep(), reason));
            }
        };
    }

    private JobResult finish(JobState state, int code, List<Trainer.EpochResult> epochs, Trainer.EpochResult last, String summary) {
        JobStatus s;
        synchronized (this) {
            status = status.ended(state, code, null);
            s = status;
        }
        result = new JobResult(state, code, epochs, s.lastCheckpoint(), null, summary);
        emit(new JobEvent.Finished(state, code, s.lastCheckpoint(), s.globalStep(), last));
        return result;
    }

    private JobResult fail(Throwable t) {
        Throwable cause = t;
        if (ExitCode.isOutOfMemory(t) && !(t instanceof OutOfMemoryFailure) && planRequest != null) {
            try {
                cause = outOfMemory(MemoryPlanner.plan(planRequest).total(), t);
            } catch (RuntimeException e) {
                t.addSuppressed(e);
            }
        }
        int code = ExitCode.of(cause);
        String message = ExitCode.message(cause);
        if (code == ExitCode.INTERNAL) LOG.debug("job failed", cause);
        JobStatus s;
        synchronized (this) {
            status = status.ended(JobState.FAILED, code, message);
            s = status;
        }
        result = new JobResult(JobState.FAILED, code, List.of(), s.lastCheckpoint(), cause, message);
        emit(new JobEvent.Failed(cause, code, message, s.lastCheckpoint()));
        return result;
    }

    private void emit(JobEvent e) {
        try {
            listener.onEvent(e);
        } catch (RuntimeException ex) {
            LOG.warn("a job listener failed on {}: {}", e.getClass().getSimpleName(), ex.toString());
        }
    }
}
