package org.wrpn.data;

import java.util.SplittableRandom;

/**
 * Random translation (a crop of the original size from the image zero-padded by {@code pad}) and
 * random horizontal flip (p = 0.5). Padding is applied after normalization with 0.0, i.e. the
 * channel mean. Deterministic: placements are drawn from (seed, epoch, position).
 */
public record Augmentation(int pad, boolean flip) {
    /** No augmentation (MNIST-like data). */
    public static final Augmentation NONE = new Augmentation(0, false);
    /** The standard CIFAR recipe: pad 4, random 32x32 crop, random horizontal flip. */
    public static final Augmentation PAD4_CROP_FLIP = new Augmentation(4, true);

    public Augmentation {
        if (pad < 0) throw new IllegalArgumentException("pad must be >= 0: " + pad);
    }

    /**
     * Where the output takes its pixels: output(y, x) = input(y + dy, x' + dx) with x' = W-1-x when
     * flipped, else x; zero (the mean) outside the input.
     */
    public record Placement(int dy, int dx, boolean flip) {
        public static final Placement IDENTITY = new Placement(0, 0, false);
    }

    public boolean isNone() {
        return pad == 0 && !flip;
    }

    /** A placement with dy, dx uniform in [-pad, pad] and a flip with p = 0.5. */
    public Placement sample(SplittableRandom rng) {
        if (isNone()) return Placement.IDENTITY;
        int dy = pad == 0 ? 0 : rng.nextInt(2 * pad + 1) - pad;
        int dx = pad == 0 ? 0 : rng.nextInt(2 * pad + 1) - pad;
        boolean flipped = flip && rng.nextBoolean();
        return new Placement(dy, dx, flipped);
    }

    /** The placement for the sample at position {@code position} of epoch {@code epoch}. */
    public Placement sample(long seed, int epoch, long position) {
        return isNone() ? Placement.IDENTITY : sample(Seeds.random(seed, Seeds.AUGMENT, epoch, position));
    }

    /**
     * Normalizes one channels-last byte image through {@code lut} (index c * 256 + v, see
     * {@link Normalization#lookupTable()}) into dst, moved by the placement.
     */
    public static void render(byte[] src, int srcOff, int height, int width, int channels, float[] lut,
                              Placement p, float[] dst, int dstOff) {
        int rowSize = width * channels;
        for (int y = 0; y < height; y++) {
            int sy = y + p.dy();
            int out = dstOff + y * rowSize;
            if (sy < 0 || sy >= height) {
                java.util.Arrays.fill(dst, out, out + rowSize, 0f);
                continue;
            }
            int inRow = srcOff + sy * rowSize;
            for (int x = 0; x < width; x++, out += channels) {
                int sx = (p.flip() ? width - 1 - x : x) + p.dx();
                if (sx < 0 || sx >= width) {
                    for (int c = 0; c < channels; c++) dst[out + c] = 0f;
                } else {
                    int in = inRow + sx * channels;
                    for (int c = 0; c < channels; c++) dst[out + c] = lut[(c << 8) | (src[in + c] & 0xFF)];
                }
            }
        }
    }
}
