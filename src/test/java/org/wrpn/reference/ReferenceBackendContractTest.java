package org.wrpn.reference;

import org.wrpn.backend.Backend;
import org.wrpn.backend.QuantizedOpsContract;

/**
 * The op contract the CPU and CUDA backends are held to, run here on the reference backend:
 * on a machine without a GPU this is what keeps those checks (shapes, tolerances, poisoning) honest,
 * and it shows that ReferenceBackend, the other side of the GPU whole-step test, is the spec.
 */
class ReferenceBackendContractTest extends QuantizedOpsContract {
    @Override
    protected Backend open() {
        return new ReferenceBackend();
    }
}
