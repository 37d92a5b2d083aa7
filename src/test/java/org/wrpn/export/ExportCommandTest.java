package org.wrpn.export;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.cli.Main;
import org.wrpn.data.Dataset;
import org.wrpn.data.IdxReader;
import org.wrpn.export.ExportFixtures.Trained;
import org.wrpn.train.Checkpoint;

/** `wrpn export` and `wrpn eval` from its packed output on the command line; every bad input is one line, exit 2, no file. */
class ExportCommandTest {
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    Path dir;

    record Outcome(int code, String out, String err) {}

    static Outcome run(String... args) {
        StringWriter err = new StringWriter();
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PrintStream previous = System.out;
        System.setOut(new PrintStream(out, true, StandardCharsets.UTF_8));
        try {
            int code = Main.run(new PrintWriter(err, true), args);
            return new Outcome(code, out.toString(StandardCharsets.UTF_8), err.toString());
        } finally {
            System.setOut(previous);
        }
    }

    private List<String> files() throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            return s.map(p -> dir.relativize(p).toString()).sorted().toList();
        }
    }

    /** Exit 2, one line naming the problem, no stack trace, and the directory as it was. */
    private void assertRefused(String fragment, String... args) throws IOException {
        List<String> before = files();
        Outcome o = run(args);
        String err = o.err().strip();
        assertEquals(2, o.code(), "exit code; stderr: " + err);
        assertTrue(err.startsWith("error: ") && !err.contains("\n") && !err.contains("Exception"), err);
        assertTrue(err.contains(fragment), "'" + fragment + "' in: " + err);
        assertEquals(before, files(), "nothing written, no temporary file left");
    }

    @Test
    void badInputIsOneLineExitTwoAndWritesNothing() throws IOException {
        Path sidecar = Checkpoint.load(ExportFixtures.lenet(4).sidecar()).sidecar();
        Path out = dir.resolve("model.onnx");
        assertRefused("--format must be onnx or packed; got tflite", "export", "--checkpoint", sidecar.toString(), "--format", "tflite",
                "--out", out.toString());
        assertRefused("does not exist", "export", "--checkpoint", dir.resolve("none.json").toString(), "--out", out.toString());
        assertRefused("is a directory", "export", "--checkpoint", sidecar.toString(), "--out", dir.toString());
        Files.writeString(dir.resolve("file"), "x");
        assertRefused("is a file, not a directory", "export", "--checkpoint", sidecar.toString(), "--out",
                dir.resolve("file/model.onnx").toString());
        // a directory that takes no new files (Linux's /proc)
        assertRefused("cannot write /proc/wrpn-export-test.onnx", "export", "--checkpoint", sidecar.toString(), "--out",
                "/proc/wrpn-export-test.onnx");
        assertRefused("--class-names gives 2 names, the model has 10 classes", "export", "--checkpoint", sidecar.toString(),
                "--class-names", "cat,dog", "--out", out.toString());

        Path copy = dir.resolve("ckpt");
        Files.createDirectories(copy);
        Checkpoint.Loaded l = Checkpoint.load(sidecar);
        Files.copy(l.weights(), copy.resolve(l.weights().getFileName()));
        ObjectNode root = (ObjectNode) JSON.readTree(sidecar.toFile());
        root.put("version", 99);
        Path future = copy.resolve(sidecar.getFileName());
        Files.writeString(future, root.toString());
        assertRefused("has version 99, this wrpn reads 1", "export", "--checkpoint", future.toString(), "--out", out.toString());

        root.put("version", Checkpoint.VERSION);
        Files.writeString(future, root.toString());
        byte[] w = Files.readAllBytes(copy.resolve(l.weights().getFileName()));
        w[w.length - 1] ^= 1;
        Files.write(copy.resolve(l.weights().getFileName()), w);
        assertRefused("are corrupt", "export", "--checkpoint", future.toString(), "--format", "packed", "--out", out.toString());

        Path badPacked = dir.resolve("bad.safetensors");
        byte[] packed = Files.readAllBytes(PackedExportTest.export(ExportFixtures.lenet(4), "lenet-cli-bad"));
        packed[packed.length - 1] ^= 1;
        Files.write(badPacked, packed);
        assertRefused("is corrupt", "eval", "--checkpoint", badPacked.toString());
    }

    /** The packed file evaluates to the checkpoint's accuracy and loss, printed by the same command. */
    @Test
    void evalFromThePackedExportPrintsTheCheckpointsFigures() throws IOException {
        Trained t = ExportFixtures.lenet(1);
        Path data = idxDirectory(t.test().slice(0, 500));
        Path packed = dir.resolve("out/lenet.packed.safetensors");
        Outcome e = run("export", "--checkpoint", t.sidecar().getParent().toString(), "--format", "packed", "--out", packed.toString());
        assertEquals(0, e.code(), e.err());
        assertTrue(e.out().startsWith("wrote " + packed + " (packed, "), e.out());
        Outcome fromCheckpoint = run("eval", "--checkpoint", t.sidecar().toString(), "--data", data.toString());
        Outcome fromPacked = run("eval", "--checkpoint", packed.toString(), "--data", data.toString());
        assertEquals(0, fromPacked.code(), fromPacked.err());
        String figures = fromCheckpoint.out().substring(0, fromCheckpoint.out().indexOf(" ("));
        assertTrue(figures.startsWith("test accuracy ") && figures.endsWith("on 500 images"), figures);
        assertEquals(figures, fromPacked.out().substring(0, fromPacked.out().indexOf(" (")));
        assertFalse(Files.exists(dir.resolve("out/lenet.onnx")));
        Outcome onnx = run("export", "--checkpoint", t.sidecar().toString(), "--out", dir.resolve("out/lenet.onnx").toString());
        assertEquals(0, onnx.code(), onnx.err());
        assertTrue(onnx.out().contains("(onnx, "), onnx.out());
    }

    /** Fashion-MNIST's four IDX files, training and test both holding these images. */
    private Path idxDirectory(Dataset d) throws IOException {
        Path data = dir.resolve("data");
        Files.createDirectories(data);
        byte[] images = idx(IdxReader.IMAGES_MAGIC, new int[] {d.count(), d.height(), d.width()}, d.pixels());
        byte[] labels = idx(IdxReader.LABELS_MAGIC, new int[] {d.count()}, d.labels());
        for (String set : List.of("train", "t10k")) {
            Files.write(data.resolve(set + "-images-idx3-ubyte"), images);
            Files.write(data.resolve(set + "-labels-idx1-ubyte"), labels);
        }
        return data;
    }

    private static byte[] idx(int magic, int[] dims, byte[] data) {
        ByteBuffer b = ByteBuffer.allocate(4 + 4 * dims.length + data.length).putInt(magic);
        for (int d : dims) b.putInt(d);
        return b.put(data).array();
    }
}
