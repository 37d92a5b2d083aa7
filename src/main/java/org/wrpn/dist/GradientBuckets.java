package org.wrpn.dist;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.Replicas;
import org.wrpn.tensor.Tensor;

/**
 * A network replica's gradients summed over the ranks as PyTorch DDP does it: the trainable
 * parameters in reverse order (about the order backward finishes them) are grouped into buckets of
 * about {@code bucketBytes}; a bucket's sum starts as soon as backward has written all its gradients,
 * so communication overlaps the rest of backward, and {@link #finish} waits for the last one.
 * Each rank's loss is scaled by 1 / (global batch), so the sum is the global batch's gradient.
 */
public final class GradientBuckets implements Replicas {
    /** PyTorch DDP's default bucket_cap_mb. */
    public static final long DEFAULT_BUCKET_BYTES = 25L << 20;

    private final Collective collective;
    private final boolean synchronizeBatchNorm;
    private final List<Slot> buckets = new ArrayList<>();
    private final Map<Parameter, Slot> slotOf = new IdentityHashMap<>();
    private final Set<Parameter> readyThisStep = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
    private final List<Slot> started = new ArrayList<>();

    private static final class Slot {
        final List<Parameter> parameters = new ArrayList<>();
        Collective.Bucket bucket;
        long bytes;
        int ready;
    }

    /**
     * trainable in the network's order; excluded: those whose gradients the layers sum themselves
     * (synchronised batch norm).
     */
    public GradientBuckets(Collective collective, List<Parameter> trainable, List<Parameter> excluded, long bucketBytes,
            boolean synchronizeBatchNorm) {
        if (bucketBytes <= 0) throw new IllegalArgumentException("bucket bytes " + bucketBytes);
        this.collective = collective;
        this.synchronizeBatchNorm = synchronizeBatchNorm;
        Set<Parameter> skip = java.util.Collections.newSetFromMap(new IdentityHashMap<>());
        skip.addAll(excluded);
        Slot current = null;
        for (int i = trainable.size() - 1; i >= 0; i--) {
            Parameter p = trainable.get(i);
            if (skip.contains(p)) continue;
            if (current == null || current.bytes >= bucketBytes) {
                current = new Slot();
                buckets.add(current);
            }
            current.parameters.add(p);
            current.bytes += p.grad().bytes();
            slotOf.put(p, current);
        }
        for (Slot s : buckets) {
            List<Tensor> grads = new ArrayList<>();
            for (Parameter p : s.parameters) grads.add(p.grad());
            s.bucket = collective.bucket(grads);
        }
    }

    public int bucketCount() {
        return buckets.size();
    }

    @Override
    public int count() {
        return collective.worldSize();
    }

    @Override
    public boolean synchronizesBatchNorm() {
        return synchronizeBatchNorm;
    }

    @Override
    public void sum(double[] values) {
        collective.sum(values);
    }

    @Override
    public void gradientsReady(List<Parameter> parameters) {
        for (Parameter p : parameters) {
            Slot s = slotOf.get(p);
            if (s == null || !readyThisStep.add(p)) continue;
            if (++s.ready == s.parameters.size()) start(s);
        }
    }

    private void start(Slot s) {
        s.bucket.start();
        started.add(s);
    }

    /** After backward: starts what has not started (in bucket order), waits for every sum, and resets for the next step. */
    public void finish() {
        for (Slot s : buckets) if (s.ready < s.parameters.size()) start(s);
        try {
            for (Slot s : started) s.bucket.await();
        } finally {
            for (Slot s : buckets) s.ready = 0;
            started.clear();
            readyThisStep.clear();
        }
    }
}
