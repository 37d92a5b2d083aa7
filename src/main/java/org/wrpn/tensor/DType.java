package org.wrpn.tensor;

import org.wrpn.quant.PackedLayout;

/** Element formats a backend stores. PACKED holds k-bit codes in 32-bit words (see PackedLayout). */
public enum DType {
    F32,
    /** int8 codes (weight codes), one per byte. */
    I8,
    /** 32-bit integers: labels, pooling choices. */
    I32,
    /** k-bit activation codes, channels-last, packed into 32-bit words. */
    PACKED;

    /** Bits per element: the code width k for PACKED, else the element's own width. */
    public int bits(int packedBits) {
        return switch (this) {
            case F32, I32 -> 32;
            case I8 -> 8;
            case PACKED -> {
                PackedLayout.checkBits(packedBits);
                yield packedBits;
            }
        };
    }

    /**
     * Bytes a tensor of this format and shape occupies on every backend (CPU, CUDA, the planner's dry
     * run): the one formula the memory planner's exact match rests on.
     */
    public long bytes(Shape shape, int packedBits) {
        long n = shape.elements();
        return switch (this) {
            case F32, I32 -> 4L * n;
            case I8 -> n;
            case PACKED -> PackedLayout.bytes(shape.pixels(), shape.channels(), packedBits);
        };
    }
}
