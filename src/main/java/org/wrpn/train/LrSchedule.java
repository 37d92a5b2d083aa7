package org.wrpn.train;

import org.wrpn.FlagEnum;

/**
 * Learning rate as a pure function of the global step, so a resumed run follows the same curve.
 * Linear warm-up from lr/10, then constant, cosine decay to zero, or step decay (x0.1 at 50% and 75%).
 */
public record LrSchedule(Kind kind, double baseLr, long warmupSteps, long totalSteps) {
    /** The --schedule setting: what follows the warm-up. */
    public enum Kind implements FlagEnum {
        /** Cosine decay to zero. */
        COSINE,
        /** x0.1 at 50% and 75% of the steps after the warm-up. */
        STEP,
        CONSTANT;

        /** cosine, step or constant. */
        public static Kind parse(String s) {
            return FlagEnum.parse(Kind.class, s, "--schedule must be cosine, step or constant; got ");
        }

        @Override
        public String toString() {
            return flag();
        }
    }

    public double at(long step) {
        if (step < warmupSteps) {
            double t = (step + 1) / (double) warmupSteps;
            return baseLr * (0.1 + 0.9 * t);
        }
        long span = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (step - warmupSteps) / (double) span);
        return switch (kind) {
            case COSINE -> baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
            case STEP -> baseLr * (progress < 0.5 ? 1 : progress < 0.75 ? 0.1 : 0.01);
            case CONSTANT -> baseLr;
        };
    }
}
