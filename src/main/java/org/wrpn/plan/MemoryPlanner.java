package org.wrpn.plan;

import org.wrpn.BadInputException;
import org.wrpn.backend.Backend;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.nn.Network;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Answers "how much memory does this training job need" and "what is the largest batch that fits",
 * by running one training step of the real network code on a backend that only counts bytes. The
 * numbers are the memory ledger's, the same ledger the trainer reports while it trains.
 *
 * <pre>{@code
 * PlanRequest req = PlanRequest.of("resnet20", 2.0, 2, 2, SavePolicy.PACKED, 128);
 * MemoryPlan plan = MemoryPlanner.plan(req);
 * long needed = plan.total();                                   // bytes at the step's high-water mark
 * int batch = MemoryPlanner.largestBatch(req, 8L << 30);        // largest batch within 8 GiB
 * }</pre>
 */
public final class MemoryPlanner {
    private MemoryPlanner() {}

    public static MemoryPlan plan(PlanRequest r) {
        Backend dry = new DryRunBackend(r.device());
        try (Network net = Models.build(r.model(), r.widthMultiplier(), r.precision(), r.height(), r.imageWidth(), r.channels(),
                r.classes())) {
            net.initialize(dry, r.save(), 0);
            net.prepare(r.batch());
            MemoryLedger ledger = net.ledger();
            Tensor images = ledger.allocate(Category.INPUT, "images", DType.F32, net.inputShape(r.batch()));
            Tensor labels = ledger.allocate(Category.INPUT, "labels", DType.I32, Shape.of(r.batch()));
            ledger.resetPeaks();
            ledger.recordPeakContents();
            net.forwardBackward(images, labels, 1f / r.batch());
            long persistent = ledger.live(Category.QUANTIZED_WEIGHTS) + ledger.live(Category.MASTER_WEIGHTS)
                    + ledger.live(Category.GRADIENTS) + ledger.live(Category.OPTIMIZER_STATE) + ledger.live(Category.INPUT);
            long total = ledger.peakTotal();
            long saved = net.lastSavedBytes();
            MemoryPlan plan = new MemoryPlan(r, ledger.live(Category.QUANTIZED_WEIGHTS), ledger.live(Category.MASTER_WEIGHTS),
                    ledger.live(Category.GRADIENTS), ledger.live(Category.OPTIMIZER_STATE), ledger.live(Category.INPUT), saved,
                    Math.max(0, total - persistent - saved), ledger.peak(Category.WORKSPACE), total, net.lastSaved(),
                    ledger.peakContents(), net.storedWeightBytes());
            ledger.free(images);
            ledger.free(labels);
            return plan;
        }
    }

    /**
     * Trainable parameters of a model at a width, for the images it is made for
     * ({@link Models#naturalInput}, {@link Models#naturalClasses}): the network is built and its
     * parameters allocated on the counting backend, so no device and no step is needed. Each one is an
     * fp32 gradient, 4 bytes, that data-parallel training all-reduces every step.
     */
    public static long parameterCount(String model, double widthMultiplier) {
        int[] chw = Models.naturalInput(model);
        try (Network net = Models.build(model, widthMultiplier, PrecisionPolicy.uniform(32, 32), chw[1], chw[2], chw[0],
                Models.naturalClasses(model))) {
            net.initialize(new DryRunBackend(Device.CPU), SavePolicy.FP32, 0);
            return net.parameterCount();
        }
    }

    /** The largest batch whose step fits the budget, or 0 when not even a batch of 1 fits. */
    public static int largestBatch(PlanRequest r, long budgetBytes) {
        if (budgetBytes <= 0) throw new BadInputException("--budget must be positive, got " + budgetBytes);
        if (plan(r.withBatch(1)).total() > budgetBytes) return 0;
        int lo = 1;
        int hi = 2;
        while (hi <= (1 << 20) && plan(r.withBatch(hi)).total() <= budgetBytes) {
            lo = hi;
            hi *= 2;
        }
        hi = Math.min(hi, (1 << 20) + 1);
        while (hi - lo > 1) { // invariant: lo fits, hi does not
            int mid = (lo + hi) >>> 1;
            if (plan(r.withBatch(mid)).total() <= budgetBytes) lo = mid;
            else hi = mid;
        }
        return lo;
    }
}
