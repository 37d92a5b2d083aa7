package org.wrpn.nn;

import org.wrpn.BadInputException;

/** What layers keep for the backward pass. */
public enum SavePolicy {
    /** Conventional: fp32 tensors (what PyTorch keeps). */
    FP32,
    /** Quantized blocks keep only their k-bit output codes and 1-bit mask; the rest is recomputed. */
    PACKED;

    public static SavePolicy parse(String s) {
        return switch (s) {
            case "fp32" -> FP32;
            case "packed" -> PACKED;
            default -> throw new BadInputException("--save must be fp32 or packed; got " + s);
        };
    }

    public String flag() {
        return name().toLowerCase();
    }
}
