package org.wrpn.train;

import org.wrpn.backend.Backend;
import org.wrpn.backend.LossResult;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.data.BatchLoader;
import org.wrpn.data.ImageSet;
import org.wrpn.data.Normalization;
import org.wrpn.nn.Network;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;

/** Test-set loss and accuracy in inference mode (BN running statistics, no augmentation). */
public final class Evaluator {
    public record Result(double loss, double accuracy, int count) {}

    private Evaluator() {}

    public static Result evaluate(Network net, ImageSet data, Normalization norm, int batch) {
        return evaluateShare(net, data, norm, batch, 0, 1);
    }

    /**
     * Rank {@code rank}'s share of the test set for a data-parallel job: batches rank, rank + ranks,
     * ...; the ranks' results, weighted by count, make the whole set's.
     */
    public static Result evaluateShare(Network net, ImageSet data, Normalization norm, int batch, int rank, int ranks) {
        Backend b = net.backend();
        int total = 0;
        int correct = 0;
        double loss = 0;
        try (BatchLoader loader = new BatchLoader(data.samples(norm, false), batch, false, 0, 0, false, data.loaderThreads())) {
            int prepared = -1;
            Tensor images = null, labels = null;
            try {
                for (int index = rank; index < loader.batchesPerEpoch(); index += ranks) {
                    BatchLoader.Batch batchData;
                    if (ranks == 1) {
                        batchData = loader.next();
                    } else {
                        batchData = loader.batch(index);
                    }
                    int n = batchData.size();
                    if (n != prepared) {
                        if (images != null) {
                            net.ledger().free(images);
                            net.ledger().free(labels);
                        }
                        net.prepare(n);
                        images = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(n));
                        labels = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(n));
                        prepared = n;
                    }
                    b.upload(batchData.images(), images);
                    b.upload(batchData.labels(), labels);
                    LossResult r = net.evaluate(images, labels);
                    loss += r.lossSum();
                    correct += r.correct();
                    total += n;
                }
            } finally {
                if (images != null) {
                    net.ledger().free(images);
                    net.ledger().free(labels);
                }
            }
        }
        return new Result(loss / Math.max(1, total), correct / (double) Math.max(1, total), total);
    }
}
