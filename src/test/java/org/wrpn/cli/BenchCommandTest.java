package org.wrpn.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** `wrpn bench` end to end on tiny configurations: files, fields, confirmation of the largest batch, bad input. */
class BenchCommandTest {
    private static int run(StringWriter err, String... args) {
        return Main.run(new PrintWriter(err, true), args);
    }

    /** The PyTorch peer's protocol, answered by a stand-in script (no torch needed): steps alternate, rows gain the ratio. */
    @Test
    void trainSuiteTimesAPeerInTheSameRun(@TempDir Path dir) throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue(Files.isExecutable(Path.of("/usr/bin/python3")), "needs python3");
        Path fake = dir.resolve("fake_peer.py");
        Files.writeString(fake, String.join("\n",
                "import json, sys",
                "for line in sys.stdin:",
                "    r = json.loads(line)",
                "    op = r['op']",
                "    if op == 'hello': a = {'torch': 'fake', 'threads': 1}",
                "    elif op == 'setup': a = {'mode': 'fp32' if r['bits'] >= 32 else 'fq%d' % r['bits'], 'saved_activation_bytes': 1234}",
                "    elif op == 'time': a = {'times': [0.5] * r['steps']}",
                "    else: a = {'bye': True}",
                "    sys.stdout.write(json.dumps(a) + '\\n'); sys.stdout.flush()",
                "    if op == 'quit': break", ""));
        System.setProperty("wrpn.torchPeer", fake.toString());
        System.setProperty("wrpn.python", "/usr/bin/python3");
        try {
            StringWriter err = new StringWriter();
            int code = run(err, "bench", "train", "--peer", "pytorch", "--models", "lenet", "--widths", "0.25", "--bits", "32,2", "--batch",
                    "2", "--repeats", "2", "--no-confirm", "--no-plots", "--out", dir.toString(), "--no-progress");
            assertEquals(0, code, err.toString());
            JsonNode json = new ObjectMapper().readTree(dir.resolve("train-cpu.json").toFile());
            assertEquals("fake", json.get("config").get("peer").get("torch").asText());
            for (JsonNode r : json.get("rows")) {
                assertEquals(0.5, r.get("torch_step_s").asDouble(), r.toString());
                assertEquals(r.get("abits").asInt() == 32 ? "fp32" : "fq2", r.get("torch_mode").asText());
                assertEquals(1234, r.get("torch_saved_activation_bytes").asLong());
                assertEquals(r.get("step_s").asDouble() / 0.5, r.get("wrpn_over_torch_step").asDouble(), 1e-12);
            }
            assertEquals(2, run(err, "bench", "train", "--peer", "tensorflow", "--out", dir.toString()), "unknown peer");
        } finally {
            System.clearProperty("wrpn.torchPeer");
            System.clearProperty("wrpn.python");
        }
    }

    @Test
    void trainSuiteWritesTablesAndPlotsAndConfirmsThePlannersBatch(@TempDir Path dir) throws Exception {
        StringWriter err = new StringWriter();
        int code = run(err, "bench", "train", "--models", "lenet", "--widths", "0.25", "--bits", "32,2", "--batch", "2",
                "--repeats", "1", "--budget", "3M", "--out", dir.toString(), "--no-progress");
        assertEquals(0, code, err.toString());
        JsonNode json = new ObjectMapper().readTree(dir.resolve("train-cpu.json").toFile());
        assertEquals("train", json.get("suite").asText());
        assertTrue(json.get("machine").has("cpu"));
        assertTrue(json.has("commit") && json.has("config") && json.has("contention"));
        JsonNode rows = json.get("rows");
        assertEquals(4, rows.size(), "w32 and w2, fp32 and packed");
        for (JsonNode r : rows) {
            assertEquals("ok", r.get("status").asText());
            assertTrue(r.get("largest_batch_planned").asInt() > 2, r.toString());
            assertTrue(r.get("largest_batch_confirmed").asBoolean(), r.toString());
            // The CPU backend's own accounting equals the ledger, and the planner predicts it.
            assertEquals(r.get("ledger_peak_bytes").asLong(), r.get("backend_peak_bytes").asLong());
            assertTrue(r.get("saved_activation_bytes").asLong() > 0);
        }
        assertTrue(Files.size(dir.resolve("train-cpu.csv")) > 0);
        assertTrue(Files.exists(dir.resolve("train-cpu-lenet-saved.png")));
        assertTrue(Files.exists(dir.resolve("train-cpu-lenet-step-time.png")));

        Files.delete(dir.resolve("train-cpu-lenet-saved.png"));
        assertEquals(0, run(err, "bench", "plot", dir.resolve("train-cpu.json").toString()), err.toString());
        assertTrue(Files.exists(dir.resolve("train-cpu-lenet-saved.png")));
    }

    @Test
    void kernelsSuiteTimesEveryOpBesideTheCopy(@TempDir Path dir) throws Exception {
        StringWriter err = new StringWriter();
        int code = run(err, "bench", "kernels", "--models", "lenet", "--widths", "0.25", "--bits", "32,4", "--batch", "1",
                "--repeats", "1", "--out", dir.toString(), "--no-progress", "--name", "k");
        assertEquals(0, code, err.toString());
        JsonNode rows = new ObjectMapper().readTree(dir.resolve("k-kernels.json").toFile()).get("rows");
        // 2 pack sites (the two activations; the pools pool codes as codes) + the network total, each: copy, relu (k = 32),
        // quantize+pack and unpack (k = 4); then the fused ops at k = 4: conv2 (the conv on codes) on codes
        // and unpacked, and the two masked activation sites' batch norm, fused and apply-then-pack.
        assertEquals(18, rows.size());
        List<String> fused = new ArrayList<>();
        for (JsonNode r : rows) {
            String op = r.get("op").asText();
            if (op.startsWith("conv") || op.contains("unpack+conv") || op.startsWith("bn")) fused.add(r.get("site").asText() + " " + op);
        }
        assertEquals(List.of("conv1 conv_codes", "conv1 unpack+conv_f32", "pack1 bn_quantize_pack", "pack1 bn_apply+quantize_pack",
                "pack2 bn_quantize_pack", "pack2 bn_apply+quantize_pack"), fused);
        for (JsonNode r : rows) {
            assertTrue(r.get("gbps").asDouble() > 0 && r.get("pct_of_copy").asDouble() > 0, r.toString());
        }
        assertTrue(Files.exists(dir.resolve("k-kernels-lenet-quantize_pack.png")));
    }

    @Test
    void badInputIsOneLineAndExitCode2(@TempDir Path dir) {
        for (String[] args : new String[][] {
            {"bench", "nosuch"}, {"bench", "train", "--device", "gpu"}, {"bench", "kernels", "--bits", "3"},
            {"bench", "train", "--models", "vgg"}, {"bench", "plot"}, {"bench", "plot", dir.resolve("none.json").toString()}}) {
            StringWriter err = new StringWriter();
            assertEquals(2, run(err, args), String.join(" ", args) + ": " + err);
            assertTrue(err.toString().startsWith("error: "), err.toString());
        }
    }
}
