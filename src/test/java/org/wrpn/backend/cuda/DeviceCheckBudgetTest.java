package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The device check's time budget and completeness (benchmarks/gpu-bundle/run.sh): its step table
 * adds up against the device tool's limits (one call at most 600 s, a lease of 900 s, a machine start
 * of about 90 s: the full check fits a 7-minute call, twice in a lease, the quick one 3 minutes); a
 * run keeps its deadline and leaves a complete report.md when every step is killed by it, or when
 * run.sh itself is stopped; an incomplete bundle is refused at once; and a bundle built here
 * (bundle/, when .ci/run or device-check.sh made one) is complete.
 */
class DeviceCheckBudgetTest {
    private static final Path RUN = Path.of("benchmarks/gpu-bundle/run.sh");
    private static final Path MANIFEST = Path.of("benchmarks/gpu-bundle/MANIFEST");
    // The device tool (/work/.library/device/README.md): a command at most 600 s, 15 minutes of device
    // time per lease (starts included); a machine start costs a minute or more: 90 s assumed.
    static final int CALL_CAP = 600, LEASE = 900, START = 90, CALL_MARGIN = 30;

    record Step(String name, int min, int cap) {}

    static List<Step> table(String script, String var) {
        Matcher m = Pattern.compile(var + "=\"([^\"]*)\"").matcher(script);
        assertTrue(m.find(), var + " in run.sh");
        List<Step> steps = new ArrayList<>();
        for (String line : m.group(1).strip().split("\n")) {
            String[] f = line.strip().split("\\s+");
            steps.add(new Step(f[0], Integer.parseInt(f[1]), Integer.parseInt(f[2])));
        }
        return steps;
    }

    static int number(String script, String var) {
        Matcher m = Pattern.compile("(?m)^" + var + "=(\\d+)").matcher(script);
        assertTrue(m.find(), var + " in run.sh");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void theTimeBudgetAddsUp() throws IOException {
        Assumptions.assumeTrue(Files.exists(RUN), "not run from the repository root");
        String s = Files.readString(RUN);
        int margin = number(s, "REPORT_MARGIN"), grace = number(s, "KILL_GRACE");
        int full = number(s, "DEFAULT_DEADLINE"), quick = number(s, "QUICK_DEADLINE");
        for (var mode : Map.of("FULL_STEPS", full, "QUICK_STEPS", quick).entrySet()) {
            List<Step> steps = table(s, mode.getKey());
            int mins = steps.stream().mapToInt(Step::min).sum();
            assertTrue(mins + margin <= mode.getValue(), mode.getKey() + ": every step's minimum fits the deadline: " + steps);
            for (Step st : steps) {
                assertTrue(st.min() <= st.cap() && st.cap() <= mode.getValue() && st.min() > grace, st.toString());
            }
            // the call: deadline + the margin for the summary and the transfer, within one command's cap
            assertTrue(mode.getValue() + CALL_MARGIN <= CALL_CAP, mode.getKey());
            assertTrue(s.contains("timeout_s=" + (mode.getValue() + CALL_MARGIN)), "run.sh states the call for " + mode.getKey());
        }
        assertTrue(full + CALL_MARGIN + START <= 7 * 60, "the full check fits a 7-minute call with the machine's start");
        assertTrue(2 * (full + CALL_MARGIN + START) <= LEASE, "a second full call (a rerun) fits the lease");
        assertTrue(quick + CALL_MARGIN <= 3 * 60, "the quick check is 3 minutes at most");
        assertEquals(List.of("machine", "info", "tests", "step", "pack"), table(s, "QUICK_STEPS").stream().map(Step::name).toList(),
                "quick: the GPU tests, one step beside the planner and the pack/unpack bandwidth");
        String build = Files.readString(Path.of("benchmarks/device-check.sh"));
        assertTrue(build.contains("timeout_s=" + (full + CALL_MARGIN)) && build.contains("timeout_s=" + (quick + CALL_MARGIN)),
                "device-check.sh prints the same calls");
    }

    /** A bundle of empty parts: enough for run.sh's own logic, with every step simulated. */
    static Path fakeBundle(Path dir) throws IOException {
        Files.createDirectories(dir);
        Files.copy(RUN, dir.resolve("run.sh"));
        Files.copy(MANIFEST, dir.resolve("MANIFEST"));
        Files.writeString(dir.resolve("COMMIT"), "test bundle\n");
        for (String line : Files.readAllLines(MANIFEST)) {
            String p = line.replaceAll("#.*", "").strip();
            if (p.isEmpty()) continue;
            Path f = dir.resolve(p.replace("*", "x").replace("[0-9]", "1"));
            if (!Files.exists(f)) {
                Files.createDirectories(f.getParent());
                Files.createFile(f);
            }
        }
        Matcher array = Pattern.compile("TEST_CLASSES=\\(([^)]*)\\)").matcher(Files.readString(RUN));
        assertTrue(array.find());
        for (String c : array.group(1).strip().split("\\s+")) {
            Path f = dir.resolve("test-classes/" + c.replace('.', '/') + ".class");
            Files.createDirectories(f.getParent());
            if (!Files.exists(f)) Files.createFile(f);
        }
        return dir;
    }

    record Run(int exit, double seconds, String output, String report) {}

    static Run run(Path bundle, Path out, Map<String, String> env, int stopAfterSeconds, String... args)
            throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of("bash", bundle.resolve("run.sh").toString()));
        cmd.addAll(List.of(args));
        ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(out.resolveSibling(out.getFileName() + ".log").toFile());
        pb.environment().put("OUT", out.toString());
        pb.environment().put("RUN_WORK", out.resolveSibling(out.getFileName() + "-work").toString());
        pb.environment().putAll(env);
        long t0 = System.nanoTime();
        Process p = pb.start();
        if (stopAfterSeconds > 0 && !p.waitFor(stopAfterSeconds, TimeUnit.SECONDS)) p.destroy();  // SIGTERM, as a timeout would
        boolean done = p.waitFor(120, TimeUnit.SECONDS);
        if (!done) p.destroyForcibly().waitFor();
        double secs = (System.nanoTime() - t0) / 1e9;
        String log = Files.readString(out.resolveSibling(out.getFileName() + ".log"), StandardCharsets.UTF_8);
        Path report = out.resolve("report.md");
        assertTrue(done, "run.sh did not end:\n" + log);
        return new Run(p.exitValue(), secs, log, Files.exists(report) ? Files.readString(report) : "");
    }

    @Test
    void aRunKeepsItsDeadlineAndCompletesItsReportWhenEveryStepIsKilled(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.exists(RUN), "not run from the repository root");
        Path b = fakeBundle(tmp.resolve("bundle"));
        String s = Files.readString(RUN);
        // every time x 0.05: a 15 s deadline (7.5 s quick); each simulated step sleeps past its limit
        for (var mode : Map.of("full", "FULL_STEPS", "quick", "QUICK_STEPS").entrySet()) {
            String[] args = mode.getKey().equals("quick") ? new String[] {"--quick"} : new String[0];
            Run r = run(b, tmp.resolve("out-" + mode.getKey()), Map.of("WRPN_CHECK_SIMULATE", "1", "WRPN_CHECK_TIME_SCALE", "0.05"), 0,
                    args);
            int deadline = mode.getKey().equals("quick") ? 8 : 15;
            assertTrue(r.seconds() <= deadline + 3, mode.getKey() + " took " + r.seconds() + " s:\n" + r.output());
            assertEquals(1, r.exit(), r.output());
            // A loaded machine can make a killed step overrun its limit by a second; the steps after it may
            // then be skipped for want of time, which is the deadline doing its job: each step is in the
            // report either way, and most are killed.
            int killed = 0;
            for (Step st : table(s, mode.getValue())) {
                boolean k = r.report().contains("## " + st.name() + ": killed at its");
                assertTrue(k || r.report().contains("## " + st.name() + ": skipped: "), st.name() + " in the report:\n" + r.report());
                assertTrue(r.output().contains("| " + st.name() + " | " + (k ? "killed at its" : "skipped: ")),
                        st.name() + " in the summary:\n" + r.output());
                if (k) killed++;
            }
            assertTrue(killed >= table(s, mode.getValue()).size() - 2, killed + " steps killed:\n" + r.report());
            assertTrue(r.report().contains("## Summary: FAIL"), r.report());
        }
    }

    @Test
    void aStoppedRunStillLeavesItsSummary(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.exists(RUN), "not run from the repository root");
        Path b = fakeBundle(tmp.resolve("bundle"));
        Run r = run(b, tmp.resolve("out"), Map.of("WRPN_CHECK_SIMULATE", "1"), 3);
        assertEquals(143, r.exit(), r.output());
        assertTrue(r.output().contains("=== summary") && r.report().contains("## Summary: FAIL"), r.output() + "\n" + r.report());
        assertTrue(r.report().contains("| machine | not finished: run.sh was stopped"), r.report());
    }

    @Test
    void anIncompleteBundleIsRefusedAtOnce(@TempDir Path tmp) throws Exception {
        Assumptions.assumeTrue(Files.exists(RUN), "not run from the repository root");
        Path b = fakeBundle(tmp.resolve("bundle"));
        Files.delete(b.resolve("data/fashion-slice/t10k-labels-idx1-ubyte.gz"));
        Files.delete(b.resolve("COMMIT"));
        Run r = run(b, tmp.resolve("out"), Map.of(), 0);
        assertEquals(3, r.exit(), r.output());
        assertTrue(r.seconds() < 10, r.seconds() + " s");
        assertTrue(r.report().contains("## Bundle incomplete") && r.report().contains("- COMMIT")
                && r.report().contains("- data/fashion-slice/t10k-labels-idx1-ubyte.gz"), r.report());
        Run v = run(b, tmp.resolve("verify"), Map.of(), 0, "--verify");
        assertEquals(3, v.exit(), v.output());
    }

    @Test
    void theBundleBuiltHereIsComplete() throws Exception {
        Path bundle = Path.of("bundle");
        Assumptions.assumeTrue(Files.exists(bundle.resolve("run.sh")), "no bundle/ here (benchmarks/device-check.sh builds it)");
        Process p = new ProcessBuilder("bash", bundle.resolve("run.sh").toString(), "--verify").redirectErrorStream(true).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertEquals(0, p.exitValue(), out);
        for (String f : List.of("run.sh", "MANIFEST", "train-check.sh", "cpu-reference.txt")) {
            Assumptions.assumeTrue(Files.readString(Path.of("benchmarks/gpu-bundle", f)).equals(Files.readString(bundle.resolve(f))),
                    "bundle/" + f + " is older than benchmarks/gpu-bundle/" + f + " (rebuild it with benchmarks/device-check.sh)");
        }
    }
}
