package org.wrpn.job;

/**
 * A job that does not fit in memory, with the memory planner's suggestion: the largest batch whose
 * training step fits the same budget (0 when not even a batch of one fits).
 */
public final class OutOfMemoryFailure extends RuntimeException {
    private final long neededBytes;
    private final long budgetBytes;
    private final int suggestedBatch;

    public OutOfMemoryFailure(String message, long neededBytes, long budgetBytes, int suggestedBatch, Throwable cause) {
        super(message, cause);
        this.neededBytes = neededBytes;
        this.budgetBytes = budgetBytes;
        this.suggestedBatch = suggestedBatch;
    }

    /** The planned high-water mark of one training step at the job's batch size. */
    public long neededBytes() {
        return neededBytes;
    }

    /** The memory the job had: the device's memory, or the JVM's maximum heap on the CPU. */
    public long budgetBytes() {
        return budgetBytes;
    }

    public int suggestedBatch() {
        return suggestedBatch;
    }
}
