package org.wrpn.nn;

import java.util.stream.Stream;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.wrpn.backend.cpu.CpuBackend;
import org.wrpn.backend.cuda.TrainingStep;

/**
 * A whole training step on the CPU backend agrees with the same step on the reference backend, to
 * the tolerance the GPU whole-step test (CudaTrainingStepGpuTest) holds the CUDA backend to. Here it
 * shows that the check is neither too tight for two correct float backends nor too loose to mean
 * anything; on a GPU machine the reference backend stands in for the CPU one (no OpenBLAS or oneDNN there).
 */
class BackendStepAgreementTest {
    static Stream<TrainingStep.Config> configs() {
        return TrainingStep.CONFIGS.stream();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("configs")
    void cpuStepAgreesWithTheReferenceStep(TrainingStep.Config c) {
        try (CpuBackend b = new CpuBackend()) {
            TrainingStep.againstReference(b, c, 32);
        }
    }
}
