package org.wrpn.data.decode;

import java.nio.ByteBuffer;

/**
 * Decodes JPEG and PNG files to 8-bit colour, one at a time: one decoder per loader thread. Grey,
 * CMYK and 16-bit images come out as 8-bit colour; EXIF orientation is ignored, as torchvision's
 * loaders ignore it. The only implementation is OpenCV's ({@link OpenCvDecoder}), the one place that
 * names a native image library.
 */
public interface ImageDecoder extends AutoCloseable {
    /** The decoder of this platform. */
    static ImageDecoder open() {
        try {
            return new OpenCvDecoder();
        } catch (LinkageError e) {
            throw new IllegalStateException("cannot load the image decoder (OpenCV, org.bytedeco:opencv): " + e, e);
        }
    }

    /** A buffer of at least {@code capacity} bytes to read an encoded file into, position 0; valid until the next call. */
    ByteBuffer buffer(int capacity);

    /**
     * Decodes the first {@code length} bytes of {@link #buffer} (whose header is {@code header}) at
     * 1/{@code reduction} scale (1, 2, 4 or 8: JPEG scales in the IDCT, so a reduced decode is cheaper),
     * takes {@code crop} (in full-resolution pixels) and resizes it to {@code outWidth} x
     * {@code outHeight} (area averaging when shrinking, bilinear when enlarging) into {@code bgr}:
     * rows of blue, green, red bytes.
     */
    void decode(ImageHeader header, int length, int reduction, Region crop, int outWidth, int outHeight, byte[] bgr)
            throws BadImageException;

    @Override
    void close();
}
