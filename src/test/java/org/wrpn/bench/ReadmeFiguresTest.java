package org.wrpn.bench;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * README's "Measured" figures, and docs/RESULTS.md's table, are those of the committed result files
 * (benchmarks/results/, written by benchmarks/cpu-accuracy.sh, `wrpn sweep` and `wrpn bench memory`).
 */
class ReadmeFiguresTest {
    private static final Pattern DECIMAL = Pattern.compile("(?<![\\w.])(\\d+\\.\\d+)");

    static String readme() throws IOException {
        return Files.readString(Path.of("README.md"));
    }

    /** The README text from the line starting with start up to the next line starting with end. */
    static String section(String text, String start, String end) {
        int a = text.indexOf("\n" + start);
        int b = text.indexOf("\n" + end, a + 1);
        assertTrue(a >= 0 && b > a, "README section '" + start + "' not found");
        return text.substring(a, b);
    }

    /** A CSV file as rows of column name to value (quotes removed; no commas inside quotes in these files). */
    static List<Map<String, String>> csv(String file) throws IOException {
        List<String> lines = Files.readAllLines(Path.of("benchmarks/results", file));
        String[] header = lines.get(0).split(",");
        List<Map<String, String>> rows = new ArrayList<>();
        for (String line : lines.subList(1, lines.size())) {
            String[] v = line.split(",", -1);
            Map<String, String> row = new HashMap<>();
            for (int i = 0; i < header.length; i++) row.put(header[i], v[i].replace("\"", ""));
            rows.add(row);
        }
        return rows;
    }

    static String fmt(String pattern, double v) {
        return String.format(Locale.ROOT, pattern, v);
    }

    /** Every decimal number in text must be one of allowed. */
    static void allQuoted(String text, Set<String> allowed, String what) {
        List<String> stray = new ArrayList<>();
        Matcher m = DECIMAL.matcher(text);
        while (m.find()) if (!allowed.contains(m.group(1))) stray.add(m.group(1));
        assertTrue(stray.isEmpty(), what + ": README quotes " + stray + ", which the committed results do not hold");
    }

    @Test
    void oneEpochTableAndProseQuoteCpuAccuracyCsv() throws IOException {
        String s = section(readme(), "**Fashion-MNIST, one epoch**", "**Accuracy against memory**");
        Set<String> allowed = new HashSet<>(Set.of("0.1", "0.05", "0.9")); // the recipe: warm-up, lr, momentum
        int rows = 0;
        for (Map<String, String> r : csv("cpu-accuracy.csv")) {
            double acc = Double.parseDouble(r.get("test_accuracy"));
            String row = "| " + r.get("config") + " | lenet width " + r.get("width") + ", w" + r.get("wbits") + "/a" + r.get("abits")
                    + ", 1 epoch | " + r.get("test_accuracy") + " | " + r.get("train_seconds") + " s | " + r.get("images_per_second") + " |";
            assertTrue(s.contains(row), "README lacks the row " + row);
            rows++;
            allowed.addAll(List.of(r.get("test_accuracy"), r.get("train_seconds"), r.get("images_per_second"), fmt("%.3f", acc)));
        }
        assertEquals(3, rows);
        allQuoted(s, allowed, "one-epoch section");
    }

    @Test
    void sweepParagraphQuotesTheSweepCsv() throws IOException {
        String s = section(readme(), "**Accuracy against memory**", "**Memory of one training step**");
        List<Map<String, String>> rows = csv("sweep-fashion-cpu.csv");
        Map<String, String> base = rows.stream().filter(r -> r.get("width").equals("1") && r.get("wbits").equals("32")).findFirst()
                .orElseThrow();
        double baseAcc = Double.parseDouble(base.get("test_accuracy_mean"));
        double baseBytes = Double.parseDouble(base.get("saved_activation_bytes_per_image_fp32"));
        Set<String> allowed = new HashSet<>();
        for (Map<String, String> r : rows) {
            double mean = Double.parseDouble(r.get("test_accuracy_mean"));
            double points = 100 * (mean - baseAcc);
            double roundedPoints = 100 * (Double.parseDouble(fmt("%.4f", mean)) - Double.parseDouble(fmt("%.4f", baseAcc)));
            allowed.addAll(List.of(fmt("%.4f", mean), fmt("%.4f", Double.parseDouble(r.get("test_accuracy_std"))),
                    fmt("%.1f", baseBytes / Double.parseDouble(r.get("saved_activation_bytes_per_image"))),
                    fmt("%.2f", Math.abs(points)), fmt("%.1f", Math.abs(points)), fmt("%.2f", Math.abs(roundedPoints))));
        }
        allQuoted(s, allowed, "sweep paragraph");
    }

    @Test
    void memoryTableQuotesTheMemoryCsv() throws IOException {
        String s = section(readme(), "**Memory of one training step**", "- At 2 bits");
        Map<String, Map<String, String>> byKey = new HashMap<>();
        for (Map<String, String> r : csv("memory-cpu.csv")) {
            String w = r.get("width").replaceAll("\\.0$", "");
            byKey.put(r.get("model") + "|" + w + "|" + r.get("wbits") + "/" + r.get("abits") + "|" + r.get("policy"), r);
        }
        Pattern row = Pattern.compile("\\| (\\w+) \\| (\\d+) \\| (\\d+/\\d+) \\| ([\\d.]+) MB \\| ([\\d.]+) MB \\| ([\\d.]+) s → ([\\d.]+) s \\(×([\\d.]+)\\) \\|");
        Matcher m = row.matcher(s);
        int rows = 0;
        while (m.find()) {
            String key = m.group(1) + "|" + m.group(2) + "|" + m.group(3) + "|";
            Map<String, String> fp32 = byKey.get(key + "fp32"), packed = byKey.get(key + "packed");
            assertTrue(fp32 != null && packed != null, "no memory-cpu.csv rows for " + key);
            double t0 = Double.parseDouble(fp32.get("step_seconds")), t1 = Double.parseDouble(packed.get("step_seconds"));
            assertEquals(List.of(fmt("%.1f", Double.parseDouble(fp32.get("saved_activation_bytes")) / 1e6),
                    fmt("%.1f", Double.parseDouble(packed.get("saved_activation_bytes")) / 1e6), fmt("%.2f", t0), fmt("%.2f", t1),
                    fmt("%.2f", t1 / t0)), List.of(m.group(4), m.group(5), m.group(6), m.group(7), m.group(8)), m.group());
            rows++;
        }
        assertEquals(csv("memory-cpu.csv").size() / 2, rows, "one README row per model, width and bits");
    }

    @Test
    void exportSectionQuotesTheExportCsvs() throws IOException {
        String s = section(readme(), "## Export for inference", "## Measured");
        String flat = s.replaceAll("\\s+", " ");
        Set<String> allowed = new HashSet<>(Set.of("0.1", "99.5")); // the thresholds the tests hold
        List<Map<String, String>> rows = csv("export-cpu.csv");
        for (Map<String, String> r : rows) {
            String row = "| w" + r.get("wbits") + "/a" + r.get("abits") + " | " + r.get("wrpn_accuracy") + " | " + r.get("onnx_accuracy")
                    + " | " + r.get("agreement") + " | " + fmt("%,.0f", Double.parseDouble(r.get("fp32_bytes"))) + " B | "
                    + fmt("%,.0f", Double.parseDouble(r.get("packed_bytes"))) + " B | " + r.get("packed_factor") + "× | "
                    + r.get("packed_data_factor") + "× |";
            assertTrue(s.contains(row), "README lacks the row " + row);
            assertEquals(r.get("packed_eval_accuracy"), r.get("wrpn_accuracy"), "eval from the packed file, w" + r.get("wbits"));
            assertEquals(r.get("packed_eval_loss"), r.get("checkpoint_eval_loss"), "eval loss from the packed file, w" + r.get("wbits"));
            allowed.addAll(List.of(r.get("wrpn_accuracy"), r.get("onnx_accuracy"), r.get("agreement"), r.get("packed_factor"),
                    r.get("packed_data_factor")));
        }
        assertEquals(3, rows.size());
        Map<String, Map<String, String>> qdq = new HashMap<>();
        for (Map<String, String> r : csv("export-qdq.csv")) qdq.put(r.get("bits"), r);
        String ties = qdq.get("4").get("codes_differing") + " of the " + qdq.get("4").get("floats_in_0_1") + " floats in [0, 1] at 4 bits and "
                + qdq.get("8").get("codes_differing") + " at 8 bits, none at 1 and 2 bits";
        assertTrue(flat.contains(ties), "README lacks: " + ties);
        assertEquals(List.of("0", "0"), List.of(qdq.get("1").get("codes_differing"), qdq.get("2").get("codes_differing")));
        allQuoted(s, allowed, "export section");
        String design = Files.readString(Path.of("docs/DESIGN.md")).replaceAll("\\s+", " ");
        for (String quoted : List.of("the codes differ for " + qdq.get("4").get("codes_differing") + " (k = 4) and "
                + qdq.get("8").get("codes_differing") + " (k = 8)", qdq.get("4").get("values_differing") + " of the 16 values at k = 4 and "
                + qdq.get("8").get("values_differing") + " of 256 at k = 8")) {
            assertTrue(design.contains(quoted), "docs/DESIGN.md lacks: " + quoted);
        }
    }

    @Test
    void resultsPageQuotesTheSweepReportTable() throws IOException {
        String page = Files.readString(Path.of("docs/RESULTS.md"));
        List<String> table = Files.readAllLines(Path.of("benchmarks/results/sweep-fashion-cpu.md")).stream()
                .filter(l -> l.startsWith("|")).toList();
        assertEquals(23, table.size(), "header, rule and 21 configurations");
        for (String line : table) assertTrue(page.contains(line), "docs/RESULTS.md lacks the sweep report's line " + line);
    }

    @Test
    void readmeAndDocsLinkOnlyInsideTheRepository() throws IOException {
        List<Path> docs = new ArrayList<>(List.of(Path.of("README.md"), Path.of("pom.xml")));
        try (Stream<Path> d = Files.list(Path.of("docs"))) {
            d.filter(p -> p.toString().endsWith(".md")).forEach(docs::add);
        }
        Pattern link = Pattern.compile("\\]\\(([^)#]+)(#[^)]*)?\\)");
        for (Path f : docs) {
            String text = Files.readString(f);
            assertFalse(text.contains("../shared"), f + " points outside the repository (../shared)");
            Matcher m = link.matcher(text);
            while (m.find()) {
                String target = m.group(1);
                if (target.startsWith("http")) continue;
                assertTrue(Files.exists(f.toAbsolutePath().getParent().resolve(target)), f + " links to missing " + target);
            }
        }
    }
}
