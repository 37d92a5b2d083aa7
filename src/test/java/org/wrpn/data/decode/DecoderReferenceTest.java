package org.wrpn.data.decode;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import javax.imageio.ImageIO;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.bench.SyntheticImages;

/**
 * OpenCV's decode against the JDK's own decoders (an independent implementation) as the reference.
 * JPEG: a conforming decoder's samples are within 1 of the reference's before colour conversion
 * (ITU-T T.83); through the YCbCr to RGB matrix (largest coefficient 1.772, for blue) and rounding
 * that allows 3 per channel. PNG is lossless: exact.
 */
class DecoderReferenceTest {
    /** T.83's 1 on Y plus 1.772 times 1 on Cb, rounded up. */
    static final int JPEG_TOLERANCE = 3;

    @TempDir
    Path dir;

    /** Decodes file whole at 1/reduction, no crop, to its decoded size: BGR bytes. */
    static byte[] decode(Path file, int reduction, int outWidth, int outHeight) throws IOException, BadImageException {
        byte[] bytes = Files.readAllBytes(file);
        try (ImageDecoder d = ImageDecoder.open()) {
            ByteBuffer b = d.buffer(bytes.length);
            b.put(bytes);
            ImageHeader h = ImageHeader.read(b, bytes.length);
            byte[] bgr = new byte[outWidth * outHeight * 3];
            d.decode(h, bytes.length, reduction, new Region(0, 0, h.width(), h.height()), outWidth, outHeight, bgr);
            return bgr;
        }
    }

    /** Max and mean absolute difference per channel value between BGR bytes and a reference image. */
    static double[] difference(byte[] bgr, BufferedImage ref) {
        int w = ref.getWidth();
        int h = ref.getHeight();
        long sum = 0;
        int max = 0;
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                int rgb = ref.getRGB(x, y);
                for (int c = 0; c < 3; c++) {
                    int expected = (rgb >> (8 * c)) & 0xFF; // c = 0 blue, 1 green, 2 red
                    int d = Math.abs((bgr[(y * w + x) * 3 + c] & 0xFF) - expected);
                    max = Math.max(max, d);
                    sum += d;
                }
            }
        }
        return new double[] {max, sum / (3.0 * w * h)};
    }

    @Test
    void jpegWithinTheStandardsTolerance() throws Exception {
        for (float quality : new float[] {0.75f, 0.95f}) {
            Path f = SyntheticImages.writeJpeg(SyntheticImages.photo(123, 77, 5), quality, dir.resolve("q" + quality + ".jpg"));
            double[] d = difference(decode(f, 1, 123, 77), ImageIO.read(f.toFile()));
            assertTrue(d[0] <= JPEG_TOLERANCE, "max difference " + d[0] + " at quality " + quality);
            assertTrue(d[1] <= 0.5, "mean difference " + d[1] + " at quality " + quality);
        }
    }

    @Test
    void pngExactly() throws Exception {
        Path f = SyntheticImages.writePng(SyntheticImages.photo(50, 31, 6), dir.resolve("a.png"));
        assertEquals(0.0, difference(decode(f, 1, 50, 31), ImageIO.read(f.toFile()))[0]);
    }

    @Test
    void greyJpegComesOutAsThreeEqualChannels() throws Exception {
        BufferedImage grey = new BufferedImage(40, 30, BufferedImage.TYPE_BYTE_GRAY);
        grey.getGraphics().drawImage(SyntheticImages.photo(40, 30, 7), 0, 0, null);
        Path f = SyntheticImages.writeJpeg(grey, 0.9f, dir.resolve("grey.jpg"));
        byte[] bgr = decode(f, 1, 40, 30);
        BufferedImage ref = ImageIO.read(f.toFile());
        int max = 0;
        for (int i = 0; i < 40 * 30; i++) {
            assertEquals(bgr[3 * i], bgr[3 * i + 1]);
            assertEquals(bgr[3 * i], bgr[3 * i + 2]);
            max = Math.max(max, Math.abs((bgr[3 * i] & 0xFF) - ref.getRaster().getSample(i % 40, i / 40, 0)));
        }
        assertTrue(max <= 1, "grey max difference " + max); // T.83's 1, no colour conversion
    }

    /**
     * A reduced decode keeps the low DCT frequencies: on an image without detail finer than two pixels
     * (where that and averaging 2x2 blocks agree) it is close to the reference averaged over 2x2.
     */
    @Test
    void reducedJpegIsCloseToTheAveragedReference() throws Exception {
        BufferedImage smooth = new BufferedImage(128, 96, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 96; y++) {
            for (int x = 0; x < 128; x++) {
                int r = (int) (128 + 100 * Math.sin(x / 9.0) * Math.cos(y / 13.0));
                int g = (int) (128 + 90 * Math.sin((x + y) / 17.0));
                int b = (int) (128 + 80 * Math.cos((x - 2 * y) / 23.0));
                smooth.setRGB(x, y, (r << 16) | (g << 8) | b);
            }
        }
        Path f = SyntheticImages.writeJpeg(smooth, 0.9f, dir.resolve("r.jpg"));
        BufferedImage full = ImageIO.read(f.toFile());
        BufferedImage half = new BufferedImage(64, 48, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < 48; y++) {
            for (int x = 0; x < 64; x++) {
                int rgb = 0;
                for (int c = 2; c >= 0; c--) {
                    int s = 0;
                    for (int k = 0; k < 4; k++) s += (full.getRGB(2 * x + k % 2, 2 * y + k / 2) >> (8 * c)) & 0xFF;
                    rgb = (rgb << 8) | ((s + 2) / 4);
                }
                half.setRGB(x, y, rgb);
            }
        }
        double[] d = difference(decode(f, 2, 64, 48), half);
        assertTrue(d[0] <= 8 && d[1] <= 1, "max difference " + d[0] + ", mean " + d[1]);
    }
}
