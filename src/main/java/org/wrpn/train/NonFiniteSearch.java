package org.wrpn.train;

import java.util.List;
import org.wrpn.backend.Backend;
import org.wrpn.nn.Feature;
import org.wrpn.nn.Layer;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;

/** Where a training step first went non-finite, for the one-line numerical failure (exit 4). */
final class NonFiniteSearch {
    private NonFiniteSearch() {}

    /**
     * Names where the failing step first went non-finite: it replays the step's forward pass layer by
     * layer (same batch, same weights: the update was not applied) and names the first layer whose
     * fp32 output is not finite; failing that, the last layer in forward order with a non-finite
     * gradient. Runs only on failure; what the replay keeps for backward is left to the trainer's close.
     * The replay talks to no other rank (each rank of a job searches its own step).
     */
    static NumericalFailureException failure(Network net, double loss, Tensor images, List<Parameter> params, float[] hostImages,
            int epoch, int step, long globalStep) {
        net.context().replicas(null);
        Backend backend = net.backend();
        String layer = firstNonFiniteOutput(net, images);
        String gradient = null;
        for (Parameter p : params) if (!Double.isFinite(backend.sumSquares(p.grad()))) gradient = p.name();
        if (layer == null && gradient != null) layer = layerOf(gradient);
        String where = " at epoch " + (epoch + 1) + " step " + step + " (global step " + globalStep + ")";
        StringBuilder m = new StringBuilder(Double.isFinite(loss) ? "non-finite gradients" + where : "loss is " + loss + where);
        if (layer != null) m.append(": first non-finite values in layer ").append(layer);
        long badInputs = 0;
        for (float v : hostImages) if (!Float.isFinite(v)) badInputs++;
        if (badInputs > 0) m.append("; the input batch holds ").append(badInputs).append(" non-finite value(s)");
        return new NumericalFailureException(m.toString(), layer, globalStep);
    }

    private static String firstNonFiniteOutput(Network net, Tensor images) {
        Feature t = Feature.borrowed(images);
        for (Layer l : net.root().layers()) {
            t = l.forward(t, true);
            if (t.tensor().dtype() == DType.F32 && !Double.isFinite(net.backend().sumSquares(t.tensor()))) {
                t.release();
                return l.name();
            }
        }
        t.release();
        return null;
    }

    /** "stage2.block0.conv1.weight" -> "stage2.block0.conv1". */
    static String layerOf(String parameterName) {
        int dot = parameterName.lastIndexOf('.');
        return dot < 0 ? parameterName : parameterName.substring(0, dot);
    }
}
