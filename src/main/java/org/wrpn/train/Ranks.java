package org.wrpn.train;

import java.util.ArrayList;
import java.util.List;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.backend.LossResult;
import org.wrpn.data.ImageSet;
import org.wrpn.data.Normalization;
import org.wrpn.dist.Collective;
import org.wrpn.dist.GradientBuckets;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.tensor.Tensor;

/**
 * The trainer's view of the other processes of its job: none (one process), or the other ranks of a
 * data-parallel job, with whom it agrees on the start, sums every step's gradients, loss, accuracy
 * and stop requests, and splits evaluation. Rank 0 leads: its weights and start position are every
 * rank's, and only it writes.
 */
final class Ranks {
    private static final Logger LOG = LogManager.getLogger(Ranks.class);

    private final Collective collective;
    private final boolean synchronizeBatchNorm;
    private GradientBuckets buckets;

    /** What a step's sums say: the global batch's loss and counts, and whether any rank asked to stop. */
    record StepSums(LossResult loss, boolean stop) {}

    private Ranks(Collective collective, boolean synchronizeBatchNorm) {
        this.collective = collective;
        this.synchronizeBatchNorm = synchronizeBatchNorm;
    }

    static Ranks alone() {
        return new Ranks(null, false);
    }

    static Ranks of(Collective c, boolean synchronizeBatchNorm) {
        return c == null ? alone() : new Ranks(c, synchronizeBatchNorm);
    }

    int count() {
        return collective == null ? 1 : collective.worldSize();
    }

    int rank() {
        return collective == null ? 0 : collective.rank();
    }

    boolean lead() {
        return rank() == 0;
    }

    boolean distributed() {
        return collective != null;
    }

    /**
     * Every rank starts where rank 0 starts (epoch, step in epoch, global step), from its weights and
     * momentum; the network then reports its gradients to the buckets during backward.
     */
    Checkpoint.Progress start(Network net, Checkpoint.Progress at, int batch) {
        if (collective == null) return at;
        long[] where = {at.epoch(), at.stepInEpoch(), at.globalStep()};
        collective.broadcast(where, 0);
        broadcastFromLead(net.parameters(), true);
        buckets = new GradientBuckets(collective, net.trainableParameters(),
                synchronizeBatchNorm ? net.batchNormAffineParameters() : List.of(), GradientBuckets.DEFAULT_BUCKET_BYTES, synchronizeBatchNorm);
        net.context().replicas(buckets);
        LOG.info("data parallel: {}; global batch {} ({} x {}), {} gradient bucket(s), batch norm {}", collective.describe(),
                batch * count(), count(), batch, buckets.bucketCount(), synchronizeBatchNorm ? "over the global batch" : "per rank");
        return new Checkpoint.Progress((int) where[0], (int) where[1], where[2]);
    }

    /** After backward: the gradients summed over the ranks, and the global batch's loss, counts and stop requests. */
    StepSums finishStep(LossResult local, boolean stopRequested) {
        if (collective == null) return new StepSums(local, stopRequested);
        buckets.finish();
        double[] sums = {local.lossSum(), local.correct(), local.count(), stopRequested ? 1 : 0};
        collective.sum(sums);
        return new StepSums(new LossResult(sums[0], (int) sums[1], (int) sums[2]), sums[3] > 0);
    }

    /**
     * The test set's loss and accuracy: alone, all of it; as ranks, rank 0's running statistics
     * (DDP's buffers) on every rank first, then each rank a share, summed.
     */
    Evaluator.Result evaluate(Network net, ImageSet test, Normalization norm, int batch) {
        if (collective == null) return Evaluator.evaluate(net, test, norm, batch);
        broadcastFromLead(net.parameters(), false);
        Evaluator.Result mine = Evaluator.evaluateShare(net, test, norm, batch, rank(), count());
        double[] sums = {mine.loss() * mine.count(), mine.accuracy() * mine.count(), mine.count()};
        collective.sum(sums);
        return new Evaluator.Result(sums[0] / Math.max(1, sums[2]), sums[1] / Math.max(1, sums[2]), (int) sums[2]);
    }

    /** Returns once every rank is here (at once when alone). */
    void barrier() {
        if (collective != null) collective.barrier();
    }

    /** Rank 0's tensors on every rank: all parameters with their momentum, or only the state (batch-norm running statistics). */
    private void broadcastFromLead(List<Parameter> parameters, boolean everything) {
        List<Tensor> tensors = new ArrayList<>();
        for (Parameter p : parameters) {
            if (p.isTrainable() && !everything) continue;
            tensors.add(p.value());
            if (everything && p.velocity() != null) tensors.add(p.velocity());
        }
        if (!tensors.isEmpty()) collective.broadcast(tensors, 0);
    }
}
