package org.wrpn.nn;

import org.wrpn.FlagEnum;

/** What layers keep for the backward pass (--save, where {@link SaveChoice} adds auto). */
public enum SavePolicy implements FlagEnum {
    /** Conventional: fp32 tensors (what PyTorch keeps). */
    FP32,
    /** Quantized blocks keep only their k-bit output codes and 1-bit mask; the rest is recomputed. */
    PACKED
}
