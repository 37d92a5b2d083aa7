package org.wrpn.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.wrpn.BadInputException;

/**
 * Reads the CIFAR-10 binary format: records of one label byte and 3072 pixel bytes (R, G, B planes
 * of 32x32, row-major), converted to channels-last (N, 32, 32, 3).
 */
public final class Cifar10Reader {
    public static final int SIDE = 32;
    public static final int CHANNELS = 3;
    public static final int CLASSES = 10;
    public static final int PLANE = SIDE * SIDE;
    public static final int IMAGE_BYTES = PLANE * CHANNELS;
    public static final int RECORD_BYTES = 1 + IMAGE_BYTES;
    public static final int TRAIN_BATCHES = 5;
    public static final String TEST_FILE = "test_batch.bin";

    private Cifar10Reader() {}

    /** data_batch_1.bin .. data_batch_5.bin in dir. */
    public static List<Path> trainFiles(Path dir) {
        List<Path> files = new ArrayList<>();
        for (int i = 1; i <= TRAIN_BATCHES; i++) files.add(dir.resolve("data_batch_" + i + ".bin"));
        return files;
    }

    public static Dataset readTrain(Path dir) {
        return read(trainFiles(dir));
    }

    public static Dataset readTest(Path dir) {
        return read(List.of(dir.resolve(TEST_FILE)));
    }

    /** All records of the files, in order, as one dataset. */
    public static Dataset read(List<Path> files) {
        long total = 0;
        long[] records = new long[files.size()];
        for (int f = 0; f < files.size(); f++) {
            Path file = files.get(f);
            DataFile.requireRegularFile(file);
            long length = size(file);
            if (length == 0 || length % RECORD_BYTES != 0) {
                throw DataFile.bad(file, "length " + length + " is not a positive multiple of " + RECORD_BYTES
                        + " bytes (1 label byte + " + IMAGE_BYTES + " pixel bytes per record)");
            }
            records[f] = length / RECORD_BYTES;
            total += records[f];
        }
        if (total * IMAGE_BYTES > Integer.MAX_VALUE - 16) {
            throw new BadInputException("CIFAR-10 files hold too many records (" + total + "): " + files);
        }
        int count = (int) total;
        byte[] pixels = new byte[count * IMAGE_BYTES];
        byte[] labels = new byte[count];
        int n = 0;
        for (int f = 0; f < files.size(); f++) {
            Path file = files.get(f);
            byte[] data = readAll(file);
            if (data.length != records[f] * RECORD_BYTES) throw DataFile.bad(file, "changed while being read");
            for (int r = 0; r < records[f]; r++, n++) {
                int base = r * RECORD_BYTES;
                int label = data[base] & 0xFF;
                if (label >= CLASSES) {
                    throw DataFile.bad(file, "record " + r + " has label " + label + ", out of range 0.." + (CLASSES - 1));
                }
                labels[n] = (byte) label;
                toChannelsLast(data, base + 1, pixels, n * IMAGE_BYTES);
            }
        }
        return new Dataset(count, SIDE, SIDE, CHANNELS, CLASSES, pixels, labels);
    }

    /** Planar R,G,B (3 x 1024) at src[srcOff..] to interleaved (1024 x 3) at dst[dstOff..]. */
    static void toChannelsLast(byte[] src, int srcOff, byte[] dst, int dstOff) {
        for (int p = 0; p < PLANE; p++) {
            int d = dstOff + p * CHANNELS;
            dst[d] = src[srcOff + p];
            dst[d + 1] = src[srcOff + PLANE + p];
            dst[d + 2] = src[srcOff + 2 * PLANE + p];
        }
    }

    private static long size(Path file) {
        try {
            return Files.size(file);
        } catch (IOException e) {
            throw DataFile.failure(file, false, e);
        }
    }

    private static byte[] readAll(Path file) {
        try {
            return Files.readAllBytes(file);
        } catch (IOException e) {
            throw DataFile.failure(file, false, e);
        }
    }
}
