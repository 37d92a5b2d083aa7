package org.wrpn.job;

/** Where a job is in its life. COMPLETED, STOPPED and FAILED are final. */
public enum JobState {
    /** Reading the spec, data and checkpoint; nothing trained yet. */
    STARTING,
    RUNNING,
    /** A stop was requested; the job finishes its step and writes a checkpoint. */
    STOPPING,
    /** Every epoch is done (also when a restart found the run already complete). */
    COMPLETED,
    /** Stopped on request with a checkpoint; starting the same spec again resumes it. */
    STOPPED,
    FAILED;

    public boolean isFinal() {
        return this == COMPLETED || this == STOPPED || this == FAILED;
    }
}
