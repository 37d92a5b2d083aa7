package org.wrpn.plan;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.wrpn.backend.Device;
import org.wrpn.backend.MemoryLedger.Category;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.data.DataSource;
import org.wrpn.data.DataSplit;
import org.wrpn.nn.Network;
import org.wrpn.nn.PrecisionPolicy;
import org.wrpn.nn.SaveChoice;
import org.wrpn.nn.SavePolicy;
import org.wrpn.nn.models.Models;
import org.wrpn.tensor.DType;
import org.wrpn.tensor.Shape;
import org.wrpn.tensor.Tensor;
import org.wrpn.train.TrainConfig;
import org.wrpn.train.Trainer;

/** The planner's answers match what a real training step allocates on the CPU backend. */
class MemoryPlannerTest {

    /** Runs one real step and returns the CPU backend's own high-water mark (its array accounting). */
    static long measuredPeak(String model, double width, int wbits, int abits, SavePolicy policy, int batch) {
        try (CpuBackend backend = new CpuBackend();
                Network net = Models.build(model, width, PrecisionPolicy.uniform(wbits, abits), 28, 28, 1, 10)) {
            net.initialize(backend, policy, 3);
            net.prepare(batch);
            Tensor x = net.ledger().allocate(Category.INPUT, "images", DType.F32, net.inputShape(batch));
            Tensor y = net.ledger().allocate(Category.INPUT, "labels", DType.I32, Shape.of(batch));
            backend.upload(new float[batch * 28 * 28], x);
            backend.upload(new int[batch], y);
            backend.resetPeak();
            net.forwardBackward(x, y, 1f / batch);
            assertEquals(backend.peakAllocatedBytes(), net.ledger().peakTotal(),
                    "the ledger accounts for every byte the backend allocated");
            return backend.peakAllocatedBytes();
        }
    }

    @ParameterizedTest(name = "{0} width {1} w{2}/a{3} {4} batch {5}")
    @CsvSource({
        "lenet, 1, 4, 4, PACKED, 16",
        "lenet, 2, 2, 2, PACKED, 32",
        "lenet, 2, 32, 32, FP32, 32",
        "lenet, 2, 4, 4, FP32, 8",
        "resnet20, 1, 4, 4, PACKED, 8",
        "resnet20, 2, 2, 2, PACKED, 4",
        "resnet20, 1, 32, 32, FP32, 8",
    })
    void plannerMatchesAMeasuredStep(String model, double width, int wbits, int abits, SavePolicy policy, int batch) {
        long planned = MemoryPlanner.plan(PlanRequest.of(model, width, wbits, abits, policy, batch)).total();
        long measured = measuredPeak(model, width, wbits, abits, policy, batch);
        assertEquals(measured, planned, "the planner's total is the measured high-water mark, byte for byte");
    }

    /** lenet width 1 counted by hand: conv1 1->16 5x5, bn1, conv2 16->32 5x5, bn2, fc1 1568->128, bn3, fc2 128->10 + bias. */
    @Test
    void storedWeightBytesCountQuantizedLayersAtTheirBitWidth() {
        long conv1 = 16 * 25, conv2 = 32 * 16 * 25, fc1 = 128 * 32 * 7 * 7, fc2 = 10 * 128 + 10;
        long bn = 4 * (16 + 32 + 128); // scale, shift, running mean and variance
        long fp32 = 4 * (conv1 + conv2 + fc1 + fc2 + bn);
        assertEquals(fp32, MemoryPlanner.plan(PlanRequest.of("lenet", 1, 32, 32, SavePolicy.FP32, 8)).storedWeightBytes());
        // first conv and last linear stay fp32; conv2 and fc1 keep 2-bit codes plus one fp32 scale each
        long twoBit = 4 * (conv1 + fc2 + bn) + (conv2 * 2) / 8 + 4 + (fc1 * 2) / 8 + 4;
        assertEquals(twoBit, MemoryPlanner.plan(PlanRequest.of("lenet", 1, 2, 2, SavePolicy.PACKED, 8)).storedWeightBytes());
        long oneBit = 4 * (conv1 + fc2 + bn) + conv2 / 8 + 4 + fc1 / 8 + 4;
        assertEquals(oneBit, MemoryPlanner.plan(PlanRequest.of("lenet", 1, 1, 1, SavePolicy.PACKED, 8)).storedWeightBytes());
    }

    @Test
    void plannerMatchesTheTrainersHighWaterMark(@TempDir Path dir) {
        DataSplit data = DataSource.open(DataSource.DEFAULT_DIR);
        TrainConfig c = TrainConfig.builder().widthMultiplier(1).save(SaveChoice.PACKED).batch(32).warmupEpochs(0).out(dir)
                .limitTrain(96).limitTest(64).device(Device.CPU).build();
        long trainerPeak;
        try (CpuBackend b = new CpuBackend(); Trainer t = new Trainer(c, b, data).quiet()) {
            trainerPeak = t.run().peakBytes();
        }
        long planned = MemoryPlanner.plan(PlanRequest.of("lenet", 1, 4, 4, SavePolicy.PACKED, 32)).total();
        assertEquals(trainerPeak, planned, "the planner's total is the trainer's high-water mark, byte for byte");
    }

    @Test
    void twoBitPackedResnet20KeepsSixteenTimesLessThanFp32() {
        long fp32 = MemoryPlanner.plan(PlanRequest.of("resnet20", 2, 32, 32, SavePolicy.FP32, 16)).savedActivations();
        long packed = MemoryPlanner.plan(PlanRequest.of("resnet20", 2, 2, 2, SavePolicy.PACKED, 16)).savedActivations();
        assertTrue(fp32 >= 16 * packed, "fp32 " + fp32 + " vs packed " + packed);
    }

    /**
     * Issue 13's measure on the GPU's rules: resnet20 width 2 at 2/2, batch 128, 32x32: the backward
     * needs at most two fp32 tensors of the largest layer beyond what is kept (a residual branch works
     * in place and in image slices), and 16 GiB hold at least 10 times the batch of the fp32 policy.
     */
    @Test
    void resnet20TwoBitBackwardNeedsTwoWholeTensorsAndTenTimesTheBatchOfFp32() {
        PlanRequest packed = new PlanRequest("resnet20", 2, PrecisionPolicy.uniform(2, 2), SavePolicy.PACKED, 128, 3, 32, 32, 10,
                Device.CUDA);
        long largestLayer = 4L * 128 * 32 * 32 * 32;
        assertTrue(MemoryPlanner.plan(packed).peakTransient() <= 2 * largestLayer, "peak transient "
                + MemoryPlanner.plan(packed).peakTransient() + " > " + 2 * largestLayer);
        PlanRequest fp32 = new PlanRequest("resnet20", 2, PrecisionPolicy.uniform(2, 2), SavePolicy.FP32, 128, 3, 32, 32, 10, Device.CUDA);
        long budget = 16L << 30;
        int p = MemoryPlanner.largestBatch(packed, budget), f = MemoryPlanner.largestBatch(fp32, budget);
        assertTrue(p >= 10L * f, "largest batch " + p + " packed against " + f + " fp32");
    }

    /** The example of README.md ("What a training step keeps"), kept compiling and true. */
    @Test
    void readmeExample() {
        PlanRequest req = PlanRequest.of("resnet20", 2.0, 2, 2, SavePolicy.PACKED, 128);
        MemoryPlan plan = MemoryPlanner.plan(req);
        long bytes = plan.total();
        long saved = plan.savedActivations();
        int batch = MemoryPlanner.largestBatch(req, 8L << 30);
        assertTrue(saved < bytes && bytes < (1L << 30), "saved " + saved + " of " + bytes);
        assertTrue(batch > 128, "batch " + batch);
    }

    @Test
    void largestBatchFitsAndTheNextDoesNot() {
        PlanRequest r = PlanRequest.of("lenet", 2, 4, 4, SavePolicy.PACKED, 1);
        long budget = 64L << 20;
        int b = MemoryPlanner.largestBatch(r, budget);
        assertTrue(b > 1, "some batch fits 64 MiB");
        assertTrue(MemoryPlanner.plan(r.withBatch(b)).total() <= budget);
        assertTrue(MemoryPlanner.plan(r.withBatch(b + 1)).total() > budget);
        assertEquals(0, MemoryPlanner.largestBatch(r, 1000), "nothing fits 1000 bytes");
    }
}
