package org.wrpn.train;

import java.io.BufferedOutputStream;
import java.io.FilterOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.security.SecureRandom;
import java.util.HexFormat;

/**
 * Crash-safe file replacement: write a temp file in the target's directory, fsync it, rename it
 * over the target, fsync the directory. Readers see either the old or the new content, never a mix.
 */
public final class AtomicFiles {
    private static final SecureRandom RANDOM = new SecureRandom();

    private AtomicFiles() {}

    /** An OutputStream consumer that may throw IOException. */
    @FunctionalInterface
    public interface IoConsumer<T> {
        void accept(T value) throws IOException;
    }

    /**
     * Replaces {@code target} with what {@code body} writes. The stream is buffered; {@code body}
     * need not flush or close it. On any failure the temp file is deleted and the target untouched.
     */
    public static void write(Path target, IoConsumer<OutputStream> body) throws IOException {
        Path absolute = target.toAbsolutePath();
        Path dir = absolute.getParent();
        if (dir == null) throw new FileSystemException(target.toString(), null, "has no parent directory");
        if (Files.isDirectory(absolute)) throw new FileSystemException(target.toString(), null, "is a directory");
        FileChannel channel = null;
        Path temp = null;
        try {
            while (channel == null) {
                temp = dir.resolve(tempName(absolute.getFileName().toString()));
                try {
                    channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
                } catch (FileAlreadyExistsException e) {
                    // name collision: try another
                }
            }
            OutputStream out = new BufferedOutputStream(new UnclosableStream(Channels.newOutputStream(channel)), 1 << 16);
            body.accept(out);
            out.flush();
            channel.force(true);
            channel.close();
            Files.move(temp, absolute, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            temp = null;
        } catch (IOException | RuntimeException | Error e) {
            if (channel != null) {
                try {
                    channel.close();
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            if (temp != null) {
                try {
                    Files.deleteIfExists(temp);
                } catch (IOException suppressed) {
                    e.addSuppressed(suppressed);
                }
            }
            throw e;
        }
        fsyncDirectory(dir);
    }

    public static void writeBytes(Path target, byte[] bytes) throws IOException {
        write(target, out -> out.write(bytes));
    }

    /** Writes {@code text} as UTF-8. */
    public static void writeString(Path target, String text) throws IOException {
        writeBytes(target, text.getBytes(StandardCharsets.UTF_8));
    }

    static String tempName(String targetName) {
        byte[] suffix = new byte[8];
        RANDOM.nextBytes(suffix);
        return "." + targetName + ".tmp-" + HexFormat.of().formatHex(suffix);
    }

    /** Makes the rename durable. Some platforms/filesystems refuse to open or sync a directory: ignored. */
    private static void fsyncDirectory(Path dir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException | UnsupportedOperationException e) {
            // best effort
        }
    }

    /** Keeps a body that closes its stream from closing the channel before it is forced. */
    private static final class UnclosableStream extends FilterOutputStream {
        UnclosableStream(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() throws IOException {
            flush();
        }
    }
}
