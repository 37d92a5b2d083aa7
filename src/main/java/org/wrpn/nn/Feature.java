package org.wrpn.nn;

import org.wrpn.backend.MemoryLedger;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/**
 * An activation or gradient flowing between layers: fp32, or k-bit packed codes. Reference counted:
 * the producer hands one reference to its consumer, a layer that needs it for backward retains it,
 * and the tensor is freed when the last reference goes. So a tensor two layers need is stored once.
 */
public final class Feature {
    private final Tensor tensor;
    private final MemoryLedger ledger;
    private int refs = 1;

    Feature(Tensor tensor, MemoryLedger ledger) {
        this.tensor = tensor;
        this.ledger = ledger;
    }

    /** A feature the caller owns and frees itself (the input batch): never freed by release. */
    public static Feature borrowed(Tensor tensor) {
        return new Feature(tensor, null);
    }

    public Tensor tensor() {
        if (refs <= 0) throw new IllegalStateException("feature " + tensor + " used after release");
        return tensor;
    }

    public boolean isPacked() {
        return tensor.dtype() == DType.PACKED;
    }

    /** Bits per value: k for packed codes, 32 for fp32. */
    public int bits() {
        return isPacked() ? tensor.bits() : 32;
    }

    /** Only one reference: the holder may overwrite the tensor in place. */
    public boolean isExclusive() {
        return refs == 1;
    }

    public Feature retain() {
        if (refs <= 0) throw new IllegalStateException("retain after release of " + tensor);
        refs++;
        return this;
    }

    public void release() {
        if (refs <= 0) throw new IllegalStateException("double release of " + tensor);
        if (--refs == 0 && ledger != null) ledger.free(tensor);
    }
}
