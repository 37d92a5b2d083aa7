package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.Point;
import java.awt.image.BufferedImage;
import java.awt.image.DataBuffer;
import java.awt.image.Raster;
import java.awt.image.WritableRaster;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;
import org.wrpn.bench.SyntheticImages;
import org.wrpn.data.BatchLoader.Batch;

/**
 * Bad files in an image folder: the ones a decoder can read as colour are converted (grey, CMYK,
 * 16-bit, tiny); the others (corrupt, truncated, empty, not an image, unreadable) are skipped with a
 * counted warning, another image taking their place; a set of nothing but bad files is refused in one
 * line naming a file; a thread stuck on a file fails the loader, naming it, instead of hanging.
 */
class ImageFolderBadInputTest {
    @TempDir
    Path dir;

    private static final Normalization UNIT = new Normalization(new float[3], new float[] {1 / 255f, 1 / 255f, 1 / 255f});

    /** Class a: good images. Class b: every kind of bad file, in name order. */
    private FolderImages badFolder() throws IOException {
        for (int i = 0; i < 3; i++) ImageFolderTest.jpeg(dir.resolve("train/a/" + i + ".jpg"), 48, 40, i);
        Path b = dir.resolve("train/b");
        byte[] good = Files.readAllBytes(ImageFolderTest.jpeg(b.resolve("0good.jpg"), 48, 40, 9));
        Files.write(b.resolve("1corrupt.jpg"), garbage(good));
        Files.write(b.resolve("2truncated.jpg"), Arrays.copyOf(good, good.length / 2));
        Files.write(b.resolve("3empty.jpg"), new byte[0]);
        Files.writeString(b.resolve("4text.png"), "this is not a PNG");
        Files.write(b.resolve("5vanished.jpg"), good);
        BufferedImage grey = new BufferedImage(30, 20, BufferedImage.TYPE_BYTE_GRAY);
        grey.getGraphics().drawImage(SyntheticImages.photo(30, 20, 3), 0, 0, null);
        SyntheticImages.writeJpeg(grey, 0.9f, b.resolve("6grey.jpg"));
        cmykJpeg(b.resolve("7cmyk.jpg"));
        BufferedImage deep = new BufferedImage(12, 10, BufferedImage.TYPE_USHORT_GRAY);
        deep.getRaster().setSample(3, 3, 0, 40000);
        ImageIO.write(deep, "png", b.resolve("8sixteen-bit.png").toFile());
        SyntheticImages.writePng(SyntheticImages.photo(1, 1, 4), b.resolve("9tiny.png"));
        SyntheticImages.writeJpeg(SyntheticImages.photo(2, 3, 5), 0.9f, b.resolve("9tiny2.jpg"));
        ImageFolderTest.jpeg(dir.resolve("val/a/v.jpg"), 48, 40, 20);
        FolderImages set = (FolderImages) DataSource.open(dir, 24, 2).train();
        Files.delete(b.resolve("5vanished.jpg")); // unreadable by the time it is decoded
        return set;
    }

    /** The SOI marker of a JPEG, then noise. */
    private static byte[] garbage(byte[] jpeg) {
        byte[] g = new byte[jpeg.length];
        new java.util.Random(1).nextBytes(g);
        g[0] = (byte) 0xFF;
        g[1] = (byte) 0xD8;
        return g;
    }

    /** Four components, no Adobe marker: libjpeg reads it as CMYK. */
    private static void cmykJpeg(Path file) throws IOException {
        WritableRaster r = Raster.createInterleavedRaster(DataBuffer.TYPE_BYTE, 32, 24, 4, new Point(0, 0));
        for (int y = 0; y < 24; y++) for (int x = 0; x < 32; x++) r.setPixel(x, y, new int[] {x * 8, y * 10, 128, 40});
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
            w.setOutput(out);
            w.write(null, new IIOImage(r, null, null), w.getDefaultWriteParam());
        } finally {
            w.dispose();
        }
    }

    @Test
    void badFilesAreSkippedAndCountedOthersConverted() throws IOException {
        FolderImages set = badFolder();
        assertEquals(14, set.count());
        for (int threads : new int[] {1, 3}) {
            List<Batch> batches = BatchLoaderTest.all(new BatchLoader(set.samples(UNIT, false), 5, false, 1, 0, false, threads));
            assertEquals(14, batches.stream().mapToInt(Batch::size).sum());
            for (Batch b : batches) for (float v : b.images()) assertTrue(v >= -0.5f && v <= 255.5f, "value " + v);
            assertEquals(5, set.skipped(), "corrupt, truncated, empty, text, vanished");
            // each bad file's place (samples 4..8) is taken by the next good one, the grey JPEG (sample 9)
            float[] all = concat(batches);
            int size = 24 * 24 * 3;
            float[] grey = Arrays.copyOfRange(all, 9 * size, 10 * size);
            for (int s = 4; s <= 8; s++) assertTrue(Arrays.equals(grey, Arrays.copyOfRange(all, s * size, (s + 1) * size)), "sample " + s);
            for (int i = 0; i < size; i += 3) assertTrue(grey[i] == grey[i + 1] && grey[i] == grey[i + 2], "grey stays grey");
            for (int s = 10; s < 14; s++) { // CMYK, 16-bit, 1x1, 2x3: decoded, not replaced
                assertFalse(Arrays.equals(grey, Arrays.copyOfRange(all, s * size, (s + 1) * size)), "sample " + s);
            }
        }
    }

    private static float[] concat(List<Batch> batches) {
        float[] out = new float[0];
        for (Batch b : batches) {
            int at = out.length;
            out = Arrays.copyOf(out, at + b.images().length);
            System.arraycopy(b.images(), 0, out, at, b.images().length);
        }
        return out;
    }

    @Test
    void aSetOfBadFilesIsRefusedInOneLine() throws IOException {
        Files.createDirectories(dir.resolve("train/a"));
        for (int i = 0; i < FolderImages.MAX_REPLACEMENTS + 2; i++) Files.writeString(dir.resolve("train/a/" + i + ".jpg"), "nope");
        Files.createDirectories(dir.resolve("val/a"));
        Files.writeString(dir.resolve("val/a/v.jpg"), "nope");
        FolderImages set = (FolderImages) DataSource.open(dir, 16, 2).train();
        BatchLoader loader = new BatchLoader(set.samples(UNIT, true), 4, false, 1, 0, false, 2);
        String m = assertThrows(BadInputException.class, loader::next).getMessage();
        assertFalse(m.contains("\n"), m);
        assertTrue(m.contains(dir.resolve("train/a").toString()) && m.contains("cannot be read or decoded"), m);
        loader.close();
    }

    @Test
    void aStuckThreadFailsTheLoaderNamingItsFile() throws InterruptedException {
        Samples stuck = new Samples() {
            @Override
            public int count() {
                return 8;
            }

            @Override
            public int imageSize() {
                return 1;
            }

            @Override
            public Renderer open() {
                return (sample, seed, epoch, position, dst, off) -> {
                    if (sample == 5) {
                        try {
                            Thread.sleep(Long.MAX_VALUE); // a hung read
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                    return 0;
                };
            }

            @Override
            public String describe(int sample) {
                return "file-" + sample + ".jpg";
            }
        };
        BatchLoader loader = new BatchLoader(stuck, 2, false, 1, 0, false, 2);
        loader.stallSeconds = 1;
        loader.next();
        loader.next();
        Thread worker = loader.worker();
        String m = assertThrows(BadInputException.class, loader::next).getMessage();
        assertTrue(m.contains("stalled") && m.contains("file-5.jpg"), m);
        worker.join(5_000);
        assertFalse(worker.isAlive(), "the loader's threads end with it");
    }
}
