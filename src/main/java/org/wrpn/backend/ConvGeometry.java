package org.wrpn.backend;

/**
 * A 2-D convolution on channels-last tensors: input (n, h, w, cin), weights (cout, kh, kw, cin),
 * output (n, outH, outW, cout). Symmetric zero padding.
 */
public record ConvGeometry(int n, int h, int w, int cin, int cout, int kh, int kw, int stride, int pad) {
    public ConvGeometry {
        if (n <= 0 || h <= 0 || w <= 0 || cin <= 0 || cout <= 0 || kh <= 0 || kw <= 0 || stride <= 0 || pad < 0) {
            throw new IllegalArgumentException("invalid convolution geometry " + describe(n, h, w, cin, cout, kh, kw, stride, pad));
        }
        if ((h + 2 * pad - kh) < 0 || (w + 2 * pad - kw) < 0) {
            throw new IllegalArgumentException("kernel " + kh + "x" + kw + " larger than padded input " + h + "x" + w);
        }
    }

    private static String describe(int n, int h, int w, int cin, int cout, int kh, int kw, int stride, int pad) {
        return "n=" + n + " in=" + h + "x" + w + "x" + cin + " out-channels=" + cout + " kernel=" + kh + "x" + kw
                + " stride=" + stride + " pad=" + pad;
    }

    public int outH() {
        return (h + 2 * pad - kh) / stride + 1;
    }

    public int outW() {
        return (w + 2 * pad - kw) / stride + 1;
    }

    /** Length of one im2col row: kh * kw * cin. */
    public int patch() {
        return kh * kw * cin;
    }

    public ConvGeometry withBatch(int batch) {
        return new ConvGeometry(batch, h, w, cin, cout, kh, kw, stride, pad);
    }
}
