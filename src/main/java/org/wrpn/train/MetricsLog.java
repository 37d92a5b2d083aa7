package org.wrpn.train;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.BufferedWriter;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/** Metrics as JSON lines, one object per step or epoch, appended and flushed as they come. */
public final class MetricsLog implements AutoCloseable {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final Path file;
    private final BufferedWriter writer;

    /** Appends to file, or with {@code fresh} starts it empty. */
    public MetricsLog(Path file, boolean fresh) {
        this.file = file;
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            writer = Files.newBufferedWriter(file, StandardCharsets.UTF_8, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    fresh ? StandardOpenOption.TRUNCATE_EXISTING : StandardOpenOption.APPEND);
        } catch (IOException e) {
            throw StorageException.of("cannot open the metrics file " + file, file, e, null);
        }
    }

    public MetricsLog(Path file) {
        this(file, false);
    }

    /** Writes one record; a failure names the file, the cause and {@code kept}, the newest checkpoint (may be null). */
    public void write(Map<String, Object> record, Path kept) {
        try {
            writer.write(JSON.writeValueAsString(record));
            writer.newLine();
            writer.flush();
        } catch (IOException e) {
            throw StorageException.of("cannot write the metrics file " + file, file, e, kept);
        }
    }

    @Override
    public void close() {
        try {
            writer.close();
        } catch (IOException ignored) {
            // nothing left to save
        }
    }
}
