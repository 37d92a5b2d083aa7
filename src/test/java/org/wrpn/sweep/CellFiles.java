package org.wrpn.sweep;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.util.HashMap;
import java.util.Map;
import java.util.stream.Stream;

/** What tests read from runs' directories themselves, independently of the reports. */
public final class CellFiles {
    private static final ObjectMapper JSON = new ObjectMapper();

    private CellFiles() {}

    /** The last epoch record's test accuracy in a run's metrics log. */
    public static double finalAccuracy(Path run) throws Exception {
        double acc = Double.NaN;
        for (String line : Files.readAllLines(run.resolve("metrics.jsonl"))) {
            JsonNode n = JSON.readTree(line);
            if (n.get("type").asText().equals("epoch")) acc = n.get("test_accuracy").asDouble();
        }
        return acc;
    }

    /** Every file under a checkpoints directory below dir, with its modification time. */
    public static Map<Path, FileTime> checkpointTimes(Path dir) throws Exception {
        Map<Path, FileTime> m = new HashMap<>();
        try (Stream<Path> files = Files.walk(dir)) {
            for (Path p : files.filter(p -> p.toString().contains("checkpoints")).toList()) m.put(p, Files.getLastModifiedTime(p));
        }
        return m;
    }
}
