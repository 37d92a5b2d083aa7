package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.HashSet;
import java.util.Set;
import org.junit.jupiter.api.Test;

/** The caching allocator's bookkeeping over a fake device with a fixed capacity. */
class DeviceAllocatorTest {
    /** A device of `capacity` bytes; blocks are fresh objects so that reuse is visible by identity. */
    static final class FakeDevice implements DeviceAllocator.RawMemory<Object> {
        final long capacity;
        long used;
        int allocations;
        final Set<Object> live = new HashSet<>();

        FakeDevice(long capacity) {
            this.capacity = capacity;
        }

        @Override
        public Object allocate(long bytes) {
            if (used + bytes > capacity) return null;
            used += bytes;
            allocations++;
            Object b = new long[] {bytes};
            live.add(b);
            return b;
        }

        @Override
        public void free(Object block) {
            assertTrue(live.remove(block), "double free");
            used -= ((long[]) block)[0];
        }

        @Override
        public long[] memoryInfo() {
            return new long[] {capacity - used, capacity};
        }
    }

    @Test
    void sizesRoundToSmallAndLargeGranules() {
        assertEquals(512, DeviceAllocator.roundUp(0));
        assertEquals(512, DeviceAllocator.roundUp(1));
        assertEquals(1024, DeviceAllocator.roundUp(513));
        assertEquals(1 << 20, DeviceAllocator.roundUp(1 << 20));
        assertEquals((1 << 20) + (128 << 10), DeviceAllocator.roundUp((1 << 20) + 1));
    }

    @Test
    void freedBlocksAreReusedAndTheFiguresAddUp() {
        FakeDevice dev = new FakeDevice(1L << 30);
        DeviceAllocator<Object> a = new DeviceAllocator<>(dev);
        DeviceAllocator.Block<Object> x = a.allocate(1000);
        DeviceAllocator.Block<Object> y = a.allocate(3 << 20);
        assertEquals(1000 + (3 << 20), a.inUseBytes());
        assertEquals(1024 + (3 << 20), a.reservedBytes());
        a.release(x);
        assertEquals(3 << 20, a.inUseBytes());
        assertEquals(1024, a.cachedBytes());
        DeviceAllocator.Block<Object> x2 = a.allocate(1000);
        assertSame(x.pointer(), x2.pointer(), "same size reuses the cached block");
        assertEquals(2, dev.allocations);
        assertEquals(1000 + (3 << 20), a.peakInUseBytes());

        a.release(y);
        DeviceAllocator.Block<Object> small = a.allocate(1 << 20);
        assertNotSame(y.pointer(), small.pointer(), "a 3 MiB block is not handed out for 1 MiB");
        a.resetPeaks();
        assertEquals(a.inUseBytes(), a.peakInUseBytes());
        a.release(x2);
        a.release(small);
        assertEquals(0, a.inUseBytes());
        a.emptyCache();
        assertEquals(0, a.reservedBytes());
        assertEquals(0, dev.used);
        assertTrue(dev.live.isEmpty());
    }

    @Test
    void outOfMemoryFirstEmptiesTheCacheThenSaysHowMuchWasInUse() {
        FakeDevice dev = new FakeDevice(10L << 20);
        DeviceAllocator<Object> a = new DeviceAllocator<>(dev);
        DeviceAllocator.Block<Object> big = a.allocate(6L << 20);
        a.release(big);
        DeviceAllocator.Block<Object> other = a.allocate(8L << 20);  // fits only once the cache is freed
        assertEquals(8L << 20, a.reservedBytes());
        DeviceOutOfMemoryError e = assertThrows(DeviceOutOfMemoryError.class, () -> a.allocate(4L << 20));
        assertTrue(e.getMessage().contains("8.0 MiB in use"), e.getMessage());
        a.release(other);
        assertEquals(0, a.inUseBytes());
        assertEquals(8L << 20, a.peakInUseBytes());
    }
}
