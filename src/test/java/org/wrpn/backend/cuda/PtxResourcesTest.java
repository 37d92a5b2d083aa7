package org.wrpn.backend.cuda;

import org.wrpn.backend.GpuDevice;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * CPU-side checks of the PTX build: the index format, variant selection, and, when this build had
 * nvcc, that the jar carries every module and every kernel the backend launches.
 */
class PtxResourcesTest {
    @Test
    void indexLinesParseAndVariantsAreChosenByComputeCapability() {
        PtxIndex idx = PtxIndex.parse("""
                # built by nvcc 13.0
                pack sm_80 9.0 pack.ptx
                conv sm_80 9.0 conv.ptx
                conv sm_90a 9.0 conv.sm_90a.ptx
                """);
        assertEquals("built by nvcc 13.0", idx.header());
        assertEquals(List.of("pack", "conv"), idx.moduleNames());
        assertEquals("9.0", idx.maxIsa());
        Map<String, PtxIndex.Entry> h100 = idx.select(9, 0);
        assertEquals("conv.sm_90a.ptx", h100.get("conv").file());
        assertEquals("pack.ptx", h100.get("pack").file());
        assertEquals("conv.ptx", idx.select(8, 6).get("conv").file());
        assertEquals("conv.ptx", idx.select(10, 0).get("conv").file(), "sm_90a code does not run on later GPUs");
        assertTrue(idx.select(7, 5).isEmpty(), "sm_80 PTX does not run on Turing");
        assertThrows(IllegalArgumentException.class, () -> PtxIndex.parse("pack compute_80 pack.ptx"));
    }

    @Test
    void ptxIsaVersionsMapToTheCudaReleaseThatBroughtThem() {
        assertEquals(13000, PtxIndex.cudaVersionForIsa("9.0"));
        assertEquals(12000, PtxIndex.cudaVersionForIsa("8.0"));
        assertEquals(12050, PtxIndex.cudaVersionForIsa("8.5"));
        assertEquals(12080, PtxIndex.cudaVersionForIsa("8.7"));
        assertEquals("13.0", GpuDevice.formatCudaVersion(13000));
        assertEquals("12.4", GpuDevice.formatCudaVersion(12040));
    }

    static boolean nvccPresent() {
        List<Path> candidates = new ArrayList<>();
        for (String dir : System.getenv().getOrDefault("PATH", "").split(":")) {
            if (!dir.isEmpty()) candidates.add(Path.of(dir, "nvcc"));
        }
        String cudaHome = System.getenv("CUDA_HOME");
        if (cudaHome != null) candidates.add(Path.of(cudaHome, "bin", "nvcc"));
        candidates.add(Path.of("/usr/local/cuda/bin/nvcc"));
        return candidates.stream().anyMatch(Files::isExecutable);
    }

    @Test
    void theJarCarriesPtxExactlyWhenNvccWasThere() {
        PtxIndex idx = PtxIndex.ofClasspath();
        if (!nvccPresent()) {
            Assumptions.assumeTrue(idx == null, "a PTX index without nvcc: built elsewhere");
            assertNull(CudaProbe.probe().device());
            assertFalse(CudaProbe.probe().usable());
            assertTrue(CudaProbe.probe().reason().contains("without nvcc"));
            return;
        }
        Assumptions.assumeTrue(System.getProperty("wrpn.skipPtx") == null, "built with -Dwrpn.skipPtx");
        assertNotNull(idx, "nvcc is on this machine but the build made no /ptx/index.txt");
        assertEquals(List.of("batchnorm", "conv", "elementwise", "linear", "loss", "optim", "pack", "pool", "qconv", "quantize", "reduce"),
                idx.moduleNames().stream().sorted().toList());
        for (PtxIndex.Entry e : idx.entries()) {
            assertEquals("sm_80", e.target(), e.toString());
            String ptx = resource("/ptx/" + e.file());
            assertTrue(ptx.contains(".version " + e.isa()), e.file() + " is not PTX ISA " + e.isa());
            assertTrue(ptx.contains(".target sm_80"), e.file());
        }
    }

    /** Every kernel name the backend's sources launch (stream.launch) must be an .entry of some PTX module. */
    @Test
    void everyKernelTheBackendLaunchesIsInThePtx() throws IOException {
        PtxIndex idx = PtxIndex.ofClasspath();
        Assumptions.assumeTrue(idx != null, "no PTX in this build");
        StringBuilder all = new StringBuilder();
        for (PtxIndex.Entry e : idx.entries()) all.append(resource("/ptx/" + e.file()));
        List<String> launched = new ArrayList<>();
        List<String> sources = new ArrayList<>();
        try (var files = Files.list(Path.of("src/main/java/org/wrpn/backend/cuda"))) {
            for (Path f : files.filter(f -> f.toString().endsWith(".java")).sorted().toList()) {
                String java = Files.readString(f);
                if (java.contains("stream.launch(")) sources.add(java);
            }
        }
        for (String java : sources) {
            Matcher m = Pattern.compile(
                    "\"((?:quantize|binarize|unpack|reduce|add|mask|relu|conv2d|qconv2d|linear|bn|maxpool|gap|softmax|sgd)_[a-z0-9_]*)\"")
                    .matcher(java);
            while (m.find()) {
                // "..._u" + bits and "qconv2d_..._" + kind: expanded below
                if (!m.group(1).endsWith("_u") && !m.group(1).endsWith("_")) launched.add(m.group(1));
            }
            Matcher dyn = Pattern.compile("\"(quantize_act_pack_u|unpack_u|bn_quantize_pack_f32_u|add_packed_u)\" \\+").matcher(java);
            while (dyn.find()) {
                for (int k : new int[] {1, 2, 4, 8}) {
                    if (dyn.group(1).equals("add_packed_u")) {
                        launched.add("add_packed_u" + k + "_f32");
                    } else if (dyn.group(1).equals("bn_quantize_pack_f32_u")) {
                        launched.add("bn_quantize_pack_f32_u" + k);
                    } else if (dyn.group(1).equals("unpack_u")) {
                        launched.add("unpack_u" + k + "_f32");
                        launched.add("unpack_u" + k + "_s32");
                    } else {
                        launched.add("quantize_act_pack_u" + k);
                    }
                }
            }
        }
        for (boolean packed : new boolean[] {false, true}) {  // QuantizedConvOps names its kernels by operand kinds
            launched.add(QuantizedConvOps.dgradKernel(packed));
            launched.add(QuantizedConvOps.wgradKernel(packed));
            for (boolean codes : new boolean[] {false, true}) {
                for (int cin : new int[] {3, 4, 32}) {
                    for (int cout : new int[] {1, 16, 17, 32, 33, 300}) {
                        launched.add(QuantizedConvOps.fpropKernel(packed, codes, cin, cout));
                        launched.add(QuantizedConvOps.fpropKernel(packed, codes, cin, cout, false));
                    }
                }
            }
        }
        assertTrue(launched.size() > 40, "found the kernel names in backend/cuda: " + launched);
        for (String k : launched) {
            assertTrue(all.indexOf(".entry " + k + "(") >= 0, "kernel " + k + " is launched but no PTX defines it");
        }
    }

    private static String resource(String path) {
        try (InputStream in = PtxResourcesTest.class.getResourceAsStream(path)) {
            assertNotNull(in, path);
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new AssertionError(e);
        }
    }
}
