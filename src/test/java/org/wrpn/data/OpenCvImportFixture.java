package org.wrpn.data;

import org.bytedeco.opencv.opencv_core.Mat;

/** Names OpenCV outside data/decode on purpose, for ArchitectureTest's test of the test; never run. */
public final class OpenCvImportFixture {
    private OpenCvImportFixture() {}

    static Object breach() {
        return Mat.class;
    }
}
