package org.wrpn.train;

/** The loss or a gradient became NaN or infinite; names the step and where it was seen. */
public final class NumericalFailureException extends RuntimeException {
    public NumericalFailureException(String message) {
        super(message);
    }
}
