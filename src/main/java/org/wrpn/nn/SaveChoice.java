package org.wrpn.nn;

import org.wrpn.FlagEnum;
import org.wrpn.quant.Quantizer;

/** The --save setting: a {@link SavePolicy}, or auto, which picks one from the precision. */
public enum SaveChoice implements FlagEnum {
    /** Packed when activations are quantized, else fp32 ({@link #resolve}). */
    AUTO,
    FP32,
    PACKED;

    /** auto, fp32 or packed. */
    public static SaveChoice parse(String s) {
        return FlagEnum.parse(SaveChoice.class, s, "--save must be fp32 or packed; got ");
    }

    /**
     * The policy this choice means for a precision. The one home of the auto rule: packed when
     * activations are quantized (abits below 32, or any per-layer override), else fp32.
     */
    public SavePolicy resolve(PrecisionPolicy precision) {
        return switch (this) {
            case FP32 -> SavePolicy.FP32;
            case PACKED -> SavePolicy.PACKED;
            case AUTO -> precision.activationBits() == Quantizer.FULL_PRECISION && precision.overrides().isEmpty()
                    ? SavePolicy.FP32 : SavePolicy.PACKED;
        };
    }

    @Override
    public String toString() {
        return flag();
    }
}
