package org.wrpn.cli;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.nio.file.Path;
import picocli.CommandLine.Option;

/**
 * The grid and report flags `wrpn sweep` and `wrpn choose` share, declared once; each command gives
 * the defaults that differ their own descriptions (TrainingOptions.tailor).
 */
final class GridOptions {
    @Option(names = "--widths", paramLabel = "W,...", description = "width multipliers (default: 1,2,3)")
    String widths;

    @Option(names = "--bits", paramLabel = "W/A,...", description = "weight/activation bits (default: 32/32,8/8,4/4,4/2,2/2,1/1)")
    String bits;

    @Option(names = "--jobs", description = "runs trained at once; on the CPU each gets cores/jobs GEMM threads (default: 1)")
    Integer jobs;

    @Option(names = "--results", description = "where the CSV and plots go (default: OUT)")
    Path results;

    @Option(names = "--name", paramLabel = "NAME", description = "file name prefix of the CSV and plots")
    String name;

    @Option(names = "--no-progress", description = "no live progress line (the per-run lines stay)")
    boolean noProgress;

    /** Adds the grid keys given on the command line to a sweep's (or choose's) keys. */
    ObjectNode addTo(ObjectNode o) {
        if (widths != null) o.put("widths", widths);
        if (bits != null) o.put("bits", bits);
        if (jobs != null) o.put("jobs", jobs);
        if (results != null) o.put("results", results.toString());
        if (name != null) o.put("name", name);
        return o;
    }
}
