package org.wrpn.data.decode;

import static org.bytedeco.opencv.global.opencv_core.CV_8UC1;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_COLOR;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_IGNORE_ORIENTATION;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_REDUCED_COLOR_2;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_REDUCED_COLOR_4;
import static org.bytedeco.opencv.global.opencv_imgcodecs.IMREAD_REDUCED_COLOR_8;
import static org.bytedeco.opencv.global.opencv_imgcodecs.imdecode;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_AREA;
import static org.bytedeco.opencv.global.opencv_imgproc.INTER_LINEAR;
import static org.bytedeco.opencv.global.opencv_imgproc.resize;

import java.nio.ByteBuffer;
import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.opencv.global.opencv_core;
import org.bytedeco.opencv.opencv_core.Mat;
import org.bytedeco.opencv.opencv_core.Rect;
import org.bytedeco.opencv.opencv_core.Size;

/** {@link ImageDecoder} on OpenCV's imgcodecs (libjpeg-turbo, libpng) and imgproc resize. Not thread-safe. */
final class OpenCvDecoder implements ImageDecoder {
    static {
        // Parallelism comes from the loader's threads; OpenCV's own pool would oversubscribe the cores.
        opencv_core.setNumThreads(1);
    }

    private BytePointer memory;
    private ByteBuffer view;
    private final Mat decoded = new Mat();
    private final Mat resized = new Mat();

    @Override
    public ByteBuffer buffer(int capacity) {
        if (memory == null || view.capacity() < capacity) {
            if (memory != null) memory.close();
            long size = Math.max(capacity + (capacity >> 2), 1 << 20);
            memory = new BytePointer(size);
            view = memory.capacity(size).limit(size).asByteBuffer();
        }
        view.clear();
        return view;
    }

    @Override
    public void decode(ImageHeader header, int length, int reduction, Region crop, int outWidth, int outHeight, byte[] bgr)
            throws BadImageException {
        int flags = IMREAD_IGNORE_ORIENTATION | switch (reduction) {
            case 1 -> IMREAD_COLOR;
            case 2 -> IMREAD_REDUCED_COLOR_2;
            case 4 -> IMREAD_REDUCED_COLOR_4;
            case 8 -> IMREAD_REDUCED_COLOR_8;
            default -> throw new IllegalArgumentException("reduction must be 1, 2, 4 or 8: " + reduction);
        };
        if (bgr.length < outWidth * outHeight * 3) throw new IllegalArgumentException("output holds " + bgr.length + " bytes");
        try (Mat encoded = new Mat(1, length, CV_8UC1, memory)) {
            imdecode(encoded, flags, decoded);
        } catch (RuntimeException e) { // cv::Exception
            throw new BadImageException("cannot be decoded (" + firstLine(e.getMessage()) + ")");
        }
        if (decoded.empty() || decoded.channels() != 3) throw new BadImageException("cannot be decoded (corrupt " + header.format() + ")");
        // The crop in the decoded image's pixels: a reduced decode is ceil(size / reduction) on each side.
        double sx = decoded.cols() / (double) header.width();
        double sy = decoded.rows() / (double) header.height();
        int x = Math.min((int) (crop.x() * sx), decoded.cols() - 1);
        int y = Math.min((int) (crop.y() * sy), decoded.rows() - 1);
        int w = Math.max(1, Math.min((int) Math.round(crop.width() * sx), decoded.cols() - x));
        int h = Math.max(1, Math.min((int) Math.round(crop.height() * sy), decoded.rows() - y));
        int interpolation = (long) w * h > (long) outWidth * outHeight ? INTER_AREA : INTER_LINEAR;
        try (Rect r = new Rect(x, y, w, h); Mat roi = new Mat(decoded, r); Size size = new Size(outWidth, outHeight)) {
            resize(roi, resized, size, 0, 0, interpolation);
        }
        resized.data().get(bgr, 0, outWidth * outHeight * 3);
    }

    private static String firstLine(String s) {
        if (s == null) return "no message";
        String t = s.strip();
        int nl = t.indexOf('\n');
        return nl < 0 ? t : t.substring(0, nl);
    }

    @Override
    public void close() {
        decoded.close();
        resized.close();
        if (memory != null) memory.close();
        memory = null;
    }
}
