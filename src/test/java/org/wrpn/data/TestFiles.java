package org.wrpn.data;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.zip.GZIPOutputStream;

/** Writes small synthetic IDX and CIFAR-10 files. */
final class TestFiles {
    private TestFiles() {}

    static byte[] idx(int magic, int[] dims, byte[] data) {
        ByteBuffer buf = ByteBuffer.allocate(4 + 4 * dims.length + data.length);
        buf.putInt(magic);
        for (int d : dims) buf.putInt(d);
        buf.put(data);
        return buf.array();
    }

    static byte[] idxImages(int count, int rows, int cols, byte[] pixels) {
        return idx(IdxReader.IMAGES_MAGIC, new int[] {count, rows, cols}, pixels);
    }

    static byte[] idxLabels(byte[] labels) {
        return idx(IdxReader.LABELS_MAGIC, new int[] {labels.length}, labels);
    }

    static byte[] gzip(byte[] data) {
        try {
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            try (GZIPOutputStream gz = new GZIPOutputStream(out)) {
                gz.write(data);
            }
            return out.toByteArray();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static Path write(Path file, byte[] data) {
        try {
            Files.createDirectories(file.getParent());
            return Files.write(file, data);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    static byte[] randomBytes(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }

    static byte[] labels(int n, long seed) {
        Random r = new Random(seed);
        byte[] b = new byte[n];
        for (int i = 0; i < n; i++) b[i] = (byte) r.nextInt(10);
        return b;
    }

    /** A CIFAR record: label, then R, G, B planes; pixel value = f(channel, pixel index). */
    static byte[] cifarRecords(int[] labels, long seed) {
        byte[] out = new byte[labels.length * Cifar10Reader.RECORD_BYTES];
        Random r = new Random(seed);
        for (int n = 0; n < labels.length; n++) {
            int base = n * Cifar10Reader.RECORD_BYTES;
            out[base] = (byte) labels[n];
            for (int i = 1; i < Cifar10Reader.RECORD_BYTES; i++) out[base + i] = (byte) r.nextInt(256);
        }
        return out;
    }

    /** Writes the four IDX files of a tiny MNIST-like set into dir (gzipped when gz). */
    static void writeIdxSet(Path dir, int train, int test, boolean gz) {
        String suffix = gz ? ".gz" : "";
        int side = 4;
        byte[][] files = {
            idxImages(train, side, side, randomBytes(train * side * side, 1)), idxLabels(labels(train, 2)),
            idxImages(test, side, side, randomBytes(test * side * side, 3)), idxLabels(labels(test, 4)),
        };
        for (int i = 0; i < 4; i++) {
            write(dir.resolve(DataSource.IDX_NAMES.get(i) + suffix), gz ? gzip(files[i]) : files[i]);
        }
    }
}
