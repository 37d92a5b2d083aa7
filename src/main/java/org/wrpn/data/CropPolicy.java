package org.wrpn.data;

import java.util.SplittableRandom;
import org.wrpn.data.decode.ImageHeader;
import org.wrpn.data.decode.Region;

/**
 * Where an output image takes its pixels, in the source image's full-resolution pixels: torchvision's
 * ImageNet recipe. Training: RandomResizedCrop (area fraction uniform in [minScale, maxScale], aspect
 * ratio log-uniform in [minRatio, maxRatio], ten tries, then the centre crop of the clamped ratio).
 * Evaluation: resize the shorter side to size / evalFraction and take the centre size x size, i.e.
 * the centre square of evalFraction times the shorter side.
 */
public record CropPolicy(double minScale, double maxScale, double minRatio, double maxRatio, double evalFraction) {
    public static final CropPolicy IMAGENET = new CropPolicy(0.08, 1.0, 3.0 / 4, 4.0 / 3, 0.875);
    private static final int TRIES = 10;

    public CropPolicy {
        if (!(minScale > 0 && minScale <= maxScale && maxScale <= 1 && minRatio > 0 && minRatio <= maxRatio
                && evalFraction > 0 && evalFraction <= 1)) {
            throw new IllegalArgumentException("bad crop policy " + minScale + ".." + maxScale + ", " + minRatio + ".." + maxRatio);
        }
    }

    public Region random(int width, int height, SplittableRandom rng) {
        double area = (double) width * height;
        double logMin = Math.log(minRatio);
        double logMax = Math.log(maxRatio);
        for (int t = 0; t < TRIES; t++) {
            double target = area * (minScale + rng.nextDouble() * (maxScale - minScale));
            double ratio = Math.exp(logMin + rng.nextDouble() * (logMax - logMin));
            int w = (int) Math.round(Math.sqrt(target * ratio));
            int h = (int) Math.round(Math.sqrt(target / ratio));
            if (w > 0 && h > 0 && w <= width && h <= height) {
                int y = rng.nextInt(height - h + 1);
                int x = rng.nextInt(width - w + 1);
                return new Region(x, y, w, h);
            }
        }
        double in = width / (double) height;
        int w = width;
        int h = height;
        if (in < minRatio) h = Math.max(1, (int) Math.round(w / minRatio));
        else if (in > maxRatio) w = Math.max(1, (int) Math.round(h * maxRatio));
        return new Region((width - w) / 2, (height - h) / 2, w, h);
    }

    public Region centre(int width, int height) {
        int side = Math.max(1, (int) Math.round(Math.min(width, height) * evalFraction));
        return new Region((int) Math.round((width - side) / 2.0), (int) Math.round((height - side) / 2.0), side, side);
    }

    /**
     * The JPEG reduction (1, 2, 4 or 8) to decode at: the largest that still leaves the crop at least
     * {@code side} pixels on each side, so a reduced decode never adds upsampling. PNG has none.
     */
    public static int reduction(ImageHeader header, Region crop, int side) {
        if (header.format() != ImageHeader.Format.JPEG) return 1;
        int shorter = Math.min(crop.width(), crop.height());
        int r = 8;
        while (r > 1 && shorter / r < side) r /= 2;
        return r;
    }
}
