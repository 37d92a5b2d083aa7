package org.wrpn.data.decode;

/** A rectangle of an image in its full-resolution pixels: left, top, width, height. */
public record Region(int x, int y, int width, int height) {
    public Region {
        if (x < 0 || y < 0 || width <= 0 || height <= 0) {
            throw new IllegalArgumentException("bad region " + x + "," + y + " " + width + "x" + height);
        }
    }
}
