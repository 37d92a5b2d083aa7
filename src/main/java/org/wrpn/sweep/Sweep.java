package org.wrpn.sweep;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.backend.Device;
import org.wrpn.bench.Machine;
import org.wrpn.job.ExitCode;
import org.wrpn.job.JobHandle;
import org.wrpn.job.JobResult;
import org.wrpn.job.JobState;
import org.wrpn.job.JobStatus;
import org.wrpn.job.Jobs;
import org.wrpn.job.Signals;
import org.wrpn.train.AtomicFiles;
import org.wrpn.train.ProgressBar;
import org.wrpn.train.RunLock;

/**
 * Runs a sweep: each cell is a normal job in OUT/CELL with automatic resume, so a finished cell is
 * not retrained and an interrupted one continues from its newest checkpoint. {@code jobs} cells run
 * at once. Prints one line per cell as it ends (with the sweep's progress and ETA) and, on a
 * terminal, a live line with the running cells' progress; then writes the report.
 */
public final class Sweep {
    private static final Logger LOG = LogManager.getLogger(Sweep.class);

    /** How the sweep ended: the exit code (0, the first failed cell's code, or 130/143 when stopped) and the files written. */
    public record Outcome(int exitCode, int done, int failed, int stopped, SweepReport report, List<Path> files) {}

    private final SweepSpec spec;
    private final PrintStream out;
    private final boolean live;
    private final boolean handleSignals;
    private final List<Running> running = new CopyOnWriteArrayList<>();
    private final AtomicInteger finished = new AtomicInteger();
    private volatile int stopCode;
    private int alreadyDone;
    private int firstFailureCode;
    private final long startNanos = System.nanoTime();

    private record Running(SweepSpec.Cell cell, JobHandle handle, long startNanos, long startStep) {}

    /**
     * @param live redraw a progress line in place (only on a terminal)
     * @param handleSignals turn SIGTERM/SIGINT into "checkpoint the running cells, then exit 143/130"
     */
    public Sweep(SweepSpec spec, PrintStream out, boolean live, boolean handleSignals) {
        this.spec = spec;
        this.out = out;
        this.live = live && System.console() != null;
        this.handleSignals = handleSignals;
    }

    /** Holds OUT's {@link RunLock} throughout: a second sweep on OUT is refused (each cell also locks OUT/CELL). */
    public Outcome run() throws IOException, InterruptedException {
        try (RunLock lock = RunLock.acquire("sweep directory", spec.base().out())) {
            Files.createDirectories(spec.base().out());
            AtomicFiles.writeString(spec.base().out().resolve("sweep.json"),
                    new ObjectMapper().writerWithDefaultPrettyPrinter().writeValueAsString(spec.toJson()) + "\n");
            Trained t = trainCells(spec.cells());
            SweepReport report = SweepReport.read(spec);
            List<Path> files = report.write(Machine.describe());
            int done = (int) report.cells().stream().filter(r -> r.state() == SweepReport.CellState.DONE).count();
            summary(t, done, "; wrote " + String.join(", ", files.stream().map(Path::toString).toList()));
            return new Outcome(t.exitCode(), done, t.failed(), t.stopped(), report, files);
        }
    }

    /**
     * Trains some cells of the grid (e.g. the survivors of a round of `wrpn choose`), each as in
     * {@link #run()}, under OUT's lock; writes neither sweep.json nor the report (outcome's report is null).
     */
    public Outcome train(List<SweepSpec.Cell> cells) throws IOException, InterruptedException {
        try (RunLock lock = RunLock.acquire("sweep directory", spec.base().out())) {
            Files.createDirectories(spec.base().out());
            Trained t = trainCells(cells);
            summary(t, t.done(), "");
            return new Outcome(t.exitCode(), t.done(), t.failed(), t.stopped(), null, List.of());
        }
    }

    private record Trained(int exitCode, int total, int done, int failed, int stopped) {}

    private Trained trainCells(List<SweepSpec.Cell> cells) throws InterruptedException {
        int total = cells.size();
        ConcurrentLinkedQueue<SweepSpec.Cell> todo = new ConcurrentLinkedQueue<>();
        for (SweepSpec.Cell c : cells) {
            SweepReport.CellResult r = SweepReport.readCell(c);
            if (r.state() == SweepReport.CellState.DONE) {
                alreadyDone++;
                int n = finished.incrementAndGet();
                println(String.format(Locale.ROOT, "[%d/%d] %s: done before, test accuracy %.4f (not rerun)", n, total, c.name(),
                        r.last().testAccuracy()));
            } else {
                todo.add(c);
            }
        }
        int toRun = todo.size();
        if (spec.jobs() > 1 && spec.base().device() != Device.CUDA) limitCpuThreads(spec.jobs());
        Signals signals = handleSignals ? Signals.install(this::onSignal, "TERM", "INT") : null;
        Thread ticker = live ? Thread.ofPlatform().daemon().name("wrpn-sweep-progress").start(() -> tick(total)) : null;
        AtomicInteger failed = new AtomicInteger(), stopped = new AtomicInteger(), completed = new AtomicInteger();
        try {
            List<Thread> workers = new ArrayList<>();
            for (int i = 0; i < Math.min(spec.jobs(), Math.max(1, toRun)); i++) {
                workers.add(Thread.ofPlatform().name("wrpn-sweep-" + i).start(() -> work(todo, total, failed, stopped, completed)));
            }
            for (Thread t : workers) t.join();
        } finally {
            if (ticker != null) ticker.interrupt();
            if (signals != null) signals.close();
        }
        int code = stopCode != 0 ? stopCode : firstFailureCode();
        return new Trained(code, total, alreadyDone + completed.get(), failed.get(), stopped.get());
    }

    private void summary(Trained t, int done, String wrote) {
        println(String.format(Locale.ROOT, "sweep: %d of %d cells done (%d trained now, %d before), %d failed, %d stopped, in %s%s",
                done, t.total(), done - alreadyDone, alreadyDone, t.failed(), t.stopped(),
                ProgressBar.clock((System.nanoTime() - startNanos) / 1e9), wrote));
    }

    private void work(ConcurrentLinkedQueue<SweepSpec.Cell> todo, int total, AtomicInteger failed, AtomicInteger stopped,
            AtomicInteger completed) {
        SweepSpec.Cell cell;
        while (stopCode == 0 && (cell = todo.poll()) != null) {
            JobHandle h = Jobs.start(cell.job(), null);
            Running r = new Running(cell, h, System.nanoTime(), h.status().globalStep());
            running.add(r);
            if (stopCode != 0) h.cancel(); // a signal between poll and start
            JobResult result;
            try {
                result = h.awaitCompletion();
            } catch (InterruptedException e) {
                h.cancel();
                Thread.currentThread().interrupt();
                return;
            } finally {
                running.remove(r);
            }
            int n = finished.incrementAndGet();
            String line;
            if (result.state() == JobState.COMPLETED) {
                completed.incrementAndGet();
                SweepReport.CellResult cr = SweepReport.readCell(cell);
                var last = cr.last();
                line = last == null ? cell.name() + ": completed" : String.format(Locale.ROOT,
                        "%s: test accuracy %.4f after %d epoch(s), train %s, %.0f img/s", cell.name(), last.testAccuracy(), last.epoch(),
                        ProgressBar.clock(cr.trainSeconds()), last.imagesPerSecond());
            } else if (result.state() == JobState.STOPPED) {
                stopped.incrementAndGet();
                line = cell.name() + ": stopped with a checkpoint; running the sweep again resumes it";
            } else {
                failed.incrementAndGet();
                recordFailure(result.exitCode());
                line = cell.name() + ": failed (" + ExitCode.kind(result.exitCode()) + ", exit " + result.exitCode() + "): " + result.message();
            }
            println(String.format(Locale.ROOT, "[%d/%d] %s | sweep %s", n, total, line, eta(total)));
        }
    }

    private synchronized void recordFailure(int code) {
        if (firstFailureCode == 0) firstFailureCode = code;
    }

    private synchronized int firstFailureCode() {
        return firstFailureCode;
    }

    /** Elapsed time and an ETA from the cells finished and the fraction of the running ones done. */
    private String eta(int total) {
        double elapsed = (System.nanoTime() - startNanos) / 1e9;
        double doneUnits = finished.get();
        for (Running r : running) {
            JobStatus s = r.handle().status();
            if (s.totalSteps() > 0) doneUnits += (double) s.globalStep() / s.totalSteps();
        }
        int left = total - finished.get();
        double trainedUnits = doneUnits - alreadyDone;
        String eta = trainedUnits > 0.05 ? ProgressBar.clock(elapsed * (doneUnits >= total ? 0 : (total - doneUnits) / trainedUnits)) : "--:--";
        return String.format(Locale.ROOT, "%d%% done, %d cell(s) left, %s elapsed, ETA %s", (int) (100 * doneUnits / total), left,
                ProgressBar.clock(elapsed), eta);
    }

    private void tick(int total) {
        while (!Thread.currentThread().isInterrupted()) {
            try {
                Thread.sleep(1000);
            } catch (InterruptedException e) {
                return;
            }
            StringBuilder sb = new StringBuilder();
            for (Running r : running) {
                JobStatus s = r.handle().status();
                if (s.totalSteps() <= 0) continue;
                double seconds = (System.nanoTime() - r.startNanos()) / 1e9;
                double rate = (s.globalStep() - r.startStep()) * r.cell().job().config().batch() / Math.max(1e-9, seconds);
                sb.append(String.format(Locale.ROOT, " | %s %d%% %.0f img/s", r.cell().name(), 100 * s.globalStep() / s.totalSteps(), rate));
            }
            synchronized (out) {
                out.print("\r\033[K" + "sweep " + eta(total) + sb);
                out.flush();
            }
        }
    }

    private void println(String line) {
        synchronized (out) {
            out.println((live ? "\r\033[K" : "") + line);
            out.flush();
        }
    }

    private void onSignal(int number) {
        String name = number == 15 ? "SIGTERM" : number == 2 ? "SIGINT" : "signal " + number;
        if (stopCode != 0) {
            LOG.warn("second {}: exiting now; the checkpoints on disk are intact", name);
            System.exit(128 + number);
        }
        stopCode = 128 + number;
        LOG.info("{}: stopping the running cells after their current step, with a checkpoint", name);
        for (Running r : running) r.handle().cancel();
    }

    /** Stops the sweep as a signal would: running cells checkpoint and stop, no new cell starts. */
    public void stop() {
        if (stopCode == 0) stopCode = ExitCode.TERMINATED;
        for (Running r : running) r.handle().cancel();
    }

    private static void limitCpuThreads(int jobs) {
        int threads = Math.max(1, Runtime.getRuntime().availableProcessors() / jobs);
        try {
            Device.limitCpuThreads(threads);
            LOG.info("{} cells at once: GEMM limited to {} thread(s) each", jobs, threads);
        } catch (LinkageError e) {
            LOG.debug("no CPU GEMM to limit: {}", e.toString());
        }
    }
}
