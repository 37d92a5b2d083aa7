package org.wrpn.nn;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import org.wrpn.tensor.Shape;

/**
 * out = activation(branch(x) + shortcut(x)); shortcut is the identity or a projection (1x1 conv + BN)
 * when the shape changes; a null activation is the identity (pre-activation blocks). The block
 * input feeds both paths (kept once), so their input gradients are summed.
 */
public final class ResidualBlock extends Layer {
    private final Sequential branch;
    private final Sequential shortcut;
    private final Activation activation;
    private Shape outShape;
    private Shape inShape;

    public ResidualBlock(String name, Sequential branch, Sequential shortcut, Activation activation) {
        super(name);
        this.branch = branch;
        this.shortcut = shortcut;
        this.activation = activation;
    }

    public Sequential branch() {
        return branch;
    }

    /** The projection, or null for the identity. */
    public Sequential shortcut() {
        return shortcut;
    }

    /** The activation after the sum, or null for none. */
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
    public void initialize(ExecutionContext ctx, SplittableRandom random) {
        super.initialize(ctx, random);
        branch.initialize(ctx, random);
        if (shortcut != null) shortcut.initialize(ctx, random);
        if (activation != null) activation.initialize(ctx, random);
    }

    @Override
    public void prepare(Shape in) {
        inShape = in;
        outShape = outputShape(in);
        sliceBranchBackward();
        branch.prepare(in);
        if (shortcut != null) shortcut.prepare(in);
        if (activation != null) activation.prepare(outShape);
    }

    /**
     * The shortcut's gradient is live through the branch's backward, so the branch works in place: its
     * convolutions overwrite their output gradient with their input gradient slice by slice, and every
     * batch norm but the branch's last walks the batch in slices (the last one's input, recomputed
     * whole, becomes its output gradient). Two whole fp32 tensors of the block, not three.
     */
    private void sliceBranchBackward() {
        List<BatchNorm2d> norms = new ArrayList<>();
        for (Layer l : branch.layers()) {
            if (l instanceof Conv2d c) c.inPlaceInputGradient();
            if (l instanceof BatchNorm2d b) norms.add(b);
        }
        for (int i = 0; i < norms.size() - 1; i++) norms.get(i).slicedBackward();
    }

    @Override
    public Feature forward(Feature x, boolean training) {
        x.retain(); // one reference for each path
        Feature b = branch.forward(x, training);
        Feature s = shortcut == null ? x : shortcut.forward(x, training);
        // The sum overwrites the branch output (a packed shortcut is read as its values, never unpacked).
        Feature sum = b.isExclusive() ? b : ctx.feature(name + ".sum", outShape);
        ctx.backend().add(b.tensor(), s.tensor(), sum.tensor());
        if (sum != b) b.release();
        s.release();
        return activation == null ? sum : activation.forward(sum, training);
    }

    @Override
    public Feature backward(Feature dy, boolean needsInputGradient) {
        Feature dsum = activation == null ? dy : activation.backward(dy, true);
        dsum.retain(); // both paths read it
        Feature dBranch = branch.backward(dsum, true);
        Feature dShort = shortcut == null ? dsum : shortcut.backward(dsum, true);
        if (dBranch.isExclusive()) {
            ctx.backend().addInPlace(dBranch.tensor(), dShort.tensor());
            dShort.release();
            return dBranch;
        }
        Feature dx = ctx.feature(name + ".grad", inShape);
        ctx.backend().add(dBranch.tensor(), dShort.tensor(), dx.tensor());
        dBranch.release();
        dShort.release();
        return dx;
    }

    @Override
    public List<Parameter> parameters() {
        List<Parameter> ps = new ArrayList<>(branch.parameters());
        if (shortcut != null) ps.addAll(shortcut.parameters());
        return ps;
    }

    @Override
    public void close() {
        branch.close();
        if (shortcut != null) shortcut.close();
        if (activation != null) activation.close();
    }
}
