package org.wrpn.job;

import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/** A job started by {@link Jobs#start}: watch it, stop it, wait for it. Safe to use from any thread. */
public final class JobHandle {
    private final JobRun run;
    private final Thread thread;

    JobHandle(JobRun run, Thread thread) {
        this.run = run;
        this.thread = thread;
    }

    public JobSpec spec() {
        return run.spec();
    }

    public JobStatus status() {
        return run.status();
    }

    /**
     * Asks the job to stop: it finishes the current step, writes a checkpoint and ends STOPPED (exit
     * code {@link ExitCode#TERMINATED}). Starting the same spec again resumes from that checkpoint.
     * Returns at once; does nothing to a job that has already ended.
     */
    public void cancel() {
        run.requestStop(ExitCode.TERMINATED);
    }

    /** Waits for the job to end. */
    public JobResult awaitCompletion() throws InterruptedException {
        thread.join();
        return run.result();
    }

    /** Waits at most {@code timeout}; empty if the job is still running then. */
    public Optional<JobResult> awaitCompletion(Duration timeout) throws InterruptedException {
        if (!thread.join(timeout)) return Optional.empty();
        return Optional.of(run.result());
    }

    /** Same as {@link #awaitCompletion(Duration)}. */
    public Optional<JobResult> awaitCompletion(long timeout, TimeUnit unit) throws InterruptedException {
        return awaitCompletion(Duration.ofNanos(unit.toNanos(timeout)));
    }
}
