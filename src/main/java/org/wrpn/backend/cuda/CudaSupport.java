package org.wrpn.backend.cuda;

import java.util.EnumSet;
import java.util.List;
import java.util.Set;
import org.wrpn.backend.Op;
import org.wrpn.quant.Quantizer;

/**
 * Which Backend ops the CUDA backend implements so far. Pure Java (no driver classes), so that
 * backend selection can ask without loading JCuda.
 */
public final class CudaSupport {
    private CudaSupport() {}

    private static final Set<Op> IMPLEMENTED = EnumSet.of(Op.QUANTIZE_ACTIVATIONS, Op.QUANTIZE_WEIGHTS, Op.PACK);

    public static boolean supports(Op op, int weightBits, int activationBits) {
        return IMPLEMENTED.contains(op) && Quantizer.isValidWeightBits(weightBits)
                && Quantizer.isValidActivationBits(activationBits);
    }

    /** Ops a training step needs that the CUDA backend does not implement yet (empty once it can train). */
    public static List<Op> missingForTraining() {
        return EnumSet.complementOf(EnumSet.copyOf(IMPLEMENTED)).stream().toList();
    }
}
