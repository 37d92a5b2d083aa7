package org.wrpn.backend;

import org.wrpn.backend.cpu.CpuBackend;

/** Every check of LayerOpsContract on the CPU backend; what only the CPU has is in CpuBackendTest. */
class CpuBackendContractTest extends QuantizedOpsContract {
    @Override
    protected Backend open() {
        return new CpuBackend();
    }
}
