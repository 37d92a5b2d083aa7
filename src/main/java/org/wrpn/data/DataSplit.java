package org.wrpn.data;

import java.util.Objects;

/** A train and a test set of one format ({@link #FORMAT_IDX}, {@link #FORMAT_CIFAR10} or {@link #FORMAT_IMAGE_FOLDER}). */
public record DataSplit(ImageSet train, ImageSet test, String format) {
    /** MNIST / Fashion-MNIST IDX files. */
    public static final String FORMAT_IDX = "idx";
    /** CIFAR-10 binary batches. */
    public static final String FORMAT_CIFAR10 = "cifar10";
    /** JPEG and PNG files in train/CLASS/ and val/CLASS/ folders. */
    public static final String FORMAT_IMAGE_FOLDER = "image-folder";

    public DataSplit {
        Objects.requireNonNull(train, "train");
        Objects.requireNonNull(test, "test");
        Objects.requireNonNull(format, "format");
        if (train.height() != test.height() || train.width() != test.width()
                || train.channels() != test.channels() || train.classes() != test.classes()) {
            throw new IllegalArgumentException("train " + train + " and test " + test + " differ in shape");
        }
    }
}
