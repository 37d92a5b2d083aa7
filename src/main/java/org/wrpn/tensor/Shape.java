package org.wrpn.tensor;

import java.util.Arrays;

/** An immutable tensor shape. Activations are channels-last: (N, H, W, C); matrices (rows, cols). */
public final class Shape {
    private final int[] dims;

    private Shape(int[] dims) {
        for (int d : dims) {
            if (d <= 0) throw new IllegalArgumentException("shape dimensions must be positive: " + Arrays.toString(dims));
        }
        this.dims = dims.clone();
    }

    public static Shape of(int... dims) {
        return new Shape(dims);
    }

    /** Activation shape (N, H, W, C). */
    public static Shape nhwc(int n, int h, int w, int c) {
        return new Shape(new int[] {n, h, w, c});
    }

    public int rank() {
        return dims.length;
    }

    public int dim(int i) {
        return dims[i];
    }

    public int[] dims() {
        return dims.clone();
    }

    public long elements() {
        long e = 1;
        for (int d : dims) e *= d;
        return e;
    }

    /** Last dimension: channels for activations. */
    public int channels() {
        return dims[dims.length - 1];
    }

    /** Product of all dimensions but the last: pixels (N*H*W) for activations. */
    public long pixels() {
        return elements() / channels();
    }

    public Shape withDim(int i, int v) {
        int[] d = dims.clone();
        d[i] = v;
        return new Shape(d);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof Shape s && Arrays.equals(dims, s.dims);
    }

    @Override
    public int hashCode() {
        return Arrays.hashCode(dims);
    }

    @Override
    public String toString() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < dims.length; i++) {
            if (i > 0) b.append('x');
            b.append(dims[i]);
        }
        return b.toString();
    }
}
