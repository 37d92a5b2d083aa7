package org.wrpn.data.decode;

import java.nio.ByteBuffer;

/**
 * Format and size of an encoded image, read from its bytes without decoding, and whether the file
 * is whole: a JPEG must hold its end-of-image marker after the first scan, a PNG its IEND chunk.
 * A truncated JPEG would otherwise decode "successfully", its missing rows grey.
 */
public record ImageHeader(Format format, int width, int height) {
    /** Largest image accepted, in pixels (a guard against decompression bombs). */
    public static final long MAX_PIXELS = 1L << 28;

    public enum Format { JPEG, PNG }

    private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};

    /** Reads the first {@code length} bytes of {@code b} (from index 0). */
    public static ImageHeader read(ByteBuffer b, int length) throws BadImageException {
        if (length == 0) throw new BadImageException("empty file");
        ImageHeader h;
        if (length >= 2 && u8(b, 0) == 0xFF && u8(b, 1) == 0xD8) h = jpeg(b, length);
        else if (startsWith(b, length, PNG_SIGNATURE)) h = png(b, length);
        else throw new BadImageException("not a JPEG or PNG file");
        if ((long) h.width * h.height > MAX_PIXELS) {
            throw new BadImageException("too large (" + h.width + "x" + h.height + " pixels; at most " + MAX_PIXELS + ")");
        }
        return h;
    }

    private static ImageHeader jpeg(ByteBuffer b, int n) throws BadImageException {
        int p = 2;
        int width = -1;
        int height = -1;
        while (true) {
            if (p >= n) throw new BadImageException("truncated JPEG (ends inside its header)");
            if (u8(b, p) != 0xFF) throw new BadImageException("corrupt JPEG (no marker at byte " + p + ")");
            while (p < n && u8(b, p) == 0xFF) p++; // fill bytes
            if (p + 3 > n) throw new BadImageException("truncated JPEG (ends inside its header)");
            int marker = u8(b, p++);
            if (marker == 0x01 || marker >= 0xD0 && marker <= 0xD8) continue; // no length
            if (marker == 0xD9) throw new BadImageException("corrupt JPEG (no image data before its end marker)");
            int segment = u16(b, p);
            if (segment < 2) throw new BadImageException("corrupt JPEG (segment length " + segment + " at byte " + p + ")");
            if (isFrameHeader(marker)) {
                if (p + 7 > n) throw new BadImageException("truncated JPEG (ends inside its frame header)");
                height = u16(b, p + 3);
                width = u16(b, p + 5);
                if (width == 0 || height == 0) throw new BadImageException("unsupported JPEG (size " + width + "x" + height + ")");
            }
            if (marker == 0xDA) { // start of the first scan
                if (width < 0) throw new BadImageException("corrupt JPEG (a scan before the frame header)");
                if (!hasEndMarker(b, p + segment, n)) throw new BadImageException("truncated JPEG (no end-of-image marker)");
                return new ImageHeader(Format.JPEG, width, height);
            }
            p += segment;
        }
    }

    /** SOF0..SOF15, less DHT (C4), JPG (C8) and DAC (CC). */
    private static boolean isFrameHeader(int marker) {
        return marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC;
    }

    /** FF D9 after the scan starts; entropy-coded data never holds it (FF is stuffed), so the last one is the end. */
    private static boolean hasEndMarker(ByteBuffer b, int from, int n) {
        for (int i = n - 2; i >= from; i--) {
            if (u8(b, i) == 0xFF && u8(b, i + 1) == 0xD9) return true;
        }
        return false;
    }

    private static ImageHeader png(ByteBuffer b, int n) throws BadImageException {
        int p = PNG_SIGNATURE.length;
        if (p + 24 > n || !type(b, p + 4, "IHDR")) throw new BadImageException("corrupt PNG (no IHDR chunk)");
        long width = u32(b, p + 8);
        long height = u32(b, p + 12);
        if (width == 0 || height == 0 || width > Integer.MAX_VALUE || height > Integer.MAX_VALUE) {
            throw new BadImageException("corrupt PNG (size " + width + "x" + height + ")");
        }
        while (true) { // walk the chunks to IEND
            if (p + 8 > n) throw new BadImageException("truncated PNG (no IEND chunk)");
            long length = u32(b, p);
            if (type(b, p + 4, "IEND")) return new ImageHeader(Format.PNG, (int) width, (int) height);
            if (length > n) throw new BadImageException("truncated PNG (a chunk runs past the end of the file)");
            p += 12 + (int) length;
        }
    }

    private static boolean startsWith(ByteBuffer b, int n, byte[] prefix) {
        if (n < prefix.length) return false;
        for (int i = 0; i < prefix.length; i++) if (b.get(i) != prefix[i]) return false;
        return true;
    }

    private static boolean type(ByteBuffer b, int p, String type) {
        for (int i = 0; i < 4; i++) if (b.get(p + i) != type.charAt(i)) return false;
        return true;
    }

    private static int u8(ByteBuffer b, int i) {
        return b.get(i) & 0xFF;
    }

    private static int u16(ByteBuffer b, int i) {
        return (u8(b, i) << 8) | u8(b, i + 1);
    }

    private static long u32(ByteBuffer b, int i) {
        return ((long) u16(b, i) << 16) | u16(b, i + 2);
    }
}
