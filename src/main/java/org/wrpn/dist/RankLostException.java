package org.wrpn.dist;

/** A rank of a data-parallel job died, hung past the timeout, or could not be reached; the job cannot go on. */
public final class RankLostException extends RuntimeException {
    public RankLostException(String message, Throwable cause) {
        super(message, cause);
    }

    public RankLostException(String message) {
        super(message);
    }
}
