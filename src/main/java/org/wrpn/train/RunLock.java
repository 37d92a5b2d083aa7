package org.wrpn.train;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/**
 * One writer per run directory: an OS-level exclusive lock (fcntl on Linux) on {@value #FILE} in each
 * directory a run writes. The OS drops it when the process ends, however it ends, so a killed run
 * never leaves a stale lock; the file stays and names the last holder. Whoever writes a run takes
 * this lock before touching the directory: a job, a sweep (on its own OUT), and, once training is
 * data-parallel, rank 0 alone (the other ranks write nothing).
 */
public final class RunLock implements AutoCloseable {
    public static final String FILE = ".wrpn.lock";

    /** Another process (or another job of this one) holds the lock. */
    public static final class HeldException extends RuntimeException {
        public HeldException(String message) {
            super(message);
        }
    }

    private final List<FileChannel> channels;

    private RunLock(List<FileChannel> channels) {
        this.channels = channels;
    }

    /**
     * Locks each directory (created if missing), in order; on refusal releases what it took and
     * throws {@link HeldException} naming the directory and the holder. Duplicates are locked once.
     */
    public static RunLock acquire(String what, Path... dirs) {
        List<FileChannel> taken = new ArrayList<>();
        List<Path> seen = new ArrayList<>();
        try {
            for (Path dir : dirs) {
                Path d = dir.toAbsolutePath().normalize();
                if (seen.contains(d)) continue;
                seen.add(d);
                taken.add(lock(what, d));
            }
            return new RunLock(taken);
        } catch (RuntimeException e) {
            closeAll(taken);
            throw e;
        }
    }

    private static FileChannel lock(String what, Path dir) {
        Path file = dir.resolve(FILE);
        FileChannel ch = null;
        try {
            Files.createDirectories(dir);
            ch = FileChannel.open(file, StandardOpenOption.CREATE, StandardOpenOption.READ, StandardOpenOption.WRITE);
            FileLock lock;
            try {
                lock = ch.tryLock();
            } catch (OverlappingFileLockException e) {
                lock = null; // held by this JVM
            }
            if (lock == null) {
                ch.close();
                throw new HeldException(what + " " + dir + " is in use by " + holder(file)
                        + "; one process writes a run directory at a time (wait for it, or use another --out)");
            }
            ch.truncate(0);
            ch.write(ByteBuffer.wrap(("pid " + ProcessHandle.current().pid() + " on " + host() + " since " + Instant.now() + "\n")
                    .getBytes(StandardCharsets.UTF_8)), 0);
            ch.force(false);
            return ch;
        } catch (IOException e) {
            closeAll(ch == null ? List.of() : List.of(ch));
            throw StorageException.of("cannot lock " + what + " " + dir, file, e, null);
        }
    }

    /** What the lock file says about its holder ("pid 123 on host since ..."). */
    private static String holder(Path file) {
        try {
            String s = Files.readString(file).trim();
            return s.isEmpty() ? "another process" : s;
        } catch (IOException e) {
            return "another process";
        }
    }

    private static String host() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException e) {
            String h = System.getenv("HOSTNAME");
            return h == null ? "an unknown host" : h;
        }
    }

    private static void closeAll(List<FileChannel> channels) {
        for (FileChannel c : channels) {
            try {
                c.close();
            } catch (IOException ignored) {
                // closing releases the lock; nothing else to undo
            }
        }
    }

    /** Releases every lock taken (closing the channel releases its lock). */
    @Override
    public void close() {
        closeAll(channels);
    }
}
