package org.wrpn.bench;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.wrpn.backend.Backend;
import org.wrpn.backend.cuda.CudaBackend;
import org.wrpn.backend.cuda.CudaTimer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Times one op: warm-up runs, then repeats, each with the caches flushed first (outside the timed
 * span) so that a tensor smaller than the last-level cache is not timed from cache. On the CPU the
 * host clock; on CUDA a pair of events on the backend's stream, the L2 flushed by a memset.
 */
abstract class KernelClock implements AutoCloseable {
    /** Seconds per repeat. */
    double[] time(Runnable op, int warmup, int reps) {
        return timeAlternating(warmup, reps, op)[0];
    }

    /**
     * Seconds per repeat of each op, the ops taking turns within every repeat: a peer timed this way
     * sees the same machine as the op it is compared with (a shared VM's speed drifts between seconds).
     */
    double[][] timeAlternating(int warmup, int reps, Runnable... ops) {
        for (Runnable op : ops) warm(op, warmup);
        double[][] s = new double[ops.length][Math.max(reps, MAX_REPEATS)];
        double timed = 0;
        int n = 0;
        while (n < reps || (n < MAX_REPEATS && timed < minTimedSeconds())) {
            for (int j = 0; j < ops.length; j++) {
                s[j][n] = timeOnce(ops[j], n);
                timed += s[j][n];
            }
            n++;
        }
        for (int j = 0; j < ops.length; j++) s[j] = Arrays.copyOf(s[j], n);
        return s;
    }

    /** Seconds a measurement spends in the timed ops at least, within {@link #MAX_REPEATS} (0: just the repeats asked for). */
    abstract double minTimedSeconds();

    static final int MAX_REPEATS = 101;

    abstract void warm(Runnable op, int warmup);

    /** Seconds of one run of op, caches flushed first. */
    abstract double timeOnce(Runnable op, int repeat);

    abstract String method();

    @Override
    public void close() {}

    static KernelClock of(Backend backend) {
        return backend instanceof CudaBackend cuda ? new Cuda(cuda) : new Host();
    }

    /** Wall clock around a synchronous CPU op; a flush writes twice the last-level cache first. */
    static final class Host extends KernelClock {
        private final byte[] flush = new byte[(int) Math.min(1L << 30, Math.max(32L << 20, 2 * lastLevelCacheBytes()))];
        private byte tick;

        /** Short ops get more repeats: a median of 7 sub-millisecond runs on a shared VM moves by a third. */
        @Override
        double minTimedSeconds() {
            return 0.3;
        }

        @Override
        void warm(Runnable op, int warmup) {
            // The JIT compiles the op's loops during the first calls: warm up for 0.1 s at least.
            long start = System.nanoTime();
            for (int i = 0; i < warmup || (System.nanoTime() - start < 100_000_000L && i < 50); i++) op.run();
        }

        @Override
        double timeOnce(Runnable op, int repeat) {
            flush();
            long t = System.nanoTime();
            op.run();
            return (System.nanoTime() - t) / 1e9;
        }

        private void flush() {
            tick++;
            Arrays.fill(flush, tick);
        }

        @Override
        String method() {
            return "host clock (System.nanoTime); warm-up at least 0.1 s; " + (flush.length >> 20)
                    + " MiB written between repeats to flush the caches";
        }

        static long lastLevelCacheBytes() {
            for (String index : new String[] {"index3", "index2"}) {
                try {
                    String s = Files.readString(Path.of("/sys/devices/system/cpu/cpu0/cache/" + index + "/size")).trim();
                    long mult = s.endsWith("K") ? 1024 : s.endsWith("M") ? 1 << 20 : 1;
                    return Long.parseLong(s.replaceAll("[^0-9]", "")) * mult;
                } catch (java.io.IOException | RuntimeException ignored) {
                    // try the next level
                }
            }
            return 32L << 20;
        }
    }

    /** CUDA events around the op on the backend's stream; a memset of 2x L2 before each repeat. */
    static final class Cuda extends KernelClock {
        private final CudaBackend be;
        private final Tensor flush;
        private final long flushBytes;
        private final CudaTimer timer;

        Cuda(CudaBackend be) {
            this.be = be;
            long l2 = be.device().l2CacheBytes();
            flushBytes = Math.max(8L << 20, 2 * (l2 > 0 ? l2 : 64L << 20));
            flush = be.allocate(DType.F32, Shape.of((int) (flushBytes / 4)));
            timer = be.newTimer();
        }

        /** Events time a kernel to the microsecond: the repeats asked for are enough (and the device check's bench has a deadline). */
        @Override
        double minTimedSeconds() {
            return 0;
        }

        @Override
        void warm(Runnable op, int warmup) {
            for (int i = 0; i < warmup; i++) op.run();
            be.synchronize();
        }

        @Override
        double timeOnce(Runnable op, int repeat) {
            be.fill(flush, repeat);
            timer.start();
            op.run();
            timer.stop();
            return timer.elapsedMillis() / 1e3;
        }

        @Override
        String method() {
            return "CUDA events on the backend stream, L2 flushed by a " + (flushBytes >> 20) + " MiB memset between repeats";
        }

        @Override
        public void close() {
            timer.close();
            flush.close();
        }
    }
}
