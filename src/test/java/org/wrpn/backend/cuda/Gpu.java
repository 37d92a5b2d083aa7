package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.fail;

import org.junit.jupiter.api.Assumptions;
import org.wrpn.backend.BackendSelector;

/**
 * Entry point of every @Tag("gpu") test: a CUDA backend, or a skip saying why there is none. With
 * -Dwrpn.requireGpu=true a missing GPU is a failure, so a GPU run cannot pass by skipping.
 */
final class Gpu {
    private Gpu() {}

    static boolean required() {
        return Boolean.getBoolean("wrpn.requireGpu");
    }

    static CudaBackend backendOrSkip() {
        BackendSelector.CudaStatus s = BackendSelector.cudaStatus();
        if (!s.available()) {
            if (required()) fail("-Dwrpn.requireGpu=true but CUDA is not usable: " + s.reason());
            Assumptions.abort("no usable GPU: " + s.reason());
        }
        CudaRuntime.syncLaunches(true);  // a faulting kernel is then named by the launch that ran it
        return new CudaBackend();
    }
}
