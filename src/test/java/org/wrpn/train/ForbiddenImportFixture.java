package org.wrpn.train;

import org.bytedeco.openblas.global.openblas_nolapack;
import org.wrpn.backend.cpu.CpuBackend;

/** Breaks the package rules on purpose, for ArchitectureTest's test of the test; never run. */
public final class ForbiddenImportFixture {
    private ForbiddenImportFixture() {}

    static Object breaches() {
        return new Object[] {new CpuBackend(), openblas_nolapack.class};
    }
}
