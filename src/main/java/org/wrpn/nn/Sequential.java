package org.wrpn.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** Layers applied in order. */
public class Sequential extends Layer {
    private final List<Layer> layers;

    public Sequential(String name, List<Layer> layers) {
        super(name);
        this.layers = List.copyOf(layers);
    }

    public List<Layer> layers() {
        return Collections.unmodifiableList(layers);
    }

    @Override
    public Shape outputShape(Shape in) {
        Shape s = in;
        for (Layer l : layers) s = l.outputShape(s);
        return s;
    }

    @Override
    public void initialize(Backend backend, SplittableRandom random) {
        super.initialize(backend, random);
        for (Layer l : layers) l.initialize(backend, random);
    }

    @Override
    public void prepare(Shape in) {
        Shape s = in;
        for (Layer l : layers) {
            l.prepare(s);
            s = l.outputShape(s);
        }
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        Tensor t = x;
        for (Layer l : layers) t = l.forward(t, training);
        return t;
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        Tensor g = dy;
        for (int i = layers.size() - 1; i >= 0; i--) {
            g = layers.get(i).backward(g, i > 0 || needsInputGradient);
        }
        return g;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>();
        for (Layer l : layers) ps.addAll(l.parameters());
        return ps;
    }

    @Override
    public void releaseBuffers() {
        for (Layer l : layers) l.releaseBuffers();
    }

    @Override
    public void close() {
        for (Layer l : layers) l.close();
    }
}
