package org.wrpn.export;

/** wrpn's conv weights are (out, kh, kw, in); ONNX's Conv wants (out, in, kh, kw). */
final class Layouts {
    private Layouts() {}

    /** For each (o, i, y, x) position in OIHW order, its index in the OHWI array of shape {o, kh, kw, i}. */
    static int[] ohwiIndexOfOihw(int[] ohwi) {
        int o = ohwi[0], kh = ohwi[1], kw = ohwi[2], in = ohwi[3];
        int[] index = new int[o * kh * kw * in];
        int d = 0;
        for (int a = 0; a < o; a++) {
            for (int c = 0; c < in; c++) {
                for (int y = 0; y < kh; y++) {
                    for (int x = 0; x < kw; x++) index[d++] = ((a * kh + y) * kw + x) * in + c;
                }
            }
        }
        return index;
    }

    static float[] ohwiToOihw(float[] w, int[] ohwi) {
        int[] index = ohwiIndexOfOihw(ohwi);
        float[] out = new float[w.length];
        for (int d = 0; d < out.length; d++) out[d] = w[index[d]];
        return out;
    }

    static byte[] ohwiToOihw(byte[] w, int[] ohwi) {
        int[] index = ohwiIndexOfOihw(ohwi);
        byte[] out = new byte[w.length];
        for (int d = 0; d < out.length; d++) out[d] = w[index[d]];
        return out;
    }
}
