package org.wrpn.data;

/** The normalized images of an {@link ImageSet} under one transform, rendered by loader threads. */
public interface Samples {
    int count();

    /** Floats per image: height * width * channels. */
    int imageSize();

    /** A renderer for one thread (renderers are not thread-safe); the thread closes it when done. */
    Renderer open();

    /** Names a sample in messages: its file, or its index. */
    String describe(int sample);

    /** Renders samples on one thread. */
    interface Renderer extends AutoCloseable {
        /**
         * Writes the normalized image of {@code sample}, at {@code position} of {@code epoch} (which
         * draws its augmentation with the seed), into dst from off, and returns the label of what it
         * wrote: a replacement's when the sample cannot be decoded.
         */
        int render(int sample, long seed, int epoch, long position, float[] dst, int off);

        @Override
        default void close() {}
    }
}
