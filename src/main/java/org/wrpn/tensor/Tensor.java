package org.wrpn.tensor;

/**
 * A backend-owned buffer. Callers never see where it lives (Java heap, off-heap memory, GPU memory); they pass
 * it back to the backend that made it. Closing frees it at once.
 */
public interface Tensor extends AutoCloseable {
    Shape shape();

    DType dtype();

    /** Bits per code for PACKED tensors; 32 for F32/I32, 8 for I8. */
    int bits();

    /** Bytes this tensor occupies in the backend's memory. */
    long bytes();

    @Override
    void close();
}
