package org.wrpn.train;

import java.io.PrintStream;
import java.util.Locale;

/**
 * A one-line progress bar with rate, loss, accuracy and ETA. On a terminal it redraws in place; when
 * stderr is a file or pipe it prints a plain line every ~10% so logs stay readable.
 */
public final class ProgressBar {
    private static final int WIDTH = 24;
    private final PrintStream out;
    private final String label;
    private final long total;
    private final boolean interactive;
    private final long startNanos = System.nanoTime();
    private long lastDrawNanos;
    private int lastDecile = -1;
    private boolean enabled = true;

    public ProgressBar(PrintStream out, String label, long total) {
        this.out = out;
        this.label = label;
        this.total = Math.max(1, total);
        this.interactive = System.console() != null;
    }

    public ProgressBar disabled() {
        enabled = false;
        return this;
    }

    /** done items of total, with items per second measured in `unit`s (e.g. img). */
    public void update(long done, double unitsPerSecond, String unit, double loss, double accuracy) {
        update(done, unitsPerSecond, unit, loss, accuracy, "");
    }

    /** As above, with a note after the figures (e.g. the data loader's rate). */
    public void update(long done, double unitsPerSecond, String unit, double loss, double accuracy, String note) {
        draw(done, String.format(Locale.ROOT, " %.0f %s/s loss %.4f acc %.4f%s", unitsPerSecond, unit, loss, accuracy, note));
    }

    /** done items of total, for work without a rate, loss or accuracy worth showing (benchmark configurations). */
    public void update(long done) {
        draw(done, "");
    }

    private void draw(long done, String metrics) {
        if (!enabled) return;
        long now = System.nanoTime();
        int decile = (int) (10 * done / total);
        boolean finished = done >= total;
        if (interactive) {
            if (!finished && now - lastDrawNanos < 200_000_000L) return;
        } else if (!finished && decile == lastDecile) {
            return;
        }
        lastDrawNanos = now;
        lastDecile = decile;
        double elapsed = (now - startNanos) / 1e9;
        double eta = done > 0 ? elapsed * (total - done) / done : Double.NaN;
        int filled = (int) (WIDTH * done / total);
        String bar = "=".repeat(filled) + (filled < WIDTH ? ">" + " ".repeat(WIDTH - filled - 1) : "");
        String line = String.format(Locale.ROOT, "%s [%s] %d/%d %3d%%%s %s %s", label, bar, done, total, (int) (100 * done / total),
                metrics, finished ? "in" : "ETA", clock(finished ? elapsed : eta));
        if (interactive) {
            out.print("\r" + line + (finished ? "\n" : ""));
        } else {
            out.println(line);
        }
        out.flush();
    }

    /** m:ss, or h:mm:ss from an hour on; "--:--" when unknown. */
    public static String clock(double seconds) {
        if (Double.isNaN(seconds) || Double.isInfinite(seconds)) return "--:--";
        long s = Math.round(seconds);
        return s >= 3600 ? String.format(Locale.ROOT, "%d:%02d:%02d", s / 3600, (s / 60) % 60, s % 60)
                : String.format(Locale.ROOT, "%d:%02d", s / 60, s % 60);
    }
}
