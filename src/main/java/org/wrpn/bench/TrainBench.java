package org.wrpn.bench;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.function.Supplier;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.backend.Backend;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;
import org.wrpn.train.ProgressBar;

/**
 * The `train` suite: one training step (forward, loss, backward, SGD update) per configuration on
 * random data already on the device: step time, images/s, bytes kept for backward, the step's peak
 * memory (ledger, backend allocator, JVM heap, process resident set), and the largest batch for a
 * memory budget, predicted by the planner and confirmed by really running the step at that batch
 * (it must fit) and one image more (it must not), on a fresh backend each.
 */
public final class TrainBench {
    private static final Logger LOG = LogManager.getLogger(TrainBench.class);

    public record Config(List<String> models, double[] widths, int[] bits, int batch, int repeats, long budgetBytes,
            boolean confirm) {}

    /** One (model, width, weight bits, activation bits, save policy). */
    public record Case(String model, double widthMultiplier, int wbits, int abits, SavePolicy policy) {}

    private TrainBench() {}

    /** Every case of the config: weights at the activation bits, both save policies (at 32 bits `packed` recomputes from ReLU outputs). */
    public static List<Case> cases(Config cfg) {
        List<Case> cs = new ArrayList<>();
        for (String m : cfg.models()) {
            for (double w : cfg.widths()) {
                for (int k : cfg.bits()) {
                    for (SavePolicy p : SavePolicy.values()) cs.add(new Case(m, w, k, k, p));
                }
            }
        }
        return cs;
    }

    /**
     * Runs every case on backends from `backends` (one fresh backend per network, so peaks start
     * clean). Cases not started by `deadlineNanos` (System.nanoTime; Long.MAX_VALUE for none) get
     * the planner's figures only.
     */
    public static void run(Supplier<Backend> backends, Config cfg, BenchTable table, boolean progress, long deadlineNanos) {
        run(backends, cfg, table, progress, deadlineNanos, null);
    }

    /**
     * As above, with PyTorch timed in the same run when `peer` is not null: per row, after both
     * warm-ups, wrpn's and PyTorch's steps alternate (one wrpn step, one PyTorch step, --repeats
     * times), and the row gains the peer's median step, images/s, saved bytes and the ratio.
     */
    public static void run(Supplier<Backend> backends, Config cfg, BenchTable table, boolean progress, long deadlineNanos,
            TorchPeer peer) {
        List<Case> cs = cases(cfg);
        ProgressBar bar = new ProgressBar(System.err, "train", cs.size());
        if (!progress) bar.disabled();
        int done = 0;
        int skipped = 0;
        for (Case c : cs) {
            boolean late = BenchTable.past(deadlineNanos);
            if (late) skipped++;
            table.rows.add(measure(backends, c, cfg, late, peer));
            done++;
            bar.update(done);
        }
        if (skipped > 0) table.notes.add(skipped + " configurations were not run (time budget): planned figures only");
    }

    static Map<String, Object> measure(Supplier<Backend> backends, Case c, Config cfg, boolean planOnly, TorchPeer peer) {
        int[] chw = ShapeProbe.inputFor(c.model());
        PrecisionPolicy precision = PrecisionPolicy.uniform(c.wbits(), c.abits());
        Map<String, Object> r = new LinkedHashMap<>();
        r.put("model", c.model());
        r.put("width", c.widthMultiplier());
        r.put("wbits", c.wbits());
        r.put("abits", c.abits());
        r.put("policy", c.policy().flag());
        r.put("batch", cfg.batch());
        Device device;
        try (Backend be = backends.get()) {
            device = Device.of(be);
            if (planOnly) {
                r.put("status", "not run: time budget");
            } else {
                try {
                    step(be, c, cfg, chw, r, peer);
                } catch (RuntimeException e) { // one failing configuration must not lose the others' results
                    LOG.warn("{} failed: {}", c, e.toString());
                    r.put("status", "failed: " + e);
                }
            }
        }
        PlanRequest req = new PlanRequest(c.model(), c.widthMultiplier(), precision, c.policy(), cfg.batch(), chw[0], chw[1], chw[2],
                10, device);
        var plan = MemoryPlanner.plan(req);
        r.put("planned_saved_bytes", plan.savedActivations());
        r.put("planned_peak_bytes", plan.total());
        r.put("budget_bytes", cfg.budgetBytes());
        int largest = MemoryPlanner.largestBatch(req, cfg.budgetBytes());
        r.put("largest_batch_planned", largest);
        if ("ok".equals(r.get("status")) && cfg.confirm() && largest > 0) {
            try {
                long at = measuredStepPeak(backends, c, chw, largest);
                long over = measuredStepPeak(backends, c, chw, largest + 1);
                r.put("measured_peak_at_largest_bytes", at);
                r.put("measured_peak_at_largest_plus_1_bytes", over);
                r.put("largest_batch_confirmed", at <= cfg.budgetBytes() && over > cfg.budgetBytes());
            } catch (RuntimeException e) {
                LOG.warn("{}: confirming batch {} failed: {}", c, largest, e.toString());
                r.put("largest_batch_confirmed", false);
                r.put("confirm_error", e.toString());
            }
        }
        LOG.debug("{}", r);
        return r;
    }

    private static void step(Backend be, Case c, Config cfg, int[] chw, Map<String, Object> r, TorchPeer peer) {
        int batch = cfg.batch();
        try (Network net = Models.build(c.model(), c.widthMultiplier(), PrecisionPolicy.uniform(c.wbits(), c.abits()), chw[1],
                chw[2], chw[0], 10)) {
            net.initialize(be, c.policy(), 1);
            net.prepare(batch);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            upload(be, x, y, batch, chw);
            List<Parameter> params = net.trainableParameters();
            Runnable step = () -> {
                net.forwardBackward(x, y, 1f / batch);
                for (Parameter p : params) {
                    be.sgdStep(p.value(), p.grad(), p.velocity(), 0.01f, 0.9f, p.hasWeightDecay() ? 5e-4f : 0f);
                }
                be.synchronize();
            };
            step.run(); // warm-up: JIT, scratch buffers, pools
            step.run();
            boolean withPeer = peer != null && peerSetup(peer, c, batch, r);
            double[] s = new double[cfg.repeats()];
            double[] torch = new double[cfg.repeats()];
            long heapPeak = 0, ledgerPeak = 0, backendPeak = 0, rssPeak = -1;
            for (int i = 0; i < s.length; i++) {
                System.gc();
                Machine.resetHeapPeaks();
                boolean rssReset = Machine.resetRssPeak();
                be.resetPeak();
                net.ledger().resetPeaks();
                long t = System.nanoTime();
                step.run();
                s[i] = (System.nanoTime() - t) / 1e9;
                heapPeak = Math.max(heapPeak, Machine.heapPeakBytes());
                ledgerPeak = Math.max(ledgerPeak, net.ledger().peakTotal());
                backendPeak = Math.max(backendPeak, be.peakAllocatedBytes());
                if (rssReset) rssPeak = Math.max(rssPeak, Machine.rssPeakBytes());
                if (withPeer) withPeer = peerStep(peer, torch, i, r);
            }
            double med = BenchTable.median(s);
            r.put("repeats", s.length);
            r.put("step_s", med);
            r.put("step_min_s", BenchTable.min(s));
            r.put("images_per_s", batch / med);
            r.put("saved_activation_bytes", net.lastSavedBytes());
            r.put("ledger_peak_bytes", ledgerPeak);
            r.put("backend_peak_bytes", backendPeak);
            r.put("heap_peak_bytes", heapPeak);
            r.put("rss_peak_bytes", rssPeak);
            r.put("status", "ok");
            if (withPeer) {
                double tm = BenchTable.median(torch);
                r.put("torch_step_s", tm);
                r.put("torch_step_min_s", BenchTable.min(torch));
                r.put("torch_images_per_s", batch / tm);
                r.put("wrpn_over_torch_step", med / tm);
            }
            net.ledger().free(x);
            net.ledger().free(y);
        }
    }

    private static boolean peerSetup(TorchPeer peer, Case c, int batch, Map<String, Object> r) {
        try {
            Map<String, Object> s = peer.setup(c.model(), c.widthMultiplier(), c.abits(), batch);
            r.put("torch_mode", s.get("mode"));
            r.put("torch_saved_activation_bytes", s.get("saved_activation_bytes"));
            return true;
        } catch (java.io.IOException | RuntimeException e) {
            LOG.warn("{}: PyTorch peer setup failed: {}", c, e.toString());
            r.put("torch_status", "failed: " + e.getMessage());
            return false;
        }
    }

    private static boolean peerStep(TorchPeer peer, double[] into, int i, Map<String, Object> r) {
        try {
            into[i] = peer.time(1)[0];
            return true;
        } catch (java.io.IOException | RuntimeException e) {
            LOG.warn("PyTorch peer step failed: {}", e.toString());
            r.put("torch_status", "failed: " + e.getMessage());
            return false;
        }
    }

    /** The backend's own high-water mark of one real forward/backward at `batch` on a fresh backend (what the planner predicts). */
    static long measuredStepPeak(Supplier<Backend> backends, Case c, int[] chw, int batch) {
        try (Backend be = backends.get();
                Network net = Models.build(c.model(), c.widthMultiplier(), PrecisionPolicy.uniform(c.wbits(), c.abits()), chw[1],
                        chw[2], chw[0], 10)) {
            net.initialize(be, c.policy(), 1);
            net.prepare(batch);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            upload(be, x, y, batch, chw);
            net.forwardBackward(x, y, 1f / batch);
            be.synchronize();
            long peak = be.peakAllocatedBytes();
            net.ledger().free(x);
            net.ledger().free(y);
            return peak;
        }
    }

    static void upload(Backend be, Tensor x, Tensor y, int batch, int[] chw) {
        SplittableRandom r = new SplittableRandom(5);
        float[] images = new float[batch * chw[0] * chw[1] * chw[2]];
        for (int i = 0; i < images.length; i++) images[i] = (float) (r.nextDouble() * 2 - 1);
        int[] labels = new int[batch];
        for (int i = 0; i < batch; i++) labels[i] = r.nextInt(10);
        be.upload(images, x);
        be.upload(labels, y);
    }
}
