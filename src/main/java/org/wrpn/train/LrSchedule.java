package org.wrpn.train;

/**
 * Learning rate as a pure function of the global step, so a resumed run follows the same curve.
 * Linear warm-up from lr/10, then constant, cosine decay to zero, or step decay (x0.1 at 50% and 75%).
 */
public record LrSchedule(String kind, double baseLr, long warmupSteps, long totalSteps) {
    public double at(long step) {
        if (step < warmupSteps) {
            double t = (step + 1) / (double) warmupSteps;
            return baseLr * (0.1 + 0.9 * t);
        }
        long span = Math.max(1, totalSteps - warmupSteps);
        double progress = Math.min(1.0, (step - warmupSteps) / (double) span);
        return switch (kind) {
            case "cosine" -> baseLr * 0.5 * (1 + Math.cos(Math.PI * progress));
            case "step" -> baseLr * (progress < 0.5 ? 1 : progress < 0.75 ? 0.1 : 0.01);
            default -> baseLr;
        };
    }
}
