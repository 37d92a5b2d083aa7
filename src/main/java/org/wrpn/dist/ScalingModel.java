package org.wrpn.dist;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import org.wrpn.BadInputException;
import org.wrpn.plan.MemoryPlanner;

/**
 * Predicts how well data-parallel training scales: each rank runs the single-GPU step on its share of
 * the data, then the ranks average their gradients by ring all-reduce, bucket by bucket, starting
 * while the backward pass still runs (as PyTorch DDP does). Pure arithmetic, no backend; the formulas
 * and their assumptions are in docs/SCALING.md.
 *
 * <ul>
 *   <li>Gradient bytes per step: 4 x the model's trainable parameters ({@link #gradientBytes}); twice
 *       the width is about four times the parameters.
 *   <li>One ring all-reduce of S bytes over N ranks: {@code latency + 2(N-1)/N x S / busBW}, NCCL's
 *       bus-bandwidth convention (nccl-tests doc/PERFORMANCE.md: busBW = algBW x 2(N-1)/N).
 *   <li>k equal buckets, ready at even intervals through the backward pass (a fraction f of the step
 *       T), reduced one after another: every bucket but the last can hide under backward, the last
 *       never can. Exposed time = max(A/k, A - (k-1)/k x f x T) for all-reduce time A, so
 *       0 <= exposed <= A.
 *   <li>Efficiency = T / (T + exposed): the step one rank would take alone over the step it takes in
 *       the job (the images per second of N ranks over N times one rank's).
 * </ul>
 */
public final class ScalingModel {
    private ScalingModel() {}

    /** Share of the step the backward pass takes (forward about a third, backward about two thirds). */
    public static final double DEFAULT_BACKWARD_FRACTION = 2.0 / 3.0;
    /** PyTorch DDP's default bucket size, bucket_cap_mb = 25 (MiB). */
    public static final double DEFAULT_BUCKET_MIB = 25;
    /** Widening "stops paying" where exposed communication exceeds this share of the step. */
    public static final double DEFAULT_EXPOSED_LIMIT = 0.10;

    private static final Map<String, Long> PARAMETERS = new ConcurrentHashMap<>();

    /**
     * One step's prediction.
     *
     * @param allReduceMs every bucket's all-reduce, one after another, ms
     * @param exposedMs the part of it the backward pass does not hide, ms
     * @param efficiency stepMs / (stepMs + exposedMs), in (0, 1]
     */
    public record Prediction(double stepMs, long gradientBytes, int buckets, double allReduceMs, double exposedMs,
            double efficiency) {
        /** Exposed communication as a share of the single-rank step. */
        public double exposedShare() {
            return exposedMs / stepMs;
        }
    }

    /** Trainable parameters of a model at a width (the real network, built on the counting backend), memoized. */
    public static long parameters(String model, double width) {
        return PARAMETERS.computeIfAbsent(model + ":" + width, k -> MemoryPlanner.parameterCount(model, width));
    }

    /** fp32 gradient bytes one rank all-reduces per step. */
    public static long gradientBytes(String model, double width) {
        return 4L * parameters(model, width);
    }

    /** Buckets of at most bucketMiB MiB for bytes of gradients (at least one). */
    public static int buckets(long bytes, double bucketMiB) {
        if (!(bucketMiB > 0) || Double.isInfinite(bucketMiB)) throw new BadInputException("--bucket-mb must be positive, got " + bucketMiB);
        return (int) Math.max(1, Math.ceil(bytes / (bucketMiB * 1024 * 1024)));
    }

    /** Bandwidth part of a ring all-reduce of bytes, ms: 2(N-1)/N x bytes / busBW. */
    public static double ringTransferMs(long bytes, Topology t) {
        int n = t.ranks();
        return 2.0 * (n - 1) / n * bytes / (t.busGBps() * 1e9) * 1e3;
    }

    /** One ring all-reduce of bytes, ms: its latency plus its transfer. 0 for one rank. */
    public static double ringAllReduceMs(long bytes, Topology t) {
        return t.latencyUs() / 1e3 + ringTransferMs(bytes, t);
    }

    /** bytes all-reduced as `buckets` equal collectives, one after another, ms: each pays the latency once. */
    public static double allReduceMs(long bytes, int buckets, Topology t) {
        if (buckets < 1) throw new BadInputException("--buckets must be at least 1, got " + buckets);
        return buckets * t.latencyUs() / 1e3 + ringTransferMs(bytes, t);
    }

    /**
     * The all-reduce time the backward pass does not hide, ms: max(A/k, A - (k-1)/k x backwardMs).
     * Buckets become ready at backwardMs/k, 2 backwardMs/k, ..., backwardMs and are reduced in order.
     */
    public static double exposedMs(double allReduceMs, int buckets, double backwardMs) {
        if (buckets < 1) throw new BadInputException("--buckets must be at least 1, got " + buckets);
        if (!(allReduceMs >= 0) || !(backwardMs >= 0)) throw new IllegalArgumentException("negative time");
        double lastBucket = allReduceMs / buckets;
        double overlapWindow = (buckets - 1) / (double) buckets * backwardMs;
        return Math.max(lastBucket, allReduceMs - overlapWindow);
    }

    /** The prediction for one single-rank step time, gradient size, bucketing and topology. */
    public static Prediction predict(double stepMs, long gradientBytes, int buckets, double backwardFraction, Topology t) {
        Topology.positive(stepMs, "--step-ms");
        checkFraction(backwardFraction);
        double a = allReduceMs(gradientBytes, buckets, t);
        double exposed = t.ranks() == 1 ? 0 : exposedMs(a, buckets, backwardFraction * stepMs);
        return new Prediction(stepMs, gradientBytes, buckets, a, exposed, stepMs / (stepMs + exposed));
    }

    /**
     * The shortest single-rank step, ms, whose exposed communication stays within exposedLimit of the
     * step: max(A/(k x limit), A / (limit + (k-1)/k x f)). A step at least this long keeps the
     * efficiency at or above 1 / (1 + limit); no step time assumption enters.
     */
    public static double minStepMs(long gradientBytes, int buckets, double backwardFraction, Topology t, double exposedLimit) {
        checkFraction(backwardFraction);
        if (!(exposedLimit > 0) || Double.isInfinite(exposedLimit)) {
            throw new BadInputException("--exposed-limit must be a positive percentage, got " + exposedLimit * 100);
        }
        if (t.ranks() == 1) return 0;
        double a = allReduceMs(gradientBytes, buckets, t);
        double hide = (buckets - 1) / (double) buckets * backwardFraction;
        return Math.max(a / buckets / exposedLimit, a / (exposedLimit + hide));
    }

    static void checkFraction(double f) {
        if (!(f > 0 && f < 1)) throw new BadInputException("--backward-fraction must be between 0 and 1 (exclusive), got " + f);
    }
}
