package org.wrpn.data.decode;

/** An image that cannot be used: unreadable, not a JPEG or PNG, corrupt, truncated. The message names the problem, not the file. */
public final class BadImageException extends Exception {
    public BadImageException(String problem) {
        super(problem);
    }
}
