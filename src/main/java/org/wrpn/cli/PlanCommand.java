package org.wrpn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.backend.Bytes;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.plan.MemoryPlan;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.quant.Quantizer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Memory one training step needs (from the memory ledger), and the largest batch for a budget.")
public final class PlanCommand implements Callable<Integer> {
    @Option(names = "--model", description = "(default: ${DEFAULT-VALUE})")
    String model = "lenet";

    @Option(names = "--width", description = "(default: ${DEFAULT-VALUE})")
    double width = 2;

    @Option(names = "--wbits", description = "(default: ${DEFAULT-VALUE})")
    int wbits = 4;

    @Option(names = "--abits", description = "(default: ${DEFAULT-VALUE})")
    int abits = 4;

    @Option(names = "--layer-bits", paramLabel = "LAYER=W/A,...", description = "per-layer overrides as for train")
    String layerBits = "";

    @Option(names = "--batch", description = "(default: ${DEFAULT-VALUE})")
    int batch = 64;

    @Option(names = "--save", description = "fp32, packed or auto (default: ${DEFAULT-VALUE})")
    String save = "auto";

    @Option(names = "--input", paramLabel = "CxHxW", description = "image shape (default: ${DEFAULT-VALUE})")
    String input = "1x28x28";

    @Option(names = "--classes", description = "(default: ${DEFAULT-VALUE})")
    int classes = 10;

    @Option(names = "--device", description = "whose workspace rules apply: cpu or cuda (default: ${DEFAULT-VALUE})")
    String device = "cpu";

    @Option(names = "--budget", paramLabel = "BYTES", description = "memory budget, e.g. 8G, 512M or 1000000: also report the largest batch that fits")
    String budget;

    @Option(names = "--json", description = "machine-readable output")
    boolean json;

    @Option(names = "--details", description = "list every tensor kept for backward")
    boolean details;

    @Override
    public Integer call() throws Exception {
        if (!Models.NAMES.contains(model)) {
            throw new BadInputException("unknown model '" + model + "'; choose one of " + String.join(", ", Models.NAMES));
        }
        Map<String, LayerPrecision> overrides = PrecisionPolicy.parseOverrides(layerBits);
        PrecisionPolicy precision = new PrecisionPolicy(wbits, abits, overrides);
        SavePolicy policy = save.equals("auto")
                ? (abits == Quantizer.FULL_PRECISION && overrides.isEmpty() ? SavePolicy.FP32 : SavePolicy.PACKED)
                : SavePolicy.parse(save);
        int[] chw = PlanRequest.parseInput(input);
        PlanRequest req = new PlanRequest(model, width, precision, policy, batch, chw[0], chw[1], chw[2], classes, device);
        MemoryPlan p = MemoryPlanner.plan(req);
        Long budgetBytes = budget == null ? null : parseBytes(budget);
        Integer largest = budgetBytes == null ? null : MemoryPlanner.largestBatch(req, budgetBytes);

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", model);
        m.put("width", width);
        m.put("wbits", wbits);
        m.put("abits", abits);
        m.put("save", policy.flag());
        m.put("batch", batch);
        m.put("input", input);
        m.put("device", device);
        m.put("quantized_weights_bytes", p.quantizedWeights());
        m.put("master_weights_bytes", p.masterWeights());
        m.put("gradients_bytes", p.gradients());
        m.put("optimizer_state_bytes", p.optimizerState());
        m.put("input_batch_bytes", p.inputs());
        m.put("saved_activations_bytes", p.savedActivations());
        m.put("peak_transient_bytes", p.peakTransient());
        m.put("peak_workspace_bytes", p.peakWorkspace());
        m.put("total_bytes", p.total());
        if (budgetBytes != null) {
            m.put("budget_bytes", budgetBytes);
            m.put("largest_batch", largest);
        }
        if (json) {
            if (details) m.put("saved", p.saved());
            System.out.println(new ObjectMapper().writeValueAsString(m));
            return Main.EXIT_OK;
        }
        System.out.printf(Locale.ROOT, "%s width %s w%d/a%d, save %s, batch %d, input %s (%s workspace rules)%n", model,
                width, wbits, abits, policy.flag(), batch, input, device);
        row("weights (quantized copies)", p.quantizedWeights());
        row("master weights + BN state", p.masterWeights());
        row("gradients", p.gradients());
        row("optimizer state (momentum)", p.optimizerState());
        row("input batch", p.inputs());
        row("saved activations", p.savedActivations());
        row("peak transient", p.peakTransient());
        row("  of which op workspace", p.peakWorkspace());
        row("total (high-water mark)", p.total());
        if (budgetBytes != null) {
            System.out.printf(Locale.ROOT, "largest batch within %s: %d%n", Bytes.format(budgetBytes), largest);
        }
        if (details) {
            List<MemoryLedger.Entry> saved = p.saved();
            System.out.println("kept for backward:");
            for (MemoryLedger.Entry e : saved) {
                System.out.printf(Locale.ROOT, "  %-28s %-16s %-10s %12d%n", e.owner(), e.tensor(), e.format(), e.bytes());
            }
        }
        return Main.EXIT_OK;
    }

    private static void row(String label, long bytes) {
        System.out.printf(Locale.ROOT, "  %-28s %14d  %s%n", label, bytes, Bytes.format(bytes));
    }

    static long parseBytes(String s) {
        String t = s.trim().toUpperCase(Locale.ROOT).replace("IB", "").replace("B", "");
        long mult = 1;
        if (!t.isEmpty()) {
            char u = t.charAt(t.length() - 1);
            int shift = switch (u) {
                case 'K' -> 10;
                case 'M' -> 20;
                case 'G' -> 30;
                case 'T' -> 40;
                default -> 0;
            };
            if (shift > 0) {
                mult = 1L << shift;
                t = t.substring(0, t.length() - 1);
            }
        }
        try {
            double v = Double.parseDouble(t);
            if (!(v > 0) || Double.isInfinite(v)) throw new NumberFormatException();
            return (long) (v * mult);
        } catch (NumberFormatException e) {
            throw new BadInputException("--budget must be a positive size such as 8G, 512M or 1000000; got " + s);
        }
    }
}
