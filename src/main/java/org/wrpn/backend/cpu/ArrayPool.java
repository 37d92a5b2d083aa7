package org.wrpn.backend.cpu;

import java.util.ArrayDeque;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Map;
import org.wrpn.backend.UninitializedMemory;

/**
 * Reuses the arrays of closed tensors, keyed by exact length: a training step allocates the same
 * shapes every step, and fresh multi-megabyte arrays each step would cost zeroing and GC churn.
 * Arrays come back zero-filled when asked (else as left, or poisoned: UninitializedMemory). The
 * pool holds at most {@link #MAX_CACHED_BYTES}.
 */
final class ArrayPool {
    static final long MAX_CACHED_BYTES = 1L << 30;
    private final Map<Integer, ArrayDeque<float[]>> floats = new HashMap<>();
    private final Map<Integer, ArrayDeque<int[]>> ints = new HashMap<>();
    private long cachedBytes;

    float[] floats(int n, boolean zeroed) {
        float[] a = pollFloats(n);
        if (a == null) a = new float[n];
        else if (zeroed) fill(a, 0f);
        if (!zeroed && UninitializedMemory.POISON) fill(a, UninitializedMemory.POISON_FLOAT);
        return a;
    }

    int[] ints(int n, boolean zeroed) {
        int[] a = pollInts(n);
        if (a == null) a = new int[n];
        else if (zeroed) fill(a, 0);
        if (!zeroed && UninitializedMemory.POISON) fill(a, UninitializedMemory.POISON_INT);
        return a;
    }

    /** Fills on the CPU threads, outside the pool's lock. */
    private static void fill(float[] a, float v) {
        CpuThreads.forRange(a.length, CpuElementwise.GRAIN, (from, to) -> Arrays.fill(a, from, to, v));
    }

    private static void fill(int[] a, int v) {
        CpuThreads.forRange(a.length, CpuElementwise.GRAIN, (from, to) -> Arrays.fill(a, from, to, v));
    }

    private synchronized float[] pollFloats(int n) {
        ArrayDeque<float[]> q = floats.get(n);
        float[] a = q == null ? null : q.poll();
        if (a != null) cachedBytes -= 4L * n;
        return a;
    }

    private synchronized int[] pollInts(int n) {
        ArrayDeque<int[]> q = ints.get(n);
        int[] a = q == null ? null : q.poll();
        if (a != null) cachedBytes -= 4L * n;
        return a;
    }

    synchronized void recycle(float[] a) {
        if (a == null || cachedBytes + 4L * a.length > MAX_CACHED_BYTES) return;
        floats.computeIfAbsent(a.length, k -> new ArrayDeque<>()).push(a);
        cachedBytes += 4L * a.length;
    }

    synchronized void recycle(int[] a) {
        if (a == null || cachedBytes + 4L * a.length > MAX_CACHED_BYTES) return;
        ints.computeIfAbsent(a.length, k -> new ArrayDeque<>()).push(a);
        cachedBytes += 4L * a.length;
    }

    synchronized void clear() {
        floats.clear();
        ints.clear();
        cachedBytes = 0;
    }
}
