package org.wrpn.peers;

import java.io.DataInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.zip.GZIPInputStream;
import org.deeplearning4j.datasets.iterator.ExistingDataSetIterator;
import org.deeplearning4j.nn.api.Model;
import org.deeplearning4j.nn.conf.MultiLayerConfiguration;
import org.deeplearning4j.nn.conf.NeuralNetConfiguration;
import org.deeplearning4j.nn.conf.inputs.InputType;
import org.deeplearning4j.nn.conf.layers.ActivationLayer;
import org.deeplearning4j.nn.conf.layers.BatchNormalization;
import org.deeplearning4j.nn.conf.layers.ConvolutionLayer;
import org.deeplearning4j.nn.conf.layers.DenseLayer;
import org.deeplearning4j.nn.conf.layers.OutputLayer;
import org.deeplearning4j.nn.conf.layers.PoolingType;
import org.deeplearning4j.nn.conf.layers.SubsamplingLayer;
import org.deeplearning4j.nn.multilayer.MultiLayerNetwork;
import org.deeplearning4j.nn.weights.WeightInit;
import org.deeplearning4j.optimize.api.BaseTrainingListener;
import org.nd4j.linalg.activations.Activation;
import org.nd4j.linalg.api.buffer.DataType;
import org.nd4j.linalg.api.ndarray.INDArray;
import org.nd4j.linalg.dataset.DataSet;
import org.nd4j.linalg.factory.Nd4j;
import org.nd4j.linalg.learning.config.Nesterovs;
import org.nd4j.linalg.lossfunctions.LossFunctions;

/**
 * wrpn's fp32 LeNet (conv5x5(16) BN ReLU maxpool, conv5x5(32) BN ReLU maxpool, fc(128) BN ReLU,
 * fc(10)) trained with Deeplearning4j the way a DL4J user would: MultiLayerNetwork, NCHW input from
 * InputType.convolutionalFlat, DL4J's default workspaces, fit(DataSetIterator) over Fashion-MNIST.
 * Images/s is measured over the iterations after a warm-up, from a listener's timestamps.
 *
 * <pre>java -cp ... org.wrpn.peers.Dl4jLenet --data DIR --batch 64 --images 19200 --warmup-steps 50 --out FILE.json</pre>
 */
public final class Dl4jLenet {
    public static void main(String[] args) throws IOException {
        Path data = Path.of("/usr/share/datasets/fashion-mnist");
        int batch = 64;
        int images = 19200;
        int warmup = 50;
        Path out = null;
        for (int i = 0; i < args.length; i++) {
            switch (args[i]) {
                case "--data" -> data = Path.of(args[++i]);
                case "--batch" -> batch = Integer.parseInt(args[++i]);
                case "--images" -> images = Integer.parseInt(args[++i]);
                case "--warmup-steps" -> warmup = Integer.parseInt(args[++i]);
                case "--out" -> out = Path.of(args[++i]);
                default -> throw new IllegalArgumentException("unknown argument " + args[i]);
            }
        }
        float[][] x = readImages(data.resolve("train-images-idx3-ubyte.gz"), images);
        int[] y = readLabels(data.resolve("train-labels-idx1-ubyte.gz"), x.length);
        int n = x.length / batch * batch;
        // (x/255 - mean) / std over the training images, as wrpn's loader does.
        double sum = 0, sq = 0;
        for (int i = 0; i < n; i++) for (float v : x[i]) { sum += v; sq += (double) v * v; }
        double count = (double) n * 784, mean = sum / count, std = Math.sqrt(sq / count - mean * mean);
        List<DataSet> batches = new ArrayList<>();
        for (int b = 0; b < n; b += batch) {
            float[] f = new float[batch * 784];
            float[] l = new float[batch * 10];
            for (int i = 0; i < batch; i++) {
                for (int p = 0; p < 784; p++) f[i * 784 + p] = (float) ((x[b + i][p] - mean) / std);
                l[i * 10 + y[b + i]] = 1f;
            }
            batches.add(new DataSet(Nd4j.create(f, new long[] {batch, 784}), Nd4j.create(l, new long[] {batch, 10})));
        }

        MultiLayerConfiguration conf = new NeuralNetConfiguration.Builder()
                .seed(1)
                .dataType(DataType.FLOAT)
                .updater(new Nesterovs(0.05, 0.9))
                .l2(5e-4)
                .weightInit(WeightInit.RELU)
                .list()
                .layer(new ConvolutionLayer.Builder(5, 5).nIn(1).nOut(16).stride(1, 1).padding(2, 2).hasBias(false)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new ConvolutionLayer.Builder(5, 5).nOut(32).stride(1, 1).padding(2, 2).hasBias(false)
                        .activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new SubsamplingLayer.Builder(PoolingType.MAX).kernelSize(2, 2).stride(2, 2).build())
                .layer(new DenseLayer.Builder().nOut(128).hasBias(false).activation(Activation.IDENTITY).build())
                .layer(new BatchNormalization.Builder().build())
                .layer(new ActivationLayer.Builder().activation(Activation.RELU).build())
                .layer(new OutputLayer.Builder(LossFunctions.LossFunction.MCXENT).nOut(10).activation(Activation.SOFTMAX).build())
                .setInputType(InputType.convolutionalFlat(28, 28, 1))
                .build();
        MultiLayerNetwork net = new MultiLayerNetwork(conf);
        net.init();
        long[] stamps = new long[batches.size() + 1];
        int[] seen = {0};
        net.setListeners(new BaseTrainingListener() {
            @Override
            public void iterationDone(Model model, int iteration, int epoch) {
                if (seen[0] < stamps.length) stamps[seen[0]++] = System.nanoTime();
            }
        });
        long t0 = System.nanoTime();
        net.fit(new ExistingDataSetIterator(batches));
        long t1 = System.nanoTime();
        int steps = seen[0];
        if (steps <= warmup + 1) throw new IllegalStateException("only " + steps + " steps: use more --images than warm-up steps");
        double window = (stamps[steps - 1] - stamps[warmup - 1]) / 1e9;
        int timedSteps = steps - warmup;
        double[] d = new double[timedSteps];
        for (int i = 0; i < timedSteps; i++) d[i] = (stamps[warmup + i] - stamps[warmup + i - 1]) / 1e9;
        java.util.Arrays.sort(d);
        double ips = (double) timedSteps * batch / window;
        String json = String.format(Locale.ROOT,
                "{\"peer\": \"deeplearning4j\", \"version\": \"1.0.0-M2.1\", \"model\": \"lenet\", \"width\": 1, \"batch\": %d, "
                        + "\"steps\": %d, \"warmup_steps\": %d, \"images_per_s\": %.2f, \"median_step_s\": %.5f, "
                        + "\"total_fit_s\": %.3f, \"final_score\": %.5f, \"rss_peak_bytes\": %d, \"java\": \"%s\", "
                        + "\"parameters\": %d, \"omp_num_threads\": \"%s\"}%n",
                batch, steps, warmup, ips, d[d.length / 2], (t1 - t0) / 1e9, net.score(), rssPeak(),
                System.getProperty("java.vm.name") + " " + System.getProperty("java.version"), net.numParams(),
                System.getenv().getOrDefault("OMP_NUM_THREADS", "default"));
        System.out.print(json);
        if (out != null) Files.writeString(out, json);
    }

    static float[][] readImages(Path file, int limit) throws IOException {
        try (DataInputStream in = new DataInputStream(open(file))) {
            if (in.readInt() != 2051) throw new IOException(file + " is not an IDX image file");
            int n = Math.min(in.readInt(), limit), rows = in.readInt(), cols = in.readInt();
            if (rows * cols != 784) throw new IOException(file + ": expected 28x28 images");
            float[][] x = new float[n][784];
            byte[] buf = new byte[784];
            for (int i = 0; i < n; i++) {
                in.readFully(buf);
                for (int p = 0; p < 784; p++) x[i][p] = (buf[p] & 0xff) / 255f;
            }
            return x;
        }
    }

    static int[] readLabels(Path file, int n) throws IOException {
        try (DataInputStream in = new DataInputStream(open(file))) {
            if (in.readInt() != 2049) throw new IOException(file + " is not an IDX label file");
            in.readInt();
            int[] y = new int[n];
            for (int i = 0; i < n; i++) y[i] = in.readUnsignedByte();
            return y;
        }
    }

    private static InputStream open(Path f) throws IOException {
        InputStream raw = Files.newInputStream(f);
        return f.toString().endsWith(".gz") ? new GZIPInputStream(raw, 1 << 16) : raw;
    }

    private static long rssPeak() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return -1;
    }
}
