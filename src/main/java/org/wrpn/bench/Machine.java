package org.wrpn.bench;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.wrpn.backend.Backend;
import org.wrpn.backend.cuda.CudaBackend;
import org.wrpn.backend.GpuDevice;

/** Facts about the machine and build a benchmark ran on, recorded beside its results. */
public final class Machine {
    private Machine() {}

    public static String cpu() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/cpuinfo"))) {
                if (line.startsWith("model name")) {
                    return line.substring(line.indexOf(':') + 1).trim() + " x" + Runtime.getRuntime().availableProcessors();
                }
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux: fall through
        }
        return System.getProperty("os.arch") + " x" + Runtime.getRuntime().availableProcessors();
    }

    /**
     * The commit benchmarks are tagged with: git's short hash (with "+uncommitted" when the tree has
     * changes), else the WRPN_COMMIT environment variable (the GPU bundle has no .git), else "unknown".
     */
    public static String commit() {
        String head = git("rev-parse", "--short", "HEAD");
        if (head != null && !head.isEmpty()) {
            String dirty = git("status", "--porcelain", "--untracked-files=no");
            return dirty != null && !dirty.isEmpty() ? head + "+uncommitted" : head;
        }
        String env = System.getenv("WRPN_COMMIT");
        return env != null && !env.isBlank() ? env.trim() : "unknown";
    }

    private static String git(String... args) {
        return command(List.of(args), "git");
    }

    /** stdout of a short command, or null when it is missing or fails. */
    static String command(List<String> args, String program) {
        try {
            var cmd = new java.util.ArrayList<String>();
            cmd.add(program);
            cmd.addAll(args);
            Process p = new ProcessBuilder(cmd).redirectError(ProcessBuilder.Redirect.DISCARD).start();
            String out = new String(p.getInputStream().readAllBytes()).trim();
            if (!p.waitFor(20, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                return null;
            }
            return p.exitValue() == 0 ? out : null;
        } catch (IOException | InterruptedException e) {
            return null;
        }
    }

    public static Map<String, Object> describe() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("cpu", cpu());
        m.put("memory_bytes", totalMemory());
        m.put("java", System.getProperty("java.vm.name") + " " + System.getProperty("java.version"));
        m.put("os", System.getProperty("os.name") + " " + System.getProperty("os.version"));
        m.put("commit", commit());
        return m;
    }

    /** describe() plus the host, the backend and, on CUDA, the GPU and its driver. */
    public static Map<String, Object> describe(Backend backend) {
        Map<String, Object> m = describe();
        m.put("host", hostname());
        m.put("backend", backend.describe());
        if (backend instanceof CudaBackend cuda) {
            GpuDevice d = cuda.device();
            m.put("gpu", d.name());
            m.put("gpu_memory_bytes", d.totalMemoryBytes());
            m.put("gpu_compute_capability", d.computeCapability());
            m.put("gpu_l2_bytes", d.l2CacheBytes());
            m.put("driver_cuda", d.driverCudaVersion());
            String smi = command(List.of("--query-gpu=driver_version", "--format=csv,noheader"), "nvidia-smi");
            if (smi != null && !smi.isEmpty()) m.put("driver", smi.lines().findFirst().orElse(smi));
        }
        return m;
    }

    /** The name plots and CSV rows carry: the GPU on CUDA, else the CPU. */
    public static String label(Map<String, Object> machine) {
        Object gpu = machine.get("gpu");
        return gpu != null ? gpu + " (driver " + machine.getOrDefault("driver", machine.get("driver_cuda")) + ")"
                : String.valueOf(machine.get("cpu"));
    }

    static String hostname() {
        try {
            return InetAddress.getLocalHost().getHostName();
        } catch (IOException | RuntimeException e) {
            return "unknown";
        }
    }

    static long totalMemory() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/meminfo"))) {
                if (line.startsWith("MemTotal:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException ignored) {
            // unknown
        }
        return -1;
    }

    // ---- memory high-water marks of this process ------------------------------------------

    /** Starts new heap high-water marks. */
    public static void resetHeapPeaks() {
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) p.resetPeakUsage();
        }
    }

    /** Sum of the heap pools' peaks since the last reset (an upper bound on the heap high-water mark). */
    public static long heapPeakBytes() {
        long s = 0;
        for (MemoryPoolMXBean p : ManagementFactory.getMemoryPoolMXBeans()) {
            if (p.getType() == MemoryType.HEAP) s += p.getPeakUsage().getUsed();
        }
        return s;
    }

    /** Linux resets the process's peak resident set (VmHWM) when "5" is written to clear_refs. */
    public static boolean resetRssPeak() {
        try {
            Files.writeString(Path.of("/proc/self/clear_refs"), "5");
            return true;
        } catch (IOException | RuntimeException e) {
            return false;
        }
    }

    public static long rssPeakBytes() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) return Long.parseLong(line.replaceAll("[^0-9]", "")) * 1024;
            }
        } catch (IOException | RuntimeException ignored) {
            // not Linux
        }
        return -1;
    }

    /**
     * CPU used by other processes while a benchmark ran, from /proc/stat (all processes) minus
     * /proc/self/stat (this JVM): a shared machine's benchmarks say how contended they were.
     */
    public static final class Contention {
        private final long wallStart = System.nanoTime();
        private final long busyStart = busyTicks();
        private final long selfStart = selfTicks();
        private final double loadStart = loadAverage();

        /** Average cores busy with other processes since this object was made (-1 when unknown). */
        public double otherCores() {
            long busy = busyTicks(), self = selfTicks();
            if (busy < 0 || self < 0 || busyStart < 0 || selfStart < 0) return -1;
            double seconds = (System.nanoTime() - wallStart) / 1e9;
            if (seconds <= 0) return -1;
            double ticksPerSecond = 100; // USER_HZ on Linux
            return Math.max(0, ((busy - busyStart) - (self - selfStart)) / ticksPerSecond / seconds);
        }

        public Map<String, Object> summary() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("cores", Runtime.getRuntime().availableProcessors());
            m.put("other_processes_avg_cores_busy", Math.round(otherCores() * 100) / 100.0);
            m.put("load_average_1m_start", loadStart);
            m.put("load_average_1m_end", loadAverage());
            m.put("wall_seconds", Math.round((System.nanoTime() - wallStart) / 1e7) / 100.0);
            return m;
        }

        private static long busyTicks() {
            try {
                String[] f = Files.readAllLines(Path.of("/proc/stat")).get(0).trim().split("\\s+");
                // cpu user nice system idle iowait irq softirq steal ...: busy = all but idle and iowait
                long sum = 0;
                for (int i = 1; i < Math.min(f.length, 9); i++) if (i != 4 && i != 5) sum += Long.parseLong(f[i]);
                return sum;
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }

        private static long selfTicks() {
            try {
                String s = Files.readString(Path.of("/proc/self/stat"));
                String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
                return Long.parseLong(f[11]) + Long.parseLong(f[12]); // utime, stime (fields 14, 15)
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }

        private static double loadAverage() {
            try {
                return Double.parseDouble(Files.readString(Path.of("/proc/loadavg")).split(" ")[0]);
            } catch (IOException | RuntimeException e) {
                return -1;
            }
        }
    }
}
