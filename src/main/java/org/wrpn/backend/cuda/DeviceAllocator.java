package org.wrpn.backend.cuda;

import java.util.ArrayDeque;
import java.util.Map;
import java.util.TreeMap;

/**
 * A caching device allocator. Freed blocks are kept by size and handed out again, so a training
 * step that allocates the same tensors every iteration stops calling the driver (cuMemAlloc and
 * cuMemFree synchronise the device). Pure Java over {@link RawMemory}, so its bookkeeping is
 * tested without a GPU.
 *
 * <p>Two figures: <em>in use</em> is the bytes of live tensors as requested (what the memory ledger
 * declares, the same number the CPU backend reports); <em>reserved</em> is what the driver has
 * handed out, cached blocks and rounding included (what decides whether a job fits). Both have a
 * high-water mark. Reuse is stream-ordered: one allocator belongs to one stream.
 */
public final class DeviceAllocator<P> {
    /** The driver side: allocate and free raw device memory. */
    public interface RawMemory<P> {
        /** A block of exactly this many bytes, or null when the device is out of memory. */
        P allocate(long bytes);

        void free(P block);

        /** Free and total device bytes, for error messages. */
        long[] memoryInfo();
    }

    /** A block handed out: its pointer, the rounded capacity and the bytes requested. */
    public record Block<P>(P pointer, long capacity, long requested) {}

    static final long SMALL = 1L << 20;
    static final long SMALL_ROUND = 512;
    static final long LARGE_ROUND = 128L << 10;

    private final RawMemory<P> raw;
    private final TreeMap<Long, ArrayDeque<P>> cache = new TreeMap<>();
    private long inUse;
    private long peakInUse;
    private long reserved;
    private long peakReserved;
    private long cached;
    private long driverAllocations;

    public DeviceAllocator(RawMemory<P> raw) {
        this.raw = raw;
    }

    static long roundUp(long bytes) {
        long r = bytes <= SMALL ? SMALL_ROUND : LARGE_ROUND;
        return Math.max(r, (bytes + r - 1) / r * r);
    }

    public synchronized Block<P> allocate(long bytes) {
        if (bytes < 0) throw new IllegalArgumentException("negative allocation " + bytes);
        long size = roundUp(bytes);
        // The smallest cached block of at least size bytes, if it wastes at most an eighth.
        Map.Entry<Long, ArrayDeque<P>> hit = cache.ceilingEntry(size);
        P p;
        long capacity;
        if (hit != null && hit.getKey() <= size + size / 8) {
            capacity = hit.getKey();
            p = hit.getValue().pop();
            if (hit.getValue().isEmpty()) cache.remove(capacity);
            cached -= capacity;
        } else {
            capacity = size;
            p = raw.allocate(size);
            if (p == null) {
                emptyCache();
                p = raw.allocate(size);
            }
            if (p == null) {
                long[] info = raw.memoryInfo();
                throw new DeviceOutOfMemoryError(String.format(
                        "out of GPU memory allocating %s: %s in use by tensors, %s reserved, device %s free of %s",
                        mib(bytes), mib(inUse), mib(reserved), mib(info[0]), mib(info[1])));
            }
            driverAllocations++;
            reserved += size;
            peakReserved = Math.max(peakReserved, reserved);
        }
        inUse += bytes;
        peakInUse = Math.max(peakInUse, inUse);
        return new Block<>(p, capacity, bytes);
    }

    public synchronized void release(Block<P> b) {
        inUse -= b.requested();
        cache.computeIfAbsent(b.capacity(), k -> new ArrayDeque<>()).push(b.pointer());
        cached += b.capacity();
    }

    /** Returns every cached block to the driver. */
    public synchronized void emptyCache() {
        for (Map.Entry<Long, ArrayDeque<P>> e : cache.entrySet()) {
            for (P p : e.getValue()) {
                raw.free(p);
                reserved -= e.getKey();
            }
        }
        cache.clear();
        cached = 0;
    }

    public synchronized long inUseBytes() {
        return inUse;
    }

    public synchronized long peakInUseBytes() {
        return peakInUse;
    }

    public synchronized long reservedBytes() {
        return reserved;
    }

    public synchronized long peakReservedBytes() {
        return peakReserved;
    }

    public synchronized long cachedBytes() {
        return cached;
    }

    /** How often the driver was asked for memory (a steady training loop stops asking). */
    public synchronized long driverAllocations() {
        return driverAllocations;
    }

    public synchronized void resetPeaks() {
        peakInUse = inUse;
        peakReserved = reserved;
    }

    private static String mib(long b) {
        return String.format("%.1f MiB", b / 1048576.0);
    }
}
