package org.wrpn.data;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.FileVisitOption;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.stream.Stream;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.BadInputException;

/**
 * The image-folder layout (torchvision's ImageFolder): DIR/train/CLASS/... and DIR/val/CLASS/...
 * (or test/), JPEG and PNG files at any depth under a class folder. Classes are the folders of
 * train/, sorted by name, and their index is their place in that order; val/ may lack classes but
 * not add any. Files of other types are skipped with one counted warning per split; an empty class
 * folder of train/ keeps its index, with a warning.
 */
public final class ImageFolder {
    /** The side of the square images a folder is decoded to unless the run says otherwise (ImageNet's 224). */
    public static final int DEFAULT_SIZE = 224;
    static final List<String> EXTENSIONS = List.of(".jpg", ".jpeg", ".png");
    private static final List<String> EVAL_DIRS = List.of("val", "test");
    private static final Logger LOG = LogManager.getLogger(ImageFolder.class);

    private ImageFolder() {}

    /** Whether dir is laid out as an image folder: it has a train/ directory. */
    public static boolean isImageFolder(Path dir) {
        return Files.isDirectory(dir.resolve("train"));
    }

    /** Decode threads for a request: 0 means one per core. */
    public static int threads(int requested) {
        return requested > 0 ? requested : Runtime.getRuntime().availableProcessors();
    }

    /** The train and val splits of dir, decoded to size x size by {@code threads} threads (0: one per core). */
    public static DataSplit open(Path dir, int size, int threads) {
        if (size < 8 || size > 4096) throw new BadInputException("--image-size must be between 8 and 4096, got " + size);
        Path train = dir.resolve("train");
        Path eval = EVAL_DIRS.stream().map(dir::resolve).filter(Files::isDirectory).findFirst()
                .orElseThrow(() -> new BadInputException("image folder " + dir + " has train/ but no val/ (or test/) beside it"));
        List<String> classes = subdirectories(train);
        if (classes.isEmpty()) {
            throw new BadInputException(train + " holds no class folders (expected " + train + "/CLASS/IMAGE.jpg)");
        }
        for (String c : subdirectories(eval)) {
            if (!classes.contains(c)) {
                throw new BadInputException(eval.resolve(c) + " is not a class of " + train + " (classes are the folders of train/)");
            }
        }
        int n = threads(threads);
        FolderImages t = scan(train, classes, size, n, true);
        FolderImages v = scan(eval, classes, size, n, false);
        if (t.count() == 0) throw new BadInputException(train + " holds no images (" + String.join(", ", EXTENSIONS) + ")");
        if (v.count() == 0) throw new BadInputException(eval + " holds no images (" + String.join(", ", EXTENSIONS) + ")");
        return new DataSplit(t, v, DataSplit.FORMAT_IMAGE_FOLDER);
    }

    private static FolderImages scan(Path split, List<String> classes, int size, int threads, boolean training) {
        List<String> files = new ArrayList<>();
        List<Integer> labels = new ArrayList<>();
        List<String> skipped = new ArrayList<>();
        List<String> empty = new ArrayList<>();
        for (Path p : list(split)) {
            if (!Files.isDirectory(p)) skipped.add(split.relativize(p).toString());
        }
        for (int c = 0; c < classes.size(); c++) {
            Path dir = split.resolve(classes.get(c));
            int before = files.size();
            if (Files.isDirectory(dir)) {
                for (Path f : walk(dir)) {
                    String rel = split.relativize(f).toString();
                    if (isImage(f)) {
                        files.add(rel);
                        labels.add(c);
                    } else {
                        skipped.add(rel);
                    }
                }
            }
            if (training && files.size() == before) empty.add(classes.get(c) + " (" + c + ")");
        }
        if (!skipped.isEmpty()) {
            LOG.warn("{}: skipped {} file(s) that are not {}: {}", split, skipped.size(), String.join(", ", EXTENSIONS), sample(skipped));
        }
        if (!empty.isEmpty()) {
            LOG.warn("{}: {} class folder(s) hold no images; the classes keep their index: {}", split, empty.size(), sample(empty));
        }
        return new FolderImages(split, files.toArray(String[]::new), labels.stream().mapToInt(Integer::intValue).toArray(),
                classes, size, threads, CropPolicy.IMAGENET);
    }

    private static String sample(List<String> names) {
        return names.size() <= 5 ? String.join(", ", names) : String.join(", ", names.subList(0, 5)) + ", ...";
    }

    private static boolean isImage(Path f) {
        String name = f.getFileName().toString().toLowerCase(Locale.ROOT);
        return EXTENSIONS.stream().anyMatch(name::endsWith);
    }

    /** The folders in dir, sorted by name. */
    private static List<String> subdirectories(Path dir) {
        return list(dir).stream().filter(Files::isDirectory).map(p -> p.getFileName().toString()).sorted().toList();
    }

    private static List<Path> list(Path dir) {
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".")).sorted().toList();
        } catch (IOException e) {
            throw new BadInputException("cannot list " + dir + " (" + DataFile.oneLine(e.getMessage()) + ")", e);
        }
    }

    /** Regular files under dir at any depth (following links), hidden ones left out, sorted by path. */
    private static List<Path> walk(Path dir) {
        try (Stream<Path> s = Files.walk(dir, FileVisitOption.FOLLOW_LINKS)) {
            return s.filter(p -> !p.getFileName().toString().startsWith(".") && Files.isRegularFile(p)).sorted().toList();
        } catch (IOException | UncheckedIOException e) {
            throw new BadInputException("cannot list " + dir + " (" + DataFile.oneLine(e.getMessage()) + ")", e);
        }
    }
}
