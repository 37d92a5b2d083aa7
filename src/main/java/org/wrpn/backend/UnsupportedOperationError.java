package org.wrpn.backend;

/** Raised when a backend is asked for an op or configuration it declares it does not support. */
public final class UnsupportedOperationError extends RuntimeException {
    public UnsupportedOperationError(String message) {
        super(message);
    }
}
