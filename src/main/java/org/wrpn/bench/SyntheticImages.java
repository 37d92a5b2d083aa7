package org.wrpn.bench;

import java.awt.image.BufferedImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.SplittableRandom;
import javax.imageio.IIOImage;
import javax.imageio.ImageIO;
import javax.imageio.ImageWriteParam;
import javax.imageio.ImageWriter;
import javax.imageio.stream.ImageOutputStream;

/**
 * Photo-like test images, written with the JDK's own encoders (so tests need no image files): smooth
 * colour fields with detail at every scale (value noise whose amplitude falls with frequency, as in
 * natural images), hard-edged shapes and sensor noise. At 500x375 and JPEG quality 90 they come out
 * near the size of an ImageNet photo (about 110 KB), so they cost a JPEG decoder about as much.
 */
public final class SyntheticImages {
    /** Amplitude of detail falls as (cell size)^SLOPE: 1/f-like. */
    private static final double SLOPE = 0.1;
    /** Sensor noise, in grey levels: with SLOPE, what brings a quality-90 JPEG to an ImageNet photo's bytes per pixel. */
    private static final double NOISE = 18;

    private SyntheticImages() {}

    /** An RGB image of width x height, a function of the seed. */
    public static BufferedImage photo(int width, int height, long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        float[][] ch = new float[3][width * height];
        for (int c = 0; c < 3; c++) java.util.Arrays.fill(ch[c], 60 + r.nextInt(136));
        for (int cell = 256; cell >= 2; cell /= 2) {
            float amp = (float) (70 * Math.pow(cell / 256.0, SLOPE));
            int gw = width / cell + 2;
            int gh = height / cell + 2;
            float[][] grid = new float[4][gw * gh]; // luminance, then three colour offsets
            for (float[] g : grid) for (int i = 0; i < g.length; i++) g[i] = (float) (r.nextDouble() - 0.5);
            for (int y = 0; y < height; y++) {
                float fy = y / (float) cell;
                int gy = (int) fy;
                float ty = fy - gy;
                for (int x = 0; x < width; x++) {
                    float fx = x / (float) cell;
                    int gx = (int) fx;
                    float tx = fx - gx;
                    int i = gy * gw + gx;
                    float lum = lerp(grid[0], i, gw, tx, ty) * amp;
                    for (int c = 0; c < 3; c++) ch[c][y * width + x] += lum + 0.4f * amp * lerp(grid[c + 1], i, gw, tx, ty);
                }
            }
        }
        for (int s = 0; s < 12; s++) shape(ch, width, height, r);
        BufferedImage img = new BufferedImage(width, height, BufferedImage.TYPE_INT_RGB);
        int[] pixels = ((java.awt.image.DataBufferInt) img.getRaster().getDataBuffer()).getData();
        for (int i = 0; i < width * height; i++) {
            int rgb = 0;
            for (int c = 0; c < 3; c++) rgb = (rgb << 8) | clamp(ch[c][i] + (float) (r.nextGaussian() * NOISE));
            pixels[i] = rgb;
        }
        return img;
    }

    private static float lerp(float[] g, int i, int gw, float tx, float ty) {
        float top = g[i] + (g[i + 1] - g[i]) * tx;
        float bottom = g[i + gw] + (g[i + gw + 1] - g[i + gw]) * tx;
        return top + (bottom - top) * ty;
    }

    /** A hard-edged ellipse shifted in colour: the edges JPEG has to spend bits on. */
    private static void shape(float[][] ch, int width, int height, SplittableRandom r) {
        double cx = r.nextDouble() * width;
        double cy = r.nextDouble() * height;
        double rx = 5 + r.nextDouble() * width / 5;
        double ry = 5 + r.nextDouble() * height / 5;
        float[] shift = {(float) (r.nextDouble() * 120 - 60), (float) (r.nextDouble() * 120 - 60), (float) (r.nextDouble() * 120 - 60)};
        int x0 = (int) Math.max(0, cx - rx);
        int x1 = (int) Math.min(width, cx + rx + 1);
        int y0 = (int) Math.max(0, cy - ry);
        int y1 = (int) Math.min(height, cy + ry + 1);
        for (int y = y0; y < y1; y++) {
            for (int x = x0; x < x1; x++) {
                double dx = (x - cx) / rx;
                double dy = (y - cy) / ry;
                if (dx * dx + dy * dy <= 1) for (int c = 0; c < 3; c++) ch[c][y * width + x] += shift[c];
            }
        }
    }

    private static int clamp(float v) {
        return Math.max(0, Math.min(255, Math.round(v)));
    }

    /** Writes img as a JPEG of the given quality (0..1) to file, making its folder. */
    public static Path writeJpeg(BufferedImage img, float quality, Path file) {
        ImageWriter w = ImageIO.getImageWritersByFormatName("jpeg").next();
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            Files.deleteIfExists(file);
            try (ImageOutputStream out = ImageIO.createImageOutputStream(file.toFile())) {
                ImageWriteParam p = w.getDefaultWriteParam();
                p.setCompressionMode(ImageWriteParam.MODE_EXPLICIT);
                p.setCompressionQuality(quality);
                w.setOutput(out);
                w.write(null, new IIOImage(img, null, null), p);
            }
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        } finally {
            w.dispose();
        }
    }

    /** Writes img as a PNG to file, making its folder. */
    public static Path writePng(BufferedImage img, Path file) {
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            if (!ImageIO.write(img, "png", file.toFile())) throw new IOException("no PNG writer");
            return file;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    /**
     * An image folder under root: train/ and val/ with one folder per class (c0, c1, ...) holding
     * perClass (train) and perClassVal (val) JPEGs of width x height.
     */
    public static void writeFolder(Path root, int classes, int perClass, int perClassVal, int width, int height, long seed) {
        for (int c = 0; c < classes; c++) {
            for (int i = 0; i < perClass + perClassVal; i++) {
                String split = i < perClass ? "train" : "val";
                long s = seed * 1_000_003L + c * 10_007L + i;
                writeJpeg(photo(width, height, s), 0.9f, root.resolve(split).resolve("c" + c).resolve("img" + i + ".jpg"));
            }
        }
    }
}
