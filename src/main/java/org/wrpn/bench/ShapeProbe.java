package org.wrpn.bench;

import java.lang.reflect.Proxy;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.wrpn.backend.Backend;
import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.nn.Network;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.AbstractTensor;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The tensor shapes a model really hands its backend in one training step: every quantize+pack
 * (quantized activations, and max pools that re-pack their output) and the convolutions. It runs the real layer code on a backend
 * that only records, so the kernel benchmarks time exactly the shapes training uses, on any
 * machine (no native library, no GPU).
 */
public final class ShapeProbe {
    /** A distinct (shape, with or without the STE mask) in first-seen order, with how many calls use it. */
    public record Site(String name, Shape shape, boolean mask, int count) {}

    /** Pack sites, every conv geometry, and those of the convs that read activation codes (distinct, first-seen order). */
    public record Shapes(List<Site> packSites, List<ConvGeometry> convs, List<ConvGeometry> codeConvs) {}

    private ShapeProbe() {}

    static int[] inputFor(String model) {
        return model.equals("lenet") ? new int[] {1, 28, 28} : new int[] {3, 32, 32};
    }

    /** Shapes at batch `batch` of a model whose hidden activations are quantized (any k: the shapes do not depend on it). */
    public static Shapes probe(String model, double width, int batch) {
        int[] chw = inputFor(model);
        Map<List<Object>, Site> sites = new LinkedHashMap<>();
        List<ConvGeometry> convs = new ArrayList<>();
        List<ConvGeometry> codeConvs = new ArrayList<>();
        Backend recorder = recorder((method, args) -> {
            switch (method) {
                // activations keep the STE mask (fused with their batch norm in training); max pools re-pack without one
                case "quantizePack" -> site(sites, ((Tensor) args[0]).shape(), args[3] != null);
                case "batchNormQuantizePack" -> site(sites, ((Tensor) args[0]).shape(), args[7] != null);
                case "conv2dForward" -> {
                    ConvGeometry g = (ConvGeometry) args[3];
                    if (!convs.contains(g)) convs.add(g);
                }
                case "conv2dForwardQuantized" -> {
                    ConvGeometry g = (ConvGeometry) args[4];
                    if (!convs.contains(g)) convs.add(g);
                    if (((Tensor) args[0]).dtype() == DType.PACKED && !codeConvs.contains(g)) codeConvs.add(g);
                }
                default -> { }
            }
        });
        try (Network net = Models.build(model, width, PrecisionPolicy.uniform(4, 4), chw[1], chw[2], chw[0], 10)) {
            net.initialize(recorder, SavePolicy.PACKED, 0);
            net.prepare(batch);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            net.forwardBackward(x, y, 1f / batch);
            net.ledger().free(x);
            net.ledger().free(y);
        }
        // Numbered in forward order (quantized activations and, under max pooling, the pools' packed outputs).
        List<Site> named = new ArrayList<>();
        int i = 0;
        for (Site s : sites.values()) named.add(new Site("pack" + (++i), s.shape(), s.mask(), s.count()));
        return new Shapes(named, convs, codeConvs);
    }

    private static void site(Map<List<Object>, Site> sites, Shape s, boolean mask) {
        sites.merge(List.of(s, mask), new Site("", s, mask, 1), (a, b) -> new Site(a.name(), a.shape(), a.mask(), a.count() + 1));
    }

    interface Listener {
        void call(String method, Object[] args);
    }

    /** A backend that allocates sized placeholders, computes nothing and reports every call. */
    static Backend recorder(Listener listener) {
        return (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class},
                (proxy, method, args) -> {
                    Object[] a = args == null ? new Object[0] : args;
                    listener.call(method.getName(), a);
                    return switch (method.getName()) {
                        case "name" -> "shape-probe";
                        case "describe" -> "shape probe (computes nothing)";
                        case "computes" -> false;
                        case "allocate", "allocateUninitialized" -> new Sized((DType) a[0], (Shape) a[1], 0);
                        case "allocatePacked", "allocatePackedUninitialized" -> new Sized(DType.PACKED, (Shape) a[0], (Integer) a[1]);
                        case "softmaxCrossEntropy" -> new LossResult(0, 0, ((Tensor) a[0]).shape().dim(0));
                        case "hashCode" -> System.identityHashCode(proxy);
                        case "equals" -> proxy == a[0];
                        case "toString" -> "shape-probe";
                        default -> zero(method.getReturnType());
                    };
                });
    }

    private static Object zero(Class<?> type) {
        if (type == long.class) return 0L;
        if (type == int.class) return 0;
        if (type == float.class) return 1f;
        if (type == double.class) return 0.0;
        if (type == boolean.class) return false;
        return null;
    }

    /** A placeholder of the right size; tensors are tracked by object, so identity equality (AbstractTensor's). */
    private static final class Sized extends AbstractTensor {
        Sized(DType dtype, Shape shape, int bits) {
            super(dtype, shape, bits);
        }

        @Override
        protected void release() {}
    }
}
