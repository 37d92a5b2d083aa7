package org.wrpn.cli;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import org.wrpn.BadInputException;
import org.wrpn.backend.Bytes;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.plan.MemoryPlan;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import picocli.CommandLine.Command;
import picocli.CommandLine.IModelTransformer;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

@Command(name = "plan", mixinStandardHelpOptions = true, modelTransformer = PlanCommand.Settings.class, subcommands = ScalingCommand.class,
        description = {"Memory one training step needs (from the memory ledger), and the largest batch for a budget.",
            "`wrpn plan scaling`: predicted efficiency of data-parallel training across GPUs and nodes (docs/SCALING.md)."})
public final class PlanCommand implements Callable<Integer> {
    /** The settings that shape a training step. */
    @Mixin
    TrainingOptions settings;

    @Option(names = "--input", paramLabel = "CxHxW",
            description = "image shape (default: the model's data: 1x28x28 for lenet, 3x224x224 for alexnet and resnet34, 3x32x32 for the other ResNets)")
    String input;

    @Option(names = "--classes", description = "classes, the last layer's outputs (default: the model's data: 1000 for alexnet and resnet34, else 10)")
    Integer classes;

    @Spec
    CommandSpec command;

    @Option(names = "--budget", paramLabel = "BYTES", description = "memory budget, e.g. 8G, 512M or 1000000: also report the largest batch that fits")
    String budget;

    @Option(names = "--json", description = "machine-readable output")
    boolean json;

    @Option(names = "--details", description = "list every tensor kept for backward, and every one live at the high-water mark")
    boolean details;

    /** plan takes the settings that shape a step; its --device only picks whose workspace rules apply. */
    public static final class Settings implements IModelTransformer {
        private static final Set<String> KEYS = Set.of("model", "width", "wbits", "abits", "layer_bits", "batch", "save", "device");

        @Override
        public CommandSpec transform(CommandSpec spec) {
            return TrainingOptions.tailor(spec, KEYS::contains, new TrainingOptions.Meaning("--device",
                    "whose workspace rules apply: cpu or cuda (default: ${DEFAULT-VALUE})", Device.CPU.flag()));
        }
    }

    @Override
    public Integer call() throws Exception {
        TrainingOptions s = settings;
        if (!Models.NAMES.contains(s.model)) {
            throw new BadInputException("unknown model '" + s.model + "'; choose one of " + String.join(", ", Models.NAMES));
        }
        PrecisionPolicy precision = new PrecisionPolicy(s.wbits, s.abits, PrecisionPolicy.parseOverrides(s.layerBits));
        SavePolicy policy = SaveChoice.parse(s.save).resolve(precision);
        int[] chw = input == null ? Models.naturalInput(s.model) : PlanRequest.parseInput(input);
        String shape = chw[0] + "x" + chw[1] + "x" + chw[2];
        PlanRequest req = new PlanRequest(s.model, s.widthMultiplier, precision, policy, s.batch, chw[0], chw[1], chw[2],
                classes != null ? classes : Models.naturalClasses(s.model),
                PlanRequest.parseDevice(s.device));
        MemoryPlan p = MemoryPlanner.plan(req);
        Long budgetBytes = budget == null ? null : parseBytes(budget);
        Integer largest = budgetBytes == null ? null : MemoryPlanner.largestBatch(req, budgetBytes);

        Map<String, Object> m = new LinkedHashMap<>();
        m.put("model", s.model);
        m.put("width", s.widthMultiplier);
        m.put("wbits", s.wbits);
        m.put("abits", s.abits);
        m.put("save", policy.flag());
        m.put("batch", s.batch);
        m.put("input", shape);
        m.put("device", req.device().flag());
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
            if (details) {
                m.put("saved", p.saved());
                m.put("at_peak", p.atPeak());
            }
            System.out.println(new ObjectMapper().writeValueAsString(m));
            return nothingFits(largest, budgetBytes, req);
        }
        System.out.printf(Locale.ROOT, "%s width %s w%d/a%d, save %s, batch %d, input %s (%s workspace rules)%n", s.model,
                s.widthMultiplier, s.wbits, s.abits, policy.flag(), s.batch, shape, req.device().flag());
        row("weights (quantized copies)", p.quantizedWeights());
        row("master weights + BN state", p.masterWeights());
        row("gradients", p.gradients());
        row("optimizer state (momentum)", p.optimizerState());
        row("input batch", p.inputs());
        row("saved activations", p.savedActivations());
        row("peak transient", p.peakTransient());
        row("  of which op workspace", p.peakWorkspace());
        row("total (high-water mark)", p.total());
        if (budgetBytes != null && largest > 0) {
            System.out.printf(Locale.ROOT, "largest batch within %s: %d%n", Bytes.format(budgetBytes), largest);
        }
        if (details) {
            List<MemoryLedger.Entry> saved = p.saved();
            System.out.println("kept for backward:");
            for (MemoryLedger.Entry e : saved) {
                System.out.printf(Locale.ROOT, "  %-28s %-16s %-10s %12d%n", e.owner(), e.tensor(), e.format(), e.bytes());
            }
            System.out.println("live at the high-water mark (activations, gradients, state, workspace):");
            for (MemoryLedger.Entry e : p.atPeak()) {
                System.out.printf(Locale.ROOT, "  %-28s %-16s %-10s %12d%n", e.owner(), e.tensor(), e.format(), e.bytes());
            }
        }
        return nothingFits(largest, budgetBytes, req);
    }

    /** Exit 3, as for out of memory, when not even a batch of 1 fits the budget. */
    private int nothingFits(Integer largest, Long budgetBytes, PlanRequest req) {
        if (largest == null || largest > 0) return Main.EXIT_OK;
        long one = MemoryPlanner.plan(req.withBatch(1)).total();
        command.commandLine().getErr().printf(Locale.ROOT, "error: out of memory: nothing fits within %s: a batch of 1 needs %s;"
                + " lower --width or the bits, or raise --budget%n", Bytes.format(budgetBytes), Bytes.format(one));
        return Main.EXIT_OUT_OF_MEMORY;
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
