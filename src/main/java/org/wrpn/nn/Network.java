package org.wrpn.nn;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.wrpn.backend.Backend;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.tensor.Shape;

/**
 * A model: a layer graph for images of one shape, its parameters and the precision of every layer.
 * prepare(batch) sizes the per-batch buffers; forward/backward run one batch.
 */
public final class Network implements AutoCloseable {
    private final String model;
    private final double widthMultiplier;
    private final PrecisionPolicy policy;
    private final Sequential root;
    private final int height;
    private final int imageWidth;
    private final int channels;
    private final int classes;
    private final Map<String, LayerPrecision> layerPrecisions;
    private ExecutionContext ctx;
    private int preparedBatch = -1;
    private long lastSavedBytes;
    private List<MemoryLedger.Entry> lastSavedEntries = new ArrayList<>();

    Network(String model, double widthMultiplier, PrecisionPolicy policy, Sequential root, int height, int imageWidth,
            int channels, int classes, Map<String, LayerPrecision> layerPrecisions) {
        this.model = model;
        this.widthMultiplier = widthMultiplier;
        this.policy = policy;
        this.root = root;
        this.height = height;
        this.imageWidth = imageWidth;
        this.channels = channels;
        this.classes = classes;
        this.layerPrecisions = new LinkedHashMap<>(layerPrecisions);
    }

    public String model() {
        return model;
    }

    /** The multiplier on every hidden layer's channels (--width). */
    public double widthMultiplier() {
        return widthMultiplier;
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
        return imageWidth;
    }

    public int inputChannels() {
        return channels;
    }

    public Shape inputShape(int batch) {
        return Shape.nhwc(batch, height, imageWidth, channels);
    }

    /** Conv/linear layers and their precision, in order. */
    public Map<String, LayerPrecision> layerPrecisions() {
        return layerPrecisions;
    }

    /** Allocates and initialises the parameters; the seed fixes them exactly. */
    public void initialize(Backend backend, SavePolicy policy, long seed) {
        this.ctx = new ExecutionContext(backend, policy);
        root.initialize(ctx, new SplittableRandom(seed ^ 0x5DEECE66DL));
    }

    public Backend backend() {
        return ctx.backend();
    }

    public ExecutionContext context() {
        return ctx;
    }

    public MemoryLedger ledger() {
        return ctx.ledger();
    }

    public SavePolicy savePolicy() {
        return ctx.policy();
    }

    public void prepare(int batch) {
        if (batch == preparedBatch) return;
        root.prepare(inputShape(batch));
        preparedBatch = batch;
    }

    /** Runs the batch forward; the caller releases the returned logits. images is not consumed. */
    public Feature forward(org.wrpn.tensor.Tensor images, boolean training) {
        return root.forward(Feature.borrowed(images), training);
    }

    /** Runs backward from dL/dlogits (consumed); parameter gradients are overwritten. */
    public void backward(Feature dlogits) {
        Feature dx = root.backward(dlogits, false);
        if (dx != null) dx.release();
    }

    /**
     * One training pass: forward, softmax cross-entropy, backward. Leaves the gradients in the
     * parameters and records what the forward pass kept for backward (see {@link #lastSaved}).
     */
    public LossResult forwardBackward(org.wrpn.tensor.Tensor images, org.wrpn.tensor.Tensor labels, float gradScale) {
        MemoryLedger ledger = ctx.ledger();
        long before = ledger.live(MemoryLedger.Category.ACTIVATIONS) + ledger.live(MemoryLedger.Category.LAYER_STATE);
        Feature logits = forward(images, true);
        long logitBytes = logits.tensor().bytes();
        lastSavedBytes = ledger.live(MemoryLedger.Category.ACTIVATIONS) + ledger.live(MemoryLedger.Category.LAYER_STATE)
                - before - logitBytes;
        lastSavedEntries = ledger.liveEntries(MemoryLedger.Category.ACTIVATIONS, MemoryLedger.Category.LAYER_STATE);
        lastSavedEntries.removeIf(e -> e.owner().equals(lastLayerName()) && e.bytes() == logitBytes);
        Feature dlogits = ctx.feature("loss.grad", logits.tensor().shape());
        LossResult r = loss(logits, labels, dlogits, gradScale);
        logits.release();
        backward(dlogits);
        return r;
    }

    /** Inference-mode loss and correct count of one batch. */
    public LossResult evaluate(org.wrpn.tensor.Tensor images, org.wrpn.tensor.Tensor labels) {
        Feature logits = forward(images, false);
        Feature scratch = ctx.feature("loss.grad", logits.tensor().shape());
        LossResult r = loss(logits, labels, scratch, 0f);
        scratch.release();
        logits.release();
        return r;
    }

    private LossResult loss(Feature logits, org.wrpn.tensor.Tensor labels, Feature dlogits, float gradScale) {
        ctx.ledger().beginWorkspace(ctx.backend().lossWorkspaceBytes(labels.shape().dim(0)));
        try {
            return ctx.backend().softmaxCrossEntropy(logits.tensor(), labels, dlogits.tensor(), gradScale);
        } finally {
            ctx.ledger().endWorkspace();
        }
    }

    /** Bytes the last training forward pass kept for backward (activations, masks, choices, BN statistics). */
    public long lastSavedBytes() {
        return lastSavedBytes;
    }

    /** What the last training forward pass kept, tensor by tensor. */
    public List<MemoryLedger.Entry> lastSaved() {
        return lastSavedEntries;
    }

    private String lastLayerName() {
        List<Layer> ls = root.layers();
        return ls.get(ls.size() - 1).name();
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

    /**
     * Bytes of the trained model as stored for inference: weights of quantized layers at their bit
     * width (the codes plus one fp32 scale), every other parameter and BN statistic in fp32.
     */
    public long storedWeightBytes() {
        long total = 0;
        for (Parameter p : parameters()) {
            String n = p.name();
            LayerPrecision lp = n.endsWith(".weight") ? layerPrecisions.get(n.substring(0, n.length() - ".weight".length())) : null;
            long elements = p.shape().elements();
            total += lp != null && lp.weightBits() < org.wrpn.quant.Quantizer.FULL_PRECISION
                    ? (elements * lp.weightBits() + 7) / 8 + Float.BYTES : elements * Float.BYTES;
        }
        return total;
    }

    /**
     * Every batch norm's gamma and beta: under synchronised batch norm the layers sum their gradients
     * over the replicas themselves, during backward, so a data-parallel step must not sum them again.
     */
    public List<Parameter> batchNormAffineParameters() {
        List<Parameter> ps = new ArrayList<>();
        collectBatchNormAffine(root, ps);
        return ps;
    }

    private static void collectBatchNormAffine(Layer l, List<Parameter> into) {
        if (l instanceof BatchNorm2d bn) into.addAll(bn.affineParameters());
        else if (l instanceof Sequential s) for (Layer c : s.layers()) collectBatchNormAffine(c, into);
        else if (l instanceof ResidualBlock b) {
            collectBatchNormAffine(b.branch(), into);
            if (b.shortcut() != null) collectBatchNormAffine(b.shortcut(), into);
        }
    }

    public long parameterCount() {
        long n = 0;
        for (Parameter p : trainableParameters()) n += p.shape().elements();
        return n;
    }

    @Override
    public void close() {
        root.close();
    }
}
