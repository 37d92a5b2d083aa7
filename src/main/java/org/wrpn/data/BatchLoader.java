package org.wrpn.data;

import java.util.HashMap;
import java.util.Iterator;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.IntConsumer;
import org.wrpn.BadInputException;

/**
 * One epoch of normalized (and optionally augmented) batches, channels-last. The order and every
 * augmentation are a pure function of (seed, epoch, position), so {@link #startAt(int)} resumes an
 * epoch with exactly the batches an uninterrupted run would have seen, whatever the number of
 * threads. Daemon threads render images in epoch order, at most {@value #PREFETCH} batches ahead
 * of the consumer; their errors are rethrown by {@link #next()}, and a loader whose threads finish
 * no image for {@link #stallSeconds} fails naming the files they are stuck on.
 */
public final class BatchLoader implements Iterator<BatchLoader.Batch>, AutoCloseable {
    static final int PREFETCH = 2;
    private static final long DEFAULT_STALL_SECONDS = 120;

    /**
     * Batch {@code index} of the epoch: {@code size} images, channels-last floats
     * ({@code images.length == size * H * W * C}), and their labels.
     */
    public record Batch(float[] images, int[] labels, int size, int index) {
        public Batch {
            if (labels.length != size || (size > 0 && images.length % size != 0)) {
                throw new IllegalArgumentException("batch arrays do not match size " + size);
            }
        }
    }

    private final Samples samples;
    private final int imageSize;
    private final int batchSize;
    private final long seed;
    private final int epoch;
    private final int batches;
    private final int[] order;
    /** This loader's positions: the whole epoch, or a rank's share of every global batch. */
    private final int count;
    private final int shardRank;
    private final int shards;
    private final int threads;
    private final AtomicLong rendered = new AtomicLong();
    private final AtomicLong renderNanos = new AtomicLong();
    private final AtomicLong renderCpuNanos = new AtomicLong();
    private static final java.lang.management.ThreadMXBean CPU = java.lang.management.ManagementFactory.getThreadMXBean();
    private long waitNanos;
    private int nextIndex;
    private volatile Pipeline pipeline;
    private volatile boolean closed;
    /** Called by a thread before it starts a batch; tests use it to inject failures. */
    IntConsumer beforeBatch = b -> {};
    /** How long the threads may finish no image before the loader fails. */
    long stallSeconds = DEFAULT_STALL_SECONDS;

    public BatchLoader(Dataset data, Normalization norm, int batchSize, boolean shuffle, boolean augment,
                       long seed, int epoch, boolean dropLast) {
        this(data, norm, batchSize, shuffle, augment ? Augmentation.PAD4_CROP_FLIP : Augmentation.NONE, seed, epoch,
                dropLast);
    }

    public BatchLoader(Dataset data, Normalization norm, int batchSize, boolean shuffle, Augmentation augmentation,
                       long seed, int epoch, boolean dropLast) {
        this(data.samples(Objects.requireNonNull(norm, "norm"), Objects.requireNonNull(augmentation, "augmentation")),
                batchSize, shuffle, seed, epoch, dropLast, 1);
    }

    /** Batches of samples rendered by {@code threads} threads. */
    public BatchLoader(Samples samples, int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast, int threads) {
        this(samples, batchSize, shuffle, seed, epoch, dropLast, threads, 0, 1);
    }

    /**
     * Rank {@code shardRank}'s share of an epoch split over {@code shards} data-parallel ranks: global
     * batch g (of batchSize x shards images, in the seeded order) gives this rank its images
     * [shardRank x batchSize, (shardRank + 1) x batchSize), rendered exactly as a single process with the
     * global batch renders them; the last incomplete global batch is dropped.
     */
    public BatchLoader(Samples samples, int batchSize, boolean shuffle, long seed, int epoch, boolean dropLast, int threads,
            int shardRank, int shards) {
        this.samples = Objects.requireNonNull(samples, "samples");
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be positive: " + batchSize);
        if (epoch < 0) throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
        if (threads <= 0) throw new IllegalArgumentException("threads must be positive: " + threads);
        if (shards < 1 || shardRank < 0 || shardRank >= shards) throw new IllegalArgumentException("rank " + shardRank + " of " + shards);
        if (shards > 1 && !dropLast) throw new IllegalArgumentException("a sharded epoch drops its last incomplete batch");
        int total = samples.count();
        this.imageSize = samples.imageSize();
        this.batchSize = batchSize;
        this.seed = seed;
        this.epoch = epoch;
        this.threads = threads;
        this.shardRank = shardRank;
        this.shards = shards;
        this.count = shards == 1 ? total : total / (batchSize * shards) * batchSize;
        this.batches = dropLast ? count / batchSize : (count + batchSize - 1) / batchSize;
        this.order = shuffle ? permutation(total, seed, epoch) : identity(total);
    }

    /** The epoch position (in the single-process order) of this loader's position. */
    private int global(int position) {
        if (shards == 1) return position;
        return position / batchSize * batchSize * shards + shardRank * batchSize + position % batchSize;
    }

    public int batchesPerEpoch() {
        return batches;
    }

    public int batchSize() {
        return batchSize;
    }

    /** Index of the batch that {@link #next()} returns next. */
    public int nextIndex() {
        return nextIndex;
    }

    /** Images rendered per second of a thread's rendering time, times the threads: what the loader can deliver. */
    public double capacityImagesPerSecond() {
        long nanos = renderNanos.get();
        return nanos == 0 ? 0 : rendered.get() * 1e9 / nanos * threads;
    }

    /** CPU seconds the threads spent per rendered image: the cost of an image, whatever else the machine runs. */
    public double cpuSecondsPerImage() {
        long n = rendered.get();
        return n == 0 ? 0 : renderCpuNanos.get() / 1e9 / n;
    }

    /** Seconds {@link #next()} has spent waiting for a batch: the time the consumer lost to the loader. */
    public synchronized double waitSeconds() {
        return waitNanos / 1e9;
    }

    /** Continues from batch {@code batchIndex} (0..batchesPerEpoch) without producing earlier ones. */
    public synchronized void startAt(int batchIndex) {
        ensureOpen();
        if (batchIndex < 0 || batchIndex > batches) {
            throw new IndexOutOfBoundsException("batch " + batchIndex + " of " + batches);
        }
        stopWorkers();
        nextIndex = batchIndex;
    }

    /** The dataset index of the sample at position {@code position} of this epoch. */
    public int sampleAt(int position) {
        return order[global(position)];
    }

    @Override
    public synchronized boolean hasNext() {
        return !closed && nextIndex < batches;
    }

    @Override
    public synchronized Batch next() {
        ensureOpen();
        if (nextIndex >= batches) throw new NoSuchElementException("epoch done after " + batches + " batches");
        if (pipeline == null) pipeline = new Pipeline(nextIndex);
        long t0 = System.nanoTime();
        Batch batch;
        try {
            batch = pipeline.take(nextIndex);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for batch " + nextIndex, e);
        } catch (RuntimeException | Error e) {
            close(); // outside the pipeline's lock, which its threads need to stop
            throw e;
        } finally {
            waitNanos += System.nanoTime() - t0;
        }
        nextIndex++;
        return batch;
    }

    /** Builds batch {@code index} on the calling thread (no prefetch). */
    public Batch batch(int index) {
        Objects.checkIndex(index, batches);
        Pending p = new Pending(index);
        try (Samples.Renderer r = samples.open()) {
            for (int i = 0; i < p.size; i++) p.labels[i] = r.render(order[global(p.from + i)], seed, epoch, global(p.from + i), p.images, i * imageSize);
        }
        return new Batch(p.images, p.labels, p.size, index);
    }

    /** Stops the threads; safe to call from any thread, more than once. */
    @Override
    public void close() {
        closed = true;
        stopWorkers();
    }

    private void stopWorkers() {
        Pipeline p = pipeline;
        pipeline = null;
        if (p != null) p.stop();
    }

    /** The first rendering thread, or null (for tests). */
    Thread worker() {
        Pipeline p = pipeline;
        return p == null ? null : p.workers[0];
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("batch loader is closed");
    }

    /** A batch being rendered: the images still missing, counted down. */
    private final class Pending {
        final int from;
        final int size;
        final float[] images;
        final int[] labels;
        int missing;

        Pending(int index) {
            from = index * batchSize;
            size = Math.min(batchSize, count - from);
            images = new float[size * imageSize];
            labels = new int[size];
            missing = size;
        }
    }

    /**
     * Threads rendering from one batch on: each claims the next position of the epoch, so the
     * batches fill in order and no thread runs more than {@value #PREFETCH} batches ahead.
     */
    private final class Pipeline {
        final Thread[] workers;
        final String[] busyOn;
        final Map<Integer, Pending> pending = new HashMap<>();
        final int end;
        int claim;
        int consumed;
        boolean stopped;
        Throwable failure;
        int failedBatch;
        long lastProgress = System.nanoTime();

        Pipeline(int from) {
            consumed = from;
            claim = from * batchSize;
            end = Math.min(batches * batchSize, count);
            int n = Math.max(1, Math.min(threads, end - claim));
            workers = new Thread[n];
            busyOn = new String[n];
            for (int t = 0; t < n; t++) {
                int id = t;
                workers[t] = Thread.ofPlatform().daemon().name("wrpn-loader-" + t).unstarted(() -> work(id));
            }
            for (Thread t : workers) t.start();
        }

        private void work(int id) {
            int batch = -1;
            try (Samples.Renderer r = samples.open()) {
                while (true) {
                    int position;
                    Pending p;
                    synchronized (this) {
                        while (!stopped && claim < end && claim / batchSize >= consumed + PREFETCH) wait();
                        if (stopped || claim >= end) return;
                        position = claim++;
                        batch = position / batchSize;
                        p = pending.get(batch);
                        if (p == null) {
                            beforeBatch.accept(batch);
                            p = new Pending(batch);
                            pending.put(batch, p);
                        }
                        busyOn[id] = samples.describe(order[global(position)]);
                    }
                    long t0 = System.nanoTime();
                    long c0 = CPU.getCurrentThreadCpuTime();
                    int i = position - p.from;
                    int label = r.render(order[global(position)], seed, epoch, global(position), p.images, i * imageSize);
                    long t1 = System.nanoTime();
                    renderCpuNanos.addAndGet(CPU.getCurrentThreadCpuTime() - c0);
                    renderNanos.addAndGet(t1 - t0);
                    rendered.incrementAndGet();
                    synchronized (this) {
                        p.labels[i] = label;
                        busyOn[id] = null;
                        lastProgress = t1;
                        if (--p.missing == 0) notifyAll();
                    }
                }
            } catch (InterruptedException e) {
                // stopped
            } catch (Throwable t) {
                synchronized (this) {
                    int at = batch < 0 ? consumed : batch;
                    if (failure == null || at < failedBatch) {
                        failure = t;
                        failedBatch = at;
                    }
                    notifyAll();
                }
            }
        }

        synchronized Batch take(int index) throws InterruptedException {
            while (true) {
                if (closed) throw new IllegalStateException("batch loader is closed");
                if (failure != null && failedBatch <= index) {
                    switch (failure) {
                        case RuntimeException e -> throw e;
                        case Error e -> throw e;
                        default -> throw new IllegalStateException("data loader failed: " + failure, failure);
                    }
                }
                Pending p = pending.get(index);
                if (p != null && p.missing == 0) {
                    pending.remove(index);
                    consumed = index + 1;
                    lastProgress = System.nanoTime(); // the threads may have been waiting for room, not stuck
                    notifyAll();
                    return new Batch(p.images, p.labels, p.size, index);
                }
                long idle = System.nanoTime() - lastProgress;
                if (idle > TimeUnit.SECONDS.toNanos(stallSeconds)) throw stalled();
                wait(100);
            }
        }

        private BadInputException stalled() {
            StringBuilder m = new StringBuilder("data loader stalled: no image finished in " + stallSeconds + " s");
            String sep = "; stuck on ";
            for (int t = 0; t < workers.length; t++) {
                if (busyOn[t] == null) continue;
                m.append(sep).append(busyOn[t]).append(" (").append(workers[t].getName()).append(')');
                sep = ", ";
            }
            return new BadInputException(m.append(" (a hung file system?)").toString());
        }

        void stop() {
            synchronized (this) {
                stopped = true;
                notifyAll();
            }
            for (Thread t : workers) t.interrupt();
            for (Thread t : workers) {
                try {
                    t.join(5_000); // one stuck in native code stays behind as a daemon
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private static int[] identity(int n) {
        int[] order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        return order;
    }

    /** Fisher-Yates shuffle seeded from (seed, epoch). */
    static int[] permutation(int n, long seed, int epoch) {
        int[] order = identity(n);
        SplittableRandom rng = Seeds.random(seed, Seeds.ORDER, epoch, 0);
        for (int i = n - 1; i > 0; i--) {
            int j = rng.nextInt(i + 1);
            int tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        return order;
    }
}
