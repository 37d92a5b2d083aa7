package org.wrpn.train;

import java.io.IOException;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.NotDirectoryException;
import java.nio.file.Path;
import java.util.Locale;

/**
 * A file of the run could not be written: a full disk, no permission, a read-only file system, a
 * vanished directory. The message is one line naming the path, the cause and which checkpoint was
 * kept; it is not a bug (exit code 6, not "internal").
 */
public final class StorageException extends RuntimeException {
    private final Path path;

    private StorageException(String message, Path path, IOException cause) {
        super(message, cause);
        this.path = path;
    }

    /** The file or directory that could not be written. */
    public Path path() {
        return path;
    }

    /**
     * "WHAT: CAUSE (PATH); the checkpoint KEPT is intact" or, with kept null, without the last part.
     * what says what was being done, e.g. "cannot write checkpoint to runs/a/checkpoints".
     */
    public static StorageException of(String what, Path path, IOException e, Path kept) {
        StringBuilder m = new StringBuilder(what).append(": ").append(cause(e));
        Path named = named(e, path);
        if (!what.endsWith(named.toString())) m.append(" (").append(named).append(')');
        if (kept != null && Files.isRegularFile(kept)) {
            m.append("; the previous checkpoint ").append(kept).append(" is intact, a restart with --resume continues from it");
        } else if (kept != null) {
            m.append("; the previous checkpoint ").append(kept).append(" is gone too");
        }
        return new StorageException(m.toString(), named, e);
    }

    /** The file the error names, else the one given. */
    private static Path named(IOException e, Path fallback) {
        if (e instanceof FileSystemException f && f.getFile() != null) {
            try {
                return Path.of(f.getFile());
            } catch (RuntimeException ignored) {
                // not a path: keep the fallback
            }
        }
        return fallback;
    }

    /** The cause in words: the OS reason, named plainly for the common ones. */
    public static String cause(IOException e) {
        String reason = e instanceof FileSystemException f && f.getReason() != null ? f.getReason() : String.valueOf(e.getMessage());
        String r = reason.toLowerCase(Locale.ROOT);
        if (r.contains("no space left") || r.contains("disk quota")) return "no space left on the device (disk full)";
        if (e instanceof AccessDeniedException || r.contains("permission denied")) return "permission denied";
        if (r.contains("read-only file system")) return "read-only file system";
        if (e instanceof NoSuchFileException) return "the directory no longer exists";
        if (e instanceof NotDirectoryException || r.contains("not a directory")) return "a path component is a file, not a directory";
        return reason.replace('\n', ' ').trim();
    }
}
