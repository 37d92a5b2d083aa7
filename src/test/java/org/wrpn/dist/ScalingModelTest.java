package org.wrpn.dist;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.BadInputException;
import org.wrpn.cli.Main;
import org.wrpn.dist.ScalingModel.Prediction;
import org.wrpn.nn.SavePolicy;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;

class ScalingModelTest {
    private static final double EPS = 1e-9;
    private static final Topology NODE8 = Topology.gpus(1, 8);
    private static final Topology NODES4X8 = Topology.gpus(4, 8);

    // ---- the ring all-reduce ------------------------------------------------------------------

    @Test
    void ringAllReduceMatchesHandComputedValues() {
        // 8 GPUs on NVLink: 2*7/8 * 1e9 B / 450e9 B/s = 3.888889 ms; latency 8.4 + 14 steps * 3.4 us = 56 us
        assertEquals(56.0, NODE8.latencyUs(), EPS);
        assertEquals(3.888888889, ScalingModel.ringTransferMs(1_000_000_000L, NODE8), 1e-8);
        assertEquals(3.944888889, ScalingModel.ringAllReduceMs(1_000_000_000L, NODE8), 1e-8);
        // 4 x 8: bus = min(450, 8 NICs x 50) = 400 GB/s; 2*31/32 * 1e9 / 400e9 = 4.84375 ms;
        // 62 steps, 8 across the network: 8.4 + 54 * 3.4 + 8 * 14 = 304 us
        assertEquals(400.0, NODES4X8.busGBps(), EPS);
        assertEquals(304.0, NODES4X8.latencyUs(), EPS);
        assertEquals(5.14775, ScalingModel.ringAllReduceMs(1_000_000_000L, NODES4X8), 1e-9);
        // 2 CPU ranks at 2 GB/s, 20 us a step: 2*1/2 * 1e8 / 2e9 = 50 ms + 2 steps * 20 us
        Topology cpu = Topology.cpuLoopback(2, 2.0, 20.0);
        assertEquals(50.04, ScalingModel.ringAllReduceMs(100_000_000L, cpu), 1e-9);
        // four buckets pay the latency four times, the bytes once
        assertEquals(4 * 0.056 + 3.888888889, ScalingModel.allReduceMs(1_000_000_000L, 4, NODE8), 1e-8);
    }

    @Test
    void aMeasuredBusBandwidthReplacesTheLinkFigures() {
        Topology measured = NODES4X8.withBusGBps(180, "--gpu-bus-gbps");
        assertEquals(180.0, measured.busGBps(), EPS);
        assertEquals(NODES4X8.latencyUs(), measured.latencyUs(), EPS);
        assertEquals(2 * 31 / 32.0 * 1e9 / 180e9 * 1e3, ScalingModel.ringTransferMs(1_000_000_000L, measured), 1e-9);
    }

    // ---- overlap ----------------------------------------------------------------------------

    @Test
    void exposedTimeMatchesHandComputedCases() {
        assertEquals(8.0, ScalingModel.exposedMs(8, 1, 100), EPS);          // one bucket: nothing hides
        assertEquals(2.0, ScalingModel.exposedMs(8, 4, 12), EPS);           // max(8/4, 8 - 3/4 * 12) = 2: only the last bucket
        assertEquals(5.0, ScalingModel.exposedMs(8, 4, 4), EPS);            // max(2, 8 - 3) = 5: backward too short to hide
        assertEquals(0.0, ScalingModel.exposedMs(0, 3, 10), EPS);
    }

    /** The closed form against a step-by-step simulation: buckets ready at i*Tb/k, reduced one after another. */
    @Test
    void exposedTimeEqualsASimulationOfSerializedBuckets() {
        SplittableRandom r = new SplittableRandom(7);
        for (int trial = 0; trial < 2000; trial++) {
            int k = 1 + r.nextInt(40);
            double a = r.nextDouble() * 50;
            double tb = r.nextDouble() * 60;
            double c = a / k;
            double end = 0;
            for (int i = 1; i <= k; i++) end = Math.max(end, i * tb / k) + c;
            double simulated = end - tb;
            assertEquals(simulated, ScalingModel.exposedMs(a, k, tb), 1e-9, "k " + k + " A " + a + " Tb " + tb);
        }
    }

    @Test
    void exposedTimeIsNeverNegativeNorMoreThanTheWholeAllReduce() {
        SplittableRandom r = new SplittableRandom(11);
        for (int trial = 0; trial < 5000; trial++) {
            int k = 1 + r.nextInt(200);
            double a = r.nextDouble() * 100;
            double tb = r.nextDouble() * 1000;
            double e = ScalingModel.exposedMs(a, k, tb);
            assertTrue(e >= 0 && e <= a + EPS, "exposed " + e + " of " + a);
            assertTrue(e >= a / k - EPS, "the last bucket never hides: " + e + " < " + a / k);
        }
        Prediction p = ScalingModel.predict(0.01, 400_000_000L, 16, 0.5, NODES4X8);
        assertTrue(p.exposedMs() <= p.allReduceMs() + EPS && p.exposedMs() > 0, p.toString());
    }

    // ---- efficiency -------------------------------------------------------------------------

    @Test
    void oneGpuIsAHundredPercent() {
        Topology one = Topology.gpus(1, 1);
        Prediction p = ScalingModel.predict(12.0, ScalingModel.gradientBytes("resnet18", 3), 16, 2.0 / 3, one);
        assertEquals(0.0, p.allReduceMs(), EPS);
        assertEquals(0.0, p.exposedMs(), EPS);
        assertEquals(1.0, p.efficiency(), EPS);
        assertEquals(0.0, ScalingModel.minStepMs(p.gradientBytes(), 16, 2.0 / 3, one, 0.1), EPS);
        assertEquals(1.0, ScalingModel.predict(5, 1_000_000L, 1, 0.5, Topology.cpuLoopback(1, 1, 20)).efficiency(), EPS);
    }

    @Test
    void efficiencyRisesWithBandwidthAndWithStepTime() {
        long bytes = ScalingModel.gradientBytes("resnet18", 2);
        int k = ScalingModel.buckets(bytes, 25);
        double previous = 0;
        for (double gbps : new double[] {1, 5, 25, 50, 100, 200, 400, 800}) {
            double eff = ScalingModel.predict(20, bytes, k, 2.0 / 3, NODES4X8.withBusGBps(gbps, "--gpu-bus-gbps")).efficiency();
            assertTrue(eff > previous && eff <= 1, gbps + " GB/s: " + eff + " after " + previous);
            previous = eff;
        }
        previous = 0;
        for (double ms : new double[] {0.1, 0.5, 1, 2, 5, 10, 20, 50, 100}) {
            double eff = ScalingModel.predict(ms, bytes, k, 2.0 / 3, NODES4X8).efficiency();
            assertTrue(eff >= previous && eff <= 1, ms + " ms: " + eff + " after " + previous);
            previous = eff;
        }
        // more ranks across more nodes never help
        double eight = ScalingModel.predict(20, bytes, k, 2.0 / 3, NODE8).efficiency();
        double thirtyTwo = ScalingModel.predict(20, bytes, k, 2.0 / 3, NODES4X8).efficiency();
        assertTrue(eight > thirtyTwo, eight + " vs " + thirtyTwo);
    }

    @Test
    void theMinimumStepKeepsExposedCommunicationAtTheLimit() {
        for (Topology t : List.of(NODE8, NODES4X8, Topology.cpuLoopback(2, 2, 20))) {
            for (String model : List.of("resnet20", "resnet18")) {
                long bytes = ScalingModel.gradientBytes(model, 2);
                int k = ScalingModel.buckets(bytes, 25);
                double min = ScalingModel.minStepMs(bytes, k, 2.0 / 3, t, 0.1);
                assertEquals(0.1, ScalingModel.predict(min, bytes, k, 2.0 / 3, t).exposedShare(), 1e-9, t.name() + " " + model);
                assertTrue(ScalingModel.predict(min * 0.99, bytes, k, 2.0 / 3, t).exposedShare() > 0.1);
                assertTrue(ScalingModel.predict(min * 1.01, bytes, k, 2.0 / 3, t).exposedShare() < 0.1);
            }
        }
    }

    @Test
    void bucketsFollowDdpsCap() {
        assertEquals(1, ScalingModel.buckets(1, 25));
        assertEquals(1, ScalingModel.buckets(25L << 20, 25));
        assertEquals(2, ScalingModel.buckets((25L << 20) + 1, 25));
        assertEquals(16, ScalingModel.buckets(ScalingModel.gradientBytes("resnet18", 3), 25)); // 401.9 MB / 26.2 MB
    }

    // ---- parameters -------------------------------------------------------------------------

    @Test
    void parameterCountsAreTheModelsOwn() {
        // resnet20 (CIFAR, 1x1-conv shortcuts where the shape changes), counted by hand:
        // conv1 432 + bn 32; stage 1: 3 x (2 x 2304 + 64); stage 2: 4608 + 9216 + 128 + 512 + 64 + 2 x (2 x 9216 + 128);
        // stage 3: 18432 + 36864 + 256 + 2048 + 128 + 2 x (2 x 36864 + 256); fc 650
        assertEquals(272_474, ScalingModel.parameters("resnet20", 1));
        assertEquals(11_173_962, ScalingModel.parameters("resnet18", 1)); // the usual CIFAR ResNet-18 count
        assertEquals(4L * 272_474, ScalingModel.gradientBytes("resnet20", 1));
        for (String model : List.of("lenet", "resnet20", "resnet18")) {
            for (double w : new double[] {1, 2, 3}) {
                int[] chw = org.wrpn.nn.models.Models.naturalInput(model);
                PlanRequest req = new PlanRequest(model, w, org.wrpn.nn.PrecisionPolicy.uniform(4, 4), SavePolicy.PACKED, 1, chw[0], chw[1],
                        chw[2], 10, org.wrpn.backend.Device.CPU);
                assertEquals(MemoryPlanner.plan(req).gradients(), ScalingModel.gradientBytes(model, w),
                        "the ledger's gradient bytes of " + model + " width " + w);
            }
        }
        double ratio = (double) ScalingModel.parameters("resnet18", 2) / ScalingModel.parameters("resnet18", 1);
        assertTrue(ratio > 3.9 && ratio < 4.0, "2x width ~ 4x parameters: " + ratio);
    }

    // ---- step times -------------------------------------------------------------------------

    @Test
    void measuredStepTimesAreTheResultFilesOwn() throws IOException {
        assertEquals(csvStepMs("benchmarks/results/train-cuda.csv", "resnet20", "1"), StepTimes.defaultFor("cuda", "resnet20", 1).ms(), 1e-9);
        assertEquals(csvStepMs("benchmarks/results/train-cuda.csv", "lenet", "2"), StepTimes.defaultFor("cuda", "lenet", 2).ms(), 1e-9);
        assertEquals(csvStepMs("benchmarks/results/cpu-vs-pytorch-train.csv", "resnet20", "3"),
                StepTimes.defaultFor("cpu", "resnet20", 3).ms(), 1e-9);
        assertTrue(StepTimes.defaultFor("cuda", "resnet20", 2).measured());
        StepTimes.StepTime r18 = StepTimes.defaultFor("cuda", "resnet18", 2);
        assertFalse(r18.measured());
        assertTrue(r18.source().startsWith("assumed"), r18.source());
        // the line passes through both anchors: halfway in parameters is halfway in time
        double p1 = ScalingModel.parameters("resnet20", 1);
        double p2 = ScalingModel.parameters("resnet20", 2);
        double p3 = ScalingModel.parameters("resnet20", 3);
        double t1 = StepTimes.defaultFor("cuda", "resnet20", 1).ms();
        double t2 = StepTimes.defaultFor("cuda", "resnet20", 2).ms();
        assertEquals(t1 + (t2 - t1) * (p3 - p1) / (p2 - p1), StepTimes.defaultFor("cuda", "resnet20", 3).ms(), 1e-9);
    }

    /** step_s, in ms, of the w4a4 packed row of a result CSV. */
    private static double csvStepMs(String file, String model, String width) throws IOException {
        List<String> lines = Files.readAllLines(Path.of(file));
        List<String> header = List.of(lines.get(0).split(","));
        int step = header.indexOf("step_s");
        for (String line : lines) {
            String[] c = line.split(",");
            if (c[0].equals(model) && c[1].equals(width) && c[2].equals("4") && c[3].equals("4") && c[4].equals("packed")) {
                return Double.parseDouble(c[step]) * 1e3;
            }
        }
        throw new AssertionError("no row " + model + " " + width + " in " + file);
    }

    @Test
    void stepMsParsesOneNumberOrModelWidthPairs() {
        assertEquals(Map.of("*", 12.5), StepTimes.parse("12.5"));
        assertEquals(Map.of("resnet18:2", 40.0, "resnet18:3", 80.0), StepTimes.parse("resnet18:2=40, resnet18:3.0=80"));
        assertEquals(40.0, StepTimes.choose(StepTimes.parse("resnet18:2=40"), "cuda", "resnet18", 2).ms(), EPS);
        assertTrue(StepTimes.choose(StepTimes.parse("resnet18:2=40"), "cuda", "resnet18", 3).source().startsWith("assumed"));
        for (String bad : List.of("abc", "-3", "0", "resnet18=3", "resnet18:2=", ":2=3", "resnet18:x=3")) {
            assertThrows(BadInputException.class, () -> StepTimes.parse(bad), bad);
        }
    }

    // ---- the table and where widening stops paying -------------------------------------------

    @Test
    void widthWhereWideningStopsPayingIsTheFirstOverTheLimit() {
        Topology slow = Topology.cpuLoopback(2, 0.5, 20);
        ScalingTable table = new ScalingTable(new ScalingTable.Settings(List.of(slow), List.of(), List.of("lenet"), List.of(1.0, 2.0, 3.0),
                StepTimes.parse("lenet:1=25"), 2.0 / 3, 0, 25, 0.1));
        ScalingTable.Crossover c = table.crossovers().get(0);
        assertNotNull(c.widthIfStepFlat(), "at 0.5 GB/s and a flat 25 ms step lenet must cross 10%");
        List<ScalingTable.Row> curve = table.curve(slow, "lenet");
        double w = c.widthIfStepFlat();
        double flatMs = 25;
        for (ScalingTable.Row r : curve) {
            double share = ScalingModel.predict(flatMs, ScalingModel.gradientBytes("lenet", r.width()), r.prediction().buckets(), 2.0 / 3,
                    slow).exposedShare();
            assertEquals(r.width() >= w, share > 0.1, "width " + r.width() + " share " + share + " crossover " + w);
        }
    }

    // ---- the command line -------------------------------------------------------------------

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
        "--nodes 0|--nodes and --gpus-per-node must be at least 1",
        "--cpu-ranks -2|--cpu-ranks must be at least 1",
        "--bus-gbps 0|--bus-gbps must be a positive number",
        "--gpu-bus-gbps -1|--gpu-bus-gbps must be a positive number",
        "--link-gbps x|--link-gbps",
        "--step-ms fast|--step-ms must be a positive number",
        "--step-ms resnet18=3|--step-ms must be MS or MODEL:WIDTH=MS",
        "--widths 1,two|--widths must be numbers",
        "--widths 0|--widths must be positive",
        "--models vgg|unknown model 'vgg'",
        "--buckets 0|--buckets must be at least 1",
        "--bucket-mb 0|--bucket-mb must be positive",
        "--backward-fraction 1.5|--backward-fraction must be between 0 and 1",
        "--exposed-limit 0|--exposed-limit must be a percentage",
        "--nodes 2 --nic-gbps 0|--nic-gbps must be a positive number",
        "--no-such-flag|unknown option",
    })
    void badInputIsOneLineAndExitTwo(String flags, String fragment) {
        StringWriter sw = new StringWriter();
        int code = Main.run(new PrintWriter(sw, true), ("plan scaling " + flags).split(" "));
        String err = sw.toString().strip();
        assertEquals(2, code, err);
        assertFalse(err.contains("\n") || err.contains("Exception"), err);
        assertTrue(err.startsWith("error: ") && err.toLowerCase().contains(fragment.toLowerCase()), err);
    }

    /** benchmarks/results/scaling-model.json is what the model computes now with the defaults: regenerate it when they change. */
    @Test
    void theCommittedTableIsTheModelsCurrentOutput() throws IOException {
        ObjectMapper json = new ObjectMapper();
        JsonNode committed = json.readTree(Path.of("benchmarks/results/scaling-model.json").toFile()).get("rows");
        JsonNode now = json.readTree(stdout("plan", "scaling", "--json")).get("rows");
        assertEquals(now.size(), committed.size(), "rows");
        for (int i = 0; i < now.size(); i++) {
            JsonNode a = now.get(i);
            JsonNode b = committed.get(i);
            String row = a.get("topology").asText() + " " + a.get("model").asText() + " " + a.get("width").asText();
            for (String key : List.of("topology", "model", "step_source")) assertEquals(a.get(key).asText(), b.get(key).asText(), row);
            for (String key : List.of("width", "parameters", "buckets", "step_ms", "allreduce_ms", "exposed_ms", "efficiency_pct",
                    "min_step_ms")) {
                assertEquals(a.get(key).asDouble(), b.get(key).asDouble(), 1e-9 * Math.max(1, Math.abs(a.get(key).asDouble())),
                        row + " " + key + " (regenerate: wrpn plan scaling --out benchmarks/results)");
            }
        }
    }

    /** Every number in docs/SCALING.md's tables is one of the committed JSON's values for that model and width. */
    @Test
    void theDocsQuoteTheCommittedTable() throws IOException {
        JsonNode rows = new ObjectMapper().readTree(Path.of("benchmarks/results/scaling-model.json").toFile()).get("rows");
        String doc = Files.readString(Path.of("docs/SCALING.md"));
        String tables = doc.substring(doc.indexOf("\n## The table"), doc.indexOf("\nWhat it says"));
        int checked = 0;
        for (String line : tables.split("\n")) {
            String[] cells = line.split("\\|");
            if (cells.length < 4 || !(cells[1].strip().equals("lenet") || cells[1].strip().startsWith("resnet"))) continue;
            String model = cells[1].strip();
            double width = Double.parseDouble(cells[2].strip());
            java.util.Set<String> allowed = new java.util.HashSet<>();
            for (JsonNode r : rows) {
                if (!r.get("model").asText().equals(model) || r.get("width").asDouble() != width) continue;
                for (String key : List.of("parameters", "gradient_mb", "buckets", "step_ms", "allreduce_ms", "exposed_ms",
                        "efficiency_pct", "min_step_ms")) {
                    for (String f : List.of("%.0f", "%.2f", "%.3f", "%.4f")) allowed.add(String.format(java.util.Locale.ROOT, f, r.get(key).asDouble()));
                }
            }
            for (int i = 3; i < cells.length; i++) {
                String v = cells[i].strip();
                if (v.isEmpty()) continue;
                assertTrue(allowed.contains(v), "docs/SCALING.md quotes " + v + " for " + model + " width " + cells[2].strip()
                        + ", which benchmarks/results/scaling-model.json does not hold");
                checked++;
            }
        }
        assertTrue(checked >= 6 * 12 + 6 * 5, "numbers checked: " + checked);
    }

    private static String stdout(String... args) {
        ByteArrayOutputStream bo = new ByteArrayOutputStream();
        PrintStream old = System.out;
        System.setOut(new PrintStream(bo, true));
        try {
            assertEquals(0, Main.run(args));
        } finally {
            System.setOut(old);
        }
        return bo.toString();
    }

    @Test
    void theCommandPrintsTheTableAsJson() throws IOException {
        JsonNode rows = new ObjectMapper().readTree(stdout("plan", "scaling", "--nodes", "4", "--gpus-per-node", "8", "--models",
                "resnet18", "--widths", "2", "--step-ms", "33", "--json")).get("rows");
        assertEquals(1, rows.size());
        JsonNode r = rows.get(0);
        long bytes = ScalingModel.gradientBytes("resnet18", 2);
        Prediction p = ScalingModel.predict(33, bytes, ScalingModel.buckets(bytes, 25), 2.0 / 3, NODES4X8);
        assertEquals(32, r.get("ranks").asInt());
        assertEquals(bytes / 1e6, r.get("gradient_mb").asDouble(), 1e-9);
        assertEquals(100 * p.efficiency(), r.get("efficiency_pct").asDouble(), 1e-9);
        assertEquals("given: --step-ms", r.get("step_source").asText());
    }
}
