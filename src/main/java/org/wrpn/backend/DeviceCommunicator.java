package org.wrpn.backend;

import java.time.Duration;
import java.util.List;
import org.wrpn.tensor.Tensor;

/**
 * Collectives on a backend's own device memory for a data-parallel job (NCCL on the CUDA backend),
 * queued in order on the backend's stream like its kernels. Every rank queues the same operations in
 * the same order. {@link #await} bounds every wait: a peer that died or hangs fails it with
 * {@link PeerLostException} after at most the timeout.
 */
public interface DeviceCommunicator extends AutoCloseable {
    /** Queues the sum over all ranks of each tensor (F32 or I32), in place. */
    void allReduceSum(List<Tensor> tensors);

    /** Queues the overwriting of each tensor with root's. */
    void broadcast(List<Tensor> tensors, int root);

    /** Waits for everything queued, at most timeout. */
    void await(Duration timeout);

    /** The library, its version and the ranks, for the log. */
    String describe();

    @Override
    void close();

    /** A peer of a device collective died, hung past the timeout, or the library reported an error. */
    final class PeerLostException extends RuntimeException {
        public PeerLostException(String message) {
            super(message);
        }
    }
}
