package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.function.Executable;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.wrpn.BadInputException;

class IdxReaderTest {
    @TempDir
    Path dir;

    static BadInputException bad(Executable e, String... fragments) {
        BadInputException ex = assertThrows(BadInputException.class, e);
        String msg = ex.getMessage();
        assertFalse(msg.contains("\n"), "one-line message: " + msg);
        for (String f : fragments) assertTrue(msg.contains(f), "message '" + msg + "' lacks '" + f + "'");
        return ex;
    }

    @ParameterizedTest
    @ValueSource(booleans = {false, true})
    void roundTrip(boolean gz) {
        byte[] pixels = TestFiles.randomBytes(5 * 3 * 2, 7);
        byte[] labels = {0, 9, 3, 3, 7};
        byte[] im = TestFiles.idxImages(5, 3, 2, pixels);
        byte[] lab = TestFiles.idxLabels(labels);
        // names do not say gzip: detection is by magic bytes
        Path imFile = TestFiles.write(dir.resolve("images"), gz ? TestFiles.gzip(im) : im);
        Path labFile = TestFiles.write(dir.resolve("labels"), gz ? TestFiles.gzip(lab) : lab);
        Dataset d = IdxReader.readPair(imFile, labFile);
        assertEquals(5, d.count());
        assertEquals(3, d.height());
        assertEquals(2, d.width());
        assertEquals(1, d.channels());
        assertEquals(10, d.classes());
        assertArrayEquals(pixels, d.pixels());
        assertArrayEquals(labels, d.labels());
        assertEquals(pixels[(4 * 3 + 2) * 2 + 1] & 0xFF, d.pixel(4, 2, 1, 0));
        assertEquals(9, d.label(1));
    }

    @Test
    void realFashionMnistTestSet() {
        Path images = DataSource.DEFAULT_DIR.resolve("t10k-images-idx3-ubyte.gz");
        Path labels = DataSource.DEFAULT_DIR.resolve("t10k-labels-idx1-ubyte.gz");
        assumeTrue(Files.exists(images) && Files.exists(labels), "Fashion-MNIST not installed");
        byte[] lab = IdxReader.readLabels(labels);
        assertEquals(10000, lab.length);
        int[] counts = new int[10];
        for (byte b : lab) counts[b]++; // an index > 9 would throw
        for (int c : counts) assertEquals(1000, c); // Fashion-MNIST test set is balanced
        IdxReader.Images im = IdxReader.readImages(images);
        assertEquals(10000, im.count());
        assertEquals(28, im.rows());
        assertEquals(28, im.cols());
        assertEquals(10000 * 28 * 28, im.pixels().length);
    }

    @Test
    void missingFile() {
        bad(() -> IdxReader.readImages(dir.resolve("nope")), "nope", "not found");
    }

    @Test
    void truncatedImages() {
        byte[] full = TestFiles.idxImages(4, 3, 3, TestFiles.randomBytes(36, 1));
        Path f = TestFiles.write(dir.resolve("im"), Arrays.copyOf(full, full.length - 5));
        bad(() -> IdxReader.readImages(f), f.toString(), "truncated", "36 bytes", "31 bytes");
        Path g = TestFiles.write(dir.resolve("im.gz"), TestFiles.gzip(Arrays.copyOf(full, full.length - 5)));
        bad(() -> IdxReader.readImages(g), "truncated");
    }

    @Test
    void aGzNameOverDataThatIsNotGzipSaysSo() {
        Path html = TestFiles.write(dir.resolve("train-images-idx3-ubyte.gz"), "<html>not found</html>".getBytes());
        bad(() -> IdxReader.readImages(html), html.toString(), "named .gz but not gzip data", "starts with 3c 68");
        Path empty = TestFiles.write(dir.resolve("lab.gz"), new byte[0]);
        bad(() -> IdxReader.readLabels(empty), "not gzip data", "empty file");
    }

    @Test
    void truncatedHeader() {
        Path f = TestFiles.write(dir.resolve("im"), new byte[] {0, 0, 8, 3, 0, 0});
        bad(() -> IdxReader.readImages(f), "truncated header");
        Path empty = TestFiles.write(dir.resolve("empty"), new byte[0]);
        bad(() -> IdxReader.readLabels(empty), "truncated header", "found 0");
    }

    @Test
    void truncatedLabels() {
        byte[] full = TestFiles.idxLabels(new byte[] {1, 2, 3, 4});
        Path f = TestFiles.write(dir.resolve("lab"), Arrays.copyOf(full, full.length - 1));
        bad(() -> IdxReader.readLabels(f), "truncated", "4 labels");
    }

    @Test
    void wrongMagic() {
        Path labelsAsImages = TestFiles.write(dir.resolve("lab"), TestFiles.idxLabels(new byte[] {1, 2}));
        bad(() -> IdxReader.readImages(labelsAsImages), "wrong magic", "expected 0x00000803", "found 0x00000801");
        Path junk = TestFiles.write(dir.resolve("junk"), "hello world, not idx".getBytes());
        bad(() -> IdxReader.readLabels(junk), "wrong magic", "expected 0x00000801", "found 0x68656C6C");
    }

    @Test
    void countMismatch() {
        Path im = TestFiles.write(dir.resolve("im"), TestFiles.idxImages(3, 2, 2, new byte[12]));
        Path lab = TestFiles.write(dir.resolve("lab"), TestFiles.idxLabels(new byte[] {1, 2}));
        bad(() -> IdxReader.readPair(im, lab), "count mismatch", "3 images", "2 labels", im.toString(), lab.toString());
    }

    @Test
    void labelOutOfRange() {
        Path lab = TestFiles.write(dir.resolve("lab"), TestFiles.idxLabels(new byte[] {1, 2, 10}));
        bad(() -> IdxReader.readLabels(lab), "label 10", "index 2", "out of range 0..9");
    }

    @Test
    void corruptGzip() {
        byte[] gz = TestFiles.gzip(TestFiles.idxLabels(TestFiles.labels(1000, 3)));
        byte[] broken = gz.clone();
        for (int i = 12; i < 40; i++) broken[i] ^= 0x5A; // inside the deflate stream
        Path f = TestFiles.write(dir.resolve("lab.gz"), broken);
        bad(() -> IdxReader.readLabels(f), "gzip", f.toString());
        // a gzip magic followed by junk
        Path junk = TestFiles.write(dir.resolve("junk.gz"), new byte[] {0x1f, (byte) 0x8b, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10});
        bad(() -> IdxReader.readLabels(junk), "gzip");
        // cut in the middle of the compressed stream
        Path cut = TestFiles.write(dir.resolve("cut.gz"), Arrays.copyOf(gz, gz.length / 2));
        bad(() -> IdxReader.readLabels(cut), "gzip");
        // bad CRC in the trailer
        byte[] crc = gz.clone();
        crc[crc.length - 6] ^= 1;
        Path badCrc = TestFiles.write(dir.resolve("crc.gz"), crc);
        bad(() -> IdxReader.readLabels(badCrc), "corrupt gzip");
    }

    @Test
    void directoryInsteadOfFile() {
        bad(() -> IdxReader.readImages(dir), "not a regular file");
    }
}
