package org.wrpn.data;

import java.io.BufferedInputStream;
import java.io.Closeable;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipException;
import org.wrpn.BadInputException;

/** A data file opened for reading, transparently gunzipped when it starts with 1f 8b. */
final class DataFile implements Closeable {
    private static final int BUFFER = 1 << 16;

    final Path path;
    final boolean gzip;
    private final InputStream in;

    private DataFile(Path path, boolean gzip, InputStream in) {
        this.path = path;
        this.gzip = gzip;
        this.in = in;
    }

    static DataFile open(Path path) {
        requireRegularFile(path);
        InputStream raw = null;
        boolean gzip = false;
        try {
            raw = new BufferedInputStream(Files.newInputStream(path), BUFFER);
            raw.mark(2);
            int b0 = raw.read();
            int b1 = raw.read();
            raw.reset();
            gzip = b0 == 0x1f && b1 == 0x8b;
            if (!gzip && path.getFileName().toString().endsWith(".gz")) {
                throw bad(path, String.format("named .gz but not gzip data (starts with %s, gzip starts with 1f 8b)",
                        b0 < 0 ? "nothing: empty file" : b1 < 0 ? String.format("%02x", b0) : String.format("%02x %02x", b0, b1)));
            }
            return new DataFile(path, gzip, gzip ? new GZIPInputStream(raw, BUFFER) : raw);
        } catch (IOException e) {
            closeQuietly(raw);
            throw failure(path, gzip, e);
        } catch (BadInputException e) {
            closeQuietly(raw);
            throw e;
        }
    }

    static void requireRegularFile(Path path) {
        if (!Files.exists(path)) throw bad(path, "file not found");
        if (!Files.isRegularFile(path)) throw bad(path, "not a regular file");
        if (!Files.isReadable(path)) throw bad(path, "permission denied");
    }

    /** Reads up to n bytes; fewer only at the end of the data. */
    byte[] read(int n) {
        try {
            return in.readNBytes(n);
        } catch (IOException e) {
            throw failure(path, gzip, e);
        }
    }

    /** Counts the bytes left (which also checks a gzip trailer). */
    long skipRest() {
        try {
            return in.transferTo(OutputStream.nullOutputStream());
        } catch (IOException e) {
            throw failure(path, gzip, e);
        }
    }

    @Override
    public void close() {
        closeQuietly(in);
    }

    static BadInputException bad(Path path, String problem) {
        return new BadInputException(path + ": " + problem);
    }

    static BadInputException failure(Path path, boolean gzip, IOException e) {
        String detail = oneLine(e.getMessage());
        return switch (e) {
            case NoSuchFileException x -> new BadInputException(path + ": file not found", e);
            case AccessDeniedException x -> new BadInputException(path + ": permission denied", e);
            case ZipException x -> new BadInputException(path + ": corrupt gzip data (" + detail + ")", e);
            case EOFException x when gzip ->
                    new BadInputException(path + ": truncated gzip data (compressed stream ends early)", e);
            default -> new BadInputException(path + ": cannot read (" + e.getClass().getSimpleName()
                    + (detail.isEmpty() ? "" : ": " + detail) + ")", e);
        };
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replaceAll("\\s+", " ").strip();
    }

    private static void closeQuietly(Closeable c) {
        if (c == null) return;
        try {
            c.close();
        } catch (IOException ignored) {
            // nothing useful to do
        }
    }
}
