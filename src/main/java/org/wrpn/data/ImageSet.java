package org.wrpn.data;

import java.util.List;

/**
 * A labelled image set a {@link BatchLoader} draws from: in memory ({@link Dataset}) or decoded from
 * files as it is read ({@link FolderImages}). Samples are height x width x channels images, labels
 * 0..classes-1.
 */
public interface ImageSet {
    int count();

    int height();

    int width();

    int channels();

    int classes();

    int label(int sample);

    /** The first n samples as a set (this set when n is not below count). */
    ImageSet first(int n);

    /** Per-channel mean and std fitted on this set, or on a fixed sample of it. */
    Normalization fitNormalization();

    /** The normalized samples a loader renders: with the set's training augmentation, or its evaluation transform. */
    Samples samples(Normalization norm, boolean training);

    /** Class names by index; empty when the data names none. */
    default List<String> classNames() {
        return List.of();
    }

    /** Threads a loader of this set runs: decoding files is worth several, copying bytes from memory is not. */
    default int loaderThreads() {
        return 1;
    }

    /** Images skipped so far because they could not be read or decoded (each named once in a warning). */
    default long skipped() {
        return 0;
    }
}
