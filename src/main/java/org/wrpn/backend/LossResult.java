package org.wrpn.backend;

/** What a loss kernel returns to the host: the summed loss over the batch and the correct count. */
public record LossResult(double lossSum, int correct, int count) {
    public double meanLoss() {
        return lossSum / count;
    }
}
