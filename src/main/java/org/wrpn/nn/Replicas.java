package org.wrpn.nn;

import java.util.List;

/**
 * What a network replica of a data-parallel job needs from the others during a step: where a
 * layer's parameter gradients become final (so their reduction can start while backward goes on),
 * and, for synchronised batch norm, sums of small per-channel vectors over every replica.
 * One replica per process; all replicas call these in the same order.
 */
public interface Replicas {
    /** Replicas in the job. */
    int count();

    /** Whether batch norm uses the statistics of the whole global batch (else each replica its own). */
    boolean synchronizesBatchNorm();

    /** Replaces values by their sum over every replica (blocking). */
    void sum(double[] values);

    /** Backward has written these parameters' gradients for this step (they may include ones reported before). */
    void gradientsReady(List<Parameter> parameters);
}
