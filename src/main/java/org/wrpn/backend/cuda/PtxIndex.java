package org.wrpn.backend.cuda;

import org.wrpn.backend.GpuDevice;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The PTX resources of this jar, as listed by /ptx/index.txt (written by cuda/build-ptx.sh): one
 * line per module variant, "name target isa file", e.g. "pack sm_80 9.0 pack.ptx". Pure Java, so
 * that `wrpn info` and the CPU tests can read it without a driver.
 */
public record PtxIndex(String header, List<Entry> entries) {
    public static final String RESOURCE = "/ptx/index.txt";

    /** One module variant: target is sm_XY (runs on CC >= X.Y) or sm_XYa (runs on CC X.Y only). */
    public record Entry(String name, String target, String isa, String file) {
        int targetMajor() {
            return Integer.parseInt(digits().substring(0, digits().length() - 1));
        }

        int targetMinor() {
            String d = digits();
            return d.charAt(d.length() - 1) - '0';
        }

        boolean archSpecific() {
            return target.endsWith("a");
        }

        private String digits() {
            String t = target.substring(3);
            return archSpecific() ? t.substring(0, t.length() - 1) : t;
        }

        /** Whether a device of this compute capability can load this variant. */
        public boolean runsOn(int major, int minor) {
            if (archSpecific()) return major == targetMajor() && minor == targetMinor();
            return major > targetMajor() || (major == targetMajor() && minor >= targetMinor());
        }
    }

    /** The index of this jar, or null when it was built without PTX. */
    public static PtxIndex ofClasspath() {
        try (InputStream in = PtxIndex.class.getResourceAsStream(RESOURCE)) {
            if (in == null) return null;
            return parse(new String(in.readAllBytes(), StandardCharsets.UTF_8));
        } catch (IOException e) {
            throw new UncheckedIOException("reading " + RESOURCE, e);
        }
    }

    public static PtxIndex parse(String text) {
        String header = "";
        List<Entry> entries = new ArrayList<>();
        int lineNo = 0;
        for (String line : text.split("\n")) {
            lineNo++;
            String l = line.strip();
            if (l.isEmpty()) continue;
            if (l.startsWith("#")) {
                if (header.isEmpty()) header = l.substring(1).strip();
                continue;
            }
            String[] f = l.split("\\s+");
            if (f.length != 4 || !f[1].matches("sm_[0-9]{2,3}a?") || !f[2].matches("[0-9]+\\.[0-9]+")) {
                throw new IllegalArgumentException("PTX index line " + lineNo + " is not 'name sm_XY isa file': " + l);
            }
            entries.add(new Entry(f[0], f[1], f[2], f[3]));
        }
        return new PtxIndex(header, List.copyOf(entries));
    }

    /**
     * Per module name, the variant to load on a device of compute capability major.minor: an
     * arch-specific variant for exactly this device first, else the portable one with the highest
     * target the device runs. Names with no runnable variant are missing from the result.
     */
    public Map<String, Entry> select(int major, int minor) {
        Map<String, Entry> best = new LinkedHashMap<>();
        for (Entry e : entries) {
            if (!e.runsOn(major, minor)) continue;
            Entry cur = best.get(e.name());
            if (cur == null || rank(e) > rank(cur)) best.put(e.name(), e);
        }
        return best;
    }

    private static int rank(Entry e) {
        return (e.archSpecific() ? 100_000 : 0) + e.targetMajor() * 10 + e.targetMinor();
    }

    /** Module names, in index order, without duplicates. */
    public List<String> moduleNames() {
        return entries.stream().map(Entry::name).distinct().toList();
    }

    /** The highest PTX ISA version any entry needs, e.g. "9.0". */
    public String maxIsa() {
        String max = "0.0";
        for (Entry e : entries) if (compareVersions(e.isa(), max) > 0) max = e.isa();
        return max;
    }

    /**
     * The CUDA version whose driver first accepts this PTX ISA (PTX ISA 9.0 came with CUDA 13.0,
     * 8.x with 12.x), as the driver API's integer (13000 for 13.0); 0 when unknown.
     */
    public static int cudaVersionForIsa(String isa) {
        switch (isa) {
            case "8.6" -> { return 12070; }  // 12.6 kept ISA 8.5
            case "8.7" -> { return 12080; }
            case "8.8" -> { return 12090; }
            default -> { }
        }
        String[] p = isa.split("\\.");
        int major = Integer.parseInt(p[0]), minor = Integer.parseInt(p[1]);
        return major >= 8 ? (major + 4) * 1000 + minor * 10 : 0;
    }

    static int compareVersions(String a, String b) {
        String[] x = a.split("\\."), y = b.split("\\.");
        int c = Integer.compare(Integer.parseInt(x[0]), Integer.parseInt(y[0]));
        return c != 0 ? c : Integer.compare(Integer.parseInt(x[1]), Integer.parseInt(y[1]));
    }

    /** "13.0" for 13000. */
    /** One line for `wrpn info`. */
    public String describe() {
        return moduleNames().size() + " modules (" + String.join(", ", moduleNames()) + "), PTX ISA " + maxIsa()
                + ", needs a driver for CUDA " + GpuDevice.formatCudaVersion(cudaVersionForIsa(maxIsa())) + "+";
    }
}
