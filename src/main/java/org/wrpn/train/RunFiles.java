package org.wrpn.train;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The files a run leaves: checkpoints (ckpt-eEEE-sSSSSSSSS.json and .safetensors) and OUT/metrics.jsonl.
 * Finds another run's files before a fresh run starts, replaces them (--overwrite) once the new run's
 * first checkpoint is durable, and keeps only the newest N checkpoints (--keep-checkpoints).
 */
public final class RunFiles {
    public static final String METRICS = "metrics.jsonl";
    /** Where an overwriting run writes its metrics until its first checkpoint is durable. */
    static final String PENDING_METRICS = ".metrics.jsonl.overwrite";
    private static final Pattern CHECKPOINT = Pattern.compile("ckpt-e\\d+-s(\\d+)\\.(json|safetensors)");

    private RunFiles() {}

    /** Another run's files, as found when a run starts. */
    public record Previous(Path checkpointDir, List<Path> checkpoints, Path metrics) {
        /** "3 checkpoint file(s) in DIR and DIR/metrics.jsonl". */
        public String describe() {
            List<String> parts = new ArrayList<>();
            if (!checkpoints.isEmpty()) parts.add(checkpoints.size() + " checkpoint file(s) in " + checkpointDir);
            if (metrics != null) parts.add(metrics.toString());
            return String.join(" and ", parts);
        }
    }

    /** The checkpoints in checkpointDir and the metrics file in out, or null when there are none. */
    public static Previous find(Path out, Path checkpointDir) {
        List<Path> ckpts = checkpointFiles(checkpointDir);
        Path metrics = out.resolve(METRICS);
        boolean hasMetrics = Files.isRegularFile(metrics);
        if (ckpts.isEmpty() && !hasMetrics) return null;
        return new Previous(checkpointDir, ckpts, hasMetrics ? metrics : null);
    }

    /** Checkpoint files (sidecars and weights) in dir; none when dir does not exist. */
    static List<Path> checkpointFiles(Path dir) {
        if (!Files.isDirectory(dir)) return List.of();
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(f -> CHECKPOINT.matcher(f.getFileName().toString()).matches()).sorted().toList();
        } catch (IOException e) {
            throw StorageException.of("cannot list checkpoints in " + dir, dir, e, null);
        }
    }

    /**
     * After the new run's first durable checkpoint (sidecar {@code kept}): deletes the old run's
     * checkpoints, sidecars first (a weights file without a sidecar is never resumed from), except the
     * files the new checkpoint replaced, and moves the new metrics over the old ones.
     */
    static void retire(Previous old, Path kept, Path pendingMetrics, Path out) throws IOException {
        List<Path> mine = List.of(kept, weightsOf(kept));
        List<Path> files = new ArrayList<>(old.checkpoints());
        files.sort(Comparator.comparing((Path p) -> !p.toString().endsWith(".json")));
        for (Path f : files) if (!mine.contains(f)) Files.deleteIfExists(f);
        Files.move(pendingMetrics, out.resolve(METRICS), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    }

    /**
     * Keeps the newest {@code keep} checkpoints of dir (by global step), never {@code protect} (the
     * one the run resumed from; may be null); keep 0 keeps all. Returns the sidecars deleted.
     */
    static List<Path> prune(Path dir, int keep, Path protect) throws IOException {
        if (keep <= 0) return List.of();
        List<Path> sidecars = new ArrayList<>(checkpointFiles(dir).stream().filter(p -> p.toString().endsWith(".json")).toList());
        sidecars.sort(Comparator.comparingLong(RunFiles::step).reversed());
        List<Path> deleted = new ArrayList<>();
        for (Path s : sidecars.subList(Math.min(keep, sidecars.size()), sidecars.size())) {
            if (protect != null && s.toAbsolutePath().normalize().equals(protect.toAbsolutePath().normalize())) continue;
            Files.deleteIfExists(s);
            Files.deleteIfExists(weightsOf(s));
            deleted.add(s);
        }
        return deleted;
    }

    private static long step(Path checkpointFile) {
        Matcher m = CHECKPOINT.matcher(checkpointFile.getFileName().toString());
        return m.matches() ? Long.parseLong(m.group(1)) : -1;
    }

    private static Path weightsOf(Path sidecar) {
        String n = sidecar.getFileName().toString();
        return sidecar.resolveSibling(n.substring(0, n.length() - ".json".length()) + ".safetensors");
    }
}
