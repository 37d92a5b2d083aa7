package org.wrpn.job;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Set;

/**
 * One rank's stderr forwarded to the launcher's as it comes (a progress bar redrawn with \r ends no line, so
 * text goes out before its line ends), less two things every rank says alike: the JVM's incubator notice on
 * its first line (the launcher said it once), and an "error: " line that another rank already printed word
 * for word (a bad flag, or a missing device, fails every rank the same way). Errors that differ between ranks,
 * such as which rank was lost, all go out.
 */
final class RankStderr {
    /** The JVM's "Using incubator modules" notice (the Vector API) starts every rank's stderr. */
    static final String INCUBATOR_NOTICE = "WARNING: Using incubator modules: jdk.incubator.vector";
    static final String ERROR_PREFIX = "error: ";

    private final OutputStream out;
    private final Set<String> errorsPrinted;
    private final ByteArrayOutputStream held = new ByteArrayOutputStream();
    private boolean firstLine = true;

    /** errorsPrinted is shared by the ranks of one launch (a concurrent set). */
    RankStderr(OutputStream out, Set<String> errorsPrinted) {
        this.out = out;
        this.errorsPrinted = errorsPrinted;
    }

    /** Copies in to out until in ends. */
    void forward(InputStream in) {
        try (in) {
            byte[] buf = new byte[8192];
            for (int n; (n = in.read(buf)) > 0; ) accept(buf, n);
        } catch (IOException e) {
            // the rank ended; its exit code says the rest
        }
        finish();
    }

    void accept(byte[] buf, int n) {
        for (int i = 0; i < n; i++) {
            held.write(buf[i]);
            if (buf[i] == '\n') endLine();
        }
        if (held.size() > 0 && !mayBeHeldBack()) {
            firstLine = false; // text that is not the notice's start: the first line is not the notice
            byte[] text = held.toByteArray();
            held.reset();
            release(text);
        }
    }

    /** What the rank left without a newline at its end. */
    void finish() {
        if (held.size() > 0) {
            String line = held.toString(StandardCharsets.UTF_8);
            held.reset();
            if (!duplicateError(line)) release(line.getBytes(StandardCharsets.UTF_8));
        }
    }

    private void endLine() {
        String line = held.toString(StandardCharsets.UTF_8);
        held.reset();
        boolean notice = firstLine && line.equals(INCUBATOR_NOTICE + "\n");
        firstLine = false;
        if (!notice && !duplicateError(line.stripTrailing())) release(line.getBytes(StandardCharsets.UTF_8));
    }

    /** Text that could still become the notice or an error line waits for its line's end; all else goes out now. */
    private boolean mayBeHeldBack() {
        String s = held.toString(StandardCharsets.UTF_8);
        return startsOrBegins(s, ERROR_PREFIX) || (firstLine && startsOrBegins(s, INCUBATOR_NOTICE));
    }

    private static boolean startsOrBegins(String text, String prefix) {
        return text.startsWith(prefix) || prefix.startsWith(text);
    }

    private boolean duplicateError(String line) {
        return line.startsWith(ERROR_PREFIX) && !errorsPrinted.add(line);
    }

    private void release(byte[] bytes) {
        synchronized (out) {
            try {
                out.write(bytes);
                out.flush();
            } catch (IOException e) {
                // the launcher's stderr is gone: nothing to tell
            }
        }
    }
}
