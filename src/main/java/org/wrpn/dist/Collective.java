package org.wrpn.dist;

import java.util.List;
import org.wrpn.tensor.Tensor;

/**
 * The collective operations of a data-parallel job, on an existing engine (Gloo between CPU
 * processes, NCCL between GPUs). Every rank calls the same operations in the same order. A peer
 * that dies, hangs past the timeout or cannot be reached makes any call throw {@link RankLostException}.
 */
public interface Collective extends AutoCloseable {
    int rank();

    int worldSize();

    /** The engine and how it connects, for the log and `wrpn info`. */
    String describe();

    /** A reusable in-place sum of these tensors over all ranks; the tensors must stay allocated while it is used. */
    Bucket bucket(List<Tensor> tensors);

    /** Replaces values by their sum over all ranks (small host vectors: statistics, counters, flags). */
    void sum(double[] values);

    /** Overwrites the tensors of every rank with root's. */
    void broadcast(List<Tensor> tensors, int root);

    /** Overwrites values on every rank with root's. */
    void broadcast(long[] values, int root);

    /** Returns once every rank has called it. */
    void barrier();

    /** Leaves the job; no call may follow. */
    @Override
    void close();

    /** A sum of fixed tensors over all ranks that can be started and awaited once per step. */
    interface Bucket {
        /** Starts summing the tensors' current contents; they must not be written until {@link #await}. */
        void start();

        /** Waits for the sum and leaves it in the tensors. */
        void await();

        long bytes();
    }
}
