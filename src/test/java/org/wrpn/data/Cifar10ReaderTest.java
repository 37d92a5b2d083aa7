package org.wrpn.data;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.wrpn.data.IdxReaderTest.bad;

import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class Cifar10ReaderTest {
    @TempDir
    Path dir;

    @Test
    void planesBecomeChannelsLast() {
        byte[] records = TestFiles.cifarRecords(new int[] {3, 9}, 11);
        Path f = TestFiles.write(dir.resolve("test_batch.bin"), records);
        Dataset d = Cifar10Reader.read(List.of(f));
        assertEquals(2, d.count());
        assertEquals(32, d.height());
        assertEquals(32, d.width());
        assertEquals(3, d.channels());
        assertEquals(3, d.label(0));
        assertEquals(9, d.label(1));
        int[][] checks = {{0, 0, 0}, {0, 0, 31}, {0, 5, 7}, {1, 31, 31}, {1, 17, 2}, {1, 0, 0}};
        for (int[] k : checks) {
            int n = k[0], y = k[1], x = k[2];
            for (int c = 0; c < 3; c++) {
                int expected = records[n * 3073 + 1 + c * 1024 + y * 32 + x] & 0xFF;
                assertEquals(expected, d.pixel(n, y, x, c), "image " + n + " y " + y + " x " + x + " c " + c);
                assertEquals(expected, d.pixels()[((n * 32 + y) * 32 + x) * 3 + c] & 0xFF);
            }
        }
    }

    @Test
    void handBuiltPlanes() {
        byte[] rec = new byte[3073];
        rec[0] = 5;
        rec[1 + 0 * 1024 + 33] = 10; // R at (1, 1)
        rec[1 + 1 * 1024 + 33] = 20; // G at (1, 1)
        rec[1 + 2 * 1024 + 33] = (byte) 200; // B at (1, 1)
        rec[1 + 2 * 1024 + 1023] = 7; // B at (31, 31)
        Dataset d = Cifar10Reader.read(List.of(TestFiles.write(dir.resolve("b.bin"), rec)));
        assertEquals(10, d.pixel(0, 1, 1, 0));
        assertEquals(20, d.pixel(0, 1, 1, 1));
        assertEquals(200, d.pixel(0, 1, 1, 2));
        assertEquals(7, d.pixel(0, 31, 31, 2));
        assertEquals(0, d.pixel(0, 31, 31, 0));
        assertEquals(5, d.label(0));
    }

    @Test
    void severalFilesConcatenate() {
        Path a = TestFiles.write(dir.resolve("data_batch_1.bin"), TestFiles.cifarRecords(new int[] {1, 2}, 1));
        Path b = TestFiles.write(dir.resolve("data_batch_2.bin"), TestFiles.cifarRecords(new int[] {7}, 2));
        Dataset d = Cifar10Reader.read(List.of(a, b));
        assertEquals(3, d.count());
        assertEquals(7, d.label(2));
    }

    @Test
    void badLength() {
        byte[] records = TestFiles.cifarRecords(new int[] {1, 2}, 1);
        Path f = TestFiles.write(dir.resolve("test_batch.bin"), Arrays.copyOf(records, records.length - 1));
        bad(() -> Cifar10Reader.read(List.of(f)), f.toString(), "length 6145", "multiple of 3073");
        Path empty = TestFiles.write(dir.resolve("empty.bin"), new byte[0]);
        bad(() -> Cifar10Reader.read(List.of(empty)), "length 0");
    }

    @Test
    void labelOutOfRange() {
        Path f = TestFiles.write(dir.resolve("test_batch.bin"), TestFiles.cifarRecords(new int[] {1, 10}, 1));
        bad(() -> Cifar10Reader.read(List.of(f)), "record 1", "label 10", "out of range 0..9");
    }

    @Test
    void missingFiles() {
        TestFiles.write(dir.resolve("data_batch_1.bin"), TestFiles.cifarRecords(new int[] {1}, 1));
        bad(() -> Cifar10Reader.readTrain(dir), "data_batch_2.bin", "not found");
        bad(() -> Cifar10Reader.readTest(dir), "test_batch.bin", "not found");
    }
}
