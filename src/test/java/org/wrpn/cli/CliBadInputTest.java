package org.wrpn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.OutputStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.zip.GZIPOutputStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/** Every bad input ends in one line on stderr starting with "error:", exit code 2, no stack trace. */
class CliBadInputTest {
    record Outcome(int code, String err) {}

    static Outcome run(String... args) {
        StringWriter sw = new StringWriter();
        int code = Main.run(new PrintWriter(sw, true), args);
        return new Outcome(code, sw.toString());
    }

    static void assertBadInput(Outcome o, String expectedFragment) {
        assertEquals(2, o.code(), "exit code; stderr was: " + o.err());
        String err = o.err().strip();
        assertFalse(err.contains("\n"), "one line only, got: " + err);
        assertTrue(err.startsWith("error: "), err);
        assertFalse(err.contains("Exception") || err.contains("\tat "), "no stack trace or exception name: " + err);
        assertTrue(err.toLowerCase().contains(expectedFragment.toLowerCase()), "'" + expectedFragment + "' in: " + err);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--wbits 3|--wbits must be one of",
        "--abits 5|--abits must be one of",
        "--width 0|--width must be a positive",
        "--width -1|--width must be a positive",
        "--width abc|--width",
        "--model vgg|unknown model 'vgg'",
        "--batch 0|--batch must be",
        "--epochs 0|--epochs must be positive",
        "--lr -1|--lr must be positive",
        "--schedule linear|--schedule must be",
        "--device tpu|--device must be",
        "--layer-bits conv9=4/4|unknown layer 'conv9'",
        "--layer-bits conv2=3/4|bits must be one of",
        "--layer-bits conv2|not LAYER=WBITS/ABITS",
        "--layer-bits conv1=8/8|first layer reads the image",
        "--no-such-flag|unknown option",
        "--data /nonexistent/wrpn-data|does not exist",
    })
    void invalidTrainFlags(String flags, String fragment) {
        assertBadInput(run(("train --no-progress --out /tmp/wrpn-cli-test " + flags).split(" ")), fragment);
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--input 3x32|--input must be CxHxW",
        "--input 3xAx32|--input must be CxHxW",
        "--budget lots|--budget must be a positive size",
        "--budget -5G|--budget must be a positive size",
        "--save int4|--save must be fp32 or packed",
        "--model vgg|unknown model",
        "--wbits 7|--wbits must be one of",
        "--batch 0|--batch must be positive",
        "--device tpu|plan --device must be cpu or cuda",
    })
    void invalidPlanFlags(String flags, String fragment) {
        assertBadInput(run(("plan " + flags).split(" ")), fragment);
    }

    @Test
    void planPrintsJsonWithTheLargestBatch() {
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(bo, true));
        try {
            assertEquals(0, run("plan", "--model", "resnet20", "--width", "2", "--wbits", "2", "--abits", "2", "--save",
                    "packed", "--input", "3x32x32", "--batch", "32", "--budget", "256M", "--json").code());
        } finally {
            System.setOut(old);
        }
        String out = bo.toString();
        assertTrue(out.contains("\"saved_activations_bytes\"") && out.contains("\"largest_batch\""), out);
    }

    @Test
    void planTakesTheModelsOwnImageShapeAndSaysWhenNothingFits() {
        java.io.ByteArrayOutputStream bo = new java.io.ByteArrayOutputStream();
        java.io.PrintStream old = System.out;
        System.setOut(new java.io.PrintStream(bo, true));
        Outcome none;
        try {
            assertEquals(0, run("plan", "--model", "resnet20", "--json").code());
            assertEquals(0, run("plan", "--model", "lenet", "--json").code());
            none = run("plan", "--model", "resnet20", "--budget", "1M");
        } finally {
            System.setOut(old);
        }
        String out = bo.toString();
        assertTrue(out.contains("\"input\":\"3x32x32\"") && out.contains("\"input\":\"1x28x28\""), out);
        assertEquals(3, none.code(), none.err());
        assertTrue(none.err().strip().startsWith("error: out of memory: nothing fits within 1.00 MiB")
                && !none.err().strip().contains("\n"), none.err());
        assertFalse(out.contains("largest batch within"), out);
    }

    @Test
    void missingDataFilesNameWhatIsMissing(@TempDir Path dir) {
        assertBadInput(run("train", "--data", dir.toString(), "--out", dir.resolve("o").toString()), "train-images");
    }

    @Test
    void truncatedDataFileIsNamed(@TempDir Path dir) throws IOException {
        writeIdx(dir, 10, 10, 28);
        byte[] images = Files.readAllBytes(dir.resolve("train-images-idx3-ubyte"));
        Files.write(dir.resolve("train-images-idx3-ubyte"), java.util.Arrays.copyOf(images, images.length / 2));
        assertBadInput(run("train", "--data", dir.toString(), "--out", dir.resolve("o").toString()), "train-images-idx3-ubyte");
    }

    @Test
    void wrongMagicNumberIsReported(@TempDir Path dir) throws IOException {
        writeIdx(dir, 10, 10, 28);
        byte[] images = Files.readAllBytes(dir.resolve("t10k-images-idx3-ubyte"));
        images[3] = 0x01;
        Files.write(dir.resolve("t10k-images-idx3-ubyte"), images);
        assertBadInput(run("train", "--data", dir.toString(), "--out", dir.resolve("o").toString()), "magic");
    }

    @Test
    void labelOutOfRangeIsReported(@TempDir Path dir) throws IOException {
        writeIdx(dir, 10, 10, 28);
        byte[] labels = Files.readAllBytes(dir.resolve("train-labels-idx1-ubyte"));
        labels[8 + 3] = 12;
        Files.write(dir.resolve("train-labels-idx1-ubyte"), labels);
        assertBadInput(run("train", "--data", dir.toString(), "--out", dir.resolve("o").toString()), "label");
    }

    @Test
    void corruptGzipIsReported(@TempDir Path dir) throws IOException {
        writeIdx(dir, 10, 10, 28);
        Files.write(dir.resolve("train-labels-idx1-ubyte"), new byte[] {0x1f, (byte) 0x8b, 8, 0, 1, 2, 3, 4, 5, 6, 7});
        assertBadInput(run("train", "--data", dir.toString(), "--out", dir.resolve("o").toString()), "gzip");
    }

    @Test
    void imagesTooSmallForTheModelAreRefused(@TempDir Path dir) throws IOException {
        writeIdx(dir, 64, 16, 6);
        assertBadInput(run("train", "--data", dir.toString(), "--batch", "8", "--out", dir.resolve("o").toString()), "at least");
        Path tiny = dir.resolve("tiny");
        Files.createDirectories(tiny);
        writeIdx(tiny, 64, 16, 3);
        assertBadInput(run("train", "--model", "resnet20", "--data", tiny.toString(), "--batch", "8", "--out",
                dir.resolve("o").toString()), "too small");
    }

    @Test
    void checkpointProblemsAreRefused(@TempDir Path dir) throws IOException {
        assertBadInput(run("eval", "--checkpoint", dir.resolve("missing.json").toString()), "does not exist");
        Path bad = dir.resolve("ckpt-bad.json");
        Files.writeString(bad, "{ this is not json");
        assertBadInput(run("eval", "--checkpoint", bad.toString()), "not valid JSON");
        Files.writeString(bad, "{\"format\": \"something-else\"}");
        assertBadInput(run("eval", "--checkpoint", bad.toString()), "not a wrpn checkpoint");
        assertBadInput(run("eval", "--checkpoint", dir.toString()), "no checkpoint");
    }

    @Test
    void checkpointForOtherImageSizesIsRefused(@TempDir Path dir) throws IOException {
        Path small = dir.resolve("small");
        Files.createDirectories(small);
        writeIdx(small, 64, 16, 12);
        Path out = dir.resolve("run");
        assertEquals(0, run("train", "--data", small.toString(), "--batch", "16", "--width", "0.5", "--no-progress", "--out",
                out.toString()).code());
        Path other = dir.resolve("other");
        Files.createDirectories(other);
        writeIdx(other, 16, 16, 28);
        assertBadInput(run("eval", "--checkpoint", out.toString(), "--data", other.toString()), "expects 12x12x1 images");
        // and a damaged weights file is refused, never half-loaded
        try (var files = Files.list(out.resolve("checkpoints"))) {
            Path weights = files.filter(p -> p.toString().endsWith(".safetensors")).findFirst().orElseThrow();
            byte[] b = Files.readAllBytes(weights);
            Files.write(weights, java.util.Arrays.copyOf(b, b.length - 100));
        }
        assertBadInput(run("eval", "--checkpoint", out.toString() + "/checkpoints", "--data", small.toString()), "no checkpoint");
    }

    @Test
    void resumingACheckpointWithOtherSettingsIsRefusedLikeAuto(@TempDir Path dir) throws IOException {
        writeIdx(dir, 64, 16, 12);
        Path run = dir.resolve("run");
        assertEquals(0, run("train", "--data", dir.toString(), "--batch", "16", "--width", "0.5", "--no-progress", "--out",
                run.toString()).code());
        Path other = dir.resolve("other");
        for (String resume : new String[] {run.resolve("checkpoints").toString(), "auto"}) {
            Outcome o = run("train", "--resume", resume, "--epochs", "2", "--model", "resnet20", "--no-progress", "--out",
                    resume.equals("auto") ? run.toString() : other.toString(), "--data", dir.toString(), "--batch", "16", "--width", "0.5");
            assertBadInput(o, "belongs to another run (model is \"lenet\" there and \"resnet20\" here, epochs is 1 there and 2 here)");
        }
        assertFalse(Files.exists(other), "a refused resume writes nothing");
        // flags left out are the checkpoint's: it continues (here: nothing left) into the --out given
        assertEquals(0, run("train", "--resume", run.resolve("checkpoints").toString(), "--no-progress", "--out", other.toString())
                .code());
    }

    /** Writes a tiny IDX data set (train and t10k) of size x size images. */
    static void writeIdx(Path dir, int train, int test, int size) throws IOException {
        java.util.Random r = new java.util.Random(1);
        for (String prefix : new String[] {"train", "t10k"}) {
            int n = prefix.equals("train") ? train : test;
            try (OutputStream o = Files.newOutputStream(dir.resolve(prefix + "-images-idx3-ubyte"))) {
                o.write(new byte[] {0, 0, 8, 3});
                writeInt(o, n);
                writeInt(o, size);
                writeInt(o, size);
                byte[] px = new byte[n * size * size];
                r.nextBytes(px);
                o.write(px);
            }
            try (OutputStream o = Files.newOutputStream(dir.resolve(prefix + "-labels-idx1-ubyte"))) {
                o.write(new byte[] {0, 0, 8, 1});
                writeInt(o, n);
                for (int i = 0; i < n; i++) o.write(i % 10);
            }
        }
    }

    static void writeInt(OutputStream o, int v) throws IOException {
        o.write(new byte[] {(byte) (v >>> 24), (byte) (v >>> 16), (byte) (v >>> 8), (byte) v});
    }

    @SuppressWarnings("unused")
    static byte[] gzip(byte[] data) throws IOException {
        var bo = new java.io.ByteArrayOutputStream();
        try (var g = new GZIPOutputStream(bo)) {
            g.write(data);
        }
        return bo.toByteArray();
    }
}
