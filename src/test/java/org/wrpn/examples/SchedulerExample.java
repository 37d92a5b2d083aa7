package org.wrpn.examples;

import java.nio.file.Path;
import org.wrpn.job.JobEvent;
import org.wrpn.job.JobHandle;
import org.wrpn.job.JobPlan;
import org.wrpn.job.JobResult;
import org.wrpn.job.JobSpec;
import org.wrpn.job.Jobs;

/**
 * The README's scheduler example, compiled by the build and run by SchedulerExampleTest, in its own
 * package so that it can use only the public API. Run it with a spec file as its argument.
 */
public final class SchedulerExample {
    private SchedulerExample() {}

    public static void main(String[] args) throws InterruptedException {
        System.exit(run(Path.of(args[0])));
    }

    static int run(Path specFile) throws InterruptedException {
        // README:begin
        JobSpec spec = JobSpec.read(specFile);                 // or JobSpec.parse(json, "request 42")

        // Memory for one training step, and the largest batch that fits an 8 GiB GPU.
        JobPlan plan = Jobs.plan(spec, 8L << 30);
        System.out.printf("needs %,d bytes; largest batch in 8 GiB: %d%n",
                plan.memory().total(), plan.largestBatch().orElseThrow());

        // Start it on its own thread and watch its events.
        JobHandle job = Jobs.start(spec, event -> {
            switch (event) {
                case JobEvent.Started s -> System.out.println("started at step " + s.globalStep() + " of " + s.totalSteps());
                case JobEvent.EpochEnded e -> System.out.printf("epoch %d: test accuracy %.4f%n",
                        e.result().epoch(), e.result().testAccuracy());
                case JobEvent.CheckpointWritten c -> System.out.println("checkpoint " + c.sidecar());
                case JobEvent.Finished f -> System.out.println(f.state() + ", exit code " + f.exitCode());
                case JobEvent.Failed f -> System.out.println("failed (" + f.exitCode() + "): " + f.message());
            }
        });
        System.out.println(job.status());   // state, epoch, step, newest checkpoint ...
        // job.cancel() stops it after the current step with a checkpoint; starting the same spec again resumes it.
        JobResult result = job.awaitCompletion();
        return result.exitCode();           // the code `wrpn train` would exit with
        // README:end
    }
}
