package org.wrpn.job;

import java.nio.file.Path;
import org.wrpn.train.Trainer;

/**
 * What a running job reports. Every job emits exactly one {@link Started} first (unless its spec or
 * data is refused before it starts) and ends with exactly one {@link Finished} or {@link Failed}.
 * {@link StatusJson} writes each as one JSON line.
 */
public sealed interface JobEvent {

    /**
     * Training begins at this position; resumedFrom is the checkpoint it continues, or null.
     *
     * @param backend one line describing the device, or "none" when nothing was left to train
     */
    record Started(JobSpec spec, String backend, Path resumedFrom, int epoch, int stepInEpoch, long globalStep,
            long totalSteps) implements JobEvent {}

    /** An epoch ended and was evaluated on the test set. */
    record EpochEnded(Trainer.EpochResult result, long globalStep) implements JobEvent {}

    /** A checkpoint is on disk (weights and sidecar, both durable) and can be resumed from. */
    record CheckpointWritten(Path sidecar, int epoch, int stepInEpoch, long globalStep, Trainer.CheckpointReason reason)
            implements JobEvent {}

    /**
     * The job ended normally: COMPLETED, or STOPPED on request after writing {@code checkpoint}.
     *
     * @param last the last epoch this run evaluated, or null
     */
    record Finished(JobState state, int exitCode, Path checkpoint, long globalStep, Trainer.EpochResult last)
            implements JobEvent {}

    /**
     * The job failed; {@code checkpoint} is the newest one a restart would resume from (or null).
     *
     * @param message one line, as `wrpn train` prints it after "error: "
     */
    record Failed(Throwable cause, int exitCode, String message, Path checkpoint) implements JobEvent {}
}
