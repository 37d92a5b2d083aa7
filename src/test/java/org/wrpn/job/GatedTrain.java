package org.wrpn.job;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;

/** `wrpn train --spec SPEC --status-file STATUS` in its own JVM, holding its first step until GATE exists (GATE.waiting says it got there). */
public final class GatedTrain {
    private GatedTrain() {}

    /** Arguments: spec file, gate file, status file. */
    public static void main(String[] args) {
        JobSpec spec = JobSpec.read(Path.of(args[0]));
        Path gate = Path.of(args[1]);
        JobProcess.Options options = new JobProcess.Options(false, Path.of(args[2]), false, true, (step, images) -> {
            if (step != 0) return;
            try {
                Files.writeString(gate.resolveSibling(gate.getFileName() + ".waiting"), "at step 0");
            } catch (IOException e) {
                throw new UncheckedIOException(e);
            }
            long deadline = System.nanoTime() + 120_000_000_000L;
            while (!Files.exists(gate) && System.nanoTime() < deadline) {
                try {
                    Thread.sleep(10);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        });
        System.exit(JobProcess.run(spec, options, System.out, new PrintWriter(System.err, true)));
    }
}
