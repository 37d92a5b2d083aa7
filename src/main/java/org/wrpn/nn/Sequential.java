package org.wrpn.nn;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.tensor.Shape;

/** Layers applied in order; each layer's producer is the one before it. */
public class Sequential extends Layer {
    private final List<Layer> layers;

    public Sequential(String name, List<Layer> layers) {
        super(name);
        this.layers = List.copyOf(layers);
        for (int i = 1; i < this.layers.size(); i++) this.layers.get(i).setProducer(this.layers.get(i - 1));
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
    public void initialize(ExecutionContext ctx, SplittableRandom random) {
        super.initialize(ctx, random);
        for (Layer l : layers) l.initialize(ctx, random);
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
    public Feature forward(Feature x, boolean training) {
        Feature t = x;
        for (int i = 0; i < layers.size(); i++) {
            Layer l = layers.get(i);
            if (l instanceof BatchNorm2d bn && i + 1 < layers.size() && layers.get(i + 1) instanceof Activation a
                    && a.fusesWithBatchNorm()) {
                t = a.forwardAfter(bn, t, training);
                i++;
            } else {
                t = l.forward(t, training);
            }
        }
        return t;
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Feature g = dy;
        for (int i = layers.size() - 1; i >= 0 && g != null; i--) {
            g = layers.get(i).backward(g, i > 0 || needsInputGradient);
            ctx.backwardDone(layers.get(i));
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
    public void close() {
        for (Layer l : layers) l.close();
    }
}
