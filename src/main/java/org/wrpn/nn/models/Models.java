package org.wrpn.nn.models;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.BadInputException;
import org.wrpn.nn.Activation;
import org.wrpn.nn.BatchNorm2d;
import org.wrpn.nn.Conv2d;
import org.wrpn.nn.GlobalAvgPool;
import org.wrpn.nn.Layer;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.Linear;
import org.wrpn.nn.MaxPool2d;
import org.wrpn.nn.NetworkBuilder;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.nn.Sequential;
import org.wrpn.nn.Network;

/**
 * The model zoo. Every model takes the width multiplier (applied to every hidden layer's channels,
 * rounded; never to image channels or classes) and the precision policy.
 */
public final class Models {
    private Models() {}

    public static final List<String> NAMES = List.of("lenet", "resnet20", "resnet32", "resnet56", "resnet18", "alexnet", "resnet34");
    /** The models of the paper's ImageNet experiments: made for 3x224x224 images and 1000 classes. */
    static final List<String> IMAGENET = List.of("alexnet", "resnet34");

    /** LeNet base widths at width 1: conv1, conv2 channels and hidden units. */
    static final int LENET_C1 = 16;
    static final int LENET_C2 = 32;
    static final int LENET_HIDDEN = 128;

    /** A model for images of height x imageWidth x channels; widthMultiplier scales its hidden layers. */
    public static Network build(String name, double widthMultiplier, PrecisionPolicy policy, int height, int imageWidth,
            int channels, int classes) {
        if (!(widthMultiplier > 0) || Double.isInfinite(widthMultiplier) || widthMultiplier > 64) {
            throw new BadInputException("--width must be a positive number up to 64, got " + widthMultiplier);
        }
        NetworkBuilder b = new NetworkBuilder(name, widthMultiplier, policy, height, imageWidth, channels, classes);
        return switch (name) {
            case "lenet" -> lenet(b);
            case "resnet20" -> cifarResNet(b, 20);
            case "resnet32" -> cifarResNet(b, 32);
            case "resnet56" -> cifarResNet(b, 56);
            case "resnet18" -> resnet18(b);
            case "alexnet" -> ImagenetModels.alexnet(b);
            case "resnet34" -> ImagenetModels.resnet34(b);
            default -> throw new BadInputException("unknown model '" + name + "'; choose one of " + String.join(", ", NAMES));
        };
    }

    /**
     * The shape (channels, height, width) of the data a model is made for: Fashion-MNIST for lenet,
     * ImageNet for alexnet and resnet34, CIFAR-10 for the other ResNets.
     */
    public static int[] naturalInput(String model) {
        if (IMAGENET.contains(model)) return new int[] {3, 224, 224};
        return model.equals("lenet") ? new int[] {1, 28, 28} : new int[] {3, 32, 32};
    }

    /** The classes of the data a model is made for: 1000 for the ImageNet models, else 10. */
    public static int naturalClasses(String model) {
        return IMAGENET.contains(model) ? 1000 : 10;
    }

    static int scaled(int base, double widthMultiplier) {
        return Math.max(1, (int) Math.round(base * widthMultiplier));
    }

    private static Network lenet(NetworkBuilder b) {
        if (b.height() < 8 || b.imageWidth() < 8) {
            throw new BadInputException("lenet needs images of at least 8x8, got " + b.height() + "x" + b.imageWidth());
        }
        double m = b.widthMultiplier();
        int c1 = scaled(LENET_C1, m), c2 = scaled(LENET_C2, m), hidden = scaled(LENET_HIDDEN, m);
        LayerPrecision p1 = b.first("conv1");
        LayerPrecision p2 = b.hidden("conv2");
        LayerPrecision p3 = b.hidden("fc1");
        LayerPrecision p4 = b.last("fc2");
        int h = b.height() / 2 / 2, w = b.imageWidth() / 2 / 2;
        List<Layer> layers = List.of(
                new Conv2d("conv1", b.channels(), c1, 5, 1, 2, p1.weightBits(), p1.inputBits()),
                new BatchNorm2d("bn1", c1),
                new Activation("act1", p2.inputBits()),
                new MaxPool2d("pool1", 2, 2, 0),
                new Conv2d("conv2", c1, c2, 5, 1, 2, p2.weightBits(), p2.inputBits()),
                new BatchNorm2d("bn2", c2),
                new Activation("act2", p3.inputBits()),
                new MaxPool2d("pool2", 2, 2, 0),
                new Linear("fc1", h * w * c2, hidden, p3.weightBits(), p3.inputBits(), false),
                new BatchNorm2d("bn3", hidden),
                new Activation("act3", p4.inputBits()),
                new Linear("fc2", hidden, b.classes(), p4.weightBits(), p4.inputBits(), true));
        return b.finish(layers);
    }

    private static Network cifarResNet(NetworkBuilder b, int depth) {
        int blocks = (depth - 2) / 6;
        double m = b.widthMultiplier();
        int[] widths = {scaled(16, m), scaled(32, m), scaled(64, m)};
        return resnet(b, 3, widths[0], 1, false, widths, new int[] {blocks, blocks, blocks});
    }

    private static Network resnet18(NetworkBuilder b) {
        double m = b.widthMultiplier();
        int[] widths = {scaled(64, m), scaled(128, m), scaled(256, m), scaled(512, m)};
        boolean imagenetStem = b.height() >= 64 && b.imageWidth() >= 64;
        return resnet(b, imagenetStem ? 7 : 3, widths[0], imagenetStem ? 2 : 1, imagenetStem, widths, new int[] {2, 2, 2, 2});
    }

    /** Pre-computed names of every block's first conv, so each activation knows who reads it. */
    private static Network resnet(NetworkBuilder b, int stemKernel, int stemChannels, int stemStride, boolean stemPool,
            int[] widths, int[] blocks) {
        List<String> blockNames = new ArrayList<>();
        for (int s = 0; s < widths.length; s++) {
            for (int i = 0; i < blocks[s]; i++) blockNames.add("layer" + (s + 1) + "." + i);
        }
        int minSide = Math.min(b.height(), b.imageWidth());
        int downsample = stemStride * (stemPool ? 2 : 1) * (1 << (widths.length - 1));
        if (minSide < downsample) {
            throw new BadInputException("images of " + b.height() + "x" + b.imageWidth() + " are too small for " + b.model()
                    + " (needs at least " + downsample + "x" + downsample + ")");
        }
        List<Layer> layers = new ArrayList<>();
        LayerPrecision stem = b.first("conv1");
        layers.add(new Conv2d("conv1", b.channels(), stemChannels, stemKernel, stemStride, stemKernel / 2, stem.weightBits(), stem.inputBits()));
        layers.add(new BatchNorm2d("bn1", stemChannels));
        layers.add(new Activation("act1", b.hiddenInputBits(blockNames.get(0) + ".conv1")));
        if (stemPool) layers.add(new MaxPool2d("maxpool", 3, 2, 1));
        int cin = stemChannels;
        int index = 0;
        for (int s = 0; s < widths.length; s++) {
            for (int i = 0; i < blocks[s]; i++, index++) {
                String name = blockNames.get(index);
                int stride = (s > 0 && i == 0) ? 2 : 1;
                int cout = widths[s];
                LayerPrecision c1 = b.hidden(name + ".conv1");
                LayerPrecision c2 = b.hidden(name + ".conv2");
                Sequential branch = new Sequential(name + ".branch", List.of(
                        new Conv2d(name + ".conv1", cin, cout, 3, stride, 1, c1.weightBits(), c1.inputBits()),
                        new BatchNorm2d(name + ".bn1", cout),
                        new Activation(name + ".act1", c2.inputBits()),
                        new Conv2d(name + ".conv2", cout, cout, 3, 1, 1, c2.weightBits(), c2.inputBits()),
                        new BatchNorm2d(name + ".bn2", cout)));
                Sequential shortcut = null;
                if (stride != 1 || cin != cout) {
                    LayerPrecision sc = b.hidden(name + ".shortcut");
                    shortcut = new Sequential(name + ".shortcut", List.of(
                            new Conv2d(name + ".shortcut", cin, cout, 1, stride, 0, sc.weightBits(), sc.inputBits()),
                            new BatchNorm2d(name + ".shortcut_bn", cout)));
                }
                boolean lastBlock = index == blockNames.size() - 1;
                int outBits = lastBlock ? b.lastInputBits("fc") : b.hiddenInputBits(blockNames.get(index + 1) + ".conv1");
                layers.add(new ResidualBlock(name, branch, shortcut, new Activation(name + ".act", outBits)));
                cin = cout;
            }
        }
        layers.add(new GlobalAvgPool("avgpool"));
        LayerPrecision fc = b.last("fc");
        layers.add(new Linear("fc", cin, b.classes(), fc.weightBits(), fc.inputBits(), true));
        return b.finish(layers);
    }

    /**
     * Layer precisions of a built network, for logs, kept short: the layers off the most common
     * precision by name, then that one ("conv1=w32/a32, fc=w32/a32, 19 other layers w4/a4").
     * The checkpoint's architecture lists every layer.
     */
    public static String describePrecision(Network n) {
        Map<LayerPrecision, Integer> count = new LinkedHashMap<>();
        n.layerPrecisions().values().forEach(p -> count.merge(p, 1, Integer::sum));
        LayerPrecision common = count.entrySet().stream().max(Map.Entry.comparingByValue()).orElseThrow().getKey();
        int others = count.get(common);
        List<String> parts = new ArrayList<>();
        n.layerPrecisions().forEach((layer, p) -> {
            if (!p.equals(common) || others <= 3) parts.add(layer + "=" + p);
        });
        if (others > 3) parts.add((parts.isEmpty() ? "all " + others + " layers " : others + " other layers ") + common);
        return String.join(", ", parts);
    }
}
