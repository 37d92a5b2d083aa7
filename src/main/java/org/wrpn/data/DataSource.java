package org.wrpn.data;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;

/** Opens a data directory, picking the format from the files it holds: IDX, CIFAR-10 or an image folder. */
public final class DataSource {
    /** Fashion-MNIST as installed by the Debian package dataset-fashion-mnist. */
    public static final Path DEFAULT_DIR = Path.of("/usr/share/datasets/fashion-mnist");
    public static final String CIFAR_SUBDIR = "cifar-10-batches-bin";
    static final List<String> IDX_NAMES = List.of(
            "train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte");
    private static final Pattern CIFAR_BATCH = Pattern.compile("data_batch_(\\d+)\\.bin");
    private static final String EXPECTED = "expected " + String.join(", ", IDX_NAMES.stream().map(n -> n + "[.gz]").toList())
            + " (MNIST/Fashion-MNIST) or data_batch_1..5.bin and " + Cifar10Reader.TEST_FILE
            + " (CIFAR-10, also inside " + CIFAR_SUBDIR + "/) or train/CLASS/*.jpg and val/CLASS/*.jpg (an image folder)";
    private static final Logger LOG = LogManager.getLogger(DataSource.class);

    private DataSource() {}

    /** IDX or CIFAR-10 data, or an image folder decoded at its default size by one thread per core. */
    public static DataSplit open(Path dir) {
        return open(dir, ImageFolder.DEFAULT_SIZE, 0);
    }

    /** The data in dir; an image folder is decoded to imageSize x imageSize by decodeThreads threads (0: one per core). */
    public static DataSplit open(Path dir, int imageSize, int decodeThreads) {
        if (!Files.exists(dir)) throw new BadInputException("data directory " + dir + " does not exist");
        if (!Files.isDirectory(dir)) throw new BadInputException("data directory " + dir + " is not a directory");
        long start = System.nanoTime();
        DataSplit split = ImageFolder.isImageFolder(dir) ? ImageFolder.open(dir, imageSize, decodeThreads) : load(dir);
        LOG.info("Loaded {} data from {}: train {}, test {} ({} ms)", split.format(), dir, split.train(), split.test(),
                (System.nanoTime() - start) / 1_000_000);
        return split;
    }

    private static DataSplit load(Path dir) {
        List<Path> idx = new ArrayList<>();
        List<String> missingIdx = new ArrayList<>();
        for (String name : IDX_NAMES) {
            Path found = findIdx(dir, name);
            if (found == null) missingIdx.add(name + "[.gz]");
            else idx.add(found);
        }
        if (missingIdx.isEmpty()) {
            Dataset train = IdxReader.readPair(idx.get(0), idx.get(1));
            Dataset test = IdxReader.readPair(idx.get(2), idx.get(3));
            return new DataSplit(train, test, DataSplit.FORMAT_IDX);
        }
        for (Path d : List.of(dir, dir.resolve(CIFAR_SUBDIR))) {
            if (!Files.isDirectory(d)) continue;
            List<Path> batches = cifarBatches(d);
            Path test = d.resolve(Cifar10Reader.TEST_FILE);
            boolean hasTest = Files.exists(test);
            if (!batches.isEmpty() && hasTest) {
                if (batches.size() != Cifar10Reader.TRAIN_BATCHES) {
                    LOG.warn("{}: using {} CIFAR-10 training batches, not the usual {}", d, batches.size(),
                            Cifar10Reader.TRAIN_BATCHES);
                }
                return new DataSplit(Cifar10Reader.read(batches).withAugmentation(Augmentation.PAD4_CROP_FLIP),
                        Cifar10Reader.read(List.of(test)),
                        DataSplit.FORMAT_CIFAR10);
            }
            if (!batches.isEmpty() || hasTest) {
                throw new BadInputException("data directory " + d + " has an incomplete CIFAR-10 set: missing "
                        + (hasTest ? "data_batch_1..5.bin" : Cifar10Reader.TEST_FILE));
            }
        }
        if (idx.isEmpty()) throw new BadInputException("data directory " + dir + " holds no known dataset: " + EXPECTED);
        throw new BadInputException("data directory " + dir + " has an incomplete MNIST/Fashion-MNIST set: missing "
                + String.join(", ", missingIdx));
    }

    /** name, name.gz, or the same with '.' before idx (a common renaming); null when absent. */
    private static Path findIdx(Path dir, String name) {
        String dotted = name.replace("-idx", ".idx");
        for (String candidate : List.of(name, name + ".gz", dotted, dotted + ".gz")) {
            Path p = dir.resolve(candidate);
            if (Files.isRegularFile(p)) return p;
        }
        return null;
    }

    /** data_batch_N.bin files in dir, sorted by N. */
    private static List<Path> cifarBatches(Path dir) {
        try (Stream<Path> files = Files.list(dir)) {
            return files.filter(p -> CIFAR_BATCH.matcher(p.getFileName().toString()).matches())
                    .sorted(Comparator.comparingLong(DataSource::batchNumber))
                    .toList();
        } catch (IOException e) {
            throw new BadInputException("data directory " + dir + ": cannot list (" + DataFile.oneLine(e.getMessage()) + ")", e);
        }
    }

    private static long batchNumber(Path p) {
        Matcher m = CIFAR_BATCH.matcher(p.getFileName().toString());
        if (!m.matches()) return Long.MAX_VALUE;
        try {
            return Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            return Long.MAX_VALUE;
        }
    }
}
