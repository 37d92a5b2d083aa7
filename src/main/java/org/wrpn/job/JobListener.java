package org.wrpn.job;

/**
 * Receives a job's events, in order, on the job's thread. A listener should return quickly; an
 * exception it throws is logged and otherwise ignored, so a broken listener cannot stop training.
 */
@FunctionalInterface
public interface JobListener {
    void onEvent(JobEvent event);

    JobListener NONE = e -> {};
}
