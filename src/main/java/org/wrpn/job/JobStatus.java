package org.wrpn.job;

import java.nio.file.Path;

/**
 * A snapshot of a job, as {@link JobHandle#status()} returns it.
 *
 * @param epoch epochs completed
 * @param stepInEpoch steps done in the current epoch
 * @param globalStep steps done in the whole run (including those before a resume)
 * @param totalSteps steps of the whole run, 0 until the data is read
 * @param lastCheckpoint the newest checkpoint sidecar this job wrote or resumed from, or null
 * @param exitCode the process exit code the job maps to once final ({@link ExitCode}), -1 before
 * @param error the one-line failure message, or null
 */
public record JobStatus(JobState state, int epoch, int stepInEpoch, long globalStep, long totalSteps, Path lastCheckpoint,
        int exitCode, String error) {

    static JobStatus starting() {
        return new JobStatus(JobState.STARTING, 0, 0, 0, 0, null, -1, null);
    }

    JobStatus withState(JobState s) {
        return new JobStatus(s, epoch, stepInEpoch, globalStep, totalSteps, lastCheckpoint, exitCode, error);
    }

    JobStatus at(int e, int s, long g) {
        return new JobStatus(state, e, s, g, totalSteps, lastCheckpoint, exitCode, error);
    }

    JobStatus withTotalSteps(long t) {
        return new JobStatus(state, epoch, stepInEpoch, globalStep, t, lastCheckpoint, exitCode, error);
    }

    JobStatus withCheckpoint(Path p) {
        return new JobStatus(state, epoch, stepInEpoch, globalStep, totalSteps, p, exitCode, error);
    }

    JobStatus ended(JobState s, int code, String message) {
        return new JobStatus(s, epoch, stepInEpoch, globalStep, totalSteps, lastCheckpoint, code, message);
    }
}
