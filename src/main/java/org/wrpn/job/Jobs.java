package org.wrpn.job;

import java.util.OptionalInt;
import java.util.OptionalLong;
import org.wrpn.BadInputException;
import org.wrpn.backend.BackendSelector;
import org.wrpn.data.DataSource;
import org.wrpn.data.ImageSet;
import org.wrpn.plan.MemoryPlan;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;

/**
 * The scheduler-facing entry points: how much memory a job needs, and starting jobs. Each started
 * job runs on its own thread with its own backend, network and data loader; jobs in one JVM share
 * nothing but the read-only data files. See the package documentation for an example.
 */
public final class Jobs {
    private Jobs() {}

    /** The memory one training step of the job needs, on the device its spec selects. Reads the data's image shape. */
    public static JobPlan plan(JobSpec spec) {
        return plan(spec, 0);
    }

    /** As {@link #plan(JobSpec)}, plus the largest batch whose step fits {@code budgetBytes} (when positive). */
    public static JobPlan plan(JobSpec spec, long budgetBytes) {
        if (budgetBytes < 0) throw new BadInputException("the memory budget must be positive, got " + budgetBytes);
        TrainConfig c = spec.config();
        ImageSet train = DataSource.open(c.data(), c.imageSize(), c.decodeThreads()).train();
        PlanRequest req = JobRun.planRequest(spec.config(), train, BackendSelector.resolve(spec.config().device()));
        MemoryPlan p = MemoryPlanner.plan(req);
        if (budgetBytes == 0) return new JobPlan(p, OptionalLong.empty(), OptionalInt.empty());
        return new JobPlan(p, OptionalLong.of(budgetBytes), OptionalInt.of(MemoryPlanner.largestBatch(req, budgetBytes)));
    }

    /**
     * Starts a job on a new thread and returns at once. The listener (may be null) gets the job's
     * events on that thread. A spec whose resume is "auto" continues from the newest good
     * checkpoint of the same run, so starting a stopped or crashed job's spec again resumes it.
     */
    public static JobHandle start(JobSpec spec, JobListener listener) {
        return start(spec, listener, null);
    }

    /**
     * As {@link #start(JobSpec, JobListener)}; batchHook (may be null) sees, and may change, every
     * normalized training batch before the step uses it, e.g. to inject faults in tests.
     */
    public static JobHandle start(JobSpec spec, JobListener listener, Trainer.BatchHook batchHook) {
        JobRun run = new JobRun(spec, listener, batchHook, false);
        Thread t = Thread.ofPlatform().name("wrpn-job " + spec.config().out()).unstarted(run::run);
        t.start();
        return new JobHandle(run, t);
    }
}
