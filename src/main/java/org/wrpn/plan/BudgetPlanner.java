package org.wrpn.plan;

import java.util.ArrayList;
import java.util.List;
import org.wrpn.BadInputException;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;

/**
 * Which widths and bit settings of a model fit a memory budget, before any GPU is asked for: each
 * candidate's training step is planned at the batch asked (the memory ledger of a dry run, as
 * {@link MemoryPlanner}) together with the largest batch the budget allows it.
 *
 * <pre>{@code
 * PlanRequest shape = PlanRequest.of("resnet20", 1, 32, 32, SavePolicy.FP32, 64);   // model, batch, images, rules
 * List<PrecisionPolicy> bits = List.of(PrecisionPolicy.uniform(8, 8), PrecisionPolicy.uniform(4, 4));
 * for (BudgetPlanner.Fit f : BudgetPlanner.fit(shape, SaveChoice.AUTO, List.of(1.0, 1.5, 2.0), bits, 64L << 20)) {
 *     if (f.fits()) System.out.println(f.request().widthMultiplier() + " " + f.plan().total() + " " + f.largestBatch());
 * }
 * }</pre>
 */
public final class BudgetPlanner {
    private BudgetPlanner() {}

    /**
     * One candidate: its plan at the batch asked and the largest batch within the budget (0 when not
     * even a batch of 1 fits).
     */
    public record Fit(PlanRequest request, MemoryPlan plan, long budgetBytes, int largestBatch) {
        public boolean fits() {
            return plan.total() <= budgetBytes;
        }
    }

    /**
     * Plans every width x precision, in that order.
     *
     * @param shape the model, batch, image shape and device rules; its width, precision and save policy are the candidates'
     * @param save what each candidate keeps for backward; auto is resolved per precision (packed when activations are quantized)
     */
    public static List<Fit> fit(PlanRequest shape, SaveChoice save, List<Double> widths, List<PrecisionPolicy> precisions,
            long budgetBytes) {
        if (budgetBytes <= 0) throw new BadInputException("the memory budget must be positive, got " + budgetBytes);
        List<Fit> out = new ArrayList<>();
        for (double w : widths) {
            for (PrecisionPolicy p : precisions) {
                PlanRequest r = shape.with(w, p, save.resolve(p));
                MemoryPlan plan = MemoryPlanner.plan(r);
                int largest = plan.total() <= budgetBytes ? MemoryPlanner.largestBatch(r, budgetBytes)
                        : largestBelow(r, budgetBytes);
                out.add(new Fit(r, plan, budgetBytes, largest));
            }
        }
        return out;
    }

    /** The largest batch below the request's (which does not fit), by bisection. */
    private static int largestBelow(PlanRequest r, long budgetBytes) {
        int lo = 0, hi = r.batch(); // invariant: lo fits (or is 0), hi does not
        while (hi - lo > 1) {
            int mid = (lo + hi) >>> 1;
            if (MemoryPlanner.plan(r.withBatch(mid)).total() <= budgetBytes) lo = mid;
            else hi = mid;
        }
        return lo;
    }
}
