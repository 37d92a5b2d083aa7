package org.wrpn.backend.cuda;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.io.InputStream;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.Test;

/**
 * Static checks of the PTX this build carries, from ptxas's resource report (cuda/build-ptx.sh writes
 * BUILD_DIR/ptxas-report.txt with ptxas -arch=sm_90 -v, what the driver's JIT does on an H100/H200):
 * no spills and no local stack in any kernel, static shared memory under the 48 KiB a block gets
 * without opting in, and for the GEMM kernels (conv and linear) registers low enough for the resident
 * blocks per SM their design assumes (GEMM_MIN_BLOCKS of cuda/gemm.cuh, carried into the PTX as
 * .minnctapersm so that the JIT keeps it too). Index arithmetic past 2^31 elements is checked by
 * running the kernels near that boundary: native/emu/check_bounds.cpp (KernelEmulationTest).
 */
class PtxStaticChecksTest {
    static final int SHARED_PER_BLOCK = 48 * 1024;  // without cudaFuncSetAttribute
    static final int REGISTERS_PER_SM = 65536;      // sm_80 .. sm_90
    static final int SHARED_PER_SM = 228 * 1024;    // sm_90 (H100/H200): what resident blocks share
    static final Pattern GEMM_KERNEL = Pattern.compile(
            "(conv2d_(fprop|dgrad|wgrad)|linear_(fprop|dgrad|wgrad))_f32_f32_f32|qconv2d_(fprop|dgrad|wgrad)_[a-z0-9_]+");

    record Resources(String kernel, int registers, int sharedBytes, int stackBytes, int spillStores, int spillLoads) {}

    private static final Pattern ENTRY = Pattern.compile("Compiling entry function '([^']+)'");
    private static final Pattern FRAME = Pattern.compile("(\\d+) bytes stack frame, (\\d+) bytes spill stores, (\\d+) bytes spill loads");
    private static final Pattern USED = Pattern.compile("Used (\\d+) registers(?:.*?(\\d+) bytes smem)?");

    /** Every kernel of a ptxas -v report with its registers, static shared memory, stack and spills. */
    static Map<String, Resources> parse(String report) {
        Map<String, Resources> out = new LinkedHashMap<>();
        String kernel = null;
        int[] r = new int[5];
        for (String line : report.split("\n")) {
            Matcher e = ENTRY.matcher(line);
            if (e.find()) {
                kernel = e.group(1);
                r = new int[5];
                continue;
            }
            if (kernel == null) continue;
            Matcher f = FRAME.matcher(line);
            if (f.find()) {
                r[2] = Integer.parseInt(f.group(1));
                r[3] = Integer.parseInt(f.group(2));
                r[4] = Integer.parseInt(f.group(3));
            }
            Matcher u = USED.matcher(line);
            if (u.find()) {
                r[0] = Integer.parseInt(u.group(1));
                r[1] = u.group(2) == null ? 0 : Integer.parseInt(u.group(2));
                out.put(kernel, new Resources(kernel, r[0], r[1], r[2], r[3], r[4]));
            }
        }
        return out;
    }

    /** The register cap for `blocks` resident blocks of `threads`: registers are handed out in steps of 8. */
    static int registerCap(int blocks, int threads) {
        return REGISTERS_PER_SM / (blocks * threads) / 8 * 8;
    }

    /** What breaks the rules, one line per violation. */
    static List<String> violations(Map<String, Resources> kernels, int gemmThreads, int gemmMinBlocks) {
        List<String> bad = new ArrayList<>();
        int cap = registerCap(gemmMinBlocks, gemmThreads);
        for (Resources k : kernels.values()) {
            if (k.spillStores() != 0 || k.spillLoads() != 0) bad.add(k.kernel() + " spills (" + k + ")");
            if (k.stackBytes() != 0) bad.add(k.kernel() + " has a " + k.stackBytes() + "-byte local stack frame");
            if (k.sharedBytes() > SHARED_PER_BLOCK) bad.add(k.kernel() + " uses " + k.sharedBytes() + " bytes of shared memory");
            if (GEMM_KERNEL.matcher(k.kernel()).matches()) {
                if (k.registers() > cap) {
                    bad.add(k.kernel() + " uses " + k.registers() + " registers; " + gemmMinBlocks + " blocks of " + gemmThreads
                            + " threads per SM allow " + cap);
                }
                if ((long) k.sharedBytes() * gemmMinBlocks > SHARED_PER_SM) {
                    bad.add(k.kernel() + ": " + gemmMinBlocks + " blocks of " + k.sharedBytes() + " bytes of shared memory do not fit an SM");
                }
            }
        }
        return bad;
    }

    static int define(String header, String name) {
        Matcher m = Pattern.compile("#define " + name + " (\\d+)").matcher(header);
        assertTrue(m.find(), name + " in cuda/gemm.cuh");
        return Integer.parseInt(m.group(1));
    }

    @Test
    void theCheckerFindsWhatItLooksFor() {
        String report = """
                ptxas info    : Compiling entry function 'conv2d_dgrad_f32_f32_f32' for 'sm_90'
                ptxas info    : Function properties for conv2d_dgrad_f32_f32_f32
                    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
                ptxas info    : Used 93 registers, used 1 barriers, 8704 bytes smem
                ptxas info    : Compiling entry function 'bn_apply_f32' for 'sm_90'
                ptxas info    : Function properties for bn_apply_f32
                    16 bytes stack frame, 8 bytes spill stores, 8 bytes spill loads
                ptxas info    : Used 32 registers, used 0 barriers
                ptxas info    : Compiling entry function 'gap_fwd_f32' for 'sm_90'
                ptxas info    : Function properties for gap_fwd_f32
                    0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads
                ptxas info    : Used 30 registers, used 1 barriers, 65536 bytes smem
                """;
        Map<String, Resources> k = parse(report);
        assertEquals(new Resources("conv2d_dgrad_f32_f32_f32", 93, 8704, 0, 0, 0), k.get("conv2d_dgrad_f32_f32_f32"));
        assertEquals(new Resources("bn_apply_f32", 32, 0, 16, 8, 8), k.get("bn_apply_f32"));
        assertEquals(80, registerCap(3, 256));
        assertEquals(128, registerCap(2, 256));
        List<String> bad = violations(k, 256, 3);
        assertEquals(4, bad.size(), bad.toString());
        assertTrue(bad.get(0).contains("93 registers; 3 blocks of 256 threads per SM allow 80"), bad.toString());
        assertTrue(bad.get(1).contains("bn_apply_f32 spills") && bad.get(2).contains("16-byte local stack"), bad.toString());
        assertTrue(bad.get(3).contains("65536 bytes of shared memory"), bad.toString());
        assertTrue(violations(k, 256, 2).stream().noneMatch(s -> s.contains("registers;")), "93 registers fit 2 blocks");
    }

    @Test
    void theShippedKernelsFitTheirDesign() throws IOException, URISyntaxException {
        PtxIndex idx = PtxIndex.ofClasspath();
        Assumptions.assumeTrue(idx != null, "this build has no PTX (no nvcc)");
        Path classes = Path.of(PtxStaticChecksTest.class.getProtectionDomain().getCodeSource().getLocation().toURI());
        Path report = classes.getParent().resolve("ptxas-report.txt");
        Assumptions.assumeTrue(Files.exists(report), "no ptxas report beside " + classes + " (PTX from elsewhere)");
        Map<String, Resources> kernels = parse(Files.readString(report));
        StringBuilder all = new StringBuilder();
        for (PtxIndex.Entry e : idx.entries()) all.append(resource("/ptx/" + e.file()));
        Map<String, int[]> entries = CudaRuntime.entryParams(all.toString());
        assertEquals(entries.keySet(), kernels.keySet(), "the report covers every kernel of the jar's PTX");

        String gemm = Files.readString(Path.of("cuda/gemm.cuh"));
        int threads = define(gemm, "GEMM_THREADS"), minBlocks = define(gemm, "GEMM_MIN_BLOCKS");
        List<String> bad = violations(kernels, threads, minBlocks);
        assertTrue(bad.isEmpty(), String.join("\n", bad));

        // The GEMM kernels tell the JIT the same: .maxntid and .minnctapersm in their PTX.
        long gemmKernels = kernels.keySet().stream().filter(k -> GEMM_KERNEL.matcher(k).matches()).count();
        // 6 fp32 kernels; qconv.cu: 6 operand kinds (tensor cores among them) x 3 channel tiles of fprop, 2 dgrad, 2 wgrad
        assertEquals(6 + 18 + 2 + 2, gemmKernels, kernels.keySet().toString());
        for (String k : kernels.keySet()) {
            if (!GEMM_KERNEL.matcher(k).matches()) continue;
            int at = all.indexOf(".entry " + k + "(");
            String head = all.substring(at, all.indexOf("{", at));
            assertTrue(head.contains(".maxntid " + threads + ", 1, 1") && head.contains(".minnctapersm " + minBlocks),
                    k + " carries no launch bounds:\n" + head);
        }
    }

    @Test
    void parameterListsAreReadFromThePtx() {
        Map<String, int[]> p = CudaRuntime.entryParams("""
                .visible .entry k1(
                \t.param .u64 .ptr .align 1 k1_param_0,
                \t.param .u32 k1_param_1,
                \t.param .f32 k1_param_2,
                \t.param .align 4 .b8 k1_param_3[44],
                \t.param .s64 k1_param_4
                )
                .visible .entry k2()
                """);
        assertArrayEquals(new int[] {8, 4, 4, 44, 8}, p.get("k1"));
        assertArrayEquals(new int[] {}, p.get("k2"));
    }

    private static String resource(String path) throws IOException {
        try (InputStream in = PtxStaticChecksTest.class.getResourceAsStream(path)) {
            return new String(in.readAllBytes(), StandardCharsets.US_ASCII);
        }
    }
}
