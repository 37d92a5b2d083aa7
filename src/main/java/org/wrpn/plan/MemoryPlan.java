package org.wrpn.plan;

import java.util.List;
import org.wrpn.backend.MemoryLedger;

/**
 * The memory one training step needs, from the memory ledger of a dry run.
 *
 * @param quantizedWeights quantized weight copies remade each step
 * @param masterWeights fp32 master weights, BN parameters and running statistics
 * @param savedActivations what the forward pass keeps for backward (activations, masks, pool choices, BN batch statistics)
 * @param peakTransient what the step needs at its high-water mark beyond persistent state and saved activations
 *     (activations in flight, gradients of activations, recomputation scratch and op workspace)
 * @param peakWorkspace the largest op-internal scratch (im2col and the like), part of peakTransient
 * @param total the high-water mark of the whole step
 * @param atPeak the activation, layer-state and workspace tensors live at the high-water mark
 * @param storedWeightBytes the trained model stored for inference, quantized weights at their bit width
 *     ({@link org.wrpn.nn.Network#storedWeightBytes})
 */
public record MemoryPlan(PlanRequest request, long quantizedWeights, long masterWeights, long gradients,
        long optimizerState, long inputs, long savedActivations, long peakTransient, long peakWorkspace, long total,
        List<MemoryLedger.Entry> saved, List<MemoryLedger.Entry> atPeak, long storedWeightBytes) {

    /** Bytes that live for the whole run, independent of the step. */
    public long persistent() {
        return quantizedWeights + masterWeights + gradients + optimizerState + inputs;
    }
}
