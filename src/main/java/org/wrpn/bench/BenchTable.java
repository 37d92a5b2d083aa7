package org.wrpn.bench;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.SerializationFeature;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.wrpn.train.AtomicFiles;

/**
 * One suite's results: rows of named values plus the machine, the commit, the configuration and
 * notes. Written as NAME.csv (every row also names the machine and commit, so the file stands alone)
 * and NAME.json (everything, the input of {@link BenchPlots} and of the PyTorch peer's ratios).
 */
public final class BenchTable {
    private static final ObjectMapper JSON = new ObjectMapper().enable(SerializationFeature.INDENT_OUTPUT);

    public final String suite;
    public final Map<String, Object> machine;
    public final Map<String, Object> config;
    public final List<Map<String, Object>> rows = new ArrayList<>();
    public final List<String> notes = new ArrayList<>();
    public final Map<String, Object> contention = new LinkedHashMap<>();

    public BenchTable(String suite, Map<String, Object> machine, Map<String, Object> config) {
        this.suite = suite;
        this.machine = machine;
        this.config = config;
    }

    /** Starts a row; fill it with put in column order. */
    public Map<String, Object> row() {
        Map<String, Object> r = new LinkedHashMap<>();
        rows.add(r);
        return r;
    }

    public List<Map<String, Object>> where(String key, Object value) {
        return rows.stream().filter(r -> value.equals(r.get(key))).toList();
    }

    public void write(Path dir, String name) throws IOException {
        Files.createDirectories(dir);
        AtomicFiles.writeString(dir.resolve(name + ".csv"), csv());
        Map<String, Object> json = new LinkedHashMap<>();
        json.put("suite", suite);
        json.put("machine", machine);
        json.put("commit", machine.get("commit"));
        json.put("config", config);
        json.put("contention", contention);
        json.put("notes", notes);
        json.put("rows", rows);
        AtomicFiles.writeString(dir.resolve(name + ".json"), JSON.writeValueAsString(json) + "\n");
    }

    String csv() {
        Set<String> columns = new LinkedHashSet<>();
        for (Map<String, Object> r : rows) columns.addAll(r.keySet());
        StringBuilder sb = new StringBuilder();
        sb.append(String.join(",", columns)).append(",machine,commit\n");
        String machineCell = quote(Machine.label(machine));
        String commit = quote(String.valueOf(machine.get("commit")));
        for (Map<String, Object> r : rows) {
            for (String c : columns) sb.append(cell(r.get(c))).append(',');
            sb.append(machineCell).append(',').append(commit).append('\n');
        }
        return sb.toString();
    }

    private static String cell(Object v) {
        if (v == null) return "";
        if (v instanceof Double d) {
            if (!Double.isFinite(d)) return "";
            // six significant digits: timings are not more precise than that
            return new java.math.BigDecimal(d).round(new java.math.MathContext(6)).stripTrailingZeros().toPlainString();
        }
        String s = String.valueOf(v);
        return s.contains(",") || s.contains("\"") ? quote(s) : s;
    }

    private static String quote(String s) {
        return "\"" + s.replace("\"", "\"\"") + "\"";
    }

    /** Reads a table written by {@link #write}. */
    public static BenchTable read(Path json) throws IOException {
        Map<String, Object> m = JSON.readValue(json.toFile(), new TypeReference<Map<String, Object>>() {});
        @SuppressWarnings("unchecked")
        BenchTable t = new BenchTable(String.valueOf(m.get("suite")), (Map<String, Object>) m.get("machine"),
                (Map<String, Object>) m.getOrDefault("config", Map.of()));
        @SuppressWarnings("unchecked")
        List<Map<String, Object>> rows = (List<Map<String, Object>>) m.getOrDefault("rows", List.of());
        t.rows.addAll(rows);
        @SuppressWarnings("unchecked")
        List<String> notes = (List<String>) m.getOrDefault("notes", List.of());
        t.notes.addAll(notes);
        @SuppressWarnings("unchecked")
        Map<String, Object> c = (Map<String, Object>) m.getOrDefault("contention", Map.of());
        t.contention.putAll(c);
        return t;
    }

    static double num(Map<String, Object> row, String key) {
        Object v = row.get(key);
        return v instanceof Number n ? n.doubleValue() : Double.NaN;
    }

    static String str(Map<String, Object> row, String key) {
        return String.valueOf(row.get(key));
    }

    /**
     * Whether this runtime can draw plots: java.desktop and XChart present. The GPU bundle's jlink'd
     * runtime has neither, and must not even load {@link BenchPlots}.
     */
    public static boolean canPlot() {
        if (ModuleLayer.boot().findModule("java.desktop").isEmpty()) return false;
        try {
            Class.forName("org.knowm.xchart.XYChart", false, BenchTable.class.getClassLoader());
            return true;
        } catch (ClassNotFoundException | LinkageError e) {
            return false;
        }
    }

    /** Whether a System.nanoTime deadline has passed; Long.MAX_VALUE never does. */
    public static boolean past(long deadlineNanos) {
        return deadlineNanos != Long.MAX_VALUE && System.nanoTime() - deadlineNanos > 0;
    }

    /** Median of a copy of the samples. */
    public static double median(double[] a) {
        double[] s = a.clone();
        java.util.Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    public static double min(double[] a) {
        double m = Double.POSITIVE_INFINITY;
        for (double v : a) m = Math.min(m, v);
        return m;
    }
}
