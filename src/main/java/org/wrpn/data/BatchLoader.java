package org.wrpn.data;

import java.util.Iterator;
import java.util.NoSuchElementException;
import java.util.Objects;
import java.util.SplittableRandom;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.IntConsumer;
import org.wrpn.BadInputException;

/**
 * One epoch of normalized (and optionally augmented) batches, channels-last. The order and every
 * augmentation are a pure function of (seed, epoch, position), so {@link #startAt(int)} resumes an
 * epoch with exactly the batches an uninterrupted run would have seen. A daemon thread prepares up
 * to {@value #PREFETCH} batches ahead; its errors are rethrown by {@link #next()}.
 */
public final class BatchLoader implements Iterator<BatchLoader.Batch>, AutoCloseable {
    static final int PREFETCH = 2;

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

    private record Failure(Throwable error) {}

    private final Dataset data;
    private final float[] lut;
    private final int batchSize;
    private final Augmentation augmentation;
    private final long seed;
    private final int epoch;
    private final int batches;
    private final int[] order;
    private int nextIndex;
    private volatile Thread worker;
    private BlockingQueue<Object> queue;
    private volatile boolean closed;
    /** Called by the worker before each batch; tests use it to inject failures. */
    IntConsumer beforeBatch = b -> {};

    public BatchLoader(Dataset data, Normalization norm, int batchSize, boolean shuffle, boolean augment,
                       long seed, int epoch, boolean dropLast) {
        this(data, norm, batchSize, shuffle, augment ? Augmentation.PAD4_CROP_FLIP : Augmentation.NONE, seed, epoch,
                dropLast);
    }

    public BatchLoader(Dataset data, Normalization norm, int batchSize, boolean shuffle, Augmentation augmentation,
                       long seed, int epoch, boolean dropLast) {
        this.data = Objects.requireNonNull(data, "data");
        Objects.requireNonNull(norm, "norm");
        this.augmentation = Objects.requireNonNull(augmentation, "augmentation");
        if (batchSize <= 0) throw new IllegalArgumentException("batch size must be positive: " + batchSize);
        if (epoch < 0) throw new IllegalArgumentException("epoch must be >= 0: " + epoch);
        if (norm.channels() != data.channels()) {
            throw new BadInputException("normalization has " + norm.channels() + " channels but the data has "
                    + data.channels() + " (was it fitted on another dataset?)");
        }
        this.lut = norm.lookupTable();
        this.batchSize = batchSize;
        this.seed = seed;
        this.epoch = epoch;
        this.batches = dropLast ? data.count() / batchSize : (data.count() + batchSize - 1) / batchSize;
        this.order = shuffle ? permutation(data.count(), seed, epoch) : identity(data.count());
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

    /** Continues from batch {@code batchIndex} (0..batchesPerEpoch) without producing earlier ones. */
    public synchronized void startAt(int batchIndex) {
        ensureOpen();
        if (batchIndex < 0 || batchIndex > batches) {
            throw new IndexOutOfBoundsException("batch " + batchIndex + " of " + batches);
        }
        stopWorker();
        nextIndex = batchIndex;
    }

    /** The dataset index of the sample at position {@code position} of this epoch. */
    public int sampleAt(int position) {
        return order[position];
    }

    @Override
    public synchronized boolean hasNext() {
        return !closed && nextIndex < batches;
    }

    @Override
    public synchronized Batch next() {
        ensureOpen();
        if (nextIndex >= batches) throw new NoSuchElementException("epoch done after " + batches + " batches");
        if (worker == null) startWorker();
        BlockingQueue<Object> q = queue;
        Object item = null;
        try {
            while (item == null) {
                if (closed) {
                    stopWorker(); // close() may have raced with startWorker()
                    ensureOpen();
                }
                item = q.poll(100, TimeUnit.MILLISECONDS);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted while waiting for batch " + nextIndex, e);
        }
        if (item instanceof Failure(Throwable error)) {
            close();
            switch (error) {
                case RuntimeException e -> throw e;
                case Error e -> throw e;
                default -> throw new IllegalStateException("data loader failed: " + error, error);
            }
        }
        Batch batch = (Batch) item;
        if (batch.index() != nextIndex) throw new IllegalStateException("got batch " + batch.index() + ", expected " + nextIndex);
        nextIndex++;
        return batch;
    }

    /** Builds batch {@code index} on the calling thread (no prefetch). */
    public Batch batch(int index) {
        Objects.checkIndex(index, batches);
        int from = index * batchSize;
        int size = Math.min(batchSize, data.count() - from);
        int imageSize = data.imageSize();
        float[] images = new float[size * imageSize];
        int[] labels = new int[size];
        byte[] pixels = data.pixels();
        for (int i = 0; i < size; i++) {
            int position = from + i;
            int sample = order[position];
            labels[i] = data.label(sample);
            Augmentation.Placement p = augmentation.sample(seed, epoch, position);
            Augmentation.render(pixels, sample * imageSize, data.height(), data.width(), data.channels(), lut, p,
                    images, i * imageSize);
        }
        return new Batch(images, labels, size, index);
    }

    /** Stops the prefetch thread; safe to call from any thread, more than once. */
    @Override
    public void close() {
        closed = true;
        stopWorker();
    }

    private void startWorker() {
        BlockingQueue<Object> q = new ArrayBlockingQueue<>(PREFETCH);
        int from = nextIndex;
        Thread t = new Thread(() -> produce(from, q), "wrpn-batch-loader");
        t.setDaemon(true);
        queue = q;
        worker = t;
        t.start();
    }

    private void produce(int from, BlockingQueue<Object> q) {
        try {
            for (int b = from; b < batches; b++) {
                if (Thread.currentThread().isInterrupted()) return;
                beforeBatch.accept(b);
                q.put(batch(b));
            }
        } catch (InterruptedException e) {
            // stopped by close() or startAt()
        } catch (Throwable t) {
            try {
                q.put(new Failure(t));
            } catch (InterruptedException ignored) {
                // stopped while reporting: nobody is waiting
            }
        }
    }

    private void stopWorker() {
        Thread t = worker;
        worker = null;
        queue = null;
        if (t == null) return;
        t.interrupt();
        try {
            t.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** The current prefetch thread, or null (for tests). */
    Thread worker() {
        return worker;
    }

    private void ensureOpen() {
        if (closed) throw new IllegalStateException("batch loader is closed");
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
