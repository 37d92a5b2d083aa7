package org.wrpn.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * out = activation(branch(x) + shortcut(x)); shortcut is the identity or a projection (1x1 conv + BN)
 * when the shape changes. The block input feeds both paths, so their input gradients are summed.
 */
public final class ResidualBlock extends Layer {
    private final Sequential branch;
    private final Sequential shortcut;
    private final Activation activation;
    private Tensor sum;
    private Tensor dx;

    public ResidualBlock(String name, Sequential branch, Sequential shortcut, Activation activation) {
        super(name);
        this.branch = branch;
        this.shortcut = shortcut;
        this.activation = activation;
    }

    public Sequential branch() {
        return branch;
    }

    public Sequential shortcut() {
        return shortcut;
    }

    public Activation activation() {
        return activation;
    }

    @Override
    public Shape outputShape(Shape in) {
        Shape b = branch.outputShape(in);
        Shape s = shortcut == null ? in : shortcut.outputShape(in);
        if (!b.equals(s)) throw new IllegalArgumentException(name + ": branch " + b + " and shortcut " + s + " differ");
        return b;
    }

    @Override
    public void initialize(Backend backend, SplittableRandom random) {
        super.initialize(backend, random);
        branch.initialize(backend, random);
        if (shortcut != null) shortcut.initialize(backend, random);
        activation.initialize(backend, random);
    }

    @Override
    public void prepare(Shape in) {
        releaseBuffers();
        Shape out = outputShape(in);
        branch.prepare(in);
        if (shortcut != null) shortcut.prepare(in);
        activation.prepare(out);
        sum = backend.allocate(DType.F32, out);
        dx = backend.allocate(DType.F32, in);
    }

    @Override
    public Tensor forward(Tensor x, boolean training) {
        Tensor b = branch.forward(x, training);
        Tensor s = shortcut == null ? x : shortcut.forward(x, training);
        backend.add(b, s, sum);
        return activation.forward(sum, training);
    }

    @Override
    public Tensor backward(Tensor dy, boolean needsInputGradient) {
        Tensor dsum = activation.backward(dy, true);
        Tensor dBranch = branch.backward(dsum, true);
        if (shortcut == null) {
            backend.add(dBranch, dsum, dx);
        } else {
            Tensor dShort = shortcut.backward(dsum, true);
            backend.add(dBranch, dShort, dx);
        }
        return dx;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>(branch.parameters());
        if (shortcut != null) ps.addAll(shortcut.parameters());
        return ps;
    }

    @Override
    public void releaseBuffers() {
        branch.releaseBuffers();
        if (shortcut != null) shortcut.releaseBuffers();
        activation.releaseBuffers();
        free(sum);
        free(dx);
        sum = dx = null;
    }

    @Override
    public void close() {
        releaseBuffers();
        branch.close();
        if (shortcut != null) shortcut.close();
        activation.close();
    }
}
