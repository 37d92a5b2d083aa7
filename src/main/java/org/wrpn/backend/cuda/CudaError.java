package org.wrpn.backend.cuda;

/** A CUDA driver call or kernel launch failed; the message names the call and the error. */
public final class CudaError extends RuntimeException {
    private final int code;

    public CudaError(String message, int code) {
        super(message);
        this.code = code;
    }

    /** The CUresult code (0 when the failure was found by wrpn itself). */
    public int code() {
        return code;
    }
}
