package org.wrpn.train;

/** The loss or a gradient became NaN or infinite; names the step and where it was seen. */
public final class NumericalFailureException extends RuntimeException {
    private final String layer;
    private final long globalStep;

    public NumericalFailureException(String message) {
        this(message, null, -1);
    }

    /**
     * @param layer the first layer (in forward order) whose gradient was not finite, or null
     * @param globalStep steps completed before the failing one, or -1 when unknown
     */
    public NumericalFailureException(String message, String layer, long globalStep) {
        super(message);
        this.layer = layer;
        this.globalStep = globalStep;
    }

    /** The first layer with a non-finite gradient, or null when none was found. */
    public String layer() {
        return layer;
    }

    /** Steps completed before the failing step (its checkpoint stem number), or -1 when unknown. */
    public long globalStep() {
        return globalStep;
    }
}
