package org.wrpn.data;

import java.util.Objects;

/** A train and a test set of one format ({@link #FORMAT_IDX} or {@link #FORMAT_CIFAR10}). */
public record DataSplit(Dataset train, Dataset test, String format) {
    /** MNIST / Fashion-MNIST IDX files. */
    public static final String FORMAT_IDX = "idx";
    /** CIFAR-10 binary batches. */
    public static final String FORMAT_CIFAR10 = "cifar10";

    public DataSplit {
        Objects.requireNonNull(train, "train");
        Objects.requireNonNull(test, "test");
        Objects.requireNonNull(format, "format");
        if (train.height() != test.height() || train.width() != test.width()
                || train.channels() != test.channels() || train.classes() != test.classes()) {
            throw new IllegalArgumentException("train " + train + " and test " + test + " differ in shape");
        }
    }

    /** Standard training augmentation for the format: pad-4 crop + flip for CIFAR-10, none otherwise. */
    public Augmentation defaultAugmentation() {
        return FORMAT_CIFAR10.equals(format) ? Augmentation.PAD4_CROP_FLIP : Augmentation.NONE;
    }
}
