package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The emulated driver's strictness seen from the Java backend, in a child JVM (EmulatedDriverFaultProbe):
 * queued work runs only when synchronised, and an out-of-bounds kernel fails with a sticky
 * CUDA_ERROR_ILLEGAL_ADDRESS naming the kernel and the allocation, while the JVM (whose own SIGSEGV
 * handling the driver chains to) carries on. native/emu/check_driver.cpp checks the same from C++.
 */
class EmulatedDriverFaultTest {
    @Test
    void anOverrunIsAStickyIllegalAddressAndTheJvmSurvives(@TempDir Path tmp) throws IOException, InterruptedException {
        EmulatedDriver.directory();
        EmulatedDriver.Result r = EmulatedDriver.run(EmulatedDriver.java(tmp, EmulatedDriverFaultProbe.class.getName()),
                tmp.resolve("probe.log"), 300, Map.of());
        System.out.println(r.output());
        assertTrue(r.finished(), r.output());
        assertEquals(0, r.exit(), r.output());
        assertTrue(r.output().contains("probe: before synchronising the pinned copy reads -1.0, after 3.0"), r.output());
        assertTrue(r.output().contains("kernel add_f32 faulted at") && r.output().contains("bytes past the end of the 4096-byte"),
                r.output());
        assertTrue(r.output().contains("probe: caught CUDA error CUDA_ERROR_ILLEGAL_ADDRESS"), r.output());
        assertTrue(r.output().contains("probe: the next call returns CUDA_ERROR_ILLEGAL_ADDRESS"), r.output());
        assertTrue(r.output().contains("probe: done"), r.output());
    }
}
