package org.wrpn;

/**
 * Input the user can fix: a bad flag, a missing or corrupt file, a mismatched checkpoint. The CLI
 * prints its message as one line and exits with code 2, without a stack trace.
 */
public class BadInputException extends RuntimeException {
    public BadInputException(String message) {
        super(message);
    }

    public BadInputException(String message, Throwable cause) {
        super(message, cause);
    }
}
