package org.wrpn.bench;

import java.io.IOException;
import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Proxy;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.wrpn.backend.Backend;
import org.wrpn.backend.BackendSelector;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * Where a training step's time goes: every backend op of `steps` steps (after warm-up) timed with
 * the host clock through a proxy of the backend (the CPU backend is synchronous), summed per op,
 * and the process's user and system CPU time (/proc/self/stat) over the same steps.
 *
 * <pre>java -cp target/wrpn-*-all.jar org.wrpn.bench.OpProfile MODEL WIDTH BITS POLICY BATCH STEPS</pre>
 *
 * e.g. {@code resnet20 1 32 fp32 64 10}. Used for benchmarks/README.md's profile.
 */
public final class OpProfile {
    private OpProfile() {}

    public static void main(String[] a) throws Exception {
        if (a.length < 6) {
            System.err.println("usage: OpProfile MODEL WIDTH BITS POLICY BATCH STEPS [DEVICE]");
            System.exit(2);
        }
        String model = a[0];
        double width = Double.parseDouble(a[1]);
        int bits = Integer.parseInt(a[2]);
        SavePolicy policy = org.wrpn.FlagEnum.parse(SavePolicy.class, a[3], "save policy must be fp32 or packed; got ");
        int batch = Integer.parseInt(a[4]);
        int steps = Integer.parseInt(a[5]);
        String device = a.length > 6 ? a[6] : "cpu";
        Map<String, long[]> ops = new HashMap<>(); // name -> {calls, nanos}
        boolean[] on = {false};
        try (Backend inner = BackendSelector.select(device)) {
            InvocationHandler h = (proxy, m, args) -> {
                long t = System.nanoTime();
                try {
                    return m.invoke(inner, args);
                } catch (InvocationTargetException e) {
                    throw e.getCause();
                } finally {
                    if (on[0]) {
                        long[] s = ops.computeIfAbsent(m.getName(), k -> new long[2]);
                        s[0]++;
                        s[1] += System.nanoTime() - t;
                    }
                }
            };
            Backend be = (Backend) Proxy.newProxyInstance(Backend.class.getClassLoader(), new Class<?>[] {Backend.class}, h);
            int[] chw = ShapeProbe.inputFor(model);
            try (Network net = Models.build(model, width, PrecisionPolicy.uniform(bits, bits), chw[1], chw[2], chw[0], 10)) {
                net.initialize(be, policy, 1);
                net.prepare(batch);
                Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
                Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
                TrainBench.upload(be, x, y, batch, chw); // the benchmark's own inputs
                List<Parameter> params = net.trainableParameters();
                Runnable step = () -> {
                    net.forwardBackward(x, y, 1f / batch);
                    for (Parameter p : params) {
                        be.sgdStep(p.value(), p.grad(), p.velocity(), 0.01f, 0.9f, p.hasWeightDecay() ? 5e-4f : 0f);
                    }
                    be.synchronize();
                };
                for (int i = 0; i < 3; i++) step.run();
                long[] cpu0 = cpuTicks();
                long t0 = System.nanoTime();
                on[0] = true;
                for (int i = 0; i < steps; i++) step.run();
                on[0] = false;
                long wall = System.nanoTime() - t0;
                long[] cpu1 = cpuTicks();
                report(ops, wall, steps, cpu0, cpu1, String.format(Locale.ROOT, "%s width %s, w%da%d, save %s, batch %d, %s, %d threads",
                        model, width, bits, bits, policy.flag(), batch, inner.describe(), org.wrpn.backend.Device.cpuThreads()));
                net.ledger().free(x);
                net.ledger().free(y);
            }
        }
    }

    private static void report(Map<String, long[]> ops, long wall, int steps, long[] cpu0, long[] cpu1, String what) {
        System.out.println("# " + what);
        double wallMs = wall / 1e6 / steps;
        System.out.printf(Locale.ROOT, "step: %.1f ms wall", wallMs);
        if (cpu0 != null && cpu1 != null) {
            double tick = 1000.0 / 100; // USER_HZ is 100 on Linux
            System.out.printf(Locale.ROOT, ", %.1f ms user, %.1f ms system (CPU time per step, all threads)",
                    (cpu1[0] - cpu0[0]) * tick / steps, (cpu1[1] - cpu0[1]) * tick / steps);
        }
        System.out.println();
        List<Map.Entry<String, long[]>> list = new ArrayList<>(ops.entrySet());
        list.sort((p, q) -> Long.compare(q.getValue()[1], p.getValue()[1]));
        long sum = 0;
        System.out.println("| op | calls/step | ms/step | % of step |");
        System.out.println("|---|---:|---:|---:|");
        for (var e : list) {
            double ms = e.getValue()[1] / 1e6 / steps;
            sum += e.getValue()[1];
            if (ms < 0.05) continue;
            System.out.printf(Locale.ROOT, "| %s | %d | %.1f | %.1f%% |%n", e.getKey(), e.getValue()[0] / steps, ms, 100 * ms / wallMs);
        }
        double other = wallMs - sum / 1e6 / steps;
        System.out.printf(Locale.ROOT, "| (outside backend ops) | | %.1f | %.1f%% |%n", other, 100 * other / wallMs);
    }

    /** utime and stime of this process in clock ticks, or null where /proc is missing. */
    private static long[] cpuTicks() {
        try {
            String s = Files.readString(Path.of("/proc/self/stat"));
            String[] f = s.substring(s.lastIndexOf(')') + 2).split(" ");
            return new long[] {Long.parseLong(f[11]), Long.parseLong(f[12])};
        } catch (IOException | RuntimeException e) {
            return null;
        }
    }
}
