package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assumptions.assumeTrue;
import static org.wrpn.data.IdxReaderTest.bad;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DataSourceTest {
    @TempDir
    Path dir;

    @Test
    void idxRawAndGz() throws Exception {
        TestFiles.writeIdxSet(dir.resolve("raw"), 6, 3, false);
        TestFiles.writeIdxSet(dir.resolve("gz"), 6, 3, true);
        for (String sub : new String[] {"raw", "gz"}) {
            DataSplit s = DataSource.open(dir.resolve(sub));
            assertEquals(DataSplit.FORMAT_IDX, s.format());
            assertEquals(6, s.train().count());
            assertEquals(3, s.test().count());
            assertEquals(4, s.train().height());
            assertEquals(Augmentation.NONE, ((Dataset) s.train()).augmentation());
        }
        assertEquals(((Dataset) DataSource.open(dir.resolve("raw")).train()).pixel(5, 3, 3, 0),
                ((Dataset) DataSource.open(dir.resolve("gz")).train()).pixel(5, 3, 3, 0));
    }

    @Test
    void cifarInSubfolder() {
        Path sub = dir.resolve(DataSource.CIFAR_SUBDIR);
        for (int i = 1; i <= 5; i++) {
            TestFiles.write(sub.resolve("data_batch_" + i + ".bin"), TestFiles.cifarRecords(new int[] {i}, i));
        }
        TestFiles.write(sub.resolve("test_batch.bin"), TestFiles.cifarRecords(new int[] {0, 9}, 9));
        DataSplit s = DataSource.open(dir);
        assertEquals(DataSplit.FORMAT_CIFAR10, s.format());
        assertEquals(5, s.train().count());
        for (int i = 0; i < 5; i++) assertEquals(i + 1, s.train().label(i)); // batch order 1..5
        assertEquals(2, s.test().count());
        assertEquals(Augmentation.PAD4_CROP_FLIP, ((Dataset) s.train()).augmentation());
        assertEquals(Augmentation.NONE, ((Dataset) s.test()).augmentation());
    }

    @Test
    void cifarBatchesSortedNumerically() {
        for (int i : new int[] {10, 2, 1}) {
            TestFiles.write(dir.resolve("data_batch_" + i + ".bin"), TestFiles.cifarRecords(new int[] {i % 10}, i));
        }
        TestFiles.write(dir.resolve("test_batch.bin"), TestFiles.cifarRecords(new int[] {0}, 9));
        DataSplit s = DataSource.open(dir);
        assertEquals(1, s.train().label(0));
        assertEquals(2, s.train().label(1));
        assertEquals(0, s.train().label(2));
    }

    @Test
    void missingDir() {
        bad(() -> DataSource.open(dir.resolve("absent")), "absent", "does not exist");
    }

    @Test
    void notADir() throws Exception {
        Path f = Files.writeString(dir.resolve("file.txt"), "x");
        bad(() -> DataSource.open(f), "file.txt", "not a directory");
    }

    @Test
    void emptyDir() {
        bad(() -> DataSource.open(dir), "no known dataset", "train-images-idx3-ubyte[.gz]", "t10k-labels-idx1-ubyte[.gz]",
                "data_batch_1..5.bin", "test_batch.bin", "cifar-10-batches-bin");
    }

    @Test
    void incompleteSets() throws Exception {
        TestFiles.writeIdxSet(dir, 2, 2, true);
        Files.delete(dir.resolve("t10k-labels-idx1-ubyte.gz"));
        bad(() -> DataSource.open(dir), "incomplete", "missing t10k-labels-idx1-ubyte[.gz]");

        Path cifar = dir.resolve("cifar");
        TestFiles.write(cifar.resolve("data_batch_1.bin"), TestFiles.cifarRecords(new int[] {1}, 1));
        bad(() -> DataSource.open(cifar), "incomplete CIFAR-10", "missing test_batch.bin");
    }

    @Test
    void badFileInsideDirNamesTheFile() {
        TestFiles.writeIdxSet(dir, 2, 2, false);
        TestFiles.write(dir.resolve("train-labels-idx1-ubyte"), TestFiles.idxLabels(new byte[] {1, 12}));
        bad(() -> DataSource.open(dir), "train-labels-idx1-ubyte", "label 12");
    }

    @Test
    void defaultFashionMnist() {
        assumeTrue(Files.isDirectory(DataSource.DEFAULT_DIR), "Fashion-MNIST not installed");
        DataSplit s = DataSource.open(DataSource.DEFAULT_DIR);
        assertEquals(DataSplit.FORMAT_IDX, s.format());
        assertEquals(60000, s.train().count());
        assertEquals(10000, s.test().count());
        assertEquals(28, s.train().width());
        assertEquals(1, s.train().channels());
    }
}
