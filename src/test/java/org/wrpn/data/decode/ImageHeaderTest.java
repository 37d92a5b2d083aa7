package org.wrpn.data.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.bench.SyntheticImages;

/** Sizes and formats from the first bytes; a file cut short is refused before the decoder sees it. */
class ImageHeaderTest {
    @TempDir
    Path dir;

    static ImageHeader read(byte[] b) throws BadImageException {
        return ImageHeader.read(ByteBuffer.wrap(b), b.length);
    }

    static String problem(byte[] b) {
        return assertThrows(BadImageException.class, () -> read(b)).getMessage();
    }

    @Test
    void jpegAndPngSizes() throws Exception {
        byte[] jpeg = Files.readAllBytes(SyntheticImages.writeJpeg(SyntheticImages.photo(37, 21, 1), 0.8f, dir.resolve("a.jpg")));
        assertEquals(new ImageHeader(ImageHeader.Format.JPEG, 37, 21), read(jpeg));
        byte[] png = Files.readAllBytes(SyntheticImages.writePng(SyntheticImages.photo(5, 9, 2), dir.resolve("a.png")));
        assertEquals(new ImageHeader(ImageHeader.Format.PNG, 5, 9), read(png));
        byte[] padded = Arrays.copyOf(jpeg, jpeg.length + 100); // bytes after the end marker are allowed
        assertEquals(37, read(padded).width());
    }

    @Test
    void truncatedOrForeignFilesAreRefused() throws Exception {
        byte[] jpeg = Files.readAllBytes(SyntheticImages.writeJpeg(SyntheticImages.photo(64, 64, 3), 0.8f, dir.resolve("b.jpg")));
        byte[] png = Files.readAllBytes(SyntheticImages.writePng(SyntheticImages.photo(64, 64, 4), dir.resolve("b.png")));
        assertEquals("truncated JPEG (no end-of-image marker)", problem(Arrays.copyOf(jpeg, jpeg.length / 2)));
        assertTrue(problem(Arrays.copyOf(jpeg, 40)).startsWith("truncated JPEG"));
        assertTrue(problem(Arrays.copyOf(png, png.length - 30)).startsWith("truncated PNG"));
        assertEquals("empty file", problem(new byte[0]));
        assertEquals("not a JPEG or PNG file", problem("GIF89a...".getBytes()));
        byte[] hugePng = Arrays.copyOf(png, png.length);
        ByteBuffer.wrap(hugePng).putInt(16, 100_000).putInt(20, 100_000); // IHDR width and height
        assertTrue(problem(hugePng).startsWith("too large"));
    }
}
