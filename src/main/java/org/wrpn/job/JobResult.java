package org.wrpn.job;

import java.nio.file.Path;
import java.util.List;
import org.wrpn.train.Trainer;

/**
 * How a job ended.
 *
 * @param state COMPLETED, STOPPED or FAILED
 * @param exitCode what `wrpn train` exits with for this outcome ({@link ExitCode})
 * @param epochs the epochs this run trained (empty when it resumed a finished run or stopped early)
 * @param lastCheckpoint the checkpoint a restart resumes from (null when none was ever written)
 * @param failure the cause when FAILED, else null
 * @param message one line: the failure, or a short summary
 */
public record JobResult(JobState state, int exitCode, List<Trainer.EpochResult> epochs, Path lastCheckpoint,
        Throwable failure, String message) {

    public JobResult {
        epochs = List.copyOf(epochs);
    }

    /** The last epoch trained by this run, or null. */
    public Trainer.EpochResult lastEpoch() {
        return epochs.isEmpty() ? null : epochs.get(epochs.size() - 1);
    }
}
