package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;
import org.wrpn.BadInputException;
import org.wrpn.backend.BackendSelector;
import org.wrpn.cli.Main;

/** Backend selection and `wrpn info` on a machine without a usable GPU (skipped where there is one). */
class CudaSelectionTest {
    @Test
    void theProbeIsCachedAndNeverThrows() {
        BackendSelector.CudaStatus a = BackendSelector.cudaStatus();
        assertSame(a, BackendSelector.cudaStatus());
        assertFalse(a.reason().isBlank());
        assertFalse(a.ptx().isBlank());
    }

    @Test
    void withoutAGpuAutoTakesTheCpuAndCudaIsRefusedWithTheReason() {
        BackendSelector.CudaStatus s = BackendSelector.cudaStatus();
        Assumptions.assumeFalse(s.available(), "this machine has a usable GPU");
        BackendSelector.Choice c = BackendSelector.autoChoice();
        assertEquals("cpu", c.backend());
        assertEquals(s.reason(), c.reason());
        try (var b = BackendSelector.select("auto")) {
            assertEquals("cpu", b.name());
        }
        BadInputException e = assertThrows(BadInputException.class, () -> BackendSelector.select("cuda"));
        assertTrue(e.getMessage().contains(s.reason()), e.getMessage());
    }

    @Test
    void autoTakesCudaExactlyWhenItCanRun() {
        assertEquals(BackendSelector.cudaStatus().available() ? "cuda" : "cpu", BackendSelector.autoChoice().backend());
    }

    @Test
    void infoJsonSaysWhichBackendAndWhyAndWhatPtxThereIs() throws Exception {
        PrintStream old = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        int code;
        try {
            System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
            code = Main.run("info", "--json");
        } finally {
            System.setOut(old);
        }
        assertEquals(0, code);
        JsonNode j = new ObjectMapper().readTree(buf.toString(StandardCharsets.UTF_8));
        assertEquals(BackendSelector.autoChoice().backend(), j.get("backend").asText());
        assertFalse(j.get("reason").asText().isBlank());
        assertEquals(BackendSelector.cudaStatus().available(), j.get("cuda_available").asBoolean());
        assertTrue(j.has("ptx"));
        if (BackendSelector.cudaStatus().device() != null) {
            assertTrue(j.has("gpu") && j.has("compute_capability") && j.has("driver_cuda_version"));
        }
    }

    @Test
    void jcudaLoadErrorsAreShortenedToTheLineAboutLibcuda() {
        UnsatisfiedLinkError e = new UnsatisfiedLinkError(
                "Error while loading native library \"JCudaDriver-12.6.0-linux-x86_64\"\nOperating system name: Linux\n");
        e.initCause(new UnsatisfiedLinkError("/tmp/libJCudaDriver.so: libcuda.so.1: cannot open shared object file"));
        assertEquals("libcuda.so.1: cannot open shared object file", CudaProbe.linkMessage(e));
    }
}
