package org.wrpn.data;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;

/**
 * Reads IDX files (MNIST, Fashion-MNIST): a big-endian magic number, big-endian int dimensions,
 * then unsigned bytes. Plain or gzip (detected from the first bytes, not the name).
 */
public final class IdxReader {
    public static final int IMAGES_MAGIC = 0x00000803;
    public static final int LABELS_MAGIC = 0x00000801;
    public static final int CLASSES = 10;
    private static final long MAX_BYTES = Integer.MAX_VALUE - 16;
    private static final Logger LOG = LogManager.getLogger(IdxReader.class);

    private IdxReader() {}

    /** Images of an IDX3 file: count x rows x cols unsigned bytes, row-major. */
    public record Images(int count, int rows, int cols, byte[] pixels) {}

    public static Images readImages(Path file) {
        try (DataFile in = DataFile.open(file)) {
            int[] header = header(in, 4, IMAGES_MAGIC);
            int count = dim(in, header[1], "image count");
            int rows = dim(in, header[2], "row count");
            int cols = dim(in, header[3], "column count");
            if (rows == 0 || cols == 0) throw DataFile.bad(file, "images have size " + rows + "x" + cols);
            long bytes = (long) count * rows * cols;
            byte[] pixels = payload(in, bytes, count + " images of " + rows + "x" + cols);
            return new Images(count, rows, cols, pixels);
        }
    }

    /** Labels of an IDX1 file, each checked to be in 0..9. */
    public static byte[] readLabels(Path file) {
        try (DataFile in = DataFile.open(file)) {
            int[] header = header(in, 2, LABELS_MAGIC);
            int count = dim(in, header[1], "label count");
            byte[] labels = payload(in, count, count + " labels");
            for (int i = 0; i < count; i++) {
                int label = labels[i] & 0xFF;
                if (label >= CLASSES) {
                    throw DataFile.bad(file, "label " + label + " at index " + i + " is out of range 0.." + (CLASSES - 1));
                }
            }
            return labels;
        }
    }

    /** An image file and its label file as one single-channel dataset. */
    public static Dataset readPair(Path images, Path labels) {
        Images im = readImages(images);
        byte[] lab = readLabels(labels);
        if (im.count() != lab.length) {
            throw new BadInputException("image/label count mismatch: " + images + " has " + im.count()
                    + " images but " + labels + " has " + lab.length + " labels");
        }
        return new Dataset(im.count(), im.rows(), im.cols(), 1, CLASSES, im.pixels(), lab);
    }

    /** Reads magic and dims (ints total, magic first); checks the magic. */
    private static int[] header(DataFile in, int ints, int magic) {
        byte[] bytes = in.read(4 * ints);
        if (bytes.length >= 4) {
            int found = ByteBuffer.wrap(bytes).getInt(0);
            if (found != magic) {
                throw DataFile.bad(in.path, "wrong magic number: expected " + describe(magic) + ", found " + describe(found));
            }
        }
        if (bytes.length < 4 * ints) {
            throw DataFile.bad(in.path, "truncated header: expected " + 4 * ints + " bytes, found " + bytes.length);
        }
        int[] values = new int[ints];
        ByteBuffer buf = ByteBuffer.wrap(bytes);
        for (int i = 0; i < ints; i++) values[i] = buf.getInt();
        return values;
    }

    private static int dim(DataFile in, int value, String what) {
        if (value < 0) throw DataFile.bad(in.path, "invalid " + what + " " + Integer.toUnsignedString(value) + " in header");
        return value;
    }

    private static byte[] payload(DataFile in, long bytes, String what) {
        if (bytes > MAX_BYTES) throw DataFile.bad(in.path, "too large: header declares " + what + " (" + bytes + " bytes)");
        byte[] data = in.read((int) bytes);
        if (data.length < bytes) {
            throw DataFile.bad(in.path, "truncated: header declares " + what + " (" + bytes + " bytes) but only "
                    + data.length + " bytes follow");
        }
        long extra = in.skipRest();
        if (extra > 0) LOG.warn("{}: ignoring {} bytes after the {} the header declares", in.path, extra, what);
        return data;
    }

    private static String describe(int magic) {
        String hex = String.format("0x%08X", magic);
        return switch (magic) {
            case IMAGES_MAGIC -> hex + " (IDX images)";
            case LABELS_MAGIC -> hex + " (IDX labels)";
            default -> hex;
        };
    }
}
