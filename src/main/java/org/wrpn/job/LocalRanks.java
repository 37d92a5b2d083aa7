package org.wrpn.job;

import java.io.IOException;
import java.io.PrintWriter;
import java.lang.management.ManagementFactory;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import org.wrpn.dist.LaunchEnvironment;

/**
 * `wrpn train --nproc N`: starts N ranks of the same command on this host (like torchrun
 * --nproc-per-node), each a JVM with RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR=127.0.0.1 and
 * MASTER_PORT set, and waits for them. SIGTERM or SIGINT is passed to every rank (each stops after
 * rank 0's checkpoint); a rank that ends with a failure gives the others --rank-timeout (and a
 * margin) to notice and stop by themselves before they are killed, so no rank outlives the job.
 */
public final class LocalRanks {
    /** Beyond the rank timeout: the survivors' own lost-rank check and their exit. */
    static final long MARGIN_MILLIS = 15_000;
    private static final String MAIN = "org.wrpn.cli.Main";

    private LocalRanks() {}

    /**
     * Runs args (the whole command line, with --nproc 1 appended so the ranks do not launch again)
     * as n ranks; returns the job's exit code: 0 when all finished, 128 + the signal when stopped by
     * one, else the first failing rank's (a rank killed or crashed: {@link ExitCode#RANK_LOST}).
     */
    public static int run(int n, List<String> args, int rankTimeoutSeconds, PrintWriter err) {
        int port = masterPort();
        List<Process> ranks = new ArrayList<>();
        int[] signal = {0};
        Set<String> errorsPrinted = ConcurrentHashMap.newKeySet(); // an error every rank meets is printed once
        try (Signals signals = Signals.install(number -> {
            synchronized (signal) {
                signal[0] = number;
            }
            for (Process p : ranks) p.destroy(); // SIGTERM: each rank stops after the next step, rank 0 checkpoints
        }, "TERM", "INT")) {
            for (int rank = 0; rank < n; rank++) ranks.add(start(rank, n, port, args, errorsPrinted));
            return await(ranks, rankTimeoutSeconds * 1000L + MARGIN_MILLIS, signal, err);
        } catch (IOException e) {
            for (Process p : ranks) p.destroyForcibly();
            err.println("error: cannot start the ranks: " + e.getMessage());
            err.flush();
            return ExitCode.INTERNAL;
        }
    }

    private static Process start(int rank, int n, int port, List<String> args, Set<String> errorsPrinted) throws IOException {
        List<String> cmd = new ArrayList<>();
        cmd.add(ProcessHandle.current().info().command().orElse(Path.of(System.getProperty("java.home"), "bin", "java").toString()));
        List<String> jvm = ManagementFactory.getRuntimeMXBean().getInputArguments();
        cmd.addAll(jvm);
        // the other ranks' info lines would repeat rank 0's; their warnings and errors still show
        if (rank > 0 && jvm.stream().noneMatch(a -> a.startsWith("-Dwrpn.logLevel="))) cmd.add("-Dwrpn.logLevel=warn");
        cmd.add("-cp");
        cmd.add(System.getProperty("java.class.path"));
        cmd.add(MAIN);
        cmd.addAll(withoutNproc(args));
        cmd.add("--nproc");
        cmd.add("1");
        ProcessBuilder pb = new ProcessBuilder(cmd).inheritIO().redirectError(ProcessBuilder.Redirect.PIPE);
        if (rank > 0) pb.redirectOutput(ProcessBuilder.Redirect.DISCARD); // rank 0 prints the job's summary and events
        Map<String, String> env = pb.environment();
        env.put("RANK", Integer.toString(rank));
        env.put("WORLD_SIZE", Integer.toString(n));
        env.put("LOCAL_RANK", Integer.toString(rank));
        env.put("LOCAL_WORLD_SIZE", Integer.toString(n));
        env.put("MASTER_ADDR", "127.0.0.1");
        env.put("MASTER_PORT", Integer.toString(port));
        // The ranks share this host's cores: each takes its part for its GEMM and OpenMP threads (as torchrun
        // sets OMP_NUM_THREADS), unless the user said otherwise; oversubscribed cores spin against each other.
        String threads = Integer.toString(Math.max(1, Runtime.getRuntime().availableProcessors() / n));
        env.putIfAbsent("OMP_NUM_THREADS", threads);
        env.putIfAbsent("OPENBLAS_NUM_THREADS", threads);
        Process p = pb.start();
        RankStderr stderr = new RankStderr(System.err, errorsPrinted);
        Thread t = new Thread(() -> stderr.forward(p.getErrorStream()), "wrpn-rank-" + rank + "-stderr");
        t.setDaemon(true);
        t.start();
        return p;
    }

    /** args less any --nproc N (picocli refuses a repeated option). */
    static List<String> withoutNproc(List<String> args) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < args.size(); i++) {
            String a = args.get(i);
            if (a.equals("--nproc")) i++;
            else if (!a.startsWith("--nproc=")) out.add(a);
        }
        return out;
    }

    /** MASTER_PORT if the user set one, else a port free now on loopback. */
    private static int masterPort() {
        String set = System.getenv("MASTER_PORT");
        if (set != null && !set.isBlank()) return LaunchEnvironment.from(Map.of("RANK", "0", "WORLD_SIZE", "1", "MASTER_PORT", set)).masterPort();
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            return s.getLocalPort();
        } catch (IOException e) {
            return LaunchEnvironment.DEFAULT_MASTER_PORT;
        }
    }

    private static int await(List<Process> ranks, long graceMillis, int[] signal, PrintWriter err) {
        int firstFailed = -1, firstCode = 0;
        long deadline = Long.MAX_VALUE;
        while (true) {
            boolean running = false;
            for (int r = 0; r < ranks.size(); r++) {
                Process p = ranks.get(r);
                if (p.isAlive()) {
                    running = true;
                } else if (p.exitValue() != 0 && firstFailed < 0) {
                    firstFailed = r;
                    firstCode = p.exitValue();
                    deadline = System.currentTimeMillis() + graceMillis;
                }
            }
            if (!running) break;
            if (System.currentTimeMillis() > deadline) {
                for (Process p : ranks) p.destroyForcibly();
                err.println("warning: ranks still running " + graceMillis / 1000 + " s after rank " + firstFailed + " failed were killed");
                err.flush();
                for (Process p : ranks) p.onExit().join();
                break;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                for (Process p : ranks) p.destroyForcibly();
                return ExitCode.INTERNAL;
            }
        }
        int sig;
        synchronized (signal) {
            sig = signal[0];
        }
        if (sig != 0 && (firstFailed < 0 || firstCode == ExitCode.TERMINATED || firstCode == ExitCode.INTERRUPTED)) return 128 + sig;
        if (firstFailed < 0) return ExitCode.OK;
        if (isWrpnFailure(firstCode)) return firstCode; // the rank said why on its own stderr
        err.println("error: rank lost: rank " + firstFailed + " of " + ranks.size() + " ended with exit code " + firstCode
                + (firstCode > 128 ? " (signal " + (firstCode - 128) + ")" : "") + "; the other ranks stopped");
        err.flush();
        return ExitCode.RANK_LOST;
    }

    private static boolean isWrpnFailure(int code) {
        return code == ExitCode.BAD_INPUT || code == ExitCode.OUT_OF_MEMORY || code == ExitCode.NUMERICAL || code == ExitCode.BUSY
                || code == ExitCode.STORAGE || code == ExitCode.RANK_LOST || code == ExitCode.TERMINATED || code == ExitCode.INTERRUPTED;
    }
}
