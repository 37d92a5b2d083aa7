package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.wrpn.data.BatchLoader.Batch;

/** A data-parallel rank's share of an epoch: the single-process global batch, split in rank order. */
class ShardedBatchLoaderTest {
    /** Real augmentation (pad, crop, flip) on 4x4 images, so rendering keyed by the wrong position shows. */
    private static Dataset images(int n) {
        byte[] px = new byte[n * 16];
        for (int i = 0; i < px.length; i++) px[i] = (byte) (i * 37 + i / 16);
        return new Dataset(n, 4, 4, 1, 10, px, TestFiles.labels(n, n));
    }

    @Test
    void theRanksSharesOfEachGlobalBatchAreTheSingleProcessBatchInRankOrder() {
        Dataset d = images(203);
        Normalization norm = Normalization.fit(d);
        int batch = 8;
        for (int ranks : new int[] {2, 3}) {
            for (int epoch = 0; epoch < 2; epoch++) {
                List<Batch> global = BatchLoaderTest.all(new BatchLoader(d.samples(norm, true), batch * ranks, true, 9, epoch, true, 1));
                Batch[][] shares = new Batch[ranks][];
                for (int r = 0; r < ranks; r++) {
                    shares[r] = BatchLoaderTest.all(new BatchLoader(d.samples(norm, true), batch, true, 9, epoch, true, 2, r, ranks))
                            .toArray(Batch[]::new);
                    assertEquals(global.size(), shares[r].length, "rank " + r + " has a share of every global batch");
                }
                for (int g = 0; g < global.size(); g++) {
                    Batch whole = global.get(g);
                    for (int r = 0; r < ranks; r++) {
                        Batch s = shares[r][g];
                        assertEquals(batch, s.size());
                        assertArrayEquals(Arrays.copyOfRange(whole.labels(), r * batch, (r + 1) * batch), s.labels());
                        assertArrayEquals(Arrays.copyOfRange(whole.images(), r * batch * 16, (r + 1) * batch * 16), s.images(),
                                "ranks " + ranks + " epoch " + epoch + " batch " + g + " rank " + r);
                    }
                }
            }
        }
    }

    @Test
    void aShareDropsTheLastIncompleteGlobalBatchAndResumesMidEpoch() {
        Dataset d = images(100);
        Normalization norm = Normalization.fit(d);
        BatchLoader l = new BatchLoader(d.samples(norm, true), 8, true, 3, 0, true, 1, 1, 3);
        assertEquals(4, l.batchesPerEpoch(), "100 images, global batches of 24: 4");
        List<Batch> all = BatchLoaderTest.all(new BatchLoader(d.samples(norm, true), 8, true, 3, 0, true, 1, 1, 3));
        BatchLoader late = new BatchLoader(d.samples(norm, true), 8, true, 3, 0, true, 1, 1, 3);
        late.startAt(2);
        List<Batch> rest = BatchLoaderTest.all(late);
        BatchLoaderTest.assertSameBatches(all.subList(2, 4), rest);
        assertThrows(IllegalArgumentException.class, () -> new BatchLoader(d.samples(norm, true), 8, true, 3, 0, false, 1, 0, 2));
        assertThrows(IllegalArgumentException.class, () -> new BatchLoader(d.samples(norm, true), 8, true, 3, 0, true, 1, 2, 2));
    }
}
