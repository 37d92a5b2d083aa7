package org.wrpn.job;

import java.io.PrintWriter;
import java.nio.file.Path;

/** `wrpn train --spec SPEC --status-file STATUS` in its own JVM, with a NaN put into the batch of one step. */
public final class NanInjectingTrain {
    private NanInjectingTrain() {}

    /** Arguments: spec file, the global step whose batch gets the NaN, status file. */
    public static void main(String[] args) {
        JobSpec spec = JobSpec.read(Path.of(args[0]));
        long poisoned = Long.parseLong(args[1]);
        JobProcess.Options options = new JobProcess.Options(false, Path.of(args[2]), false, true, (step, images) -> {
            if (step == poisoned) images[images.length / 2] = Float.NaN;
        });
        System.exit(JobProcess.run(spec, options, System.out, new PrintWriter(System.err, true)));
    }
}
