package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.BadInputException;
import org.wrpn.bench.SyntheticImages;
import org.wrpn.data.BatchLoader.Batch;
import org.wrpn.data.decode.ImageHeader;
import org.wrpn.data.decode.Region;

/** The image-folder layout: class mapping, seeded augmentation, evaluation crops. */
class ImageFolderTest {
    @TempDir
    Path dir;

    static Path jpeg(Path file, int w, int h, long seed) {
        return SyntheticImages.writeJpeg(SyntheticImages.photo(w, h, seed), 0.9f, file);
    }

    /** classes x perClass train images and one val image per class, of w x h. */
    static DataSplit folder(Path dir, int classes, int perClass, int w, int h, int threads) {
        for (int c = 0; c < classes; c++) {
            for (int i = 0; i < perClass; i++) jpeg(dir.resolve("train/k" + c + "/" + i + ".jpg"), w, h, 10L * c + i);
            jpeg(dir.resolve("val/k" + c + "/v.jpg"), w, h, 1000L + c);
        }
        return DataSource.open(dir, 32, threads);
    }

    static List<Batch> all(ImageSet data, boolean training, long seed, int epoch, int threads, Normalization n) {
        return BatchLoaderTest.all(new BatchLoader(data.samples(n, training), 4, true, seed, epoch, false, threads));
    }

    @Test
    void classesAreTheTrainFoldersSortedByName() throws Exception {
        for (String c : List.of("zebra", "ant", "Mole")) {
            jpeg(dir.resolve("train/" + c + "/a.jpg"), 40, 30, c.hashCode());
            jpeg(dir.resolve("train/" + c + "/deeper/b.JPEG"), 30, 40, c.hashCode() + 1);
        }
        SyntheticImages.writePng(SyntheticImages.photo(20, 20, 9), dir.resolve("train/ant/c.png"));
        Files.writeString(dir.resolve("train/ant/notes.txt"), "not an image");
        Files.writeString(dir.resolve("train/README"), "not a class");
        jpeg(dir.resolve("val/zebra/x.jpg"), 40, 30, 5);
        jpeg(dir.resolve("val/ant/y.jpg"), 40, 30, 6);
        DataSplit s = DataSource.open(dir, 48, 2);
        assertEquals(DataSplit.FORMAT_IMAGE_FOLDER, s.format());
        FolderImages train = (FolderImages) s.train();
        assertEquals(List.of("Mole", "ant", "zebra"), train.classNames());
        assertEquals(7, train.count());
        for (int i = 0; i < train.count(); i++) {
            Path rel = dir.resolve("train").relativize(train.file(i));
            assertEquals(rel.getName(0).toString(), train.classNames().get(train.label(i)), rel.toString());
        }
        assertEquals(3, s.test().classes()); // val lacks Mole: same classes, same indices
        assertEquals(2, s.test().count());
        assertEquals(1, s.test().label(0)); // ant
        assertEquals(2, s.test().label(1)); // zebra
        assertEquals(48, train.height());
        assertEquals(3, train.channels());
    }

    @Test
    void anEmptyClassFolderKeepsItsIndex() {
        jpeg(dir.resolve("train/a/1.jpg"), 20, 20, 1);
        jpeg(dir.resolve("train/c/1.jpg"), 20, 20, 2);
        dir.resolve("train/b").toFile().mkdirs();
        jpeg(dir.resolve("val/c/1.jpg"), 20, 20, 3);
        DataSplit s = DataSource.open(dir, 16, 1);
        assertEquals(List.of("a", "b", "c"), s.train().classNames());
        assertEquals(2, s.train().label(1));
        assertEquals(2, s.test().label(0));
    }

    @Test
    void layoutProblemsAreOneLineNamingTheFolder() {
        jpeg(dir.resolve("train/a/1.jpg"), 20, 20, 1);
        assertOneLine(() -> DataSource.open(dir, 16, 1), "has train/ but no val/");
        jpeg(dir.resolve("val/okapi/1.jpg"), 20, 20, 2);
        assertOneLine(() -> DataSource.open(dir, 16, 1), "val/okapi is not a class of");
        assertOneLine(() -> DataSource.open(dir, 4, 1), "--image-size must be between 8 and 4096");
    }

    static void assertOneLine(org.junit.jupiter.api.function.Executable e, String fragment) {
        String m = assertThrows(BadInputException.class, e).getMessage();
        assertFalse(m.contains("\n"), m);
        assertTrue(m.contains(fragment), m);
    }

    @Test
    void augmentationIsSeededAndIndependentOfTheThreads() {
        ImageSet train = folder(dir, 2, 6, 80, 60, 1).train();
        Normalization n = train.fitNormalization();
        List<Batch> one = all(train, true, 7, 0, 1, n);
        BatchLoaderTest.assertSameBatches(one, all(train, true, 7, 0, 3, n));
        assertFalse(java.util.Arrays.equals(one.get(0).images(), all(train, true, 7, 1, 2, n).get(0).images()));
        assertFalse(java.util.Arrays.equals(one.get(0).images(), all(train, true, 8, 0, 2, n).get(0).images()));
        // evaluation: the same centre crop whatever the seed and epoch, not the training crops
        List<Batch> eval = all(train, false, 7, 0, 2, n);
        BatchLoaderTest.assertSameBatches(eval, BatchLoaderTest.all(new BatchLoader(train.samples(n, false), 4, true, 7, 0, false, 1)));
        assertFalse(java.util.Arrays.equals(one.get(0).images(), eval.get(0).images()));
        // resuming mid-epoch gives the uninterrupted run's batches
        BatchLoader resumed = new BatchLoader(train.samples(n, true), 4, true, 7, 0, false, 2);
        resumed.startAt(1);
        BatchLoaderTest.assertSameBatches(one.subList(1, one.size()), BatchLoaderTest.all(resumed));
    }

    @Test
    void normalizationIsFittedOnTheImages() {
        ImageSet train = folder(dir, 2, 3, 40, 40, 2).train();
        Normalization n = train.fitNormalization();
        assertEquals(n, train.fitNormalization());
        for (int c = 0; c < 3; c++) {
            assertTrue(n.mean()[c] > 0.1 && n.mean()[c] < 0.9, "mean " + n.mean()[c]);
            assertTrue(n.std()[c] > 0.02 && n.std()[c] < 0.5, "std " + n.std()[c]);
        }
        // normalized by it, the evaluation images have mean about 0 per channel
        float[] x = all(train, false, 1, 0, 1, n).get(0).images();
        double mean = 0;
        for (float v : x) mean += v;
        assertEquals(0, mean / x.length, 0.25);
    }

    @Test
    void cropsFollowTheRecipe() {
        SplittableRandom rng = new SplittableRandom(3);
        CropPolicy p = CropPolicy.IMAGENET;
        for (int t = 0; t < 1000; t++) {
            Region r = p.random(500, 375, rng);
            assertTrue(r.x() + r.width() <= 500 && r.y() + r.height() <= 375, r.toString());
            double area = r.width() * (double) r.height() / (500 * 375);
            double ratio = r.width() / (double) r.height();
            assertTrue(area >= 0.075 && area <= 1.0, "area " + area);
            assertTrue(ratio >= 0.74 && ratio <= 1.35, "ratio " + ratio);
        }
        assertEquals(new Region(86, 24, 328, 328), p.centre(500, 375)); // 375 * 0.875 = 328, centred
        Region tall = p.random(10, 1000, new SplittableRandom(1)); // no try fits: ratio clamped, centred
        assertEquals(10, tall.width());
        assertEquals(13, tall.height());
        ImageHeader jpeg = new ImageHeader(ImageHeader.Format.JPEG, 2000, 2000);
        assertEquals(4, CropPolicy.reduction(jpeg, new Region(0, 0, 1000, 900), 224));
        assertEquals(1, CropPolicy.reduction(jpeg, new Region(0, 0, 400, 300), 224));
        assertEquals(1, CropPolicy.reduction(new ImageHeader(ImageHeader.Format.PNG, 2000, 2000), new Region(0, 0, 2000, 2000), 224));
    }
}
