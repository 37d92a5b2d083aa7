package org.wrpn.export;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HexFormat;
import java.util.List;
import org.wrpn.nn.Conv2d;
import org.wrpn.nn.Layer;
import org.wrpn.nn.Linear;
import org.wrpn.nn.Network;
import org.wrpn.nn.ResidualBlock;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.Shape;
import org.wrpn.train.NamedArray;

/** The packed export's names and layout: which tensors hold which layer's codes, and the digest of the data. */
final class PackedFormat {
    static final String FORMAT = "wrpn-packed";
    static final int VERSION = 1;
    static final String PACKED_SUFFIX = ".weight.packed";
    static final String SCALE_SUFFIX = ".weight.scale";

    /**
     * A layer with quantized weights: bits, the master weights' shape (wrpn's layout), and its packed
     * form: rows of rowLength codes (the last dimension of the data the layer reads) in packedShape words.
     */
    record PackedLayer(Layer layer, int bits, int[] shape, int rowLength, int[] packedShape) {
        String name() {
            return layer.name();
        }

        long rows() {
            return NamedArray.elementCount(shape) / rowLength;
        }

        String packedTensor() {
            return name() + PACKED_SUFFIX;
        }

        String scaleTensor() {
            return name() + SCALE_SUFFIX;
        }
    }

    private PackedFormat() {}

    /** The quantized layers of a network in order, each laid out along the channels of what it reads. */
    static List<PackedLayer> quantizedLayers(Network net) {
        List<PackedLayer> out = new ArrayList<>();
        walk(net.root().layers(), net.inputShape(1), out);
        return out;
    }

    private static Shape walk(List<Layer> layers, Shape in, List<PackedLayer> out) {
        Shape s = in;
        for (Layer l : layers) {
            if (l instanceof ResidualBlock r) {
                walk(r.branch().layers(), s, out);
                if (r.shortcut() != null) walk(r.shortcut().layers(), s, out);
            } else if ((l instanceof Conv2d || l instanceof Linear) && TrainedModel.weightBits(l) != Quantizer.FULL_PRECISION) {
                out.add(layout(l, s));
            }
            s = l.outputShape(s);
        }
        return s;
    }

    private static PackedLayer layout(Layer l, Shape in) {
        int bits = TrainedModel.weightBits(l);
        int[] shape = TrainedModel.weightShape(l);
        int[] rowDims = l instanceof Conv2d ? new int[] {shape[1], shape[2], shape[3]} : java.util.Arrays.copyOfRange(in.dims(), 1, in.rank());
        int rowLength = rowDims[rowDims.length - 1];
        int[] packed = new int[rowDims.length + 1];
        packed[0] = shape[0];
        System.arraycopy(rowDims, 0, packed, 1, rowDims.length);
        packed[packed.length - 1] = PackedLayout.wordsPerPixel(rowLength, bits);
        return new PackedLayer(l, bits, shape, rowLength, packed);
    }

    /** SHA-256 of the tensors' data as stored (little-endian), in the given order. */
    static String dataSha256(Collection<NamedArray> tensors) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            for (NamedArray t : tensors) {
                ByteBuffer b = ByteBuffer.allocate((int) t.byteSize()).order(ByteOrder.LITTLE_ENDIAN);
                switch (t.dtype()) {
                    case F32 -> b.asFloatBuffer().put(t.floats());
                    case I32 -> b.asIntBuffer().put(t.ints());
                    default -> throw new IllegalArgumentException("packed exports hold F32 and I32 tensors, not " + t);
                }
                d.update(b.array());
            }
            return HexFormat.of().formatHex(d.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}
