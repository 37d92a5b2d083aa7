package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.NoSuchElementException;
import org.junit.jupiter.api.Test;
import org.wrpn.BadInputException;
import org.wrpn.data.BatchLoader.Batch;

class BatchLoaderTest {
    /** Normalization that maps byte v to v/255 (decode with round(x*255)). */
    static final Normalization UNIT2 = new Normalization(new float[] {0, 0}, new float[] {1, 1});

    /** n images of 1x1x2 whose pixels encode their index: (i % 256, i / 256). */
    static Dataset indexed(int n) {
        byte[] px = new byte[n * 2];
        for (int i = 0; i < n; i++) {
            px[2 * i] = (byte) (i % 256);
            px[2 * i + 1] = (byte) (i / 256);
        }
        return new Dataset(n, 1, 1, 2, 10, px, TestFiles.labels(n, n));
    }

    static int decode(Batch b, int i) {
        return Math.round(b.images()[2 * i] * 255) + 256 * Math.round(b.images()[2 * i + 1] * 255);
    }

    static List<Batch> all(BatchLoader loader) {
        List<Batch> out = new ArrayList<>();
        try (loader) {
            while (loader.hasNext()) out.add(loader.next());
        }
        return out;
    }

    static void assertSameBatches(List<Batch> a, List<Batch> b) {
        assertEquals(a.size(), b.size());
        for (int i = 0; i < a.size(); i++) {
            assertEquals(a.get(i).index(), b.get(i).index());
            assertEquals(a.get(i).size(), b.get(i).size());
            assertArrayEquals(a.get(i).labels(), b.get(i).labels());
            assertArrayEquals(a.get(i).images(), b.get(i).images());
        }
    }

    static BatchLoader loader(Dataset d, int batch, boolean shuffle, boolean augment, long seed, int epoch, boolean drop) {
        Normalization norm = d.channels() == 2 ? UNIT2 : Normalization.fit(d);
        return new BatchLoader(d, norm, batch, shuffle, augment, seed, epoch, drop);
    }

    @Test
    void everySampleOncePerEpoch() {
        Dataset d = indexed(1000);
        BatchLoader l = loader(d, 64, true, false, 5, 0, false);
        assertEquals(16, l.batchesPerEpoch());
        List<Batch> batches = all(l);
        assertEquals(16, batches.size());
        assertEquals(1000 - 15 * 64, batches.get(15).size());
        assertEquals(40 * 2, batches.get(15).images().length);
        boolean[] seen = new boolean[1000];
        int position = 0;
        boolean inOrder = true;
        for (Batch b : batches) {
            for (int i = 0; i < b.size(); i++, position++) {
                int id = decode(b, i);
                assertFalse(seen[id], "sample " + id + " twice");
                seen[id] = true;
                assertEquals(d.label(id), b.labels()[i]);
                inOrder &= id == position;
            }
        }
        assertEquals(1000, position);
        assertFalse(inOrder, "shuffled");
    }

    @Test
    void unshuffledKeepsOrder() {
        List<Batch> batches = all(loader(indexed(10), 4, false, false, 5, 0, false));
        int position = 0;
        for (Batch b : batches) {
            for (int i = 0; i < b.size(); i++) assertEquals(position++, decode(b, i));
        }
    }

    @Test
    void dropLast() {
        BatchLoader l = loader(indexed(1000), 64, true, false, 5, 0, true);
        assertEquals(15, l.batchesPerEpoch());
        for (Batch b : all(l)) assertEquals(64, b.size());
    }

    @Test
    void sameSeedAndEpochSameBatches() {
        Dataset d = indexed(500);
        assertSameBatches(all(loader(d, 32, true, false, 9, 4, false)), all(loader(d, 32, true, false, 9, 4, false)));
    }

    @Test
    void otherEpochOrSeedOtherOrder() {
        Dataset d = indexed(500);
        int[] e0 = order(all(loader(d, 32, true, false, 9, 0, false)));
        int[] e1 = order(all(loader(d, 32, true, false, 9, 1, false)));
        int[] s2 = order(all(loader(d, 32, true, false, 10, 0, false)));
        assertFalse(Arrays.equals(e0, e1));
        assertFalse(Arrays.equals(e0, s2));
        int[] sorted = e1.clone();
        Arrays.sort(sorted);
        assertArrayEquals(order(all(loader(d, 32, false, false, 9, 0, false))), sorted);
    }

    static int[] order(List<Batch> batches) {
        return batches.stream().flatMapToInt(b -> java.util.stream.IntStream.range(0, b.size()).map(i -> decode(b, i)))
                .toArray();
    }

    @Test
    void startAtResumesMidEpoch() {
        Dataset d = NormalizationTest.skewed(300, 3, 2);
        List<Batch> full = all(loader(d, 32, true, true, 77, 3, false));
        for (int k : new int[] {0, 1, 5, 9, 10}) {
            BatchLoader resumed = loader(d, 32, true, true, 77, 3, false);
            resumed.startAt(k);
            assertEquals(k, resumed.nextIndex());
            assertSameBatches(full.subList(k, full.size()), all(resumed));
        }
    }

    @Test
    void startAtAfterIterationBegan() {
        Dataset d = indexed(200);
        List<Batch> full = all(loader(d, 16, true, false, 1, 0, false));
        try (BatchLoader l = loader(d, 16, true, false, 1, 0, false)) {
            l.next();
            l.next();
            l.startAt(7);
            List<Batch> rest = new ArrayList<>();
            while (l.hasNext()) rest.add(l.next());
            assertSameBatches(full.subList(7, full.size()), rest);
            l.startAt(0);
            assertArrayEquals(full.get(0).images(), l.next().images());
        }
    }

    @Test
    void prefetchMatchesDirectBuild() {
        Dataset d = NormalizationTest.skewed(100, 3, 3);
        List<Batch> prefetched = all(loader(d, 16, true, true, 4, 2, false));
        BatchLoader direct = loader(d, 16, true, true, 4, 2, false);
        List<Batch> built = new ArrayList<>();
        for (int i = 0; i < direct.batchesPerEpoch(); i++) built.add(direct.batch(i));
        assertSameBatches(prefetched, built);
    }

    @Test
    void augmentationDeterministicAndChangesImages() {
        Dataset d = cifarLike(64);
        Normalization norm = Normalization.fit(d);
        List<Batch> a = all(new BatchLoader(d, norm, 16, true, true, 123, 0, false));
        List<Batch> b = all(new BatchLoader(d, norm, 16, true, true, 123, 0, false));
        List<Batch> plain = all(new BatchLoader(d, norm, 16, true, false, 123, 0, false));
        List<Batch> otherEpoch = all(new BatchLoader(d, norm, 16, true, true, 123, 1, false));
        assertSameBatches(a, b);
        int size = d.imageSize();
        int changed = 0;
        for (int k = 0; k < a.size(); k++) {
            assertArrayEquals(a.get(k).labels(), plain.get(k).labels()); // same order with and without
            for (int i = 0; i < a.get(k).size(); i++) {
                float[] x = Arrays.copyOfRange(a.get(k).images(), i * size, (i + 1) * size);
                float[] y = Arrays.copyOfRange(plain.get(k).images(), i * size, (i + 1) * size);
                if (!Arrays.equals(x, y)) changed++;
            }
        }
        assertTrue(changed > 48, "augmented images changed: " + changed + " of 64"); // identity has p = 1/162
        assertFalse(Arrays.equals(a.get(0).images(), otherEpoch.get(0).images()));
        // the placement used is the one Augmentation.sample gives for (seed, epoch, position)
        BatchLoader l = new BatchLoader(d, norm, 16, true, true, 123, 0, false);
        int position = 21;
        float[] expected = new float[size];
        Augmentation.render(d.pixels(), l.sampleAt(position) * size, 32, 32, 3, norm.lookupTable(),
                Augmentation.PAD4_CROP_FLIP.sample(123, 0, position), expected, 0);
        assertArrayEquals(expected, Arrays.copyOfRange(a.get(1).images(), 5 * size, 6 * size));
    }

    static Dataset cifarLike(int n) {
        return new Dataset(n, 32, 32, 3, 10, TestFiles.randomBytes(n * 3072, n), TestFiles.labels(n, n));
    }

    @Test
    void workerErrorReachesConsumer() {
        BatchLoader l = loader(indexed(100), 10, true, false, 1, 0, false);
        BadInputException boom = new BadInputException("disk went away");
        l.beforeBatch = b -> {
            if (b == 2) throw boom;
        };
        assertEquals(0, l.next().index());
        Thread worker = l.worker();
        assertEquals(1, l.next().index());
        assertSame(boom, assertThrows(BadInputException.class, l::next));
        assertFalse(l.hasNext());
        assertFalse(worker.isAlive());
    }

    @Test
    void closeStopsTheThread() throws Exception {
        BatchLoader l = loader(cifarLike(64), 4, true, true, 1, 0, false);
        l.next();
        Thread worker = l.worker();
        assertTrue(worker.isAlive() && worker.isDaemon());
        l.close();
        assertFalse(worker.isAlive());
        assertFalse(l.hasNext());
        assertThrows(IllegalStateException.class, l::next);
        l.close(); // idempotent
    }

    @Test
    void endOfEpoch() {
        BatchLoader l = loader(indexed(5), 5, false, false, 1, 0, false);
        all(l);
        BatchLoader m = loader(indexed(5), 5, false, false, 1, 0, false);
        m.next();
        assertFalse(m.hasNext());
        assertThrows(NoSuchElementException.class, m::next);
        m.close();
    }

    @Test
    void argumentChecks() {
        Dataset d = indexed(5);
        assertThrows(IllegalArgumentException.class, () -> new BatchLoader(d, UNIT2, 0, false, false, 1, 0, false));
        Normalization one = new Normalization(new float[] {0}, new float[] {1});
        assertTrue(assertThrows(BadInputException.class, () -> new BatchLoader(d, one, 2, false, false, 1, 0, false))
                .getMessage().contains("1 channels but the data has 2"));
        BatchLoader l = new BatchLoader(d, UNIT2, 2, false, false, 1, 0, false);
        assertThrows(IndexOutOfBoundsException.class, () -> l.startAt(4));
        assertNotEquals(0, l.batchesPerEpoch());
    }
}
