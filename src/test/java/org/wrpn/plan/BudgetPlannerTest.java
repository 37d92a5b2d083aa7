package org.wrpn.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import org.junit.jupiter.api.Test;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.SavePolicy;

/** Which widths and bits fit a budget, and at what batch: the planner's own answers, candidate by candidate. */
class BudgetPlannerTest {
    private static final PlanRequest LENET_64 = PlanRequest.of("lenet", 1, 32, 32, SavePolicy.FP32, 64);
    private static final long BUDGET = 15L << 20; // between lenet's w1 quantized step (13.0 MiB) and its fp32 one (15.7 MiB)

    @Test
    void aBudgetCanExcludeFullPrecisionAtWidthOneAndAdmitReducedPrecision() {
        List<BudgetPlanner.Fit> fits = BudgetPlanner.fit(LENET_64, SaveChoice.AUTO, List.of(1.0, 1.5),
                List.of(PrecisionPolicy.uniform(32, 32), PrecisionPolicy.uniform(4, 2)), BUDGET);
        assertEquals(4, fits.size());
        BudgetPlanner.Fit fp32 = fits.get(0), quantized = fits.get(1);
        assertEquals(SavePolicy.FP32, fp32.request().save(), "auto is resolved per candidate");
        assertEquals(SavePolicy.PACKED, quantized.request().save());
        assertFalse(fp32.fits());
        assertTrue(quantized.fits());
        assertFalse(fits.get(3).fits(), "width 1.5 does not fit even at 4/2");
        for (BudgetPlanner.Fit f : fits) {
            assertEquals(MemoryPlanner.plan(f.request()).total(), f.plan().total(), "the plan at the batch asked");
            int b = f.largestBatch();
            assertTrue(b == 0 || MemoryPlanner.plan(f.request().withBatch(b)).total() <= BUDGET, "the largest batch fits");
            assertTrue(MemoryPlanner.plan(f.request().withBatch(b + 1)).total() > BUDGET, "one more does not");
            assertEquals(f.fits(), b >= 64);
        }
    }

    @Test
    void fractionalWidthsRoundEveryHiddenLayerToWholeChannels() {
        PlanRequest r = LENET_64.with(1.5, PrecisionPolicy.uniform(4, 4), SavePolicy.PACKED);
        MemoryPlan p = MemoryPlanner.plan(r);
        assertTrue(p.saved().stream().anyMatch(e -> e.tensor().equals("64x14x14x24")), "conv1: 16 x 1.5 = 24 channels " + p.saved());
        assertTrue(p.saved().stream().anyMatch(e -> e.tensor().equals("64x7x7x48")), "conv2: 32 x 1.5 = 48 channels " + p.saved());
        assertTrue(p.saved().stream().anyMatch(e -> e.tensor().equals("64x192")), "fc1: 128 x 1.5 = 192 units " + p.saved());
        MemoryPlan resnet = MemoryPlanner.plan(new PlanRequest("resnet20", 2.5, PrecisionPolicy.uniform(4, 4), SavePolicy.PACKED, 8, 1,
                28, 28, 10, org.wrpn.backend.Device.CPU));
        for (String c : List.of("x40", "x80", "x160")) { // stages of 16, 32, 64 channels
            assertTrue(resnet.saved().stream().anyMatch(e -> e.tensor().endsWith(c)), c + " in " + resnet.saved());
        }
    }
}
