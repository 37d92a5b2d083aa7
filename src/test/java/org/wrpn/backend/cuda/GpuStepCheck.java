package org.wrpn.backend.cuda;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.SplittableRandom;
import org.wrpn.backend.Device;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.nn.Network;
import org.wrpn.nn.Parameter;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.plan.MemoryPlan;
import org.wrpn.plan.MemoryPlanner;
import org.wrpn.plan.PlanRequest;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/**
 * The device check's step measurement (benchmarks/gpu-bundle/train-check.sh): one model's training
 * step on the GPU, timed, with its measured peak device memory beside the memory planner's prediction
 * for device "cuda", under both save policies. A step is Network.forwardBackward (every layer's
 * forward, the loss, every backward with the policy's recomputation) plus the SGD update of every
 * parameter; "+ check" adds the trainer's per-parameter non-finite gradient check (a host round trip
 * per parameter). Prints a markdown table; with --plan-only (no GPU) only the planner's columns.
 *
 * <pre>
 *   GpuStepCheck --model resnet20 --width 2 --wbits 2 --abits 2 --batch 128 --input 3x32x32 --steps 20 [--warmup 3] [--save packed|fp32] [--plan-only]
 * </pre>
 *
 * Memory columns: planned is MemoryPlanner's total; in use is the caching allocator's high-water mark
 * of live tensor bytes plus op scratch (what the planner predicts); reserved is what the allocator
 * holds from the driver (rounding and cached blocks included); driver is the growth of the device's
 * used memory (cuMemGetInfo) over the run, which also holds the JIT-compiled kernels' data.
 */
public final class GpuStepCheck {
    private GpuStepCheck() {}

    record Options(String model, double width, int wbits, int abits, int batch, int[] input, int steps, int warmup, List<SavePolicy> saves,
            boolean planOnly) {}

    public static void main(String[] args) {
        Options o = parse(args);
        System.out.printf(Locale.ROOT, "%s width %s w%d/a%d, batch %d, %s input, %d timed steps%n%n", o.model(), o.width(),
                o.wbits(), o.abits(), o.batch(), o.input()[0] + "x" + o.input()[1] + "x" + o.input()[2], o.steps());
        System.out.println("| save | step ms (median) | + check ms | images/s | planned bytes | in use bytes | in use / planned "
                + "| reserved MiB | driver MiB | loss |");
        System.out.println("|---|---|---|---|---|---|---|---|---|---|");
        boolean ok = true;
        for (SavePolicy save : o.saves()) {
            PlanRequest req = new PlanRequest(o.model(), o.width(), PrecisionPolicy.uniform(o.wbits(), o.abits()), save, o.batch(),
                    o.input()[0], o.input()[1], o.input()[2], 10, Device.CUDA);
            MemoryPlan plan = MemoryPlanner.plan(req);
            if (o.planOnly()) {
                System.out.printf(Locale.ROOT, "| %s | - | - | - | %d | - | - | - | - | - |%n", save.flag(), plan.total());
                continue;
            }
            Row r = measure(o, save);
            double ratio = (double) r.inUsePeak / plan.total();
            ok &= r.inUsePeak == plan.total() && Double.isFinite(r.loss);
            System.out.printf(Locale.ROOT, "| %s | %.2f | %.2f | %.0f | %d | %d | %.4f | %.1f | %.1f | %.4f |%n", save.flag(),
                    r.stepMs, r.checkedMs, o.batch() * 1000.0 / r.stepMs, plan.total(), r.inUsePeak, ratio,
                    mib(r.reservedPeak), mib(r.driverUsed), r.loss);
        }
        System.out.println();
        System.out.println(o.planOnly() ? "planner only (--plan-only)" : ok ? "memory: measured in use equals the planner, byte for byte"
                : "memory: measured in use DIFFERS from the planner (or the loss is not finite)");
        if (!ok) System.exit(1);
    }

    private record Row(double stepMs, double checkedMs, long inUsePeak, long reservedPeak, long driverUsed, double loss) {}

    private static Row measure(Options o, SavePolicy save) {
        CudaRuntime rt = CudaRuntime.get();
        try (CudaBackend be = new CudaBackend();
                Network net = Models.build(o.model(), o.width(), PrecisionPolicy.uniform(o.wbits(), o.abits()), o.input()[1],
                        o.input()[2], o.input()[0], 10)) {
            be.synchronize();
            long usedBefore = used(rt);
            net.initialize(be, save, 1);
            net.prepare(o.batch());
            MemoryLedger ledger = net.ledger();
            Tensor images = ledger.allocate(Category.INPUT, "images", DType.F32, net.inputShape(o.batch()));
            Tensor labels = ledger.allocate(Category.INPUT, "labels", DType.I32, Shape.of(o.batch()));
            SplittableRandom r = new SplittableRandom(5);
            float[] x = new float[(int) images.shape().elements()];
            for (int i = 0; i < x.length; i++) x[i] = (float) r.nextGaussian();
            int[] y = new int[o.batch()];
            for (int i = 0; i < y.length; i++) y[i] = r.nextInt(10);
            be.upload(x, images);
            be.upload(y, labels);
            ledger.resetPeaks();
            be.resetPeak();
            List<Parameter> params = net.trainableParameters();
            double loss = 0;
            for (int i = 0; i < o.warmup(); i++) loss = step(be, net, images, labels, params, false);
            double[] plain = new double[o.steps()], checked = new double[o.steps()];
            for (int i = 0; i < o.steps(); i++) {
                long t0 = System.nanoTime();
                loss = step(be, net, images, labels, params, false);
                be.synchronize();
                plain[i] = (System.nanoTime() - t0) / 1e6;
            }
            for (int i = 0; i < o.steps(); i++) {
                long t0 = System.nanoTime();
                step(be, net, images, labels, params, true);
                be.synchronize();
                checked[i] = (System.nanoTime() - t0) / 1e6;
            }
            long driver = used(rt) - usedBefore;
            Row row = new Row(median(plain), median(checked), be.peakAllocatedBytes(), be.peakReservedBytes(), driver,
                    loss / o.batch());
            ledger.free(images);
            ledger.free(labels);
            return row;
        }
    }

    private static double step(CudaBackend be, Network net, Tensor images, Tensor labels, List<Parameter> params,
            boolean check) {
        LossResult r = net.forwardBackward(images, labels, 1f / labels.shape().dim(0));
        if (check) {
            for (Parameter p : params) {
                if (!Double.isFinite(be.sumSquares(p.grad()))) throw new IllegalStateException("non-finite gradient " + p.name());
            }
        }
        for (Parameter p : params) be.sgdStep(p.value(), p.grad(), p.velocity(), 0.01f, 0.9f, p.hasWeightDecay() ? 5e-4f : 0f);
        return r.lossSum();
    }

    private static long used(CudaRuntime rt) {
        long[] info = rt.memoryInfo();
        return info[1] - info[0];
    }

    private static double median(double[] v) {
        double[] s = v.clone();
        Arrays.sort(s);
        return s.length % 2 == 1 ? s[s.length / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
    }

    private static double mib(long b) {
        return b / 1048576.0;
    }

    private static Options parse(String[] args) {
        String model = "resnet20";
        double width = 2;
        int wbits = 2, abits = 2, batch = 128, steps = 20, warmup = 3;
        List<SavePolicy> saves = List.of(SavePolicy.PACKED, SavePolicy.FP32);
        int[] input = {3, 32, 32};
        boolean planOnly = false;
        List<String> a = new ArrayList<>(List.of(args));
        for (int i = 0; i < a.size(); i++) {
            String k = a.get(i);
            if (k.equals("--plan-only")) {
                planOnly = true;
                continue;
            }
            if (i + 1 >= a.size()) throw new IllegalArgumentException("missing value after " + k);
            String v = a.get(++i);
            switch (k) {
                case "--model" -> model = v;
                case "--width" -> width = Double.parseDouble(v);
                case "--wbits" -> wbits = Integer.parseInt(v);
                case "--abits" -> abits = Integer.parseInt(v);
                case "--batch" -> batch = Integer.parseInt(v);
                case "--steps" -> steps = Integer.parseInt(v);
                case "--warmup" -> warmup = Integer.parseInt(v);
                case "--save" -> saves = List.of(org.wrpn.FlagEnum.parse(SavePolicy.class, v, "--save must be packed or fp32; got "));
                case "--input" -> input = PlanRequest.parseInput(v);
                default -> throw new IllegalArgumentException("unknown option " + k);
            }
        }
        return new Options(model, width, wbits, abits, batch, input, steps, warmup, saves, planOnly);
    }
}
