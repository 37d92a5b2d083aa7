package org.wrpn.choose;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;

/**
 * The arithmetic of successive halving over a time budget, apart from any training: how many
 * rounds, how long each proxy run is, who goes on, and which candidates are on a Pareto front.
 * Every round keeps the better half (rounded up) and gets an equal share of the time left, so the
 * survivors train on about twice as many images as in the round before.
 */
final class Halving {
    private Halving() {}

    /** Steps the timing round trains each candidate for (its speed sizes round 1). */
    static final int TIMING_STEPS = 8;

    /** Ranking rounds for n candidates: n, ceil(n/2), ... down to two; none for one candidate. */
    static int rounds(int candidates) {
        int r = 0;
        for (int n = candidates; n > 1; n = survivors(n)) r++;
        return r;
    }

    /** How many of n candidates go on to the next round. */
    static int survivors(int n) {
        return (n + 1) / 2;
    }

    /**
     * One proxy run's length as the trainer takes it: epochs over the first limitTrain images.
     *
     * @param images what the run actually trains on, epochs x min(limitTrain, the training set)
     */
    record Proxy(int epochs, int limitTrain, long images) {}

    /**
     * The proxy run closest to {@code images} (at least one batch per epoch), never longer than
     * {@code maxEpochs} over the training set.
     *
     * @param trainCount images in the training set, after the user's own --limit-train
     * @param baseLimit the user's --limit-train (0: all), kept when a proxy's epoch is the whole set
     */
    static Proxy proxy(long images, int trainCount, int baseLimit, int batch, int maxEpochs) {
        long capped = Math.min(Math.max(images, batch), (long) maxEpochs * trainCount);
        int epochs = (int) Math.max(1, (capped + trainCount - 1) / trainCount);
        long perEpoch = (capped + epochs - 1) / epochs;
        perEpoch = Math.max(batch, (perEpoch + batch - 1) / batch * batch); // whole batches: the trainer drops a partial one
        if (perEpoch >= trainCount) return new Proxy(epochs, baseLimit, (long) epochs * trainCount);
        return new Proxy(epochs, (int) perEpoch, epochs * perEpoch);
    }

    /** The timing round's proxy: a few steps per candidate. */
    static long timingImages(int batch) {
        return (long) TIMING_STEPS * batch;
    }

    /**
     * Images per candidate for the next round: its share of the time left, less each run's fixed
     * cost (start, evaluation, checkpoint), over the candidates' seconds per image; whole batches,
     * never fewer than the round before had.
     *
     * @param shareSeconds the wall time this round may take
     * @param jobs runs trained at once
     * @param secondsPerImage each candidate's measured training time per image
     * @param overheadSeconds each run's fixed cost, measured on the rounds before
     */
    static long nextImages(double shareSeconds, int jobs, double[] secondsPerImage, double overheadSeconds, long previous, int batch) {
        double perImage = 0;
        for (double s : secondsPerImage) perImage += s;
        double images = (shareSeconds * jobs - secondsPerImage.length * overheadSeconds) / Math.max(perImage, 1e-12);
        long whole = (long) Math.floor(Math.min(images, 1e15) / batch) * batch;
        return Math.max(previous, whole);
    }

    /**
     * The fixed cost of one run: the round's wall time (times the runs at once) less the time its
     * runs spent training, per run trained; 0 when nothing was trained.
     *
     * @param trainingSeconds the training time (images / images per second) of each run trained in the round
     */
    static double overhead(double wallSeconds, int jobs, double[] trainingSeconds) {
        if (trainingSeconds.length == 0) return 0;
        double t = 0;
        for (double s : trainingSeconds) t += s;
        return Math.max(0, (wallSeconds * jobs - t) / trainingSeconds.length);
    }

    /** A candidate as a round ranks it: its proxy accuracy (NaN when its run failed) and planned bytes. */
    record Scored<T>(T candidate, double accuracy, long plannedBytes, int order) {}

    /** Best first: higher accuracy, then less memory, then grid order; failed runs last. */
    static <T> List<Scored<T>> rank(List<Scored<T>> scored) {
        List<Scored<T>> out = new ArrayList<>(scored);
        out.sort(Comparator.<Scored<T>, Boolean>comparing(s -> Double.isNaN(s.accuracy()))
                .thenComparing(Comparator.comparingDouble((Scored<T> s) -> s.accuracy()).reversed())
                .thenComparingLong(Scored::plannedBytes)
                .thenComparingInt(Scored::order));
        return out;
    }

    /**
     * Which points are on the Pareto front of lower cost and higher accuracy: no other point costs
     * as little or less and is at least as accurate, one of the two strictly. NaN points never are.
     */
    static boolean[] front(double[] cost, double[] accuracy) {
        boolean[] on = new boolean[cost.length];
        for (int i = 0; i < cost.length; i++) {
            if (Double.isNaN(cost[i]) || Double.isNaN(accuracy[i])) continue;
            boolean dominated = false;
            for (int j = 0; j < cost.length && !dominated; j++) {
                if (j == i || Double.isNaN(cost[j]) || Double.isNaN(accuracy[j])) continue;
                dominated = cost[j] <= cost[i] && accuracy[j] >= accuracy[i] && (cost[j] < cost[i] || accuracy[j] > accuracy[i]);
            }
            on[i] = !dominated;
        }
        return on;
    }
}
