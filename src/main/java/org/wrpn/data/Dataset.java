package org.wrpn.data;

import java.util.Arrays;
import org.wrpn.BadInputException;

/**
 * An in-memory labelled image set. Pixels are unsigned bytes (0..255) stored channels-last
 * (N, H, W, C); labels are bytes holding 0..classes-1. The arrays are shared, not copied: treat
 * them as read-only. Its training augmentation is {@link #augmentation()} (none unless set).
 */
public final class Dataset implements ImageSet {
    private final int count;
    private final int height;
    private final int width;
    private final int channels;
    private final int classes;
    private final byte[] pixels;
    private final byte[] labels;
    private final Augmentation augmentation;

    public Dataset(int count, int height, int width, int channels, int classes, byte[] pixels, byte[] labels) {
        this(count, height, width, channels, classes, pixels, labels, Augmentation.NONE);
    }

    private Dataset(int count, int height, int width, int channels, int classes, byte[] pixels, byte[] labels,
            Augmentation augmentation) {
        if (count < 0 || height <= 0 || width <= 0 || channels <= 0 || classes <= 0 || classes > 256) {
            throw new IllegalArgumentException("bad dataset geometry: count=" + count + " " + height + "x" + width
                    + "x" + channels + " classes=" + classes);
        }
        long expected = (long) count * height * width * channels;
        if (pixels.length != expected) {
            throw new IllegalArgumentException("pixels has " + pixels.length + " bytes, expected " + expected);
        }
        if (labels.length != count) {
            throw new IllegalArgumentException("labels has " + labels.length + " entries, expected " + count);
        }
        for (int i = 0; i < count; i++) {
            if ((labels[i] & 0xFF) >= classes) {
                throw new IllegalArgumentException("label " + (labels[i] & 0xFF) + " at " + i + " is not below " + classes);
            }
        }
        this.count = count;
        this.height = height;
        this.width = width;
        this.channels = channels;
        this.classes = classes;
        this.pixels = pixels;
        this.labels = labels;
        this.augmentation = augmentation;
    }

    /** The same images, augmented in training as a says. */
    public Dataset withAugmentation(Augmentation a) {
        return new Dataset(count, height, width, channels, classes, pixels, labels, a);
    }

    /** The augmentation of training batches. */
    public Augmentation augmentation() {
        return augmentation;
    }

    @Override
    public int count() {
        return count;
    }

    @Override
    public int height() {
        return height;
    }

    @Override
    public int width() {
        return width;
    }

    @Override
    public int channels() {
        return channels;
    }

    @Override
    public int classes() {
        return classes;
    }

    /** Bytes per image: height * width * channels. */
    public int imageSize() {
        return height * width * channels;
    }

    /** The backing pixel array, (N, H, W, C) unsigned bytes. Do not modify. */
    public byte[] pixels() {
        return pixels;
    }

    /** The backing label array, one byte per image. Do not modify. */
    public byte[] labels() {
        return labels;
    }

    @Override
    public int label(int i) {
        return labels[checkIndex(i)] & 0xFF;
    }

    /** Pixel value 0..255 of image i at (y, x, c). */
    public int pixel(int i, int y, int x, int c) {
        checkIndex(i);
        return pixels[((i * height + y) * width + x) * channels + c] & 0xFF;
    }

    /** Images [from, to) as a new dataset (copies the bytes). */
    public Dataset slice(int from, int to) {
        if (from < 0 || to > count || from > to) {
            throw new IndexOutOfBoundsException("slice [" + from + ", " + to + ") of " + count + " images");
        }
        int size = imageSize();
        return new Dataset(to - from, height, width, channels, classes,
                Arrays.copyOfRange(pixels, from * size, to * size), Arrays.copyOfRange(labels, from, to), augmentation);
    }

    @Override
    public Dataset first(int n) {
        return n < count ? slice(0, n) : this;
    }

    @Override
    public Normalization fitNormalization() {
        return Normalization.fit(this);
    }

    @Override
    public Samples samples(Normalization norm, boolean training) {
        return samples(norm, training ? augmentation : Augmentation.NONE);
    }

    /** Samples normalized by norm and moved by augmentation (drawn from seed, epoch and position). */
    public Samples samples(Normalization norm, Augmentation a) {
        if (norm.channels() != channels) {
            throw new BadInputException("normalization has " + norm.channels() + " channels but the data has " + channels
                    + " (was it fitted on another dataset?)");
        }
        float[] lut = norm.lookupTable();
        int size = imageSize();
        Samples.Renderer renderer = (sample, seed, epoch, position, dst, off) -> {
            Augmentation.render(pixels, sample * size, height, width, channels, lut, a.sample(seed, epoch, position), dst, off);
            return label(sample);
        };
        return new Samples() {
            @Override
            public int count() {
                return count;
            }

            @Override
            public int imageSize() {
                return size;
            }

            @Override
            public Renderer open() {
                return renderer;
            }

            @Override
            public String describe(int sample) {
                return "image " + sample + " of " + Dataset.this;
            }
        };
    }

    /** Number of images per class. */
    public int[] classCounts() {
        int[] counts = new int[classes];
        for (byte l : labels) counts[l & 0xFF]++;
        return counts;
    }

    private int checkIndex(int i) {
        return java.util.Objects.checkIndex(i, count);
    }

    @Override
    public String toString() {
        return "Dataset[" + count + " x " + height + "x" + width + "x" + channels + ", " + classes + " classes]";
    }
}
