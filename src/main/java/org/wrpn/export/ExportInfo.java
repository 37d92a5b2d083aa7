package org.wrpn.export;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.wrpn.BadInputException;
import org.wrpn.nn.Activation;
import org.wrpn.nn.Layer;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.Network;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.nn.Sequential;
import org.wrpn.train.Checkpoint;

/**
 * What both export formats record about a model besides its tensors: the data set and its class
 * names, the bits of every layer, the width, where the weights came from and the wrpn commit.
 */
record ExportInfo(String commit, ObjectNode json) {
    private static final ObjectMapper JSON = new ObjectMapper();

    static final List<String> FASHION_MNIST = List.of("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt",
            "Sneaker", "Bag", "Ankle boot");
    static final List<String> CIFAR_10 = List.of("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship",
            "truck");

    /**
     * The info of a model; classNames null means: known from the data directory's name (Fashion-MNIST,
     * MNIST, CIFAR-10), else the class indices.
     */
    static ExportInfo of(TrainedModel m, List<String> classNames, String commit) {
        Checkpoint.Loaded c = m.checkpoint();
        Network net = m.network();
        String dataset = datasetName(c.config().data());
        List<String> names = classNames != null ? List.copyOf(classNames) : knownClassNames(dataset, net.classes());
        if (names.size() != net.classes()) {
            throw new BadInputException("--class-names gives " + names.size() + " names, the model has " + net.classes() + " classes");
        }
        ObjectNode o = JSON.createObjectNode();
        o.put("model", net.model());
        o.put("width", net.widthMultiplier());
        o.put("dataset", dataset);
        names.forEach(o.putArray("class_names")::add);
        ObjectNode bits = o.putObject("bits");
        for (var e : net.layerPrecisions().entrySet()) {
            LayerPrecision p = e.getValue();
            ObjectNode b = bits.putObject(e.getKey());
            b.put("weight_bits", p.weightBits());
            b.put("input_bits", p.inputBits());
        }
        ObjectNode acts = o.putObject("activation_bits");
        activations(net.root(), acts);
        ObjectNode source = o.putObject("checkpoint");
        source.put("sidecar", c.sidecar().getFileName().toString());
        source.put("weights", c.weights().getFileName().toString());
        source.put("epoch", c.progress().epoch());
        source.put("global_step", c.progress().globalStep());
        Object acc = c.metrics().get("test_accuracy");
        if (acc instanceof Number n) source.put("test_accuracy", n.doubleValue());
        o.put("commit", commit);
        return new ExportInfo(commit, o);
    }

    private static void activations(Sequential s, ObjectNode out) {
        for (Layer l : s.layers()) {
            switch (l) {
                case Activation a -> out.put(a.name(), a.bits());
                case ResidualBlock r -> {
                    activations(r.branch(), out);
                    if (r.shortcut() != null) activations(r.shortcut(), out);
                    out.put(r.activation().name(), r.activation().bits());
                }
                default -> { } // no activation
            }
        }
    }

    /** The data directory's name, lower case: "fashion-mnist" for /usr/share/datasets/fashion-mnist. */
    static String datasetName(Path data) {
        Path name = data.getFileName();
        return name == null ? "unknown" : name.toString().toLowerCase(Locale.ROOT);
    }

    static List<String> knownClassNames(String dataset, int classes) {
        List<String> known = dataset.contains("fashion") ? FASHION_MNIST : dataset.contains("cifar") ? CIFAR_10 : null;
        if (known != null && known.size() == classes) return known;
        List<String> indices = new ArrayList<>();
        for (int i = 0; i < classes; i++) indices.add(Integer.toString(i));
        return indices; // MNIST's classes are its digits; elsewhere the indices say no more than the labels do
    }
}
