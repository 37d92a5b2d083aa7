package org.wrpn.job;

import org.wrpn.BadInputException;
import org.wrpn.dist.RankLostException;
import org.wrpn.train.NumericalFailureException;
import org.wrpn.train.RunLock;
import org.wrpn.train.StorageException;

/**
 * The exit codes of `wrpn train` (and of {@link JobResult#exitCode()}), and how a failure maps to one.
 * They are part of the process contract that schedulers rely on: never renumber them.
 */
public final class ExitCode {
    /** The job finished (or there was nothing left to train). */
    public static final int OK = 0;
    /** A bug or an environment problem wrpn cannot name more precisely; the message says what. */
    public static final int INTERNAL = 1;
    /** Bad input: a flag or spec value, missing or corrupt data, a mismatched or corrupt checkpoint. */
    public static final int BAD_INPUT = 2;
    /** Out of memory; the message carries the memory planner's largest batch that fits. */
    public static final int OUT_OF_MEMORY = 3;
    /** Numerical failure: a NaN or infinite loss or gradient, named by layer and step. */
    public static final int NUMERICAL = 4;
    /** The run directory is locked by another process (or job): refused before anything was touched. */
    public static final int BUSY = 5;
    /** A file of the run could not be written (disk full, permission, read-only, vanished directory). */
    public static final int STORAGE = 6;
    /**
     * A rank of a data-parallel job died, hung past --rank-timeout or could not be reached; the
     * message names it where the rendezvous store can tell. Relaunching the same command resumes.
     */
    public static final int RANK_LOST = 7;
    /** Stopped by SIGINT (128 + 2) after writing a checkpoint. */
    public static final int INTERRUPTED = 130;
    /** Stopped by SIGTERM (128 + 15) or {@link JobHandle#cancel()} after writing a checkpoint. */
    public static final int TERMINATED = 143;

    private ExitCode() {}

    public static int of(Throwable failure) {
        if (failure instanceof BadInputException) return BAD_INPUT;
        if (failure instanceof NumericalFailureException) return NUMERICAL;
        if (failure instanceof RunLock.HeldException) return BUSY;
        if (failure instanceof StorageException) return STORAGE;
        if (failure instanceof RankLostException) return RANK_LOST;
        if (failure instanceof OutOfMemoryFailure || isOutOfMemory(failure)) return OUT_OF_MEMORY;
        return INTERNAL;
    }

    /** What `wrpn` prints after "error: ", on one line. */
    public static String message(Throwable failure) {
        String m = oneLine(failure.getMessage());
        return switch (of(failure)) {
            case BAD_INPUT -> m;
            case NUMERICAL -> "numerical failure: " + m;
            case OUT_OF_MEMORY -> "out of memory: " + m;
            case BUSY -> "busy: " + m;
            case STORAGE -> "storage: " + m;
            case RANK_LOST -> "rank lost: " + m;
            default -> "internal: " + failure.getClass().getSimpleName() + ": " + m
                    + " (run with -Dwrpn.logLevel=debug for the stack trace)";
        };
    }

    /** A short machine-readable name of the failure kind, as in the "failed" status event. */
    public static String kind(int exitCode) {
        return switch (exitCode) {
            case BAD_INPUT -> "bad_input";
            case OUT_OF_MEMORY -> "out_of_memory";
            case NUMERICAL -> "numerical";
            case BUSY -> "busy";
            case STORAGE -> "storage";
            case RANK_LOST -> "rank_lost";
            default -> "internal";
        };
    }

    /**
     * The JVM heap or a device allocator ran out. Matched by name for the device error so that this
     * package needs no backend class (DESIGN.md: job sees only the Backend interface).
     */
    static boolean isOutOfMemory(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof OutOfMemoryError || c.getClass().getSimpleName().equals("DeviceOutOfMemoryError")) return true;
        }
        return false;
    }

    static String oneLine(String s) {
        return s == null ? "" : s.replace('\r', ' ').replace('\n', ' ').trim();
    }
}
