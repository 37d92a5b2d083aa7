package org.wrpn.train;

import java.util.Arrays;
import java.util.Objects;

/**
 * One named tensor as stored in a safetensors file: dtype, shape (row-major, may be empty for a
 * scalar, dims may be 0) and a flat Java array. The data array is shared, not copied.
 */
public final class NamedArray {
    /** Safetensors element types supported here. U8 and I8 both use byte[]. */
    public enum Dtype {
        F32(4),
        F64(8),
        I8(1),
        U8(1),
        I32(4),
        I64(8);

        private final int byteSize;

        Dtype(int byteSize) {
            this.byteSize = byteSize;
        }

        public int byteSize() {
            return byteSize;
        }
    }

    private final String name;
    private final Dtype dtype;
    private final int[] shape;
    private final Object data;

    private NamedArray(String name, Dtype dtype, int[] shape, Object data, int length) {
        this.name = Objects.requireNonNull(name, "name");
        this.dtype = dtype;
        this.shape = shape.clone();
        this.data = data;
        long count = elementCount(this.shape);
        if (count != length) {
            throw new IllegalArgumentException("tensor '" + name + "': shape " + Arrays.toString(shape)
                    + " needs " + count + " elements, data has " + length);
        }
    }

    public static NamedArray f32(String name, int[] shape, float[] data) {
        return new NamedArray(name, Dtype.F32, shape, data, data.length);
    }

    public static NamedArray f64(String name, int[] shape, double[] data) {
        return new NamedArray(name, Dtype.F64, shape, data, data.length);
    }

    public static NamedArray i8(String name, int[] shape, byte[] data) {
        return new NamedArray(name, Dtype.I8, shape, data, data.length);
    }

    public static NamedArray u8(String name, int[] shape, byte[] data) {
        return new NamedArray(name, Dtype.U8, shape, data, data.length);
    }

    public static NamedArray i32(String name, int[] shape, int[] data) {
        return new NamedArray(name, Dtype.I32, shape, data, data.length);
    }

    public static NamedArray i64(String name, int[] shape, long[] data) {
        return new NamedArray(name, Dtype.I64, shape, data, data.length);
    }

    /** Product of the dims; IllegalArgumentException on a negative dim or more elements than a Java array holds. */
    public static long elementCount(int[] shape) {
        long count = 1;
        for (int d : shape) {
            if (d < 0) throw new IllegalArgumentException("negative dimension in shape " + Arrays.toString(shape));
            count *= d;
            if (count > Integer.MAX_VALUE) {
                throw new IllegalArgumentException("shape " + Arrays.toString(shape) + " has more than 2^31-1 elements");
            }
        }
        return count;
    }

    public String name() {
        return name;
    }

    public Dtype dtype() {
        return dtype;
    }

    public int[] shape() {
        return shape.clone();
    }

    public int elementCount() {
        return (int) elementCount(shape);
    }

    public long byteSize() {
        return (long) elementCount() * dtype.byteSize();
    }

    public float[] floats() {
        return (float[]) as(Dtype.F32);
    }

    public double[] doubles() {
        return (double[]) as(Dtype.F64);
    }

    /** The data of an I8 or U8 tensor. */
    public byte[] bytes() {
        if (dtype != Dtype.U8) as(Dtype.I8);
        return (byte[]) data;
    }

    public int[] ints() {
        return (int[]) as(Dtype.I32);
    }

    public long[] longs() {
        return (long[]) as(Dtype.I64);
    }

    private Object as(Dtype wanted) {
        if (dtype != wanted) throw new IllegalStateException("tensor '" + name + "' is " + dtype + ", not " + wanted);
        return data;
    }

    /** Same name, dtype, shape and bit-identical data (NaN payloads and -0.0 distinguished). */
    @Override
    public boolean equals(Object o) {
        if (!(o instanceof NamedArray a)) return false;
        if (!name.equals(a.name) || dtype != a.dtype || !Arrays.equals(shape, a.shape)) return false;
        return switch (dtype) {
            case F32 -> Arrays.equals(rawBits((float[]) data), rawBits((float[]) a.data));
            case F64 -> Arrays.equals(rawBits((double[]) data), rawBits((double[]) a.data));
            case I8, U8 -> Arrays.equals((byte[]) data, (byte[]) a.data);
            case I32 -> Arrays.equals((int[]) data, (int[]) a.data);
            case I64 -> Arrays.equals((long[]) data, (long[]) a.data);
        };
    }

    @Override
    public int hashCode() {
        return Objects.hash(name, dtype, Arrays.hashCode(shape));
    }

    @Override
    public String toString() {
        return name + " " + dtype + Arrays.toString(shape);
    }

    private static int[] rawBits(float[] values) {
        int[] bits = new int[values.length];
        for (int i = 0; i < values.length; i++) bits[i] = Float.floatToRawIntBits(values[i]);
        return bits;
    }

    private static long[] rawBits(double[] values) {
        long[] bits = new long[values.length];
        for (int i = 0; i < values.length; i++) bits[i] = Double.doubleToRawLongBits(values[i]);
        return bits;
    }
}
