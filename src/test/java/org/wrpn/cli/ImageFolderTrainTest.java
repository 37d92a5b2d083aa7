package org.wrpn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.wrpn.bench.SyntheticImages;
import org.wrpn.train.Checkpoint;

/**
 * `wrpn train --data DIR` on a generated image folder of 224x224 photos, on the CPU, with 2-bit
 * weights and 4-bit activations, one step of batch 2: the paper's ResNet-34 and AlexNet. The class
 * map lands in the checkpoint and `wrpn eval` reads the folder back through it. At width 2 the two
 * hold 85 M and 228 M parameters and take 0.5 and 1 minute here (initialization and checkpoints of
 * that size), so the suite runs them at widths 1 and 0.5; the width-2 runs are
 * benchmarks/results/imagenet-models-cpu.txt.
 */
class ImageFolderTrainTest {
    @TempDir
    static Path root;

    static Path data;

    @BeforeAll
    static void folder() {
        data = root.resolve("photos");
        SyntheticImages.writeFolder(data, 2, 2, 1, 224, 224, 3); // classes c0, c1
    }

    static String[] train(String model, double width, Path out) {
        return new String[] {"train", "--model", model, "--width", String.valueOf(width), "--wbits", "2", "--abits", "4",
            "--data", data.toString(), "--batch", "2", "--limit-train", "2", "--limit-test", "2", "--decode-threads", "2",
            "--out", out.toString(), "--no-progress"};
    }

    static int run(String... args) {
        StringWriter err = new StringWriter();
        PrintStream stdout = System.out;
        try {
            System.setOut(new PrintStream(java.io.OutputStream.nullOutputStream()));
            int code = Main.run(new PrintWriter(err, true), args);
            assertEquals(0, code, String.join(" ", args) + ": " + err);
            return code;
        } finally {
            System.setOut(stdout);
        }
    }

    @Test
    void resnet34TrainsAStepAndItsCheckpointKeepsTheClasses() throws Exception {
        Path out = root.resolve("r34");
        run(train("resnet34", 1, out));
        Path sidecar = Checkpoint.newestIn(out);
        JsonNode json = new ObjectMapper().readTree(sidecar.toFile());
        assertEquals(List.of("c0", "c1"), List.of(json.at("/input/class_names/0").asText(), json.at("/input/class_names/1").asText()));
        assertEquals(224, json.at("/input/height").asInt());
        assertEquals(224, json.at("/config/image_size").asInt());
        assertEquals(List.of("c0", "c1"), Checkpoint.load(sidecar).classNames());
    }

    @Test
    void alexnetTrainsAStepAndEvalChecksTheClasses() throws Exception {
        Path out = root.resolve("alexnet");
        run(train("alexnet", 0.5, out));
        run("eval", "--checkpoint", out.toString(), "--batch", "2");
        // a folder whose classes differ is refused, naming the class
        Path other = root.resolve("other");
        Files.createDirectories(other);
        for (String split : List.of("train", "val")) {
            for (String c : List.of("c0", "zz")) {
                SyntheticImages.writeJpeg(SyntheticImages.photo(32, 32, 1), 0.9f, other.resolve(split + "/" + c + "/1.jpg"));
            }
        }
        StringWriter err = new StringWriter();
        assertEquals(2, Main.run(new PrintWriter(err, true), "eval", "--checkpoint", out.toString(), "--data", other.toString()));
        assertTrue(err.toString().contains("class 1 'c1', the data's class 1 is 'zz'"), err.toString());
    }
}
