package org.wrpn.backend;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Tensors for backend tests: inputs uploaded from arrays, outputs poisoned before an op runs (NaN
 * for floats, 0xDEADBEEF for words, -128 for int8 codes) so that an element an op forgets to
 * write fails the comparison, and everything closed by {@link #closeAll}. Works for any Backend.
 */
public final class BackendFixture {
    public static final int POISON_INT = 0xDEADBEEF;

    private final Backend be;
    private final List<Tensor> live = new ArrayList<>();

    public BackendFixture(Backend be) {
        this.be = be;
    }

    public <T extends Tensor> T keep(T t) {
        live.add(t);
        return t;
    }

    public void closeAll() {
        for (Tensor t : live) t.close();
        live.clear();
    }

    public Tensor f32(float[] data, int... dims) {
        Tensor t = keep(be.allocate(DType.F32, Shape.of(dims)));
        be.upload(data, t);
        return t;
    }

    public Tensor i32(int[] data, int... dims) {
        Tensor t = keep(be.allocate(DType.I32, Shape.of(dims)));
        be.upload(data, t);
        return t;
    }

    public Tensor packed(int[] words, Shape s, int k) {
        Tensor t = keep(be.allocatePacked(s, k));
        be.upload(words, t);
        return t;
    }

    public Tensor outF32(int... dims) {
        Tensor t = keep(be.allocate(DType.F32, Shape.of(dims)));
        be.fill(t, Float.NaN);
        return t;
    }

    public Tensor outI32(int... dims) {
        Tensor t = keep(be.allocate(DType.I32, Shape.of(dims)));
        be.upload(filled((int) t.shape().elements(), POISON_INT), t);
        return t;
    }

    /** -128 is no weight code at any k (codes are within +-127). */
    public Tensor outI8(int... dims) {
        Tensor t = keep(be.allocate(DType.I8, Shape.of(dims)));
        be.upload(filled((int) t.shape().elements(), -128), t);
        return t;
    }

    public Tensor outPacked(Shape s, int k) {
        Tensor t = keep(be.allocatePacked(s, k));
        be.upload(filled(packedWords(s, k), POISON_INT), t);
        return t;
    }

    public static int packedWords(Shape s, int k) {
        return (int) (s.pixels() * PackedLayout.wordsPerPixel(s.channels(), k));
    }

    public float[] floats(Tensor t) {
        float[] a = new float[(int) t.shape().elements()];
        be.download(t, a);
        return a;
    }

    public int[] ints(Tensor t, int n) {
        int[] a = new int[n];
        be.download(t, a);
        return a;
    }

    private static int[] filled(int n, int v) {
        int[] a = new int[n];
        Arrays.fill(a, v);
        return a;
    }
}
