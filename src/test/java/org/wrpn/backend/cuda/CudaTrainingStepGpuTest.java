package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Tag;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.wrpn.nn.SavePolicy;

/**
 * A whole training step on the GPU (Network.forwardBackward: every layer's forward, the loss, every
 * backward with the packed policy's recomputation, then SGD) against the same step on the reference
 * backend, which stands in for the CPU backend here (the GPU bundle carries no JavaCPP libraries;
 * BackendStepAgreementTest holds the CPU backend to the same check in CI). The reference follows the
 * GPU's discrete decisions where its own pre-activation sits on a quantizer boundary (see
 * TrainingStep.Decisions); then the loss must agree within 1e-4 relative and every gradient, BN
 * statistic and updated weight within DESIGN.md's fp32 tolerance.
 */
@Tag("gpu")
class CudaTrainingStepGpuTest {
    private static CudaBackend be;

    @BeforeAll
    static void start() {
        be = Gpu.backendOrSkip();
    }

    @AfterAll
    static void stop() {
        if (be != null) be.close();
    }

    static Stream<TrainingStep.Config> configs() {
        return TrainingStep.CONFIGS.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void gpuStepAgreesWithTheReferenceStep(TrainingStep.Config c) {
        // Boundary cases are rare: a few per step, more where BN normalises few rows of discrete values
        // (batch 1), whose outputs land exactly on 0. Many would mean that the two steps diverged.
        TrainingStep.againstReference(be, c, 32);
    }

    /**
     * On the GPU every reduction has a fixed order, so the packed policy (codes kept, conv and BN
     * outputs recomputed in backward) gives the fp32 policy's step bit for bit, and a step repeats
     * exactly.
     */
    @Test
    void packedEqualsFp32AndStepsRepeatBitForBit() {
        for (TrainingStep.Config c : new TrainingStep.Config[] {new TrainingStep.Config("lenet", 4, 4, 2, 7, 28, 28, 1),
            new TrainingStep.Config("resnet20", 2, 2, 1, 2, 16, 16, 3)}) {
            TrainingStep.Result fp32 = TrainingStep.run(be, c, SavePolicy.FP32, 7);
            TrainingStep.Result packed = TrainingStep.run(be, c, SavePolicy.PACKED, 7);
            TrainingStep.Result again = TrainingStep.run(be, c, SavePolicy.PACKED, 7);
            assertEquals(fp32.loss().lossSum(), packed.loss().lossSum(), 0.0, c + " loss");
            for (int i = 0; i < fp32.names().size(); i++) {
                String what = c + " " + fp32.names().get(i);
                assertArrayEquals(fp32.grads().get(i), packed.grads().get(i), what + ": packed vs fp32 policy");
                assertArrayEquals(packed.grads().get(i), again.grads().get(i), what + ": run to run");
                assertArrayEquals(packed.updated().get(i), again.updated().get(i), what + ": after SGD, run to run");
            }
            assertTrue(packed.savedBytes() * 4 < fp32.savedBytes(), c + ": packed keeps " + packed.savedBytes() + " bytes, fp32 "
                    + fp32.savedBytes());
        }
    }
}
