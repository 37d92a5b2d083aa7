package org.wrpn.job;

import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.logging.log4j.LogManager;
import org.apache.logging.log4j.Logger;
import org.wrpn.train.Trainer;

/**
 * The process contract of `wrpn train`: runs one job on the calling thread, writes its status
 * events, turns SIGTERM/SIGINT into "checkpoint after this step, then exit 143/130", and returns the
 * exit code ({@link ExitCode}). A second signal exits at once; the checkpoints already on disk stay
 * loadable because each is written atomically.
 */
public final class JobProcess {
    private static final Logger LOG = LogManager.getLogger(JobProcess.class);

    /**
     * @param statusJson status events as JSON lines on stdout, instead of the human summary line
     * @param statusFile also append the events to this file; null for none
     * @param progressBar draw the progress bar on stderr
     * @param handleSignals catch SIGTERM and SIGINT: only for a process that owns its JVM
     * @param batchHook sees every normalized training batch (fault injection in tests); null for none
     */
    public record Options(boolean statusJson, Path statusFile, boolean progressBar, boolean handleSignals,
            Trainer.BatchHook batchHook) {}

    private JobProcess() {}

    /** Runs the job; failures are printed to err as one "error: ..." line and returned as their exit code. */
    public static int run(JobSpec spec, Options options, PrintStream out, PrintWriter err) {
        StatusJson file = options.statusFile() == null ? null : StatusJson.toFile(options.statusFile());
        StatusJson stdout = options.statusJson() ? StatusJson.to(out) : null;
        JobRun run = new JobRun(spec, e -> {
            if (stdout != null) stdout.onEvent(e);
            if (file != null) file.onEvent(e);
        }, options.batchHook(), options.progressBar());
        Signals signals = options.handleSignals() ? Signals.install(n -> onSignal(run, n), "TERM", "INT") : null;
        JobResult r;
        try {
            r = run.run();
        } finally {
            if (signals != null) signals.close();
            if (file != null) file.close();
        }
        if (!options.statusJson() && r.state() != JobState.FAILED) out.println(summary(r, run.status(), spec.resume()));
        if (r.state() == JobState.FAILED) {
            err.println("error: " + r.message());
            err.flush();
        }
        return r.exitCode();
    }

    /** Reports a job refused before it could start (e.g. a bad spec) to the status sinks, if any. */
    public static void refused(Options options, PrintStream out, RuntimeException e) {
        JobEvent.Failed f = new JobEvent.Failed(e, ExitCode.of(e), ExitCode.message(e), null);
        if (options.statusJson()) StatusJson.to(out).onEvent(f);
        if (options.statusFile() != null) {
            try (StatusJson file = StatusJson.toFile(options.statusFile())) {
                file.onEvent(f);
            } catch (RuntimeException ignored) {
                // the error line on stderr still tells
            }
        }
    }

    private static void onSignal(JobRun run, int number) {
        String name = number == 15 ? "SIGTERM" : number == 2 ? "SIGINT" : "signal " + number;
        if (run.stopRequested()) {
            LOG.warn("second {}: exiting now; the last checkpoint on disk is intact", name);
            System.exit(128 + number);
        }
        LOG.info("{}: stopping after the current step, with a checkpoint", name);
        run.requestStop(128 + number);
    }

    private static String summary(JobResult r, JobStatus s, String resume) {
        Trainer.EpochResult last = r.lastEpoch();
        return switch (r.state()) {
            case COMPLETED -> last != null
                    ? String.format(Locale.ROOT, "test accuracy %.4f (loss %.4f) after %d epoch(s); %.1f img/s; checkpoint %s",
                            last.testAccuracy(), last.testLoss(), last.epoch(), last.imagesPerSecond(), r.lastCheckpoint())
                    : "nothing left to train; checkpoint " + r.lastCheckpoint();
            case STOPPED -> String.format(Locale.ROOT, "stopped at epoch %d step %d (global step %d); checkpoint %s; %s",
                    s.epoch() + 1, s.stepInEpoch(), s.globalStep(), r.lastCheckpoint(),
                    resume.equals(JobSpec.RESUME_NEVER) ? "run it again with --resume to continue" : "the same command resumes it");
            default -> r.message();
        };
    }
}
