package org.wrpn.backend;

/** A max pool on channels-last tensors (n, h, w, c) with a square window; padding cells never win. */
public record PoolGeometry(int n, int h, int w, int c, int window, int stride, int pad) {
    public PoolGeometry {
        if (n <= 0 || h <= 0 || w <= 0 || c <= 0 || window <= 0 || stride <= 0 || pad < 0 || pad >= window) {
            throw new IllegalArgumentException("invalid pooling geometry window=" + window + " stride=" + stride + " pad=" + pad);
        }
        if (h + 2 * pad < window || w + 2 * pad < window) {
            throw new IllegalArgumentException("pool window " + window + " larger than input " + h + "x" + w);
        }
    }

    public int outH() {
        return (h + 2 * pad - window) / stride + 1;
    }

    public int outW() {
        return (w + 2 * pad - window) / stride + 1;
    }
}
