package org.wrpn.bench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.data.BatchLoader;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.data.Dataset;
import org.wrpn.data.ImageSet;
import org.wrpn.data.Normalization;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;

/**
 * `wrpn bench loader`: how fast the image-folder loader decodes and augments ImageNet-size JPEGs
 * to 224x224, by number of decode threads, and what the trainer gets from it against the same
 * images decoded once beforehand, so it is clear when decoding is the bottleneck.
 */
public final class LoaderBench {
    /** An ImageNet photo's usual size (ImageNet's mean is about 470x390). */
    static final int WIDTH = 500;
    static final int HEIGHT = 375;
    static final int SIZE = 224;
    private static final int BATCH = 32;
    /** Epochs timed per thread count: the best is kept, the one least slowed by other processes. */
    private static final int REPEATS = 3;
    /** GPU training rates the notes turn into decode threads, images/s. */
    private static final int[] GPU_RATES = {1000, 3000, 10000};

    private LoaderBench() {}

    /**
     * Writes {@code images} synthetic photos (or uses the image folder {@code folder}), times the
     * loader at each thread count, and trains {@code models} one short epoch each way.
     */
    public static BenchTable run(Path folder, int images, int[] threads, List<String> models, int trainImages, Path work)
            throws IOException {
        Path dir = folder;
        if (dir == null) {
            dir = work.resolve("photos");
            if (!Files.isDirectory(dir.resolve("val"))) SyntheticImages.writeFolder(dir, 10, images / 10, 1, WIDTH, HEIGHT, 1);
        }
        Machine.Contention contention = new Machine.Contention();
        BenchTable t = new BenchTable("loader", Machine.describe(), Map.of("images", images, "size", SIZE, "batch", BATCH,
                "source", folder == null ? "synthetic " + WIDTH + "x" + HEIGHT + " JPEG, quality 90" : folder.toString()));
        ImageSet train = DataSource.open(dir, SIZE, 1).train();
        t.notes.add(String.format(Locale.ROOT, "%d JPEGs, %.0f KB on average", train.count(), meanKb(dir.resolve("train"))));
        Normalization norm = train.fitNormalization();
        for (boolean training : new boolean[] {true, false}) {
            loaderRate(train, norm, training, 1); // warm-up: the decoder's native libraries, the JIT
            for (int n : threads) {
                double[] best = {0, Double.MAX_VALUE};
                for (int k = 0; k < REPEATS; k++) {
                    double[] m = loaderRate(train, norm, training, n);
                    best[0] = Math.max(best[0], m[0]);
                    best[1] = Math.min(best[1], m[1]);
                }
                Map<String, Object> r = t.row();
                r.put("kind", "loader");
                r.put("transform", training ? "train" : "eval");
                r.put("threads", n);
                r.put("images_per_second", best[0]);
                r.put("images_per_second_per_thread", best[0] / n);
                r.put("ms_per_image_per_thread", 1000.0 * n / best[0]);
                r.put("cpu_ms_per_image", best[1] * 1000);
            }
        }
        double perImage = BenchTable.num(t.where("transform", "train").get(0), "cpu_ms_per_image") / 1000;
        for (int rate : GPU_RATES) {
            t.notes.add(String.format(Locale.ROOT, "a GPU step of %d images/s needs %d decode threads at the measured %.2f ms per"
                    + " training image (CPU time; a core per thread)", rate,
                    (int) Math.ceil(rate * perImage), perImage * 1000));
        }
        for (String model : models) trainRows(t, DataSource.open(dir, SIZE, threads[threads.length - 1]), model, trainImages, work);
        t.contention.putAll(contention.summary());
        return t;
    }

    private static double meanKb(Path dir) throws IOException {
        try (var s = Files.walk(dir)) {
            return s.filter(Files::isRegularFile).mapToLong(p -> p.toFile().length()).average().orElse(0) / 1024;
        }
    }

    /** Images per second of one epoch of the set through the transform on n threads, and CPU seconds per image. */
    private static double[] loaderRate(ImageSet set, Normalization norm, boolean training, int n) {
        long t0 = System.nanoTime();
        int count = 0;
        try (BatchLoader l = new BatchLoader(set.samples(norm, training), BATCH, true, 1, 0, false, n)) {
            while (l.hasNext()) count += l.next().size();
            return new double[] {count / ((System.nanoTime() - t0) / 1e9), l.cpuSecondsPerImage()};
        }
    }

    /** One epoch of model on the folder, decoding as it goes, then on the same images decoded once beforehand. */
    private static void trainRows(BenchTable t, DataSplit split, String model, int images, Path work) {
        TrainConfig c = TrainConfig.builder().model(model).widthMultiplier(1).weightBits(4).activationBits(4).batch(BATCH)
                .limitTrain(images).limitTest(BATCH).keepCheckpoints(1).build();
        ImageSet train = split.train().first(images);
        DataSplit decoded = new DataSplit(predecode(train), predecode(split.test().first(BATCH)), DataSplit.FORMAT_IDX);
        for (DataSplit s : List.of(split, decoded)) {
            boolean decoding = s == split;
            TrainConfig ci = c.toBuilder().out(work.resolve("run-" + model + (decoding ? "-decoding" : "-predecoded"))).build();
            try (Backend b = BackendSelector.select(ci.device()); Trainer tr = new Trainer(ci, b, s).quiet()) {
                Trainer.EpochResult e = tr.run().last();
                Map<String, Object> r = t.row();
                r.put("kind", "train");
                r.put("model", model);
                r.put("input", decoding ? "decoding (" + split.train().loaderThreads() + " threads)" : "pre-decoded tensors");
                r.put("threads", decoding ? split.train().loaderThreads() : 0);
                r.put("images_per_second", e.imagesPerSecond());
            }
        }
    }

    /** The set's evaluation crops as bytes in memory: what a loader of pre-decoded tensors reads. */
    static Dataset predecode(ImageSet set) {
        Normalization bytes = new Normalization(new float[3], new float[] {1 / 255f, 1 / 255f, 1 / 255f});
        byte[] pixels = new byte[set.count() * SIZE * SIZE * 3];
        byte[] labels = new byte[set.count()];
        int at = 0;
        try (BatchLoader l = new BatchLoader(set.samples(bytes, false), BATCH, false, 0, 0, false, set.loaderThreads())) {
            while (l.hasNext()) {
                BatchLoader.Batch b = l.next();
                for (float v : b.images()) pixels[at++] = (byte) Math.round(v);
                for (int i = 0; i < b.size(); i++) labels[b.index() * BATCH + i] = (byte) b.labels()[i];
            }
        }
        return new Dataset(set.count(), SIZE, SIZE, 3, set.classes(), pixels, labels);
    }

    /** The rows as text lines, for the console. */
    public static List<String> describe(BenchTable t) {
        List<String> out = new ArrayList<>();
        for (Map<String, Object> r : t.rows) {
            if (r.get("kind").equals("loader")) {
                out.add(String.format(Locale.ROOT, "loader %-5s %d thread(s): %7.1f img/s (%.2f ms per image per thread; %.2f ms CPU)",
                        r.get("transform"), r.get("threads"), BenchTable.num(r, "images_per_second"),
                        BenchTable.num(r, "ms_per_image_per_thread"), BenchTable.num(r, "cpu_ms_per_image")));
            } else {
                out.add(String.format(Locale.ROOT, "train %-8s %-24s %7.1f img/s", r.get("model"), r.get("input"),
                        BenchTable.num(r, "images_per_second")));
            }
        }
        out.addAll(t.notes);
        return out;
    }
}
