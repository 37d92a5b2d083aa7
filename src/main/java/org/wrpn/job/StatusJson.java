package org.wrpn.job;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import org.apache.logging.log4j.LogManager;
import org.wrpn.train.NumericalFailureException;
import org.wrpn.train.StorageException;
import org.wrpn.train.Trainer;

/**
 * Writes job events as JSON lines, one object per event, flushed as it happens: the status stream of
 * `wrpn train --status json` (stdout) and `--status-file`. Every line has "event" (started, epoch,
 * checkpoint, finished, failed), "time" (ISO-8601) and "pid"; README.md lists the other fields.
 * Non-finite numbers are written as null.
 */
public final class StatusJson implements JobListener, AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final PrintStream stream;
    private final BufferedWriter file;
    private final Path path;
    private boolean failed;

    private StatusJson(PrintStream stream, BufferedWriter file, Path path) {
        this.stream = stream;
        this.file = file;
        this.path = path;
    }

    public static StatusJson to(PrintStream out) {
        return new StatusJson(out, null, null);
    }

    /** Appends to the file (a restarted job adds to its earlier lines), creating it and its directory. */
    public static StatusJson toFile(Path path) {
        try {
            Path parent = path.toAbsolutePath().getParent();
            if (parent != null) Files.createDirectories(parent);
            return new StatusJson(null, Files.newBufferedWriter(path, StandardCharsets.UTF_8, StandardOpenOption.CREATE,
                    StandardOpenOption.APPEND, StandardOpenOption.WRITE), path);
        } catch (IOException e) {
            throw StorageException.of("cannot open the --status-file " + path, path, e, null);
        }
    }

    @Override
    public synchronized void onEvent(JobEvent event) {
        String line;
        try {
            line = JSON.writeValueAsString(toMap(event));
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
        if (stream != null) {
            stream.println(line);
            stream.flush();
        }
        if (file != null) {
            try {
                file.write(line);
                file.newLine();
                file.flush();
            } catch (IOException e) { // training goes on; the checkpoints and the exit code still tell
                if (!failed) LogManager.getLogger(StatusJson.class).warn("{}; later events are not in it",
                        StorageException.of("cannot write the status file " + path, path, e, null).getMessage());
                failed = true;
            }
        }
    }

    /** The JSON object of an event, in the order it is written. */
    public static Map<String, Object> toMap(JobEvent event) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("event", switch (event) {
            case JobEvent.Started s -> "started";
            case JobEvent.EpochEnded e -> "epoch";
            case JobEvent.CheckpointWritten c -> "checkpoint";
            case JobEvent.Finished f -> "finished";
            case JobEvent.Failed f -> "failed";
        });
        m.put("time", Instant.now().toString());
        m.put("pid", ProcessHandle.current().pid());
        switch (event) {
            case JobEvent.Started s -> {
                m.put("out", s.spec().config().out().toString());
                m.put("backend", s.backend());
                m.put("resumed_from", str(s.resumedFrom()));
                m.put("epoch", s.epoch());
                m.put("step_in_epoch", s.stepInEpoch());
                m.put("global_step", s.globalStep());
                m.put("total_steps", s.totalSteps());
                m.put("spec", s.spec().toJson());
            }
            case JobEvent.EpochEnded e -> {
                m.put("epoch", e.result().epoch());
                m.put("global_step", e.globalStep());
                epochFields(m, e.result());
            }
            case JobEvent.CheckpointWritten c -> {
                m.put("path", c.sidecar().toString());
                m.put("reason", c.reason().name().toLowerCase(Locale.ROOT));
                m.put("epoch", c.epoch());
                m.put("step_in_epoch", c.stepInEpoch());
                m.put("global_step", c.globalStep());
            }
            case JobEvent.Finished f -> {
                m.put("state", f.state().name().toLowerCase(Locale.ROOT));
                m.put("exit_code", f.exitCode());
                m.put("checkpoint", str(f.checkpoint()));
                m.put("global_step", f.globalStep());
                if (f.last() != null) epochFields(m, f.last());
            }
            case JobEvent.Failed f -> {
                m.put("exit_code", f.exitCode());
                m.put("error_kind", ExitCode.kind(f.exitCode()));
                m.put("error", f.message());
                m.put("checkpoint", str(f.checkpoint()));
                if (f.cause() instanceof NumericalFailureException n) {
                    m.put("layer", n.layer());
                    m.put("global_step", n.globalStep() < 0 ? null : n.globalStep());
                }
                if (f.cause() instanceof OutOfMemoryFailure o) {
                    m.put("suggested_batch", o.suggestedBatch());
                    m.put("needed_bytes", o.neededBytes());
                    m.put("budget_bytes", o.budgetBytes());
                }
            }
        }
        return m;
    }

    private static void epochFields(Map<String, Object> m, Trainer.EpochResult r) {
        m.put("train_loss", finite(r.trainLoss()));
        m.put("train_accuracy", finite(r.trainAccuracy()));
        m.put("test_loss", finite(r.testLoss()));
        m.put("test_accuracy", finite(r.testAccuracy()));
        m.put("seconds", finite(r.seconds()));
        m.put("images_per_second", finite(r.imagesPerSecond()));
    }

    private static Double finite(double v) {
        return Double.isFinite(v) ? v : null;
    }

    private static String str(Path p) {
        return p == null ? null : p.toString();
    }

    @Override
    public synchronized void close() {
        if (file != null) {
            try {
                file.close();
            } catch (IOException ignored) {
                // every line was flushed when written
            }
        }
    }
}
