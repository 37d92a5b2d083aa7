package org.wrpn.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * A model: a layer graph for images of one shape, its parameters and the precision of every layer.
 * prepare(batch) sizes the per-batch buffers; forward/backward run one batch.
 */
public final class Network implements AutoCloseable {
    private final String model;
    private final double width;
    private final PrecisionPolicy policy;
    private final Sequential root;
    private final int height;
    private final int widthPixels;
    private final int channels;
    private final int classes;
    private final Map<String, LayerPrecision> layerPrecisions;
    private Backend backend;
    private int preparedBatch = -1;

    Network(String model, double width, PrecisionPolicy policy, Sequential root, int height, int widthPixels, int channels,
            int classes, Map<String, LayerPrecision> layerPrecisions) {
        this.model = model;
        this.width = width;
        this.policy = policy;
        this.root = root;
        this.height = height;
        this.widthPixels = widthPixels;
        this.channels = channels;
        this.classes = classes;
        this.layerPrecisions = new LinkedHashMap<>(layerPrecisions);
    }

    public String model() {
        return model;
    }

    public double width() {
        return width;
    }

    public PrecisionPolicy policy() {
        return policy;
    }

    public Sequential root() {
        return root;
    }

    public int classes() {
        return classes;
    }

    /** Per-sample input (H, W, C). */
    public int inputHeight() {
        return height;
    }

    public int inputWidth() {
        return widthPixels;
    }

    public int inputChannels() {
        return channels;
    }

    public Shape inputShape(int batch) {
        return Shape.nhwc(batch, height, widthPixels, channels);
    }

    /** Conv/linear layers and their precision, in order. */
    public Map<String, LayerPrecision> layerPrecisions() {
        return layerPrecisions;
    }

    public void initialize(Backend backend, long seed) {
        this.backend = backend;
        root.initialize(backend, new SplittableRandom(seed ^ 0x5DEECE66DL));
    }

    public Backend backend() {
        return backend;
    }

    public void prepare(int batch) {
        if (batch == preparedBatch) return;
        root.prepare(inputShape(batch));
        preparedBatch = batch;
    }

    public int preparedBatch() {
        return preparedBatch;
    }

    public Tensor forward(Tensor images, boolean training) {
        return root.forward(images, training);
    }

    public void backward(Tensor dlogits) {
        root.backward(dlogits, false);
    }

    /** Every parameter and state tensor, in a stable order. */
    public List<Parameter> parameters() {
        return root.parameters();
    }

    public List<Parameter> trainableParameters() {
        List<Parameter> ps = new ArrayList<>();
        for (Parameter p : parameters()) if (p.isTrainable()) ps.add(p);
        return ps;
    }

    public long parameterCount() {
        long n = 0;
        for (Parameter p : trainableParameters()) n += p.shape().elements();
        return n;
    }

    public void releaseBuffers() {
        root.releaseBuffers();
        preparedBatch = -1;
    }

    @Override
    public void close() {
        root.close();
    }
}
