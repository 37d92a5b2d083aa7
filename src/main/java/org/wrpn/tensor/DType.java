package org.wrpn.tensor;

/** Element formats a backend stores. PACKED holds k-bit codes in 32-bit words (see PackedLayout). */
public enum DType {
    F32,
    /** int8 codes (weight codes), one per byte. */
    I8,
    /** 32-bit integers: labels, pooling choices. */
    I32,
    /** k-bit activation codes, channels-last, packed into 32-bit words. */
    PACKED
}
