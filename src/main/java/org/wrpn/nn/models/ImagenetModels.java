package org.wrpn.nn.models;

import java.util.ArrayList;
import java.util.List;
import org.wrpn.BadInputException;
import org.wrpn.nn.Activation;
import org.wrpn.nn.BatchNorm2d;
import org.wrpn.nn.Conv2d;
import org.wrpn.nn.GlobalAvgPool;
import org.wrpn.nn.Layer;
import org.wrpn.nn.LayerPrecision;
import org.wrpn.nn.Linear;
import org.wrpn.nn.MaxPool2d;
import org.wrpn.nn.Network;
import org.wrpn.nn.NetworkBuilder;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.nn.Sequential;
import org.wrpn.tensor.Shape;

/**
 * The ImageNet models of the WRPN paper: AlexNet with batch norm after every hidden layer, and the
 * pre-activation ResNet-34 (He et al., "Identity Mappings in Deep Residual Networks"). The width
 * multiplier scales every hidden layer; the first conv and the last linear layer follow the
 * first/last-layer rule of {@link NetworkBuilder}. A quantized activation sits right before every
 * hidden conv or linear layer, so each reads codes; the residual stream of ResNet-34 stays fp32.
 */
final class ImagenetModels {
    private ImagenetModels() {}

    /** conv 11x11/4 (64) pool, conv 5x5 (192) pool, conv 3x3 (384, 256, 256) pool, fc 4096, fc 4096, fc classes. */
    static Network alexnet(NetworkBuilder b) {
        if (b.height() < 63 || b.imageWidth() < 63) {
            throw new BadInputException("alexnet needs images of at least 63x63, got " + b.height() + "x" + b.imageWidth());
        }
        double m = b.widthMultiplier();
        int[] convs = {Models.scaled(64, m), Models.scaled(192, m), Models.scaled(384, m), Models.scaled(256, m), Models.scaled(256, m)};
        int[] kernels = {11, 5, 3, 3, 3};
        int hidden = Models.scaled(4096, m);
        List<Layer> layers = new ArrayList<>();
        int cin = b.channels();
        for (int i = 0; i < convs.length; i++) {
            String name = "conv" + (i + 1);
            LayerPrecision p = i == 0 ? b.first(name) : b.hidden(name);
            String reader = i + 1 < convs.length ? "conv" + (i + 2) : "fc6";
            layers.add(new Conv2d(name, cin, convs[i], kernels[i], i == 0 ? 4 : 1, i == 0 ? 2 : kernels[i] / 2, p.weightBits(),
                    p.inputBits()));
            layers.add(new BatchNorm2d("bn" + (i + 1), convs[i]));
            layers.add(new Activation("act" + (i + 1), b.hiddenInputBits(reader)));
            if (i == 0 || i == 1 || i == 4) layers.add(new MaxPool2d("pool" + (i + 1), 3, 2, 0));
            cin = convs[i];
        }
        Shape features = Shape.nhwc(1, b.height(), b.imageWidth(), b.channels());
        for (Layer l : layers) features = l.outputShape(features);
        int in = (int) (features.elements());
        LayerPrecision fc6 = b.hidden("fc6");
        LayerPrecision fc7 = b.hidden("fc7");
        LayerPrecision fc8 = b.last("fc8");
        layers.addAll(List.of(
                new Linear("fc6", in, hidden, fc6.weightBits(), fc6.inputBits(), false),
                new BatchNorm2d("bn6", hidden),
                new Activation("act6", fc7.inputBits()),
                new Linear("fc7", hidden, hidden, fc7.weightBits(), fc7.inputBits(), false),
                new BatchNorm2d("bn7", hidden),
                new Activation("act7", fc8.inputBits()),
                new Linear("fc8", hidden, b.classes(), fc8.weightBits(), fc8.inputBits(), true)));
        return b.finish(layers);
    }

    /**
     * Pre-activation ResNet-34: stem conv 7x7/2 (3x3/1 below 64 px) BN ReLU max pool, stages of 3, 4, 6
     * and 3 blocks x + conv(act(bn(conv(act(bn(x)))))) at 64, 128, 256 and 512 channels, then BN,
     * activation, global average pool, fc. A block that changes shape shares its BN and activation
     * with a 1x1 projection: act(bn(x)) feeds both paths.
     */
    static Network resnet34(NetworkBuilder b) {
        double m = b.widthMultiplier();
        int[] widths = {Models.scaled(64, m), Models.scaled(128, m), Models.scaled(256, m), Models.scaled(512, m)};
        int[] blocks = {3, 4, 6, 3};
        boolean imagenetStem = b.height() >= 64 && b.imageWidth() >= 64;
        int downsample = (imagenetStem ? 4 : 1) * 8;
        if (Math.min(b.height(), b.imageWidth()) < downsample) {
            throw new BadInputException("images of " + b.height() + "x" + b.imageWidth() + " are too small for resnet34 (needs at least "
                    + downsample + "x" + downsample + ")");
        }
        List<Layer> layers = new ArrayList<>();
        LayerPrecision stem = b.first("conv1");
        int kernel = imagenetStem ? 7 : 3;
        layers.add(new Conv2d("conv1", b.channels(), widths[0], kernel, imagenetStem ? 2 : 1, kernel / 2, stem.weightBits(),
                stem.inputBits()));
        layers.add(new BatchNorm2d("bn1", widths[0]));
        layers.add(new Activation("act1", 32)); // the residual stream: read by batch norms and sums, never by a conv
        if (imagenetStem) layers.add(new MaxPool2d("maxpool", 3, 2, 1));
        int cin = widths[0];
        for (int s = 0; s < widths.length; s++) {
            for (int i = 0; i < blocks[s]; i++) {
                String name = "layer" + (s + 1) + "." + i;
                int stride = s > 0 && i == 0 ? 2 : 1;
                layers.addAll(block(b, name, cin, widths[s], stride));
                cin = widths[s];
            }
        }
        layers.add(new BatchNorm2d("bn_final", cin));
        layers.add(new Activation("act_final", b.lastInputBits("fc")));
        layers.add(new GlobalAvgPool("avgpool"));
        LayerPrecision fc = b.last("fc");
        layers.add(new Linear("fc", cin, b.classes(), fc.weightBits(), fc.inputBits(), true));
        return b.finish(layers);
    }

    /** One pre-activation block: the residual alone, or (shape change) BN and activation before it, shared with the projection. */
    private static List<Layer> block(NetworkBuilder b, String name, int cin, int cout, int stride) {
        LayerPrecision c1 = b.hidden(name + ".conv1");
        LayerPrecision c2 = b.hidden(name + ".conv2");
        Conv2d conv1 = new Conv2d(name + ".conv1", cin, cout, 3, stride, 1, c1.weightBits(), c1.inputBits());
        List<Layer> rest = List.of(conv1, new BatchNorm2d(name + ".bn2", cout), new Activation(name + ".act2", c2.inputBits()),
                new Conv2d(name + ".conv2", cout, cout, 3, 1, 1, c2.weightBits(), c2.inputBits()));
        Layer bn1 = new BatchNorm2d(name + ".bn1", cin);
        Layer act1 = new Activation(name + ".act1", c1.inputBits());
        if (stride == 1 && cin == cout) {
            List<Layer> branch = new ArrayList<>(List.of(bn1, act1));
            branch.addAll(rest);
            return List.of(new ResidualBlock(name, new Sequential(name + ".branch", branch), null, null));
        }
        LayerPrecision sc = b.hidden(name + ".shortcut");
        Sequential shortcut = new Sequential(name + ".shortcut",
                List.of(new Conv2d(name + ".shortcut", cin, cout, 1, stride, 0, sc.weightBits(), sc.inputBits())));
        return List.of(bn1, act1, new ResidualBlock(name, new Sequential(name + ".branch", rest), shortcut, null));
    }
}
