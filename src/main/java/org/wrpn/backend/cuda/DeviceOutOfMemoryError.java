package org.wrpn.backend.cuda;

/** The GPU has no room for an allocation, even after the allocator returned its cache. */
public final class DeviceOutOfMemoryError extends RuntimeException {
    public DeviceOutOfMemoryError(String message) {
        super(message);
    }
}
