package org.wrpn.export;

import ai.onnxruntime.OnnxTensor;
import ai.onnxruntime.OrtEnvironment;
import ai.onnxruntime.OrtException;
import ai.onnxruntime.OrtSession;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.FloatBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.concurrent.ConcurrentHashMap;
import java.util.stream.Stream;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.data.BatchLoader;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.data.Dataset;
import org.wrpn.nn.Feature;
import org.wrpn.nn.Network;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Tensor;
import org.wrpn.train.Checkpoint;
import org.wrpn.train.Evaluator;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;

/**
 * Briefly trained models for the export tests, trained once per JVM, and the two ways of running
 * them: wrpn's own forward pass and ONNX Runtime (CPU).
 */
final class ExportFixtures {
    /** A trained checkpoint and the test set it is judged on. */
    record Trained(Path sidecar, Dataset test) {}

    /** Per-image predictions and the accuracy over the set. */
    record Predictions(int[] classes, double accuracy) {
        double agreement(Predictions o) {
            int same = 0;
            for (int i = 0; i < classes.length; i++) if (classes[i] == o.classes[i]) same++;
            return same / (double) classes.length;
        }
    }

    private static final Map<String, Trained> TRAINED = new ConcurrentHashMap<>();
    private static Path root;
    private static DataSplit fashion;

    private ExportFixtures() {}

    /** lenet width 1 at w{bits}/a{bits}, one short epoch (2,000 images) on Fashion-MNIST; judged on all 10,000 test images. */
    static Trained lenet(int bits) {
        return TRAINED.computeIfAbsent("lenet-" + bits, k -> {
            DataSplit data = fashion();
            return new Trained(train(k, "lenet", bits, DataSource.DEFAULT_DIR, data), (Dataset) data.test());
        });
    }

    /** resnet20 width 1 at w{bits}/a{bits} on a generated 3x16x16 set of 10 learnable classes (512 to train, 500 to test). */
    static Trained resnet20(int bits) {
        return TRAINED.computeIfAbsent("resnet20-" + bits, k -> {
            DataSplit data = new DataSplit(generated(512, 11), generated(500, 12), DataSplit.FORMAT_IDX);
            return new Trained(train(k, "resnet20", bits, Path.of("generated"), data), (Dataset) data.test());
        });
    }

    static synchronized DataSplit fashion() {
        if (fashion == null) fashion = DataSource.open(DataSource.DEFAULT_DIR);
        return fashion;
    }

    /** A temporary directory for the whole JVM, deleted when it exits. */
    static synchronized Path root() {
        if (root == null) {
            try {
                root = Files.createTempDirectory("wrpn-export-test");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            Path r = root;
            Runtime.getRuntime().addShutdownHook(new Thread(() -> delete(r)));
        }
        return root;
    }

    private static Path train(String name, String model, int bits, Path dataDir, DataSplit data) {
        TrainConfig c = TrainConfig.builder().model(model).widthMultiplier(1).weightBits(bits).activationBits(bits).epochs(1).batch(model.equals("lenet") ? 64 : 16)
                .seed(1).data(dataDir).out(root().resolve(name)).limitTrain(model.equals("lenet") ? 2000 : 0).limitTest(100)
                .device(Device.CPU).build();
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, data).quiet()) {
            return t.run().lastCheckpoint();
        }
    }

    /** Images whose class sets their colour (one of 10 corners of an RGB grid), under per-pixel noise: quick to learn. */
    static Dataset generated(int n, long seed) {
        int side = 16, channels = 3, pixels = side * side;
        SplittableRandom r = new SplittableRandom(seed);
        byte[] data = new byte[n * pixels * channels];
        byte[] labels = new byte[n];
        for (int i = 0; i < n; i++) {
            int k = r.nextInt(10);
            labels[i] = (byte) k;
            int[] colour = {40 + 170 * (k & 1), 40 + 170 * ((k >> 1) & 1), 40 + 85 * (k >> 2)};
            for (int p = 0; p < pixels; p++) {
                for (int c = 0; c < channels; c++) {
                    data[(i * pixels + p) * channels + c] = (byte) Math.max(0, Math.min(255, colour[c] + r.nextInt(-64, 65)));
                }
            }
        }
        return new Dataset(n, side, side, channels, 10, data, labels);
    }

    /**
     * What `wrpn eval` computes, image by image: the network built from the checkpoint, in inference mode
     * on the CPU (Evaluator's forward pass; its accuracy is the share of these that match the labels).
     */
    static Predictions wrpn(Path sidecar, Dataset test) {
        Checkpoint.Loaded l = Checkpoint.load(sidecar);
        int batch = 500;
        int[] classes = new int[test.count()];
        try (CpuBackend b = new CpuBackend(); Network net = l.network();
                BatchLoader loader = new BatchLoader(test, l.normalization(), batch, false, false, 0, 0, false)) {
            net.initialize(b, l.config().savePolicy(), 0);
            Checkpoint.apply(l, net, false);
            int at = 0;
            while (loader.hasNext()) {
                BatchLoader.Batch data = loader.next();
                int n = data.size();
                net.prepare(n);
                Tensor images = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(n));
                b.upload(data.images(), images);
                Feature logits = net.forward(images, false);
                float[] v = new float[n * net.classes()];
                b.download(logits.tensor(), v);
                logits.release();
                net.ledger().free(images);
                argmax(v, n, net.classes(), classes, at);
                at += n;
            }
            return new Predictions(classes, accuracy(classes, test));
        }
    }

    /** `wrpn eval`'s own figures (Evaluator) for a checkpoint, or for a packed export when packed is not null. */
    static Evaluator.Result evaluate(Checkpoint.Loaded l, PackedModel packed, Dataset test) {
        try (CpuBackend b = new CpuBackend(); Network net = l.network()) {
            net.initialize(b, l.config().savePolicy(), 99); // a seed of its own: every value must come from the file
            if (packed != null) packed.apply(net);
            else Checkpoint.apply(l, net, false);
            return Evaluator.evaluate(net, test, l.normalization(), 500);
        }
    }

    static double accuracy(int[] classes, Dataset test) {
        int correct = 0;
        for (int i = 0; i < classes.length; i++) if (classes[i] == test.label(i)) correct++;
        return correct / (double) classes.length;
    }

    /** The ONNX model run by ONNX Runtime on the CPU (default session options) on the raw pixels, NCHW, 500 images a run. */
    static Predictions onnx(Path model, Dataset test) {
        OrtEnvironment env = OrtEnvironment.getEnvironment();
        try (OrtSession.SessionOptions options = new OrtSession.SessionOptions()) {
            // idle workers sleep rather than spin: the test machine has two cores and other work on them
            options.addConfigEntry("session.intra_op.allow_spinning", "0");
            return run(env, env.createSession(model.toString(), options), test);
        } catch (OrtException e) {
            throw new IllegalStateException("ONNX Runtime refused " + model + ": " + e.getMessage(), e);
        }
    }

    private static Predictions run(OrtEnvironment env, OrtSession session, Dataset test) throws OrtException {
        int n = test.count(), h = test.height(), w = test.width(), c = test.channels(), batch = 500;
        int[] classes = new int[n];
        try (OrtSession s = session) {
            for (int from = 0; from < n; from += batch) {
                int m = Math.min(batch, n - from);
                float[] nchw = new float[m * c * h * w];
                for (int i = 0; i < m; i++) {
                    for (int y = 0; y < h; y++) {
                        for (int x = 0; x < w; x++) {
                            for (int ch = 0; ch < c; ch++) nchw[((i * c + ch) * h + y) * w + x] = test.pixel(from + i, y, x, ch);
                        }
                    }
                }
                try (OnnxTensor in = OnnxTensor.createTensor(env, FloatBuffer.wrap(nchw), new long[] {m, c, h, w});
                        OrtSession.Result r = s.run(Map.of(OnnxExporter.INPUT, in))) {
                    float[][] logits = (float[][]) r.get(0).getValue();
                    for (int i = 0; i < m; i++) argmax(logits[i], 1, logits[i].length, classes, from + i);
                }
            }
            return new Predictions(classes, accuracy(classes, test));
        }
    }

    private static void argmax(float[] logits, int rows, int classes, int[] out, int at) {
        for (int i = 0; i < rows; i++) {
            int best = 0;
            for (int k = 1; k < classes; k++) if (logits[i * classes + k] > logits[i * classes + best]) best = k;
            out[at + i] = best;
        }
    }

    private static void delete(Path dir) {
        try (Stream<Path> s = Files.walk(dir)) {
            s.sorted(Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (IOException ignored) {
            // a temporary directory: best effort
        }
    }
}
