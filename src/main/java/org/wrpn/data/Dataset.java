package org.wrpn.data;

import java.util.Arrays;

/**
 * An in-memory labelled image set. Pixels are unsigned bytes (0..255) stored channels-last
 * (N, H, W, C); labels are bytes holding 0..classes-1. The arrays are shared, not copied: treat
 * them as read-only.
 */
public final class Dataset {
    private final int count;
    private final int height;
    private final int width;
    private final int channels;
    private final int classes;
    private final byte[] pixels;
    private final byte[] labels;

    public Dataset(int count, int height, int width, int channels, int classes, byte[] pixels, byte[] labels) {
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
    }

    public int count() {
        return count;
    }

    public int height() {
        return height;
    }

    public int width() {
        return width;
    }

    public int channels() {
        return channels;
    }

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
                Arrays.copyOfRange(pixels, from * size, to * size), Arrays.copyOfRange(labels, from, to));
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
