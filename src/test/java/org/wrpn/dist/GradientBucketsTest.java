package org.wrpn.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.wrpn.backend.Backend;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.nn.Parameter;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** DDP's bucketing: reverse order, a size cap, a bucket's sum started as soon as its last gradient is final. */
class GradientBucketsTest {
    /** A collective that records what is started and awaited (sums are the engine's, tested in the process tests). */
    static final class Recording implements Collective {
        final List<String> events = new ArrayList<>();
        final List<List<Tensor>> buckets = new ArrayList<>();

        @Override public int rank() { return 0; }
        @Override public int worldSize() { return 2; }
        @Override public String describe() { return "recording"; }
        @Override public void sum(double[] values) { events.add("sum"); }
        @Override public void broadcast(List<Tensor> tensors, int root) { events.add("broadcast"); }
        @Override public void broadcast(long[] values, int root) { events.add("broadcast"); }
        @Override public void barrier() { events.add("barrier"); }
        @Override public void close() {}

        @Override
        public Bucket bucket(List<Tensor> tensors) {
            int id = buckets.size();
            buckets.add(tensors);
            return new Bucket() {
                @Override public void start() { events.add("start " + id); }
                @Override public void await() { events.add("await " + id); }
                @Override public long bytes() { return 0; }
            };
        }
    }

    @Test
    void bucketsFillInReverseOrderUpToTheCapAndStartWhenTheirLastGradientIsReady() {
        try (Backend b = new CpuBackend()) {
            MemoryLedger ledger = new MemoryLedger(b);
            List<Parameter> ps = new ArrayList<>();
            for (int i = 0; i < 5; i++) ps.add(Parameter.trainable(ledger, "p" + i, Shape.of(100), true)); // 400 bytes each
            Parameter bnGamma = ps.get(2);
            Recording c = new Recording();
            GradientBuckets g = new GradientBuckets(c, ps, List.of(bnGamma), 800, true);
            assertEquals(2, g.bucketCount(), "p4+p3 (800 bytes), then p1+p0; p2 is summed by its layer");
            assertEquals(List.of(ps.get(4).grad(), ps.get(3).grad()), c.buckets.get(0));
            assertEquals(List.of(ps.get(1).grad(), ps.get(0).grad()), c.buckets.get(1));

            g.gradientsReady(List.of(ps.get(4)));
            assertTrue(c.events.isEmpty(), "half a bucket does not start");
            g.gradientsReady(List.of(ps.get(4), ps.get(3))); // p4 again: counted once
            assertEquals(List.of("start 0"), c.events);
            g.gradientsReady(List.of(bnGamma, ps.get(1)));
            g.finish();
            assertEquals(List.of("start 0", "start 1", "await 0", "await 1"), c.events, "finish starts the rest and waits for all");

            c.events.clear(); // the next step starts from nothing
            g.gradientsReady(List.of(ps.get(1), ps.get(0)));
            g.finish();
            assertEquals(List.of("start 1", "start 0", "await 1", "await 0"), c.events);
            assertEquals(2, g.count());
            assertTrue(g.synchronizesBatchNorm());
            for (Parameter p : ps) p.close();
        }
    }
}
