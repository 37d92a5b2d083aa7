package org.wrpn.backend.cuda;

import org.wrpn.backend.ConvGeometry;
import org.wrpn.backend.GpuDevice;
import java.io.IOException;
import java.io.PrintWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.wrpn.quant.PackedLayout;
import org.wrpn.quant.Quantizer;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Memory bandwidth of the pack/unpack kernels against a device-to-device copy of the same input
 * bytes, on this machine's GPU, and a quantized layer's convolution on codes against unpack + fp32
 * conv at every bit width ({@link #measureConv}). Bytes moved count each input read once and each output written
 * once; the copy moves 2 x its size. Times are CUDA-event medians after warm-up.
 *
 * <pre>java -cp ... org.wrpn.backend.cuda.PackBenchmark [--out DIR] [--sizes-mib 64,256,1024] [--reps 20] [--channels 256]</pre>
 *
 * Writes DIR/pack-bandwidth.csv and prints a table (the last lines of a device run's output).
 */
public final class PackBenchmark {
    record Row(String op, int bits, boolean mask, long inputMib, long elements, int channels, long bytes, double medianMs,
            double minMs, double gbps, double pctOfCopy) {}

    public static void main(String[] args) throws IOException {
        Path out = Path.of(".");
        long[] sizes = {64, 256, 1024};
        int reps = 20;
        int channels = 256;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--out" -> out = Path.of(args[++i]);
                case "--sizes-mib" -> sizes = Arrays.stream(args[++i].split(",")).mapToLong(Long::parseLong).toArray();
                case "--reps" -> reps = Integer.parseInt(args[++i]);
                case "--channels" -> channels = Integer.parseInt(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        Files.createDirectories(out);
        List<Row> rows = new ArrayList<>();
        try (CudaBackend be = new CudaBackend()) {
            System.out.println("# " + be.describe());
            for (long mib : sizes) rows.addAll(measure(be, mib, channels, reps));
            rows.addAll(measureConv(be, CONV_LAYER, reps));
            write(out.resolve("pack-bandwidth.csv"), be.device(), rows);
        }
        System.out.printf("%-22s %4s %5s %8s %10s %9s %8s%n", "op", "k", "mask", "MiB", "median ms", "GB/s", "% copy");
        for (Row r : rows) {
            System.out.printf("%-22s %4d %5s %8d %10.4f %9.1f %7.1f%%%n", r.op, r.bits, r.mask ? "yes" : "no", r.inputMib,
                    r.medianMs, r.gbps, r.pctOfCopy);
        }
    }

    static List<Row> measure(CudaBackend be, long mib, int channels, int reps) {
        long elements = mib * (1L << 20) / 4;
        long pixels = elements / channels;
        elements = pixels * channels;
        Shape shape = Shape.of((int) pixels, channels);
        List<Row> rows = new ArrayList<>();
        try (Tensor x = be.allocate(DType.F32, shape); Tensor copy = be.allocate(DType.F32, shape);
                Tensor y = be.allocate(DType.F32, shape)) {
            fillRandom(be, x, elements);
            double[] copyTimes = time(be, reps, () -> be.copy(x, copy));
            double copyMs = median(copyTimes);
            long copyBytes = 2L * 4 * elements;
            double copyGbps = copyBytes / copyMs / 1e6;
            rows.add(new Row("copy_d2d", 32, false, mib, elements, channels, copyBytes, copyMs, min(copyTimes), copyGbps, 100));
            for (int k : new int[] {1, 2, 4, 8}) {
                long packedBytes = pixels * 4L * PackedLayout.wordsPerPixel(channels, k);
                long maskBytes = pixels * 4L * PackedLayout.wordsPerPixel(channels, 1);
                try (Tensor p = be.allocatePacked(shape, k); Tensor m = be.allocatePacked(shape, 1)) {
                    rows.add(row("quantize_act_pack", k, true, mib, elements, channels, 4 * elements + packedBytes + maskBytes,
                            time(be, reps, () -> be.quantizePack(x, k, p, m)), copyGbps));
                    rows.add(row("quantize_act_pack", k, false, mib, elements, channels, 4 * elements + packedBytes,
                            time(be, reps, () -> be.quantizePack(x, k, p, null)), copyGbps));
                    rows.add(row("unpack_f32", k, false, mib, elements, channels, packedBytes + 4 * elements,
                            time(be, reps, () -> be.unpackValues(p, y)), copyGbps));
                }
                rows.add(row("quantize_act_f32", k, false, mib, elements, channels, 8 * elements,
                        time(be, reps, () -> be.quantizeActivations(x, k, y)), copyGbps));
            }
        }
        return rows;
    }

    /** resnet20 width 2, batch 128, a stage-1 conv: 32x32x32 -> 32, 3x3 (native/conv/NOTES.md's shape). */
    static final ConvGeometry CONV_LAYER = new ConvGeometry(128, 32, 32, 32, 32, 3, 3, 1, 1);

    /**
     * The convolution of a quantized layer at every bit width (weights and activations at k): on codes
     * (conv2dForwardQuantized: packed x, int8 w) against what the backend did before it, unpack to fp32
     * then the fp32 conv. Bytes: codes = packed x + int8 w + fp32 y; unpack path = packed x + fp32 x
     * written and read back + fp32 w + fp32 y. % of copy: against a copy of the fp32 input.
     */
    static List<Row> measureConv(CudaBackend be, ConvGeometry g, int reps) {
        Shape xs = Shape.nhwc(g.n(), g.h(), g.w(), g.cin());
        int[] ws = {g.cout(), g.kh(), g.kw(), g.cin()};
        long e = xs.elements(), wn = (long) g.cout() * g.patch(), yn = (long) g.n() * g.outH() * g.outW() * g.cout();
        long mib = 4 * e >> 20;
        List<Row> rows = new ArrayList<>();
        try (Tensor x = be.allocate(DType.F32, xs); Tensor copy = be.allocate(DType.F32, xs); Tensor w = be.allocate(DType.F32, Shape.of(ws));
                Tensor wq = be.allocate(DType.F32, Shape.of(ws)); Tensor w8 = be.allocate(DType.I8, Shape.of(ws));
                Tensor y = be.allocate(DType.F32, Shape.nhwc(g.n(), g.outH(), g.outW(), g.cout()))) {
            fillRandom(be, x, e);
            fillRandom(be, w, wn);
            double[] copyTimes = time(be, reps, () -> be.copy(x, copy));
            double copyGbps = 8.0 * e / median(copyTimes) / 1e6;
            for (int k : new int[] {1, 2, 4, 8}) {
                long packedBytes = xs.pixels() * 4L * PackedLayout.wordsPerPixel(g.cin(), k);
                try (Tensor p = be.allocatePacked(xs, k)) {
                    be.quantizePack(x, k, p, null);
                    float scale = be.weightCodes(w, k, w8) * Quantizer.activationStep(k);
                    be.quantizeWeights(w, k, wq);
                    // the backend's choice (conv_codes_mma: int8 tensor cores where cin % 32 == 0), and then dp4a too
                    rows.add(row(CudaSupport.fpropTensorCores(g.cin()) ? "conv_codes_mma" : "conv_codes", k, false, mib, e,
                            g.cin(), packedBytes + wn + 4 * yn,
                            time(be, reps, () -> be.conv2dForwardQuantized(p, w8, scale, y, g)), copyGbps));
                    if (CudaSupport.fpropTensorCores(g.cin())) {
                        rows.add(row("conv_codes_simt", k, false, mib, e, g.cin(), packedBytes + wn + 4 * yn,
                                time(be, reps, () -> be.conv2dForwardQuantizedSimt(p, w8, scale, y, g)), copyGbps));
                    }
                    rows.add(row("unpack+conv_f32", k, false, mib, e, g.cin(), packedBytes + 8 * e + 4 * wn + 4 * yn,
                            time(be, reps, () -> {
                                be.unpackValues(p, copy);
                                be.conv2dForward(copy, wq, y, g);
                            }), copyGbps));
                }
            }
        }
        return rows;
    }

    private static Row row(String op, int k, boolean mask, long mib, long elements, int channels, long bytes, double[] ms,
            double copyGbps) {
        double med = median(ms);
        double gbps = bytes / med / 1e6;
        return new Row(op, k, mask, mib, elements, channels, bytes, med, min(ms), gbps, 100 * gbps / copyGbps);
    }

    /** Random values in [-0.25, 1.25): a 16 MiB random block repeated (the values do not change the traffic). */
    private static void fillRandom(CudaBackend be, Tensor x, long elements) {
        int block = (int) Math.min(elements, 4L << 20);
        float[] r = new float[block];
        Random rnd = new Random(42);
        for (int i = 0; i < block; i++) r[i] = rnd.nextFloat() * 1.5f - 0.25f;
        float[] all = new float[(int) Math.min(elements, Integer.MAX_VALUE - 8)];
        for (int i = 0; i < all.length; i += block) System.arraycopy(r, 0, all, i, Math.min(block, all.length - i));
        be.upload(all, x);
    }

    private static double[] time(CudaBackend be, int reps, Runnable op) {
        for (int i = 0; i < 3; i++) op.run();  // warm-up: module JIT, allocator, clocks
        be.synchronize();
        double[] ms = new double[reps];
        try (CudaTimer t = be.newTimer()) {
            for (int i = 0; i < reps; i++) {
                t.start();
                op.run();
                t.stop();
                ms[i] = t.elapsedMillis();
            }
        }
        return ms;
    }

    private static double median(double[] a) {
        double[] s = a.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double min(double[] a) {
        return Arrays.stream(a).min().orElse(Double.NaN);
    }

    private static void write(Path csv, GpuDevice d, List<Row> rows) throws IOException {
        try (PrintWriter w = new PrintWriter(Files.newBufferedWriter(csv, StandardCharsets.UTF_8))) {
            w.println("gpu,driver_cuda,op,bits,mask,input_mib,elements,channels,bytes_moved,median_ms,min_ms,gbps,pct_of_copy");
            for (Row r : rows) {
                w.printf("\"%s\",%s,%s,%d,%s,%d,%d,%d,%d,%.5f,%.5f,%.1f,%.1f%n", d.name(), d.driverCudaVersion(), r.op, r.bits,
                        r.mask, r.inputMib, r.elements, r.channels, r.bytes, r.medianMs, r.minMs, r.gbps, r.pctOfCopy);
            }
        }
    }
}
