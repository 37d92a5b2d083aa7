package org.wrpn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.quant.PackedLayout;
import org.wrpn.tensor.Shape;

/** The bench suites' bookkeeping: shapes taken from the real layer code, bytes from the packed layout, tables. No timing checks. */
class BenchSuitesTest {

    @Test
    void probeFindsThePackSitesOfLenet() {
        ShapeProbe.Shapes s = ShapeProbe.probe("lenet", 1, 2);
        // act1 and act2 (the pools pool their codes as codes, maxPoolPacked, so they pack nothing); act3 feeds
        // the full-precision last layer, so it is a ReLU.
        assertEquals(List.of(Shape.nhwc(2, 28, 28, 16), Shape.nhwc(2, 14, 14, 32)),
                s.packSites().stream().map(ShapeProbe.Site::shape).toList());
        assertEquals(List.of(true, true), s.packSites().stream().map(ShapeProbe.Site::mask).toList());
        assertEquals(2, s.convs().size());
        assertEquals(1, s.codeConvs().size(), "conv2 reads act1's codes (after the pool); conv1 reads the image");
    }

    @Test
    void probeCountsRepeatedShapesOfResnet20() {
        ShapeProbe.Shapes s = ShapeProbe.probe("resnet20", 2, 1);
        assertEquals(List.of(Shape.nhwc(1, 32, 32, 32), Shape.nhwc(1, 16, 16, 64), Shape.nhwc(1, 8, 8, 128)),
                s.packSites().stream().map(ShapeProbe.Site::shape).toList());
        // stem + 3 blocks x 2 activations; 3 blocks x 2; 3 x 2 less the last block's (it feeds the fc).
        assertEquals(List.of(7, 6, 5), s.packSites().stream().map(ShapeProbe.Site::count).toList());
    }

    @Test
    void bytesMovedFollowThePackedLayoutAtRaggedChannelCounts() {
        Shape s = Shape.nhwc(3, 5, 5, 40); // 75 pixels; 40 channels are 5 words at k = 4, 2 mask words
        long e = 3000;
        assertEquals(4 * e + 75 * 5 * 4 + 75 * 2 * 4, KernelBench.quantizePackBytes(s, 4, true));
        assertEquals(4 * e + 75 * 5 * 4, KernelBench.quantizePackBytes(s, 4, false));
        assertEquals(75L * PackedLayout.wordsPerPixel(40, 1) * 4 + 4 * e, KernelBench.unpackBytes(s, 1));
        assertEquals(8 * e, KernelBench.copyBytes(e));
    }

    @Test
    void networkRowsWeightEachShapeByItsUseCount() {
        Map<String, Object> a = Map.of("op", "copy_f32", "bits", 32, "sites", 2, "bytes_moved", 100L, "median_s", 1.0, "min_s", 1.0,
                "elements", 10L, "repeats", 3);
        Map<String, Object> b = Map.of("op", "copy_f32", "bits", 32, "sites", 1, "bytes_moved", 300L, "median_s", 2.0, "min_s", 1.5,
                "elements", 30L, "repeats", 3);
        Map<String, Object> all = KernelBench.networkRows(List.of(a, b), "m", 1, 1).get(0);
        assertEquals(500L, all.get("bytes_moved"));
        assertEquals(4.0, (Double) all.get("median_s"), 1e-12);
        assertEquals(500 / 4.0 / 1e9, (Double) all.get("gbps"), 1e-18);
        assertEquals(100.0, (Double) all.get("pct_of_copy"), 1e-9);
        assertEquals(3, all.get("sites"));
    }

    @Test
    void networkRowsCompareAnOpWithTheCopyTimedInTurnsWithIt() {
        // two sites of 10 elements (copy 80 bytes each): the op takes 2 s a site, its paired copies 1 and 3 s
        Map<String, Object> a = Map.of("op", "unpack", "bits", 4, "sites", 1, "bytes_moved", 45L, "median_s", 2.0, "min_s", 2.0,
                "elements", 10L, "repeats", 3, "copy_median_s", 1.0);
        Map<String, Object> b = Map.of("op", "unpack", "bits", 4, "sites", 1, "bytes_moved", 45L, "median_s", 2.0, "min_s", 2.0,
                "elements", 10L, "repeats", 3, "copy_median_s", 3.0);
        Map<String, Object> all = KernelBench.networkRows(List.of(a, b), "m", 1, 1).get(0);
        assertEquals((90 / 4.0) / (160 / 4.0) * 100, (Double) all.get("pct_of_copy"), 1e-9);
    }

    @Test
    void tablesRoundTripThroughJsonAndQuoteCsvCells(@TempDir Path dir) throws Exception {
        BenchTable t = new BenchTable("train", Map.of("cpu", "Some CPU, 2 cores", "commit", "abc"), Map.of("batch", 2));
        t.row().putAll(Map.of("model", "lenet", "step_s", 0.000123456789));
        t.notes.add("a note");
        t.write(dir, "x");
        String csv = Files.readString(dir.resolve("x.csv"));
        assertTrue(csv.contains("\"Some CPU, 2 cores\""), csv);
        assertTrue(csv.contains("0.000123457"), csv);
        BenchTable back = BenchTable.read(dir.resolve("x.json"));
        assertEquals("train", back.suite);
        assertEquals("lenet", back.rows.get(0).get("model"));
        assertEquals(List.of("a note"), back.notes);
        assertFalse(back.machine.isEmpty());
    }
}
