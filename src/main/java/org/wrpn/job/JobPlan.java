package org.wrpn.job;

import java.util.OptionalInt;
import java.util.OptionalLong;
import org.wrpn.plan.MemoryPlan;

/**
 * The memory a job needs, from the memory ledger (see {@link org.wrpn.plan.MemoryPlanner}), and, for
 * a budget, the largest batch whose training step fits it.
 *
 * @param memory the breakdown of one training step at the spec's batch size; {@code memory.total()}
 *     is the high-water mark
 */
public record JobPlan(MemoryPlan memory, OptionalLong budgetBytes, OptionalInt largestBatch) {
    /** Whether the step fits the budget (true when there is none). */
    public boolean fits() {
        return budgetBytes.isEmpty() || memory.total() <= budgetBytes.getAsLong();
    }
}
