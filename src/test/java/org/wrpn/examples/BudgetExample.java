package org.wrpn.examples;

import java.util.ArrayList;
import java.util.List;
import org.wrpn.backend.Device;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.SavePolicy;
import org.wrpn.plan.BudgetPlanner;
import org.wrpn.plan.PlanRequest;

/**
 * The README's example of sizing a job for a GPU before asking for one (which widths and bits fit,
 * at what batch), compiled by the build and run by BudgetExampleTest, using only the public API.
 */
public final class BudgetExample {
    private BudgetExample() {}

    /** The lines the example prints. */
    static List<String> run() {
        List<String> out = new ArrayList<>();
        // README:begin
        // resnet20 on 3x32x32 images at batch 128, planned with the CUDA backend's workspace rules.
        PlanRequest shape = new PlanRequest("resnet20", 1, PrecisionPolicy.uniform(32, 32), SavePolicy.FP32, 128,
                3, 32, 32, 10, Device.CUDA);
        List<PrecisionPolicy> bits = List.of(PrecisionPolicy.uniform(32, 32), PrecisionPolicy.uniform(4, 4),
                PrecisionPolicy.uniform(2, 2));
        // Which widths and bits fit 128 MiB of GPU memory (save: auto, packed when activations are quantized)?
        for (BudgetPlanner.Fit f : BudgetPlanner.fit(shape, SaveChoice.AUTO, List.of(1.0, 2.0), bits, 128L << 20)) {
            out.add(String.format("width %s, w%d/a%d: %,d bytes at batch 128 (%s), largest batch %d",
                    f.request().widthMultiplier(), f.request().precision().weightBits(),
                    f.request().precision().activationBits(), f.plan().total(), f.fits() ? "fits" : "too big",
                    f.largestBatch()));
        }
        // README:end
        return out;
    }
}
