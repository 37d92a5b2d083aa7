package org.wrpn.backend.cpu;

import java.util.Arrays;
import org.wrpn.backend.UninitializedMemory;
import org.wrpn.tensor.AbstractTensor;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;

/** A CPU tensor: a Java array owned by one CpuBackend's memory. Closing returns its bytes to the ledger. */
final class CpuTensor extends AbstractTensor {
    final CpuMemory owner;
    float[] f;
    int[] i;
    byte[] b;

    /** zeroed false: a pooled array keeps a closed tensor's data (or the poison, see UninitializedMemory). */
    CpuTensor(CpuMemory owner, DType dtype, Shape shape, int bits, boolean zeroed) {
        super(dtype, shape, bits);
        this.owner = owner;
        int n = checkedLength(dtype == DType.I8 ? bytes() : dtype == DType.PACKED ? bytes() / 4 : elements());
        switch (dtype) {
            case F32 -> f = owner.pool.floats(n, zeroed);
            case I32, PACKED -> i = owner.pool.ints(n, zeroed);
            case I8 -> {
                b = new byte[n];
                if (!zeroed && UninitializedMemory.POISON) Arrays.fill(b, UninitializedMemory.POISON_BYTE);
            }
        }
    }

    private static int checkedLength(long n) {
        if (n > Integer.MAX_VALUE - 8) throw new IllegalArgumentException("tensor too large for the CPU backend: " + n + " elements");
        return (int) n;
    }

    @Override
    protected void release() {
        owner.pool.recycle(f);
        owner.pool.recycle(i);
        f = null;
        i = null;
        b = null;
        owner.released(this);
    }
}
